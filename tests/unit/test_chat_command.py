"""`papo chat`: typed lines answered by the same companion (rules, memory, model), printed, or as JSON lines."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from papo import cli
from papo.store import Store
from support.scripted_llm import Script, ScriptedLlm, when_said


@pytest.fixture
def scripted(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedLlm]:
    """The companion on a scripted model, without CrewAI or the memory index (nothing heavy is loaded)."""
    llm = ScriptedLlm(
        rules=[when_said("feira", Script(text="**Que passeio bom!** 😊 O que você comprou na feira? E"))],
        default=Script(text="Que bom conversar com você. Conte mais."),
    ).start()
    monkeypatch.setenv("PAPO_LLM__ENDPOINT", llm.url)
    monkeypatch.setenv("PAPO_LLM__MODEL", "scripted")
    monkeypatch.setenv("PAPO_CONVERSATION__CREW", "false")

    def no_index(*args: object) -> None:
        raise RuntimeError("no memory index in the unit tier")

    monkeypatch.setattr("papo.conversation.runtime.open_memory", no_index)
    yield llm
    llm.close()


def _json_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_one_line_as_json_gives_reply_intent_and_first_token(
    scripted: ScriptedLlm, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["chat", "--json", "--no-voice", "Hoje eu fui à feira com a minha vizinha."]) == 0
    [answer] = _json_lines(capsys.readouterr().out)
    assert set(answer) == {"reply", "intent", "first_token_ms"}
    assert answer["reply"] == "Que passeio bom! O que você comprou na feira?"  # filtered: no markup, emoji, stub
    assert answer["intent"] is None and isinstance(answer["first_token_ms"], float)
    assert "logit_bias" not in scripted.requests[-1]  # an endpoint that is not llama.cpp gets no llama.cpp fields


def test_a_rule_answers_without_the_model(scripted: ScriptedLlm, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["chat", "--json", "--no-voice", "Que horas são?"]) == 0
    [answer] = _json_lines(capsys.readouterr().out)
    assert answer["intent"] == "time" and str(answer["reply"]).startswith(("São", "É"))
    assert answer["first_token_ms"] is None and scripted.requests == []


def test_a_session_remembers_what_was_said_and_ends_on_sair(
    scripted: ScriptedLlm, state_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = "Meu nome é Maria e eu moro em Santos.\n\nVai chover amanhã?\nComo foi o meu dia?\nsair\nnão lido\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert cli.main(["chat", "--no-voice"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":", 1)[0] for line in out] == ["Papo", "Papo", "Papo"]
    assert "não consigo" in out[1].lower()  # the weather: an honest answer, without the model
    last_prompt = scripted.prompts()[-1]
    assert "A pessoa se chama Maria." in last_prompt and "Meu nome é Maria e eu moro em Santos." in last_prompt
    with Store(state_dir / "papo.sqlite3", "papo-local") as store:
        kept = [(turn.role.value, turn.stt_model) for turn in reversed(store.turns.recent(10))]
    assert kept == [("person", "typed"), ("companion", "")] * 3  # kept like speech said to Papo


def test_nothing_typed_is_an_error_that_says_what_to_do(capsys: pytest.CaptureFixture[str], state_dir: Path) -> None:
    assert cli.main(["chat", "   "]) == 1
    assert 'papo chat "Bom dia, Papo!"' in capsys.readouterr().err


def test_the_help_speaks_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["chat", "--help"])
    text = capsys.readouterr().out
    for words in ("Type to the companion", "sair", "--no-voice", "--json", "Ctrl-D"):
        assert words in text
