"""Assemble model files from their PyPI data packages into the state directory, verified by sha256."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from papo.errors import ModelError
from papo.models.manifest import ModelEntry, ModelFile, PartSource
from papo.statedir import writable_dir
from papo.system.logging import fields

log = logging.getLogger(__name__)

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class FileCheck:
    """The outcome of checking one model file."""

    name: str
    path: Path
    ok: bool
    problem: str | None = None


def _fix_hint(entry: ModelEntry) -> str:
    return f"run `papo models provision --force {entry.name}`"


def locate_part(entry: ModelEntry, source: PartSource) -> Path:
    """Return the path of one part inside its installed package, or say which package to install."""
    spec = importlib.util.find_spec(source.module)
    if spec is None or not spec.submodule_search_locations:
        packages = " ".join(entry.packages)
        raise ModelError(
            f"model {entry.name} needs the Python package that provides `{source.module}` "
            f"(one of: {packages}); install it with `uv pip install {packages}` or `uv sync --all-extras`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / source.path
    if not path.is_file():
        raise ModelError(f"model {entry.name}: part {path} is missing from its package; reinstall {source.module}")
    return path


def _stamp(target: Path) -> Path:
    return target.with_name(f".{target.name}.verified")


def _stamp_text(file: ModelFile, target: Path) -> str:
    return f"{file.sha256} {target.stat().st_mtime_ns}"


def _looks_provisioned(file: ModelFile, target: Path) -> bool:
    stamp = _stamp(target)
    try:
        return target.stat().st_size == file.size and stamp.read_text() == _stamp_text(file, target)
    except OSError:
        return False


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


def _assemble(entry: ModelEntry, file: ModelFile, target: Path) -> None:
    parts = [locate_part(entry, source) for source in file.sources]
    digest = hashlib.sha256()
    tmp = target.with_name(f".{target.name}.partial")
    log.info("assembling model file", extra=fields(model=entry.name, file=file.name, parts=len(parts), bytes=file.size))
    with (
        tmp.open("wb") as out,
        tqdm(total=file.size, unit="B", unit_scale=True, desc=f"{entry.name}/{file.name}", disable=None) as bar,
    ):
        for part in parts:
            for chunk in _read_chunks(part):
                digest.update(chunk)
                out.write(chunk)
                bar.update(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != file.sha256:
        tmp.unlink(missing_ok=True)
        raise ModelError(
            f"model {entry.name}: {file.name} assembled from {', '.join(str(p) for p in parts)} has sha256 "
            f"{digest.hexdigest()}, expected {file.sha256}; reinstall its packages ({' '.join(entry.packages)})"
        )
    tmp.replace(target)
    _stamp(target).write_text(_stamp_text(file, target))


def model_dir(entry: ModelEntry, models_dir: Path) -> Path:
    """Return the directory one model's files live in."""
    return models_dir / entry.name


def provision(entry: ModelEntry, models_dir: Path, force: bool = False) -> Path:
    """Make sure every file of `entry` is assembled and verified; return the model's directory."""
    if entry.unavailable:
        raise ModelError(f"model {entry.name} is not available: {entry.unavailable}")
    directory = writable_dir(model_dir(entry, models_dir), "model")
    for file in entry.files:
        target = directory / file.name
        if force or not _looks_provisioned(file, target):
            _assemble(entry, file, target)
    return directory


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in _read_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def verify(entry: ModelEntry, models_dir: Path) -> list[FileCheck]:
    """Re-hash every provisioned file of `entry` and report what is missing or corrupt."""
    checks = []
    for file in entry.files:
        target = model_dir(entry, models_dir) / file.name
        if not target.is_file():
            checks.append(FileCheck(file.name, target, False, f"missing; {_fix_hint(entry)}"))
        elif target.stat().st_size != file.size:
            problem = f"size {target.stat().st_size} bytes, expected {file.size}; {_fix_hint(entry)}"
            checks.append(FileCheck(file.name, target, False, problem))
        elif _hash_file(target) != file.sha256:
            checks.append(FileCheck(file.name, target, False, f"sha256 mismatch (corrupt); {_fix_hint(entry)}"))
        else:
            checks.append(FileCheck(file.name, target, True))
    return checks


def installed(entry: ModelEntry) -> bool:
    """Tell whether the packages holding every part of `entry` are installed."""
    modules = {source.module for file in entry.files for source in file.sources}
    return bool(modules) and all(importlib.util.find_spec(m) is not None for m in modules)
