"""`papo chat --json` as the shipped program, answered by the real embedded model (Qwen2.5 0.5B on llama.cpp)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support.cli import papo


@pytest.mark.models
def test_chat_json_is_answered_by_the_embedded_model_and_the_rules(state_dir: Path) -> None:
    env = {"PAPO_CONVERSATION__CREW": "false"}
    result = papo("chat", "--json", "--no-voice", "Hoje eu fui à feira com a minha vizinha.", env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(answer) == {"reply", "intent", "first_token_ms"}
    reply = answer["reply"]
    assert answer["intent"] is None and answer["first_token_ms"] > 0 and reply
    assert 2 <= len(reply.split()) <= 45, reply
    assert not re.search(r"[*#`_\n]|https?://", reply), reply  # the banned tokens and the filter: spoken text only
    assert reply.rstrip()[-1] in ".!?…", reply  # cut at a whole sentence
    timed = papo("chat", "--json", "--no-voice", "Que dia é hoje?", env=env, timeout=600)
    rule = json.loads(timed.stdout.strip().splitlines()[-1])
    assert rule["intent"] == "date" and rule["reply"].startswith("Hoje é") and rule["first_token_ms"] is None
