"""Logs carry no words (issue 11): the filter on papo's log handler, the debug warning, and every log call.

The rule lives in `papo.system.logging.WithholdWords`, on the one handler every record goes through; this file
checks it there and, by reading the source of device/ and sync/, that no log call above debug puts words in the
event itself (an f-string or %-arguments), where no filter could tell them from the rest of the message.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from papo.store import NewTurn
from papo.system.logging import WORD_FIELDS, configure_logging, fields, withhold_quoted_input

ROOT = Path(__file__).resolve().parents[2]
SAID = "a minha neta Jabuticaba mora em Campinas"


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[str], str]]:
    """Configure papo's logging at a level (as the CLI does); returns what was logged since the last call."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def logged(at: str) -> str:
        if at:
            configure_logging(at)
        return capsys.readouterr().err

    yield logged
    root.handlers[:] = handlers
    root.setLevel(level)


def test_word_fields_are_withheld_above_debug_and_kept_at_debug(logs: Callable[[str], str]) -> None:
    logs("debug")
    log = logging.getLogger("papo.test")
    log.info("heard", extra=fields(text=SAID, chars=len(SAID), turn_id="t-1"))
    log.warning("reminder", extra=fields(what="tomar o remédio", reply=SAID, memory=SAID, evidence="socorro"))
    log.debug("heard words", extra=fields(text=SAID))
    lines = logs("").splitlines()
    info, warning, debug = (line for line in lines if "logger=papo.test" in line)
    assert f'text="<{len(SAID)} chars withheld>"' in info and "chars=40" in info and "turn_id=t-1" in info
    assert "remédio" not in warning and "Jabuticaba" not in warning and "socorro" not in warning
    assert "Jabuticaba" in debug  # debug logging may hold words...


def test_debug_logging_warns_once_that_the_log_holds_what_people_say(logs: Callable[[str], str]) -> None:
    assert "what people say" not in logs("info")
    written = logs("debug")
    assert written.count("what people say") == 1 and "level=warning" in written


def _invalid_turn() -> ValidationError:
    try:
        NewTurn.model_validate(
            {"text": "ok", "language": "pt", "audio_start_s": SAID, "audio_end_s": 1, "audio_duration_s": 1,
             "stt_model": "m", "stt_window": "short", "vad_model": "v"}
        )  # fmt: skip
    except ValidationError as exc:
        return exc
    raise AssertionError("the turn was valid")


def test_error_messages_lose_the_input_they_quote(logs: Callable[[str], str]) -> None:
    logs("info")
    log = logging.getLogger("papo.test")
    error = _invalid_turn()
    assert SAID in str(error)  # pydantic quotes the input...
    try:
        raise RuntimeError("utterance failed") from error
    except RuntimeError:
        log.exception("utterance failed")
    log.error("utterance lost", extra=fields(reason=str(error)))
    log.warning("not stored: %s", error)
    sql = "(sqlite3.IntegrityError) UNIQUE constraint failed\n[SQL: INSERT INTO turn (text) VALUES (?)]\n"
    log.error("reply not stored", extra=fields(reason=sql + f"[parameters: ('{SAID}', 1)]\n(Background on this)"))
    written = logs("")
    assert "Jabuticaba" not in written
    assert "input_value=<withheld>" in written and "[parameters: <withheld>]" in written
    assert "audio_start_s" in written and "UNIQUE constraint failed" in written  # ...the rest is still there


def test_quoted_input_is_cut_to_the_end_of_the_quote_only() -> None:
    message = (
        "text\n  Input should be a valid string [type=string_type, input_value='a, input_type= b', input_type=int]"
    )
    assert withhold_quoted_input(message).endswith("[type=string_type, input_value=<withheld>, input_type=int]")
    assert withhold_quoted_input("input_value='truncated by [:200") == "input_value=<withheld>"


_LEVELS = {"info", "warning", "error", "exception", "critical"}


def _log_calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _LEVELS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in {"log", "logger", "logging"}
        ):
            yield node


def _extra_keys(call: ast.Call) -> set[str]:
    for keyword in call.keywords:
        if keyword.arg != "extra":
            continue
        if isinstance(keyword.value, ast.Call):
            return {k.arg for k in keyword.value.keywords if k.arg is not None}
        if isinstance(keyword.value, ast.Dict):
            return {k.value for k in keyword.value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return set()


def test_no_log_call_above_debug_puts_words_in_its_event() -> None:
    problems = []
    for path in sorted([*(ROOT / "device").rglob("*.py"), *(ROOT / "sync").rglob("*.py")]):
        if "migrations" in path.parts:
            continue
        for call in _log_calls(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if not call.args or not isinstance(call.args[0], ast.Constant) or len(call.args) > 1:
                problems.append(f"{where}: the event must be a plain string (values go in fields())")
            if words := _extra_keys(call) & WORD_FIELDS:
                problems.append(f"{where}: logs {sorted(words)} above debug (only their length would show)")
    assert problems == []
