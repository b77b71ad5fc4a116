"""Read models/manifest.toml: which models exist, their files, parts, sizes and sha256 sums."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from papo.errors import ModelError

# In a checkout this is a symlink to models/manifest.toml; the wheel holds a copy.
_MANIFEST = Path(__file__).with_name("manifest.toml")


class PartSource(BaseModel):
    """One part of a model file inside an installed Python package."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    module: str
    path: str


class ModelFile(BaseModel):
    """One file of a model: assembled from its parts, checked by size and sha256."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    sources: list[PartSource] = Field(min_length=1)


class ModelEntry(BaseModel):
    """One model as the manifest describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: Literal["stt", "vad", "voicegen", "tts", "llm", "embedding"]
    description: str
    license: str
    languages: list[str]
    packages: list[str]
    files: list[ModelFile]
    unavailable: str | None = None

    @property
    def size(self) -> int:
        """Total size in bytes of the model's files."""
        return sum(f.size for f in self.files)


class Manifest(BaseModel):
    """All models papo knows about."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    models: list[ModelEntry]

    def get(self, name: str) -> ModelEntry:
        """Return the entry called `name` or raise ModelError listing the known names."""
        for entry in self.models:
            if entry.name == name:
                return entry
        known = ", ".join(m.name for m in self.models)
        raise ModelError(f"unknown model {name!r}; known models: {known}")


def manifest_path() -> Path:
    """Return the path of the model manifest (models/manifest.toml, shipped inside the package)."""
    return _MANIFEST


@cache
def load_manifest(path: Path | None = None) -> Manifest:
    """Parse and validate the model manifest."""
    path = path or manifest_path()
    try:
        return Manifest.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise ModelError(f"cannot read the model manifest {path}: {exc}; reinstall papo-social") from None
