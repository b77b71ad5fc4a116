"""Structured key=value logging: to the journal with fields under systemd, timestamped on a terminal, never any words.

The rule "logs carry ids, lengths and timings, never what people said" is enforced here, on the one handler
every record goes through (papo's, papo_sync's and the libraries'), not left to each log call: above debug,
`WithholdWords` replaces a word-carrying field by its length and cuts the input that error messages quote
(pydantic's `input_value=...`, SQLAlchemy's `[parameters: ...]`) out of messages, fields and tracebacks.

Under systemd (stderr is the journal stream named by `$JOURNAL_STREAM`), records go to the journal natively:
the same key=value line as MESSAGE, and each `fields(...)` value as a journal field of its own (`msg_id=...` →
`PAPO_MSG_ID=`, the event → `PAPO_EVENT=`), so `journalctl -u papo PAPO_EVENT=barge-in` finds them. Word
fields never become journal fields, at any level.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
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


_SYSLOG_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}
_NOT_A_FIELD_CHAR = re.compile(r"[^A-Z0-9_]")
JournalSend = Callable[..., None]


def journal_field(key: str) -> str:
    """The journal field of a log field: `turn_id` → `PAPO_TURN_ID` (A-Z, 0-9 and _ only, at most 64 characters)."""
    return ("PAPO_" + _NOT_A_FIELD_CHAR.sub("_", key.rstrip("_").upper()))[:64]


def journal_fields(record: logging.LogRecord) -> dict[str, str | int]:
    """The journal fields of a record besides MESSAGE: priority, logger, code location, the event and its fields."""
    entry: dict[str, str | int] = {
        "PRIORITY": str(_SYSLOG_PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)),
        "SYSLOG_IDENTIFIER": "papo",
        "LOGGER": record.name,
        "CODE_FILE": record.pathname,
        "CODE_LINE": record.lineno,
        "CODE_FUNC": record.funcName,
        "PAPO_EVENT": record.getMessage(),
    }
    for key, value in record.__dict__.items():
        if key in _RESERVED or key.startswith("_") or key.rstrip("_") in WORD_FIELDS:
            continue
        entry[journal_field(key)] = str(value)
    return entry


def _systemd_journal_send() -> JournalSend | None:
    try:
        from systemd import journal
    except ImportError:
        return None
    send: JournalSend = journal.send
    return send


class JournalHandler(logging.Handler):
    """A handler writing each record to the journal with its fields (`send`: systemd.journal.send, or a fake)."""

    def __init__(self, send: JournalSend) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        """Send one record as one journal entry."""
        try:
            self._send(self.format(record), **journal_fields(record))
        except Exception:
            self.handleError(record)


def stderr_is_journal(environ: Mapping[str, str] = os.environ, fd: int = 2) -> bool:
    """Whether `fd` is the journal stream systemd connected (`$JOURNAL_STREAM` is its `device:inode`)."""
    try:
        device, inode = (int(part) for part in environ.get("JOURNAL_STREAM", "").split(":"))
        stat = os.fstat(fd)
    except (ValueError, OSError):
        return False
    return (stat.st_dev, stat.st_ino) == (device, inode)


def _handler() -> logging.Handler:
    """The journal (with fields) when stderr is the journal stream and systemd-python is there; else stderr."""
    send = _systemd_journal_send() if stderr_is_journal() else None
    if send is not None:
        handler: logging.Handler = JournalHandler(send)
        handler.setFormatter(KeyValueFormatter(with_time=False))
        return handler
    handler = StderrHandler()
    handler.setFormatter(KeyValueFormatter(with_time="JOURNAL_STREAM" not in os.environ))
    return handler


def configure_logging(level: str = "info") -> None:
    """Send logs without people's words (see WithholdWords) to the journal under systemd, else to stderr.

    At debug level the log does hold what people say, and a warning says so once.
    """
    handler = _handler()
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
