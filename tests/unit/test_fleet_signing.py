"""Signed fleet requests: what the device lets through and what it refuses (unsigned, tampered, wrong key,
expired, replayed, from the future), and the reason it gives."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from papo_sync.device.gate import FleetGate, RefusedError, ReplayGuard, load_gate_key
from papo_sync.protocol import Command, CommandName, DesiredState, SignedBody, SignedMessage
from papo_sync.signing import (
    CLOCK_SKEW,
    SignatureError,
    generate_private_key,
    load_private_key,
    load_public_key,
    open_signed,
    public_pem,
    sign_command,
    sign_desired,
    write_private_key,
)

TENANT, DEVICE = "acme", "dev-1"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return generate_private_key()


def _desired(
    key: Ed25519PrivateKey, version: int = 1, at: datetime = NOW, ttl: timedelta = DAY, **target: str
) -> bytes:
    desired = DesiredState(version=version, settings={"conversation": {"follow_up_s": 30}})
    signed = sign_desired(desired, target.get("tenant", TENANT), target.get("device", DEVICE), key, at, ttl)
    return signed.model_dump_json().encode()


def _command(
    key: Ed25519PrivateKey, command_id: str = "c1", at: datetime = NOW, lifetime: timedelta = timedelta(seconds=15)
) -> bytes:
    command = Command(command_id=command_id, name=CommandName.PING, expires_at=at + lifetime)
    return sign_command(command, TENANT, DEVICE, key, at).model_dump_json().encode()


def _open(payload: bytes, key: Ed25519PrivateKey, now: datetime = NOW) -> DesiredState | Command | None:
    body = open_signed(payload, key.public_key(), TENANT, DEVICE, now)
    return body.desired or body.command


def _gate(key: Ed25519PrivateKey | None, tmp_path: Path, now: list[datetime]) -> FleetGate:
    guard = ReplayGuard(tmp_path / "fleet-replay.json")
    return FleetGate(None if key is None else key.public_key(), guard, TENANT, DEVICE, clock=lambda: now[0])


def test_a_signed_desired_state_and_command_open_to_what_was_signed(key: Ed25519PrivateKey) -> None:
    desired = _open(_desired(key, version=7), key)
    assert isinstance(desired, DesiredState) and desired.version == 7
    assert desired.settings == {"conversation": {"follow_up_s": 30}}
    command = _open(_command(key), key)
    assert isinstance(command, Command) and (command.command_id, command.name) == ("c1", CommandName.PING)


def _tampered(payload: bytes) -> bytes:
    message = json.loads(payload)
    message["body"] = message["body"].replace('"follow_up_s":30', '"follow_up_s":31')
    assert message["body"] != json.loads(payload)["body"]
    return json.dumps(message).encode()


def test_a_tampered_body_a_wrong_key_and_a_mangled_signature_are_refused(key: Ed25519PrivateKey) -> None:
    payload = _desired(key)
    with pytest.raises(SignatureError, match=r"^bad signature"):
        _open(_tampered(payload), key)
    with pytest.raises(SignatureError, match=r"^bad signature: not signed by this device's fleet key"):
        _open(_desired(generate_private_key()), key)
    message = json.loads(payload)
    flipped = base64.b64decode(message["signature"])
    message["signature"] = base64.b64encode(bytes([flipped[0] ^ 1]) + flipped[1:]).decode()
    with pytest.raises(SignatureError, match=r"^bad signature"):
        _open(json.dumps(message).encode(), key)


@pytest.mark.parametrize(
    "payload",
    [
        DesiredState(version=9, settings={"llm": {"endpoint": "http://evil/v1"}}).model_dump_json().encode(),
        Command(command_id="c1", name=CommandName.DELETE_HISTORY).model_dump_json().encode(),
        b"{not json",
        b'{"body": "{}", "signature": ""}',
    ],
)
def test_unsigned_requests_are_refused(key: Ed25519PrivateKey, payload: bytes) -> None:
    with pytest.raises(SignatureError, match=r"^unsigned"):
        _open(payload, key)


def test_a_request_for_another_device_or_tenant_is_refused(key: Ed25519PrivateKey) -> None:
    with pytest.raises(SignatureError, match=r"signed for another device \(acme/dev-2\)"):
        _open(_desired(key, device="dev-2"), key)
    with pytest.raises(SignatureError, match=r"another device \(other/dev-1\)"):
        _open(_desired(key, tenant="other"), key)


def test_the_clock_skew_rule(key: Ed25519PrivateKey) -> None:
    """Valid from issued_at - CLOCK_SKEW to expires_at + CLOCK_SKEW, and no longer."""
    payload = _desired(key, ttl=timedelta(hours=1))
    early, late = NOW - CLOCK_SKEW, NOW + timedelta(hours=1) + CLOCK_SKEW
    assert _open(payload, key, early) is not None and _open(payload, key, late) is not None
    with pytest.raises(SignatureError, match=r"issued in the future .*check the device's clock"):
        _open(payload, key, early - timedelta(seconds=1))
    with pytest.raises(SignatureError, match=r"^expired at 2026-11-30 13:00:00 UTC"):
        _open(payload, key, late + timedelta(seconds=1))
    with pytest.raises(SignatureError, match="one day at most"):
        _open(_command(key, lifetime=2 * DAY), key)


def test_the_gate_refuses_replays_and_remembers_them_across_restarts(key: Ed25519PrivateKey, tmp_path: Path) -> None:
    now = [NOW]
    gate = _gate(key, tmp_path, now)
    first, second = _desired(key, version=1), _desired(key, version=2)
    assert gate.desired(first).version == 1
    assert gate.desired(second).version == 2
    with pytest.raises(RefusedError, match="already handled") as again:
        gate.desired(second)  # the retained delta on reconnecting: nothing to say
    assert again.value.silent
    with pytest.raises(RefusedError, match="replayed: desired version 1 is older than 2") as replayed:
        gate.desired(first)
    assert not replayed.value.silent
    assert gate.command(_command(key, "c1"), "c1").command_id == "c1"
    with pytest.raises(RefusedError, match="replayed: command c1 was already handled"):
        gate.command(_command(key, "c1"), "c1")
    with pytest.raises(RefusedError, match="signed for command c2, sent as c3"):
        gate.command(_command(key, "c2"), "c3")

    record = tmp_path / "fleet-replay.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    restarted = _gate(key, tmp_path, now)
    with pytest.raises(RefusedError, match="replayed: desired version 1"):
        restarted.desired(first)
    with pytest.raises(RefusedError, match="replayed: command c1"):
        restarted.command(_command(key, "c1"), "c1")
    now[0] = NOW + timedelta(hours=1)  # c1 expired long ago: refused as expired, its id forgotten
    with pytest.raises(SignatureError, match=r"^expired"):
        restarted.command(_command(key, "c1"), "c1")
    assert restarted.command(_command(key, "c4", at=now[0]), "c4").command_id == "c4"
    assert list(json.loads(record.read_text())["commands"]) == ["c4"]


def test_an_applied_version_counts_as_seen(key: Ed25519PrivateKey, tmp_path: Path) -> None:
    """A device that applied version 3 before it kept a replay record still refuses versions 1 and 2."""
    gate = FleetGate(key.public_key(), ReplayGuard(tmp_path / "r.json", applied_version=3), TENANT, DEVICE,
                     clock=lambda: NOW)  # fmt: skip
    with pytest.raises(RefusedError, match="replayed: desired version 2 is older than 3"):
        gate.desired(_desired(key, version=2))


def test_without_a_key_everything_is_refused_with_the_reason(key: Ed25519PrivateKey, tmp_path: Path) -> None:
    gate = _gate(None, tmp_path, [NOW])
    with pytest.raises(RefusedError, match="no fleet public key"):
        gate.desired(_desired(key))
    with pytest.raises(RefusedError, match="no fleet public key"):
        gate.command(_command(key), "c1")


def test_keys_round_trip_through_files_and_a_loose_public_key_is_refused(
    key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    private = tmp_path / "fleet.key"
    write_private_key(private, key)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_private_key(private, generate_private_key())  # never replaced: the devices trust it
    loaded = load_private_key(private)
    public = tmp_path / "fleet.pub"
    public.write_bytes(public_pem(loaded.public_key()))
    public.chmod(0o644)
    assert load_public_key(public) == key.public_key()
    assert load_gate_key(public)[0] == key.public_key()
    public.chmod(0o666)
    loose, reason = load_gate_key(public)
    assert loose is None and reason is not None and "other users" in reason
    assert load_gate_key(None)[1] is not None and "sync.fleet_public_key" in str(load_gate_key(None)[1])
    (tmp_path / "junk.pub").write_text("not a key")
    (tmp_path / "junk.pub").chmod(0o644)
    assert "cannot be used" in str(load_gate_key(tmp_path / "junk.pub")[1])


def test_signed_messages_are_strict_on_the_wire(key: Ed25519PrivateKey) -> None:
    message = SignedMessage.model_validate_json(_desired(key))
    with pytest.raises(ValueError):
        SignedMessage.model_validate({**message.model_dump(), "signature": "x" * 88})
    with pytest.raises(ValueError):
        SignedMessage.model_validate({**message.model_dump(), "extra": 1})


def test_a_signed_body_carries_exactly_the_request_its_kind_names_and_a_forward_validity() -> None:
    desired = DesiredState(version=1, settings={})
    base = {"tenant": TENANT, "device_id": DEVICE, "issued_at": NOW, "expires_at": NOW + DAY, "sequence": 1}
    assert SignedBody.model_validate({**base, "kind": "desired", "desired": desired}).desired == desired
    with pytest.raises(ValueError, match="exactly one desired"):
        SignedBody.model_validate({**base, "kind": "desired", "command": Command(command_id="c1", name="ping")})
    with pytest.raises(ValueError, match="expires_at must be after issued_at"):
        SignedBody.model_validate({**base, "kind": "desired", "desired": desired, "expires_at": NOW})
    with pytest.raises(ValueError, match="timezone"):
        SignedBody.model_validate({**base, "kind": "desired", "desired": desired, "issued_at": datetime(2026, 1, 1)})
