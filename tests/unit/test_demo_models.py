"""`papo demo` prepares every model it uses before the conversation starts, one progress line each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from papo.commands import demo_conversation as demo
from papo.settings import load_settings


def test_the_demo_prepares_the_speech_memory_and_language_models(state_dir: Path) -> None:
    names = [entry.name for entry in demo.needed_models(load_settings())]
    assert names[:4] == ["silero-vad-v6", "whisper-base", "minilm-l6-v2-int8", "qwen2.5-coder-0.5b"]
    endpoint = load_settings(llm={"endpoint": "http://192.168.0.10:8000/v1", "model": "qwen2.5:3b"})
    assert "qwen2.5:3b" not in [entry.name for entry in demo.needed_models(endpoint)]  # served elsewhere


def test_each_model_prepared_is_shown_with_its_size(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prepared: list[str] = []

    def provision(entry: Any, models_dir: Path) -> Path:
        prepared.append(entry.name)
        return models_dir / entry.name

    monkeypatch.setattr(demo, "provision", provision)
    settings = load_settings()
    demo.prepare_models(settings)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(prepared) >= 4
    assert lines[0].startswith("[1/") and "preparing silero-vad-v6 (vad, 1 MB)... ready (" in lines[0]
