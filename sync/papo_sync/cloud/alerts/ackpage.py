"""The acknowledgement link: GET shows a confirm page, POST acknowledges.

Mail scanners that prefetch links acknowledge nothing; the page's button, ntfy's action and a webhook gateway
calling `ack_url` back all POST.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from papo_sync.cloud.alerts import store
from papo_sync.cloud.alerts.db import connect
from papo_sync.cloud.alerts.message import local_time

log = logging.getLogger(__name__)
_PATH = re.compile(r"^/ack/([A-Za-z0-9_-]{32,64})/?$")
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}
_PAGE = """<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Papo: aviso</title></head><body>
<h1>{title}</h1>
<p>{body}</p>
{form}
</body></html>
"""
_FORM = '<form method="post"><button type="submit">Confirmar que vi o aviso</button></form>'


def page(title: str, body: str, form: bool = False) -> bytes:
    """An HTML page (escaped)."""
    return _PAGE.format(title=html.escape(title), body=html.escape(body), form=_FORM if form else "").encode()


class AckServer:
    """The acknowledgement endpoint of one alert service instance (any instance can take any link)."""

    def __init__(self, database_url: str, host: str, port: int, timezone: str, on_ack: Callable[[], None]) -> None:
        self._database_url, self._timezone, self._on_ack = database_url, timezone, on_ack
        server = self

        class Handler(BaseHTTPRequestHandler):
            """GET: the confirm page; POST: acknowledge."""

            def do_GET(self) -> None:
                server.answer(self, post=False)

            def do_POST(self) -> None:
                server.answer(self, post=True)

            def log_message(self, *_: Any) -> None:  # paths carry tokens: never logged
                return

        self._http = ThreadingHTTPServer((host, port), Handler)
        self._http.daemon_threads = True
        self.port = int(self._http.server_address[1])
        self._thread = threading.Thread(target=self._http.serve_forever, name="papo-alerts-ack", daemon=True)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._http.shutdown()
        self._http.server_close()

    def answer(self, request: BaseHTTPRequestHandler, post: bool) -> None:
        """Answer one request."""
        length = int(request.headers.get("Content-Length") or 0)
        if post and 0 < length <= 64_000:
            request.rfile.read(length)  # a gateway's body is not needed: the token is the authority
        path = request.path.split("?", 1)[0]
        if path == "/" and not post:  # where a test alert's link leads
            self._send(request, 200, page("Papo", "Aqui os cuidadores confirmam que viram um aviso do Papo."), post)
            return
        match = _PATH.match(path)
        if match is None:
            self._send(request, 404, page("Link inválido", "Este link de aviso do Papo não existe."), post)
            return
        try:
            status, body, acked = self._handle(match.group(1), post)
        except Exception:
            log.exception("acknowledgement failed")
            status, body, acked = 503, page("Tente de novo", "Não foi possível registrar agora."), None
        self._send(request, status, body, post, acked)
        if acked:
            self._on_ack()

    def _handle(self, token: str, post: bool) -> tuple[int, bytes, bool | None]:
        with connect(self._database_url) as db:
            found = store.by_token(db, token, self._timezone)
            if found is None:
                return 404, page("Link inválido", "Este link de aviso do Papo não existe ou foi substituído."), None
            where = f"Papo {found['device_id']}, {local_time(found['event_at'], found['timezone'])}"
            if found["acknowledged_at"] is not None:
                by = found["acknowledged_by"] or "a equipe"
                return 200, page("Aviso já confirmado", f"{where}: confirmado por {by}."), False
            if not post:
                return 200, page("Aviso do Papo", f"{where}. Confirme que você viu o aviso:", form=True), None
            acked = store.acknowledge(db, int(found["alert_id"]), found["caregiver_name"], "link")
            return 200, page("Obrigado", f"{where}: aviso confirmado. O Papo vai dizer que você viu."), acked

    def _send(
        self, request: BaseHTTPRequestHandler, status: int, body: bytes, post: bool, acked: bool | None = None
    ) -> None:
        wants_json = post and "application/json" in (request.headers.get("Accept") or "")
        if wants_json:
            body = json.dumps({"acknowledged": status == 200, "new": bool(acked)}).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json" if wants_json else "text/html; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        for name, value in _HEADERS.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(body)
