"""ntfy push: POST the text to the topic URL with Title, Priority, Tags, Click and an acknowledge action."""

from __future__ import annotations

import base64

from papo_sync.cloud.alerts.httppost import post
from papo_sync.cloud.alerts.message import Notice, subject, text
from papo_sync.cloud.alerts.outcome import Outcome

_PRIORITY = {"critical": "5", "high": "5", "medium": "4", "low": "3"}
_TAGS = {"alert": "rotating_light,papo", "test": "papo,test_tube", "ok": "white_check_mark,papo"}


def header_text(value: str) -> str:
    """A header value ntfy reads as UTF-8: plain ASCII as is, anything else RFC 2047 encoded."""
    if value.isascii():
        return value
    return f"=?UTF-8?B?{base64.b64encode(value.encode()).decode()}?="


def headers(notice: Notice, token: str | None, idempotency_key: str) -> dict[str, str]:
    """The publishing headers ntfy reads for the notice (docs.ntfy.sh/publish)."""
    made = {
        "Content-Type": "text/plain; charset=utf-8",
        "Title": header_text(subject(notice)),
        "Priority": _PRIORITY.get(notice.severity, "4") if notice.update == "alert" else "3",
        "Tags": _TAGS[notice.update],
        "Click": notice.ack_url,
        "Actions": f"http, Estou vendo, {notice.ack_url}, method=POST, clear=true",
        "X-Papo-Idempotency-Key": idempotency_key,
    }
    if token is not None:
        made["Authorization"] = f"Bearer {token}"
    return made


def send_ntfy(notice: Notice, url: str, token: str | None, idempotency_key: str, timeout_s: float) -> Outcome:
    """One attempt at publishing the notice to the ntfy topic at `url`."""
    return post(url, text(notice).encode(), headers(notice, token, idempotency_key), timeout_s)
