"""One client for any OpenAI-compatible chat endpoint (llama.cpp's server, Ollama, a cloud provider), streamed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, ValidationError

from papo.errors import PapoError


class LlmUnavailableError(PapoError):
    """The language model endpoint cannot be reached, is too slow or answered nonsense."""


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat prompt."""

    role: str
    content: str


class _Delta(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    delta: _Delta = _Delta()
    finish_reason: str | None = None


class _Chunk(BaseModel):
    choices: list[_Choice] = []


BaseUrl = str | Callable[[], str]
"""An endpoint's base URL (…/v1), or where to ask for it at each request (LlmUnavailableError while there is none)."""


def locate(base_url: BaseUrl) -> Callable[[], str]:
    """A function giving the current base URL, without its trailing slash."""
    if isinstance(base_url, str):
        fixed = base_url.rstrip("/")
        return lambda: fixed
    return lambda: base_url().rstrip("/")


class ChatClient:
    """Streams chat completions from `base_url` (…/v1) with a first-token and a whole-reply deadline.

    `options` are more fields of every request, for the servers that take them (top_p, repeat_penalty, logit_bias).
    """

    def __init__(
        self,
        base_url: BaseUrl,
        model: str,
        first_token_timeout_s: float,
        reply_timeout_s: float,
        api_key: str | None = None,
        options: dict[str, object] | None = None,
    ) -> None:
        self._locate = locate(base_url)
        self._options = dict(options or {})  # more request fields (top_p, repeat_penalty, banned tokens)
        self.model = model
        self._first_token_timeout = first_token_timeout_s
        self._reply_timeout = reply_timeout_s
        self._http = httpx.Client(
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            timeout=httpx.Timeout(connect=2.0, read=first_token_timeout_s, write=5.0, pool=2.0),
            trust_env=False,
        )

    @property
    def base_url(self) -> str:
        """Where replies come from now; LlmUnavailableError while the endpoint has no address (a restart)."""
        return self._locate()

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    @property
    def first_token_timeout_s(self) -> float:
        """How long a reply waits for its first token."""
        return self._first_token_timeout

    def wait_for_first_token_up_to(self, seconds: float) -> None:
        """Let replies wait up to `seconds` for their first token if that is longer than now (a slow board)."""
        self._first_token_timeout = max(self._first_token_timeout, seconds)

    def stream(
        self,
        messages: list[ChatMessage],
        max_tokens: int,
        temperature: float,
        first_token_timeout_s: float | None = None,
        attempt: int = 0,
    ) -> Generator[str, None, None]:
        """Yield the reply's text as it is written; LlmUnavailableError if the endpoint fails or is too slow.

        `first_token_timeout_s` replaces the client's own wait for the first token (e.g. the warm-up's longer one).
        `attempt` > 0 asks again for a reply that was unfit: a seed set in the options moves on, so it differs.
        """
        first_token_timeout = first_token_timeout_s or self._first_token_timeout
        timeout = httpx.Timeout(connect=2.0, read=first_token_timeout, write=5.0, pool=2.0)
        body = self._options | {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if attempt and isinstance(seed := self._options.get("seed"), int):
            body["seed"] = seed + attempt
        deadline = time.monotonic() + self._reply_timeout
        base_url = self.base_url
        try:
            with self._http.stream("POST", f"{base_url}/chat/completions", json=body, timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    raise LlmUnavailableError(
                        f"the language model at {base_url} answered HTTP {response.status_code}: {response.text[:200]}"
                    )
                for line in response.iter_lines():
                    if time.monotonic() > deadline:
                        raise LlmUnavailableError(f"the reply took longer than {self._reply_timeout:g} s")
                    text = _delta_text(line)
                    if text is None:
                        return
                    if text:
                        yield text
        except httpx.TimeoutException:
            raise LlmUnavailableError(
                f"the language model at {base_url} did not answer within {first_token_timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise LlmUnavailableError(f"cannot reach the language model at {base_url}: {exc}") from None

    def ready(self) -> bool:
        """Whether the endpoint answers its model list."""
        try:
            return self._http.get(f"{self.base_url}/models", timeout=2.0).status_code == 200
        except (httpx.HTTPError, LlmUnavailableError):
            return False


def _delta_text(line: str) -> str | None:
    """The text of one server-sent event line ('' for keep-alives and empty deltas, None at the end)."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        chunk = _Chunk.model_validate(json.loads(data))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise LlmUnavailableError(f"the language model sent an unreadable stream event: {exc}") from None
    return "".join(c.delta.content or "" for c in chunk.choices)
