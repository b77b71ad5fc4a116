"""The systemd units stay hardened: `systemd-analyze security --offline` scores each one at most 2.0."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = sorted((Path(__file__).parents[2] / "systemd").glob("*.service"))
GOAL = 2.0


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_each_unit_scores_at_most_two_in_systemd_analyze_security(unit: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: `make test` installs systemd"
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(unit)], capture_output=True, text=True, check=False
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found is not None, result.stdout[-2000:] + result.stderr[-2000:]
    assert float(found.group(1)) <= GOAL, result.stdout


def test_there_are_units_to_check() -> None:
    assert {unit.name for unit in UNITS} >= {"papo.service", "papo-cloud-ingest@.service"}
