"""Run the shipped `papo` program as a subprocess, the way a person would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PAPO = Path(sys.executable).with_name("papo")


def papo(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `papo ARGS` with the test's environment and return what it printed."""
    return subprocess.run(
        [str(PAPO), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
