"""Journald with fields: each log field becomes PAPO_<FIELD>=, the event PAPO_EVENT=, never a person's words.

There is no running journald on the test machine (no /run/systemd/journal), so the handler is tested with a fake
`send` capturing what systemd.journal.send would get; the selection of the journal (stderr is the journal stream
named by $JOURNAL_STREAM) is tested on real file descriptors.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from papo.system.logging import (
    JournalHandler,
    KeyValueFormatter,
    WithholdWords,
    configure_logging,
    fields,
    journal_field,
    stderr_is_journal,
)

WORDS = "Socorro, eu caí no corredor"


class Journal:
    """A stand-in for systemd.journal.send: the entries it was given."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def __call__(self, message: str, **entry: Any) -> None:
        self.entries.append({"MESSAGE": message, **entry})


@pytest.fixture
def journal() -> Iterator[tuple[logging.Logger, Journal]]:
    sent = Journal()
    handler = JournalHandler(sent)
    handler.setFormatter(KeyValueFormatter(with_time=False))
    handler.addFilter(WithholdWords())
    logger = logging.getLogger("papo.test.journal")
    logger.handlers[:], logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)
    yield logger, sent
    logger.handlers[:], logger.propagate = [], True


def test_each_field_becomes_a_journal_field_and_the_event_is_papo_event(
    journal: tuple[logging.Logger, Journal],
) -> None:
    logger, sent = journal
    logger.info("barge-in", extra=fields(turn_id="01JTURN", speech_to_stop_ms=96, name="mic"))
    [entry] = sent.entries
    assert entry["PAPO_EVENT"] == "barge-in"
    assert entry["PAPO_TURN_ID"] == "01JTURN"
    assert entry["PAPO_SPEECH_TO_STOP_MS"] == "96"
    assert entry["PAPO_NAME"] == "mic"  # `name` is LogRecord's: fields() stores it as `name_`
    assert entry["PRIORITY"] == "6" and entry["SYSLOG_IDENTIFIER"] == "papo" and entry["LOGGER"] == logger.name
    assert entry["CODE_FUNC"] == "test_each_field_becomes_a_journal_field_and_the_event_is_papo_event"
    assert isinstance(entry["CODE_LINE"], int)
    assert entry["MESSAGE"] == (
        "level=info logger=papo.test.journal event=barge-in turn_id=01JTURN speech_to_stop_ms=96 name_=mic"
    )
    logger.error("answer failed")
    assert sent.entries[-1]["PRIORITY"] == "3"


def test_words_never_become_journal_fields_at_any_level(journal: tuple[logging.Logger, Journal]) -> None:
    logger, sent = journal
    logger.info("heard", extra=fields(text=WORDS, chars=len(WORDS)))
    logger.debug("heard words", extra=fields(text=WORDS, reply=WORDS))
    info, debug = sent.entries
    assert "PAPO_TEXT" not in info and "PAPO_TEXT" not in debug and "PAPO_REPLY" not in debug
    assert info["PAPO_CHARS"] == str(len(WORDS))
    assert WORDS not in str(info)  # above debug the line itself holds only the length
    assert f"<{len(WORDS)} chars withheld>" in info["MESSAGE"]


def test_journal_field_names_are_what_journald_accepts() -> None:
    assert journal_field("turn_id") == "PAPO_TURN_ID"
    assert journal_field("retry-in.s") == "PAPO_RETRY_IN_S"
    assert len(journal_field("x" * 100)) == 64


def test_stderr_is_the_journal_only_when_journal_stream_names_it(tmp_path: Path) -> None:
    with (tmp_path / "stream").open("w") as stream:
        stat = os.fstat(stream.fileno())
        named = {"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}
        assert stderr_is_journal(named, stream.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino + 1}"}, stream.fileno())
        assert not stderr_is_journal({}, stream.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": "garbage"}, stream.fileno())


def test_configure_logging_writes_to_the_journal_when_stderr_is_the_journal_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stat = os.fstat(2)
    try:
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino}")
        configure_logging("info")
        assert [type(h) for h in root.handlers] == [JournalHandler]
        monkeypatch.delenv("JOURNAL_STREAM")
        configure_logging("info")
        assert [type(h).__name__ for h in root.handlers] == ["StderrHandler"]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
