"""Papo says the setup code aloud (a thread: the request never waits for the speaker)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from papo.system.logging import fields
from papo.web.security.setup_code import spoken

log = logging.getLogger(__name__)

_speaking = threading.Lock()


def speech_output(voice: Any) -> Any | None:
    """The companion's SpeechOutput when a conversation runtime with a real speaker exists, else None."""
    runtime = getattr(voice, "conversation", None)
    output = getattr(getattr(runtime, "companion", None), "output", None)
    return output if output is not None and getattr(output, "has_speaker", False) else None


def say_code(voice: Any, code: str, language: str) -> bool:
    """Start saying `code` in a thread; False when there is no speaker (the page then points to `papo setup-code`)."""
    output = speech_output(voice)
    if output is None:
        return False
    threading.Thread(target=_say, args=(output, code, language), name="setup-code", daemon=True).start()
    return True


def _say(output: Any, code: str, language: str) -> None:
    """Say each part on its own (so the phrase cache holds single digits, never the code)."""
    if not _speaking.acquire(blocking=False):
        return  # already being said
    try:
        for part in spoken(code, language).replace(":", ".").split(". "):
            for piece in part.split(", "):
                output.say(piece.strip(" ."))
    except Exception as exc:  # a speaker that fails must not kill this thread silently (the page points to the log)
        log.warning("the setup code could not be said", extra=fields(reason=str(exc)))
    finally:
        _speaking.release()
