"""A scripted OpenAI-compatible server on loopback: replays canned streamed completions and records every request."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Rule = Callable[[list[dict[str, str]]], "Script | None"]


@dataclass
class Script:
    """One canned answer: its text (streamed in small pieces), delays, or an HTTP error."""

    text: str = "Que bom ouvir você! Conte mais."
    first_token_delay_s: float = 0.05
    piece_delay_s: float = 0.01
    status: int = 200


@dataclass
class ScriptedLlm:
    """The server and what it has been asked."""

    rules: list[Rule] = field(default_factory=list)
    default: Script = field(default_factory=Script)
    requests: list[dict[str, Any]] = field(default_factory=list)
    completed: list[dict[str, Any]] = field(default_factory=list)  # the requests whose answer was sent in full
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The base URL to configure (…/v1)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def port(self) -> int:
        """The loopback port it listens on."""
        assert self._server is not None
        return int(self._server.server_address[1])

    def script_for(self, messages: list[dict[str, str]]) -> Script:
        """The first rule's script that matches, else the default."""
        for rule in self.rules:
            script = rule(messages)
            if script is not None:
                return script
        return self.default

    def prompts(self) -> list[str]:
        """Every chat request's messages, joined into one text each."""
        return ["\n".join(m["content"] for m in r["messages"]) for r in self.requests if "messages" in r]

    def start(self) -> ScriptedLlm:
        """Listen on a free loopback port in a background thread."""
        handler = _handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def when_system_contains(marker: str, script: Script) -> Rule:
    """A rule answering `script` when the system prompt contains `marker`."""

    def rule(messages: list[dict[str, str]]) -> Script | None:
        system = " ".join(m["content"] for m in messages if m["role"] == "system")
        return script if marker in system else None

    return rule


def when_any_contains(marker: str, script: Script) -> Rule:
    """A rule answering `script` when any message contains `marker`."""

    def rule(messages: list[dict[str, str]]) -> Script | None:
        return script if any(marker in m["content"] for m in messages) else None

    return rule


def when_said(marker: str, script: Script) -> Rule:
    """A rule answering `script` when the person's latest message contains `marker`."""

    def rule(messages: list[dict[str, str]]) -> Script | None:
        return script if messages and marker in messages[-1]["content"] else None

    return rule


def _handler(llm: ScriptedLlm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return

        def do_GET(self) -> None:
            body = json.dumps({"object": "list", "data": [{"id": "scripted", "object": "model"}]}).encode()
            self._send(200, body, "application/json")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            request = json.loads(self.rfile.read(length) or b"{}")
            llm.requests.append(request)
            script = llm.script_for(request.get("messages", []))
            if script.status != 200:
                self._send(script.status, b'{"error": "scripted failure"}', "application/json")
                return
            time.sleep(script.first_token_delay_s)  # the scripted model's thinking time
            if not request.get("stream"):
                message = {"role": "assistant", "content": script.text}
                body = {
                    "id": "x", "object": "chat.completion", "model": "scripted", "created": 0,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                }  # fmt: skip
                self._send(200, json.dumps(body).encode(), "application/json")
                llm.completed.append(request)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for index, piece in enumerate(_pieces(script.text)):
                    if index:
                        time.sleep(script.piece_delay_s)  # the scripted pace of the tokens
                    self._chunk({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                self._chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                self._raw(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            llm.completed.append(request)

        def _chunk(self, data: dict[str, Any]) -> None:
            self._raw(b"data: " + json.dumps(data).encode() + b"\n\n")

        def _raw(self, payload: bytes) -> None:
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            self.wfile.flush()

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _pieces(text: str) -> list[str]:
    """Cut `text` into word-sized pieces, as an LLM streams tokens."""
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]
