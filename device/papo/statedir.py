"""The state directory (store, models, cache): created on demand, private to papo's user, writable or a clear error."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from papo.errors import PapoError
from papo.system.logging import fields

log = logging.getLogger(__name__)

# New files only papo's user may read or write (0600), new directories only it may enter (0700).
PRIVATE_UMASK = 0o077


class StateDirError(PapoError):
    """The state directory cannot be created or written."""


def private_umask() -> None:
    """Make every file and directory this process creates from now on private to its user (umask 077)."""
    os.umask(PRIVATE_UMASK)


def writable_dir(path: Path, purpose: str) -> Path:
    """Create `path` if needed, check papo may write there and make it private; StateDirError says how to fix it."""
    hint = "set PAPO_STATE_DIR to a writable directory or fix its permissions"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StateDirError(f"cannot create the {purpose} directory {path}: {exc.strerror}; {hint}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StateDirError(f"the {purpose} directory {path} is read-only; {hint}")
    make_private(path)
    return path


def make_private(root: Path) -> int:
    """Take group's and others' access away from `root` and everything under it; how many entries changed.

    Fixes installs made before papo set its umask (a 0755 directory, 0644 files). Symbolic links and what they
    point to are left alone, and so is a shared directory given by mistake (the home directory, a sticky /tmp).
    """
    if _shared(root):
        log.warning("state directory is shared; its permissions are left alone", extra=fields(path=str(root)))
        return 0
    changed = 0
    for directory, _, files in os.walk(root):  # does not descend into symlinked directories
        base = Path(directory)
        changed += _restrict(base)
        for name in files:
            changed += _restrict(base / name)
    if changed:
        log.info("state directory made private", extra=fields(path=str(root), entries=changed))
    return changed


def _shared(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
        shared = {Path("/").resolve(), Path.home().resolve()}
        return bool(mode & stat.S_ISVTX) or path.resolve() in shared
    except (OSError, RuntimeError):  # cannot tell (no home directory...): papo's own, as the caller said
        return False


def _restrict(path: Path) -> int:
    """Drop group/other permission bits of one file or directory (not a symlink); 1 if it changed."""
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode) or not stat.S_IMODE(info.st_mode) & 0o077:
            return 0
        path.chmod(stat.S_IMODE(info.st_mode) & ~0o077)
    except OSError as exc:  # another user's file, or gone meanwhile: papo still runs, and says so
        log.warning("cannot make a state file private", extra=fields(path=str(path), reason=exc.strerror))
        return 0
    return 1


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, readable by papo's user only (0600): written aside, then renamed."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.chmod(0o600)
    temporary.replace(path)
