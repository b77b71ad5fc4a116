"""Mosquitto configuration for a Papo fleet: per-device credentials and an ACL confining each device to its prefix."""

from __future__ import annotations

import subprocess
from pathlib import Path

CONFIG_TEMPLATE = """\
# Papo Social broker (Mosquitto 2). Anonymous clients are refused; every device has its own password.
per_listener_settings false
user {run_as}
allow_anonymous false
password_file {password_file}
acl_file {acl_file}
persistence true
persistence_location {data_dir}/
max_packet_size {max_packet_size}
max_queued_messages 10000
set_tcp_nodelay true
listener {port} {bind}
{tls}
"""

TLS_TEMPLATE = """\
cafile {ca}
certfile {cert}
keyfile {key}
require_certificate false
"""

ACL_TEMPLATE = """\
# Cloud services see every device; a device only its own prefix (its username is its device id).
{cloud_users}
pattern readwrite papo/v1/+/%u/#
"""


def render_acl(cloud_users: list[str]) -> str:
    """The ACL: full access under papo/v1 for the cloud's users, the own prefix for everyone else."""
    blocks = "\n".join(f"user {user}\ntopic readwrite papo/v1/#\n" for user in cloud_users)
    return ACL_TEMPLATE.format(cloud_users=blocks)


def write_broker_files(
    directory: Path,
    port: int,
    users: dict[str, str],
    cloud_users: list[str],
    bind: str = "127.0.0.1",
    tls: tuple[Path, Path, Path] | None = None,
    max_packet_size: int = 2_000_000,
    run_as: str = "mosquitto",
) -> Path:
    """Write mosquitto.conf, the password file (hashed by mosquitto_passwd) and the ACL; the config's path."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    data.mkdir(exist_ok=True)
    passwords = directory / "passwd"
    passwords.write_text("".join(f"{user}:{password}\n" for user, password in users.items()))
    passwords.chmod(0o600)
    subprocess.run(["mosquitto_passwd", "-U", str(passwords)], check=True, capture_output=True)  # hash in place
    acl = directory / "acl"
    acl.write_text(render_acl(cloud_users))
    tls_block = "" if tls is None else TLS_TEMPLATE.format(ca=tls[0], cert=tls[1], key=tls[2])
    config = directory / "mosquitto.conf"
    config.write_text(
        CONFIG_TEMPLATE.format(
            password_file=passwords, acl_file=acl, data_dir=data, port=port, bind=bind, tls=tls_block,
            max_packet_size=max_packet_size, run_as=run_as,
        )
    )  # fmt: skip
    return config
