"""Webhooks: the notice as JSON, signed (X-Papo-Signature over timestamp + "." + body), with an idempotency key."""

from __future__ import annotations

import json
import time

from papo_sync.cloud.alerts.httppost import post
from papo_sync.cloud.alerts.message import Notice, payload
from papo_sync.cloud.alerts.outcome import Outcome
from papo_sync.cloud.alerts.signature import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature


def request(notice: Notice, secret: str, idempotency_key: str, now: float) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one webhook call, signed at `now`."""
    body = json.dumps(payload(notice), ensure_ascii=False, separators=(",", ":")).encode()
    stamp = int(now)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "papo-cloud-alerts/1",
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: signature(secret, stamp, body),
        IDEMPOTENCY_HEADER: idempotency_key,
    }
    return body, headers


def send_webhook(notice: Notice, url: str, secret: str, idempotency_key: str, timeout_s: float) -> Outcome:
    """One attempt at delivering the notice to the webhook (the retry schedule is the service's)."""
    body, headers = request(notice, secret, idempotency_key, time.time())
    return post(url, body, headers, timeout_s)
