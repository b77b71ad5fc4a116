"""One HTTP POST (webhooks, ntfy): no redirects followed, the status mapped to an Outcome."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from papo_sync.cloud.alerts.outcome import Outcome
from papo_sync.cloud.alerts.policy import retryable_status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: a signed alert is never re-sent elsewhere (or as a GET)."""

    def redirect_request(self, *_: Any, **__: Any) -> None:
        """Follow nothing."""
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def post(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Outcome:
    """POST `body` to `url`; ok on 2xx, retryable on 5xx/408/425/429, timeouts and connection errors."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = int(exc.code)
        exc.close()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(False, True, f"unreachable: {type(reason).__name__}")
    if 200 <= status < 300:
        return Outcome(True, detail=f"HTTP {status}")
    return Outcome(False, retryable_status(status), f"HTTP {status}")
