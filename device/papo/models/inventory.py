"""Which models of the manifest are here: installed, prepared, in use; shared by `papo models list` and the page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from papo.models.manifest import ModelEntry, load_manifest
from papo.models.provision import installed, model_dir
from papo.settings import Settings

VAD_MODEL = "silero-vad-v6"

ModelStatus = Literal["unavailable", "ready", "installed", "not installed"]


@dataclass(frozen=True)
class ModelRow:
    """One model as this device has it."""

    entry: ModelEntry
    status: ModelStatus
    in_use: bool

    @property
    def prepared(self) -> bool:
        """Whether its files are assembled in the models directory (so they can be verified)."""
        return self.status == "ready"


def prepared(entry: ModelEntry, models_dir: Path) -> bool:
    """Whether every file of `entry` is assembled in `models_dir` (ready to load or verify)."""
    directory = model_dir(entry, models_dir)
    return bool(entry.files) and all((directory / f.name).is_file() for f in entry.files)


def _status(entry: ModelEntry, settings: Settings) -> ModelStatus:
    if entry.unavailable:
        return "unavailable"
    if prepared(entry, settings.models_dir):
        return "ready"
    return "installed" if installed(entry) else "not installed"


def inventory(settings: Settings) -> list[ModelRow]:
    """Every model of the manifest, with its status here and whether the settings use it."""
    in_use = {settings.stt.model, VAD_MODEL}
    return [ModelRow(e, _status(e, settings), e.name in in_use) for e in load_manifest().models]
