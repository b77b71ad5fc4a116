"""Structured key=value logging: journald-friendly under systemd, timestamped on a terminal, and never any words.

The rule "logs carry ids, lengths and timings, never what people said" is enforced here, on the one handler
every record goes through (papo's, papo_sync's and the libraries'), not left to each log call: above debug,
`WithholdWords` replaces a word-carrying field by its length and cuts the input that error messages quote
(pydantic's `input_value=...`, SQLAlchemy's `[parameters: ...]`) out of messages, fields and tracebacks.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any, TextIO

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

# Fields that hold what people said or what the companion answered, remembered or will remind: above debug only
# their length is logged. `fields(text=...)` stores `text`; a trailing underscore (`text_`) is the same field.
WORD_FIELDS = frozenset(
    {
        "text", "transcript", "utterance", "said", "heard", "words", "reply", "answer", "sentence", "prompt",
        "messages", "memory", "fact", "what", "reminder", "evidence", "utterance_text",
    }
)  # fmt: skip
# Both quote the input as a repr (one line: newlines escaped): cut to the end of the quote, or of the line.
_QUOTED_INPUT = [
    (re.compile(r"input_value=(?:.*(?=, input_type=)|.*)"), "input_value=<withheld>"),
    (re.compile(r"\[parameters: .*"), "[parameters: <withheld>]"),
]


def withhold_quoted_input(text: str) -> str:
    """`text` (an error message) without the user input that pydantic and SQLAlchemy quote in their messages."""
    for pattern, replacement in _QUOTED_INPUT:
        text = pattern.sub(replacement, text)
    return text


class WithholdWords(logging.Filter):
    """Above debug, keep people's words out of a record; debug records pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place (word fields → their length, quoted input cut out); never drop it."""
        if record.levelno <= logging.DEBUG:
            return True
        for key, value in list(record.__dict__.items()):
            if key in _RESERVED or key.startswith("_"):
                continue
            if key.rstrip("_") in WORD_FIELDS:
                record.__dict__[key] = f"<{len(str(value))} chars withheld>"
            elif isinstance(value, str):
                record.__dict__[key] = withhold_quoted_input(value)
        if isinstance(record.msg, str):
            record.msg = withhold_quoted_input(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_plain(arg) for arg in record.args)
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = withhold_quoted_input(logging.Formatter().formatException(record.exc_info))
        return True


def _plain(arg: object) -> object:
    if isinstance(arg, str | BaseException):
        return withhold_quoted_input(str(arg))
    return arg


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class KeyValueFormatter(logging.Formatter):
    """Format a record as `level=info logger=papo.x event="..." key=value ...`."""

    def __init__(self, with_time: bool) -> None:
        super().__init__()
        self._with_time = with_time

    def format(self, record: logging.LogRecord) -> str:
        """Render one record on one line, extras included."""
        parts = []
        if self._with_time:
            parts.append(f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}")
        parts += [
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"event={_quote(record.getMessage())}",
        ]
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                parts.append(f"{key}={_quote(value)}")
        if record.exc_info:
            parts.append(f"exc={_quote(record.exc_text or self.formatException(record.exc_info))}")
        return " ".join(parts)


class StderrHandler(logging.StreamHandler[TextIO]):
    """A handler writing to whatever `sys.stderr` is when a record comes (a replaced stderr is followed)."""

    @property
    def stream(self) -> TextIO:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        return


def configure_logging(level: str = "info") -> None:
    """Send logs to stderr without people's words (see WithholdWords); journald adds timestamps under systemd.

    At debug level the log does hold what people say, and a warning says so once.
    """
    handler = StderrHandler()
    handler.setFormatter(KeyValueFormatter(with_time="JOURNAL_STREAM" not in os.environ))
    handler.addFilter(WithholdWords())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("faster_whisper", "httpx", "alembic", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if root.level <= logging.DEBUG:
        logging.getLogger(__name__).warning(
            "debug logging is on: the log holds what people say and what the companion answers; "
            "set log_level to info when done"
        )


def fields(**values: Any) -> dict[str, Any]:
    """Return `extra=` for a log call: `log.info("heard", extra=fields(chars=n))` logs `chars=...`.

    A key that LogRecord already uses (name, msg, ...) gets a trailing underscore instead of an error. A field
    named in WORD_FIELDS (`text`, `reply`, ...) is logged in full at debug only; above, only its length.
    """
    return {f"{key}_" if key in _RESERVED else key: value for key, value in values.items()}
