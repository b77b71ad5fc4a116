"""Secrets handed over by systemd (`LoadCredential=`): found in $CREDENTIALS_DIRECTORY, never in the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

UNIT_CREDENTIALS: Final = "papo"  # papo.service: LoadCredential=papo:/etc/papo/credentials (a directory)


def credential(name: str) -> Path | None:
    """The file systemd made for /etc/papo/credentials/`name`, if this process was given one."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory) / f"{UNIT_CREDENTIALS}_{name}"  # systemd names a directory's files ID_FILENAME
    return path if path.is_file() else None
