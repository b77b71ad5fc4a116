"""The webhook signature: HMAC-SHA256 of `timestamp + "." + body` with the caregiver's secret (README: webhooks)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Papo-Signature"
TIMESTAMP_HEADER = "X-Papo-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOLERANCE_S = 300
"""A receiver should refuse a timestamp further than this from its clock (a replayed request)."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Papo-Signature` value: `sha256=` and the hex HMAC-SHA256 of `{timestamp}.{body}`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, signed: str, body: bytes, now: float, tolerance_s: int = TOLERANCE_S) -> bool:
    """Whether a request's headers sign its body with `secret`, and its timestamp is within `tolerance_s` of now."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, stamp, body), signed)
