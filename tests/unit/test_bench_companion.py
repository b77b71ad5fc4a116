"""bench/companion.py: its cases are valid and cover the issue's categories; its checks catch what they must."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "companion.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_companion", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_companion"] = module
    spec.loader.exec_module(module)
    return module


def test_at_least_sixty_cases_of_one_to_four_turns_in_every_category(bench: ModuleType) -> None:
    cases = bench.load_cases()
    assert len(cases) >= 60 and len({c.id for c in cases}) == len(cases)
    categories = Counter(c.category for c in cases)
    assert set(categories) == {"dia", "familia", "memoria", "tempo", "lembretes", "tristeza", "saude", "alcance",
                               "controle"}  # fmt: skip
    assert all(1 <= len(c.turns) <= 4 for c in cases)
    assert any(t.restart_before for c in cases for t in c.turns)  # a fact asked after a restart
    quick = bench.quick_selection(cases)
    assert len(quick) == bench.QUICK_CASES and set(c.category for c in quick) == set(categories)


def test_the_checks_fail_the_reply_of_the_issue_and_pass_a_good_one(bench: ModuleType) -> None:
    now = datetime(2026, 11, 30, 8, 15)
    turn = bench.TurnCase(say="Bom dia, hoje eu acordei cedo e fui caminhar na praça com a minha vizinha.")
    bad = bench.failures(turn, "Obrigado por a presença! Como posso ajudar você hoje?", None, None, now)
    assert bad == ["cliché", "not relevant"]
    assert bench.failures(turn, "Que bom! A praça estava cheia hoje cedo?", None, None, now) == []
    assert "markup/list/emoji/url/code" in bench.failures(turn, "**Que bom!** Caminhar na praça 😊", None, None, now)
    assert "not Portuguese" in bench.failures(turn, "How nice, you walked in the square!", None, None, now)


def test_dose_weekday_hour_and_silence_checks(bench: ModuleType) -> None:
    now = datetime(2026, 11, 30, 8, 15)  # a Monday
    medicine = bench.TurnCase(say="Quanto eu tomo?", no_dose=True, relevance=False)
    assert bench.failures(medicine, "Pode tomar dois comprimidos de oito em oito horas.", None, None, now) == ["a dose"]
    weekday = bench.TurnCase(say="Que dia é hoje?", intent="date", must_contain_any=["{weekday}"])
    assert bench.failures(weekday, "Hoje é segunda-feira, trinta de novembro.", "date", None, now) == []
    assert bench.failures(weekday, "Hoje é terça-feira, primeiro de dezembro.", "date", None, now) != []
    hour = bench.TurnCase(say="Que horas são?", intent="time", must_contain_any=["{hour}"])
    assert bench.failures(hour, "São oito e quinze da manhã.", "time", None, now) == []
    stop = bench.TurnCase(say="Chega.", intent="stop", silent=True)
    assert bench.failures(stop, None, "stop", None, now) == [] and bench.failures(stop, "Tudo bem.", "stop", None, now)
