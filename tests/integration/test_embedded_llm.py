"""The supervised embedded llama.cpp server (issue 12), real: restarted after a kill, keyed, and never an impostor."""

from __future__ import annotations

import json
import os
import signal
import textwrap
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import ClassVar

import httpx
import pytest

from papo.audio.recorder import RecordingSpeaker
from papo.conversation.embedded import EmbeddedLlm, LlamaChild, listening_port, model_file
from papo.conversation.llm import ChatClient, ChatMessage, LlmUnavailableError
from papo.conversation.runtime import ConversationRuntime, ConversationState
from papo.conversation.supervisor import Probing, Restarts, ServerState, Supervisor
from papo.conversation.tuning import TUNED
from papo.conversation.turn import HeardTurn
from papo.conversation.unspeakable import UNSPEAKABLE, banned_tokens
from papo.errors import PapoError
from papo.settings import Settings, load_settings
from papo.store import Store
from support.wait import wait_until

pytestmark = pytest.mark.models  # the GGUF of SmolLM2-135M

MODEL = "smollm2-135m"
QUESTION = [ChatMessage("system", "Answer in one short sentence."), ChatMessage("user", "Say hello.")]


@pytest.fixture
def settings(state_dir: Path) -> Settings:
    return load_settings(
        llm={"model": MODEL, "threads": 1, "context_tokens": 512, "max_tokens": 16}, conversation={"crew": False}
    )


@pytest.fixture
def server(settings: Settings) -> Iterator[EmbeddedLlm]:
    started = EmbeddedLlm(
        model_file(settings), settings.llm, settings.state_dir / "llm.log",
        restarts=Restarts(first_s=2.0), probing=Probing(interval_s=1.0),
    )  # fmt: skip
    yield started
    pids = [started.status.pid]
    started.stop()
    for pid in pids:
        assert pid is not None and not Path(f"/proc/{pid}").exists(), f"llama.cpp child {pid} left running"


def _reply(client: ChatClient) -> str:
    return "".join(client.stream(QUESTION, max_tokens=12, temperature=0.0))


def test_a_killed_server_is_restarted_and_the_next_reply_is_the_models(server: EmbeddedLlm, settings: Settings) -> None:
    server.start()
    assert (server.status.state, server.status.restarts) == (ServerState.READY, 0)
    client = ChatClient(server.base_url, MODEL, 30.0, 60.0, server.api_key)
    try:
        assert _reply(client).strip()
        first = server.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: server.status.state is not ServerState.READY, 10, "the death to be noticed")
        assert server.status.state is ServerState.RESTARTING  # for the 2 s backoff and the model's load
        with pytest.raises(LlmUnavailableError, match="restarting"):  # so the fallback path, at once
            _reply(client)
        wait_until(lambda: server.status.state is ServerState.READY and server.status.restarts == 1, 120,
                   lambda: f"the server to be ready again (status {server.status})")  # fmt: skip
        assert server.pid not in (None, first)
        assert _reply(client).strip()  # from the model, not the fallback (that raises)
    finally:
        client.close()
    assert not Path(f"/proc/{first}").exists()  # the killed child was reaped, not left a zombie
    assert server.api_key not in (settings.state_dir / "llm.log").read_text(errors="replace")


def test_only_a_request_with_the_runs_key_is_served(server: EmbeddedLlm) -> None:
    server.start()
    url, pid = server.base_url(), server.pid
    assert pid is not None
    assert httpx.get(f"{url}/models", trust_env=False).status_code == 401
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "oi"}], "max_tokens": 4}
    assert httpx.post(f"{url}/chat/completions", json=chat, trust_env=False).status_code == 401
    wrong = {"Authorization": "Bearer not-the-key"}
    assert httpx.get(f"{url}/models", headers=wrong, trust_env=False).status_code == 401
    keyed = httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {server.api_key}"}, trust_env=False)
    assert keyed.status_code == 200 and [m["id"] for m in keyed.json()["data"]] == [MODEL]
    assert server.api_key.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()  # not in argv: ps shows argv
    assert f"API_KEY={server.api_key}".encode() in Path(f"/proc/{pid}/environ").read_bytes()  # mode 0400


