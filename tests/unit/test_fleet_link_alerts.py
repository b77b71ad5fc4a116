"""papo's fleet link hands the caregiver alert updates its fleet key signed to the companion's voice of alerts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from papo.fleet import FleetLink
from papo.settings import load_settings
from papo_sync.protocol import AlertUpdate, alert_topic
from support.alert_updates import DEVICE, TENANT, Heard, alert_update, signed_alert
from support.fakes import EmptyOutbox
from support.fleet import FleetKey


def test_the_link_passes_signed_alert_updates_to_on_alert_and_refuses_others(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PAPO_DEVICE_ID", DEVICE)
    monkeypatch.setenv("PAPO_SYNC__TENANT", TENANT)
    fleet = FleetKey.create(tmp_path)
    monkeypatch.setenv("PAPO_SYNC__FLEET_PUBLIC_KEY", str(fleet.public))
    heard = Heard()
    link = FleetLink(load_settings(), EmptyOutbox(), lambda: "listening", {}, on_alert=heard)  # type: ignore[arg-type]
    other = FleetKey.create(tmp_path / "other")
    inbox = link.agent._inbox  # the agent's worker, without a broker: the network thread is played here
    inbox.start()
    try:
        for key, update in ((other.key, alert_update("delivered", 1, caregiver="Eve")),
                            (fleet.key, alert_update("delivered", 2, caregiver="Ana"))):  # fmt: skip
            message = SimpleNamespace(topic=alert_topic(TENANT, DEVICE), payload=signed_alert(key, update).encode())
            link.agent._on_message(link.agent._client, None, message)
        [update] = heard.wait_for(lambda got: bool(got))
    finally:
        inbox.stop()
    assert isinstance(update, AlertUpdate) and (update.seq, update.caregiver) == (2, "Ana")
