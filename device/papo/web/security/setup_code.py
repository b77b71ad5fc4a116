"""The one-time setup code that claims the device: 9 random digits, 10 minutes, kept only as a hash.

The daemon (when the setup page opens) and `papo setup-code` (headless installs) share it through a file in the
state directory, so whichever issued the newest code, the other checks against it. A code says itself aloud
digit by digit; trivial ones (one digit repeated, runs, short repeated patterns) are never issued.
"""

from __future__ import annotations

import itertools
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from papo.system.logging import fields
from papo.web.security.files import read_json, web_dir, write_json
from papo.web.security.passwords import hash_password, verify_password

log = logging.getLogger(__name__)

DIGITS = 9
VALID_S = 600.0
REPLACE_AFTER_S = 60.0
ENTROPY_BITS = DIGITS * math.log2(10)  # 29.9 bits before the few trivial codes are refused

_SPOKEN_DIGITS = {
    "pt": ["zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove"],
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
}


def trivial(code: str) -> bool:
    """Whether a code is too easy to guess: one digit repeated, an ascending or descending run, a repeated pattern."""
    digits = [int(c) for c in code]
    steps = {(b - a) % 10 for a, b in itertools.pairwise(digits)}
    if len(steps) == 1 and steps <= {0, 1, 9}:
        return True
    if len(set(digits)) <= 2:
        return True
    return any(code == (code[:period] * DIGITS)[:DIGITS] for period in range(1, 5))


def new_code() -> str:
    """A fresh code from the system's random source, never a trivial one."""
    while True:
        code = "".join(secrets.choice("0123456789") for _ in range(DIGITS))
        if not trivial(code):
            return code


def spoken(code: str, language: str = "pt") -> str:
    """The sentence that says the code aloud, digit by digit, in groups of three."""
    names = _SPOKEN_DIGITS["en" if language == "en" else "pt"]
    groups = [", ".join(names[int(c)] for c in code[i : i + 3]) for i in range(0, len(code), 3)]
    if language == "en":
        return f"The setup code is: {'. '.join(groups)}. Again: {'. '.join(groups)}."
    return f"O código de configuração é: {'. '.join(groups)}. Repetindo: {'. '.join(groups)}."


@dataclass(frozen=True)
class Issued:
    """A code this process issued (it can say it again while it is the current one)."""

    code: str
    expires_at: float


class SetupCodes:
    """Issues and checks the setup code kept (hashed, with its expiry) in the state directory."""

    def __init__(self, state_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self._path = web_dir(state_dir) / "setup-code.json"
        self._clock = clock
        self._lock = threading.Lock()
        self._issued: Issued | None = None
        self.said_at = 0.0  # when the current code was last said aloud

    def issue(self) -> Issued:
        """A fresh code, valid for 10 minutes; it replaces any earlier one."""
        with self._lock:
            code = new_code()
            issued = Issued(code, self._clock() + VALID_S)
            write_json(self._path, {"hash": hash_password(code), "expires_at": issued.expires_at})
            self._issued = issued
            return issued

    def known(self) -> Issued | None:
        """The current code if this process issued it (so it can say it again), else None."""
        with self._lock:
            issued = self._issued
            if issued is None or issued.expires_at <= self._clock():
                return None
            record = read_json(self._path)
            if record is None or not verify_password(str(record.get("hash", "")), issued.code):
                return None
            return issued

    def pending(self) -> bool:
        """Whether a code (issued here or by `papo setup-code`) is valid now."""
        record = read_json(self._path)
        return record is not None and float(record.get("expires_at", 0)) > self._clock()

    def valid_for(self) -> float:
        """Seconds the current code still works (0 when there is none)."""
        record = read_json(self._path)
        return 0.0 if record is None else max(0.0, float(record.get("expires_at", 0)) - self._clock())

    def age_limit_s(self) -> float:
        """Seconds until a new code may replace the current one: at most one a minute.

        So someone else on the network cannot keep changing the code while the owner types it.
        """
        remaining = self.valid_for()
        return 0.0 if remaining <= 0 else max(0.0, remaining - (VALID_S - REPLACE_AFTER_S))

    def check(self, code: str) -> bool:
        """Whether `code` is the current, unexpired code."""
        code = "".join(c for c in code if c.isdigit())
        record = read_json(self._path)
        if record is None or len(code) != DIGITS or float(record.get("expires_at", 0)) <= self._clock():
            return False
        return verify_password(str(record.get("hash", "")), code)

    def close(self) -> None:
        """Forget the code (the device was claimed)."""
        with self._lock:
            self._issued = None
            self._path.unlink(missing_ok=True)


def issue_for_page(codes: SetupCodes) -> Issued:
    """A fresh code for the setup page, written to the journal.

    This is the one log line that holds a code, as issue 13 asks: a person at the device's console can read it there.
    """
    issued = codes.issue()
    log.info("setup code issued", extra=fields(code=issued.code, valid_s=int(VALID_S)))
    return issued
