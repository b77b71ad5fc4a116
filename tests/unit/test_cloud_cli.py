"""The command names are stated once (protocol.CommandName): the CLI offers them, the wire carries the strings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from papo_sync.cloud.cli import _parser
from papo_sync.protocol import Command, CommandName

WIRE_NAMES = ["ping", "restart-pipeline", "delete-history", "sync-now", "forget-memories"]


def test_the_command_names_are_the_wire_strings() -> None:
    assert [name.value for name in CommandName] == WIRE_NAMES
    assert CommandName.SYNC_NOW == "sync-now" and f"{CommandName.SYNC_NOW}" == "sync-now"


@pytest.mark.parametrize("name", WIRE_NAMES)
def test_a_command_carries_its_name_as_a_plain_string(name: str) -> None:
    command = Command(command_id="c1", name=name)  # type: ignore[arg-type]

    assert json.loads(command.model_dump_json())["name"] == name
    assert Command.model_validate_json(command.model_dump_json()).name is CommandName(name)


def test_an_unknown_command_name_is_refused_on_the_wire() -> None:
    with pytest.raises(ValidationError, match="name"):
        Command.model_validate_json('{"command_id": "c1", "name": "reboot"}')


@pytest.mark.parametrize("name", WIRE_NAMES)
def test_the_cli_offers_every_command(name: str) -> None:
    args = _parser().parse_args(["fleet", "cmd", "dev-1", name, "--timeout", "2"])

    assert (args.device, args.name, args.timeout) == ("dev-1", name, 2.0)


def test_the_cli_refuses_a_command_the_device_does_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["fleet", "cmd", "dev-1", "reboot"])

    assert "invalid choice: 'reboot'" in capsys.readouterr().err


def test_the_broker_password_is_read_from_its_credential_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from papo_sync.cloud.settings import CloudSettings

    secret = tmp_path / "ingest.password"
    secret.write_text("s3cret-from-systemd\n")
    monkeypatch.setenv("PAPO_CLOUD_BROKER__PASSWORD_FILE", str(secret))

    assert CloudSettings().broker.password == "s3cret-from-systemd"

    monkeypatch.setenv("PAPO_CLOUD_BROKER__PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="cannot be read"):
        CloudSettings()
