"""papo's fleet link: the key it trusts comes from its settings, it says once when it has none, and its
telemetry carries the daemon's health verdict."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from papo.fleet import FleetLink, fleet_replay_path
from papo.settings import load_settings
from papo_sync.protocol import Telemetry
from support.fakes import EmptyOutbox
from support.fleet import FleetKey

TENANT = "acme"


def _link(monkeypatch: pytest.MonkeyPatch, key: Path | None, health: object = None) -> FleetLink:
    monkeypatch.setenv("PAPO_DEVICE_ID", "dev-1")
    monkeypatch.setenv("PAPO_SYNC__TENANT", TENANT)
    if key is not None:
        monkeypatch.setenv("PAPO_SYNC__FLEET_PUBLIC_KEY", str(key))
    return FleetLink(load_settings(), EmptyOutbox(), lambda: "listening", {}, health=health)  # type: ignore[arg-type]


def test_the_link_takes_what_its_key_signed_and_keeps_the_replay_record(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, state_dir: Path
) -> None:
    fleet = FleetKey.create(tmp_path)
    gate = _link(monkeypatch, fleet.public).gate
    assert gate.desired(fleet.desired(1, {"conversation": {"follow_up_s": 30}}).encode()).version == 1
    assert fleet_replay_path(state_dir).stat().st_mode & 0o777 == 0o600
    other = FleetKey.create(tmp_path / "other")
    with pytest.raises(Exception, match="bad signature"):
        gate.desired(other.desired(2, {}).encode())


def test_without_a_key_the_link_refuses_everything_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = FleetKey.create(tmp_path)
    with caplog.at_level(logging.ERROR, logger="papo.fleet"):
        gate = _link(monkeypatch, None).gate
        for version in (1, 2):
            with pytest.raises(Exception, match="no fleet public key"):
                gate.desired(fleet.desired(version, {}).encode())
        with pytest.raises(Exception, match="no fleet public key"):
            gate.command(
                fleet.command("ping", "c1", expires_at=datetime.now(UTC) + timedelta(seconds=30)).encode(), "c1"
            )
    said = [r for r in caplog.records if "will be refused" in r.getMessage()]
    assert len(said) == 1 and "sync.fleet_public_key" in str(said[0].__dict__.get("reason"))


def test_telemetry_carries_the_health_verdict(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reasons = ["disk full", "store quarantined", "no speaker"] + [f"reason {n}" for n in range(30)]
    link = _link(monkeypatch, FleetKey.create(tmp_path).public, health=lambda: ("degraded", reasons))
    report = Telemetry.model_validate_json(link.telemetry().model_dump_json())
    assert report.health == "degraded"
    assert report.health_reasons[:3] == ["disk full", "store quarantined", "no speaker"]
    assert len(report.health_reasons) == 16  # bounded on the wire
    assert _link(monkeypatch, None).telemetry().health is None  # no verdict given: none said