def test_the_companion_falls_back_during_a_restart_then_answers_from_the_model(settings: Settings) -> None:
    store = Store(settings.store_path, settings.device_id, 300)
    runtime = ConversationRuntime(settings, store, RecordingSpeaker(), None)
    try:
        runtime.start()
        server = runtime.status.llm_server
        assert runtime.status.state is ConversationState.READY and server is not None, runtime.status.detail
        assert not runtime.companion.respond(HeardTurn("Papo, bom dia!", "test")).fallback
        first = runtime.llm_server_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: server.state is not ServerState.READY, 10, "the death to be noticed")
        assert server.state is ServerState.RESTARTING  # for the 1 s backoff and the model's load
        assert runtime.companion.respond(HeardTurn("Papo, tudo bem?", "test")).fallback
        wait_until(lambda: server.state is ServerState.READY and server.restarts == 1, 120,
                   lambda: f"the server to be ready again (status {server})")  # fmt: skip
        again = runtime.companion.respond(HeardTurn("Papo, como vai?", "test"))
        assert again.reply and not again.fallback
        assert runtime.llm_server_pid not in (None, first)
    finally:
        runtime.close()
        store.close()
    assert (server.state, server.detail) == (ServerState.DOWN, "stopped")
    assert server.pid is not None and not Path(f"/proc/{server.pid}").exists()


class _Impostor(BaseHTTPRequestHandler):
    """Answers every request, keyed or not, as if it were our model."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        body = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_server_already_listening_is_never_taken_for_ours(server: EmbeddedLlm) -> None:
    impostor = ThreadingHTTPServer(("127.0.0.1", 0), _Impostor)
    Thread(target=impostor.serve_forever, daemon=True).start()
    try:
        server.start()
        port = int(impostor.server_address[1])
        assert server.pid is not None and listening_port(server.pid) != port
        assert f":{port}/" not in server.base_url()
        client = ChatClient(server.base_url, MODEL, 30.0, 60.0, server.api_key)
        try:
            assert _reply(client).strip()
        finally:
            client.close()
        assert _Impostor.requests == []
    finally:
        impostor.shutdown()
        impostor.server_close()


_IMPOSTOR_MODULE = """
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"data": [{"id": "%s"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("127.0.0.1", 0), Handler).serve_forever()
"""


def test_our_own_child_answering_without_the_key_is_refused(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (state_dir / "impostor_llm.py").write_text(textwrap.dedent(_IMPOSTOR_MODULE % MODEL))
    monkeypatch.setenv("PYTHONPATH", str(state_dir))
    children: list[LlamaChild] = []

    def launch() -> LlamaChild:
        children.append(LlamaChild(["impostor_llm"], state_dir / "impostor.log", "the-key", MODEL))
        return children[-1]

    supervisor = Supervisor("impostor", launch, Restarts(first_s=60.0), Probing(poll_s=0.05, start_timeout_s=30))
    try:
        with pytest.raises(PapoError, match="answered HTTP 200 without the API key: not ours"):
            supervisor.start()
        assert supervisor.current() is None and supervisor.status.state is ServerState.RESTARTING
        (child,) = children
        wait_until(lambda: child.exit_code() is not None, 10, "the impostor to be stopped")
    finally:
        supervisor.stop()
    assert all(child.exit_code() is not None for child in children)


def test_the_banned_tokens_keep_markup_and_line_breaks_out_of_what_the_model_writes(
    server: EmbeddedLlm, settings: Settings
) -> None:
    """Issue 16: spoken text only, by the server itself (no filter here): the raw stream, with and without the ban."""
    server.start()
    banned = banned_tokens(model_file(settings))
    assert 100 < len(banned) < 5_000  # of SmolLM2's 49,152 tokens: code signs, newlines, emojis, not the words
    ask = [ChatMessage("user", "Write a markdown list of three fruits, with a heading and bold names.")]
    free = ChatClient(server.base_url, MODEL, 30.0, 60.0, server.api_key)
    bound = ChatClient(
        server.base_url, MODEL, 30.0, 60.0, server.api_key, TUNED.request_options(embedded=True, banned=banned)
    )
    try:
        unbound = "".join(free.stream(ask, max_tokens=48, temperature=0.0))
        spoken = "".join(bound.stream(ask, max_tokens=48, temperature=0.0))
    finally:
        free.close()
        bound.close()
    assert UNSPEAKABLE.search(unbound), unbound  # the model does write markup when it may
    assert spoken.strip() and not UNSPEAKABLE.search(spoken), spoken
