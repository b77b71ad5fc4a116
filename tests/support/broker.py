"""A Mosquitto of the tests' own, on a free port, with Papo's config, per-device passwords and ACL."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from papo_sync.cloud.broker import BrokerFiles, Listener, Role, TlsFiles, write_broker_files
from support.ports import free_port
from support.wait import wait_until

CLOUD_USERS = {"ingest": "ingest-secret", "fleet": "fleet-secret"}
CLOUD_ROLES = {"ingest": Role.INGEST, "fleet": Role.FLEET}
TENANT = "acme"  # the tenant of the devices a Broker is given as a list


def device_password(device_id: str) -> str:
    """The test password of a device."""
    return f"pw-{device_id}"


class Broker:
    """Start, stop and restart a real mosquitto."""

    def __init__(
        self, directory: Path, devices: list[str] | dict[str, str], tls: tuple[Path, Path, Path] | None = None
    ) -> None:
        """`devices`: their ids (tenant `TENANT`) or id → tenant; `tls`: (ca, cert, key) for a TLS listener."""
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed; `make test` installs it")
        self.port = free_port()
        tenants = devices if isinstance(devices, dict) else dict.fromkeys(devices, TENANT)
        users = {**CLOUD_USERS, **{d: device_password(d) for d in tenants}}
        run_as = "root" if os.geteuid() == 0 else os.environ.get("USER", "mosquitto")  # it must read these files
        listener = Listener(port=self.port, tls=None if tls is None else TlsFiles(ca=tls[0], cert=tls[1], key=tls[2]))
        self.config = write_broker_files(directory, [listener], users, CLOUD_ROLES, tenants, run_as=run_as)
        self.files = BrokerFiles(directory)
        self.log = directory / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start mosquitto and wait until it accepts connections."""
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(["mosquitto", "-c", str(self.config)], stdout=log, stderr=log)
        self.files.pid_file.write_text(f"{self._process.pid}\n")  # mosquitto writes it only as a daemon
        wait_until(self._accepting, 10, "mosquitto to accept connections")

    def _accepting(self) -> bool:
        assert self._process is not None
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}") from None
            return False

    @property
    def pid(self) -> int:
        """The running mosquitto's process id."""
        assert self._process is not None
        return self._process.pid

    def stop(self) -> None:
        """Stop mosquitto (it saves its persistent sessions)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        self._process = None

    def restart(self, down_s: float = 1.0) -> None:
        """Stop, stay down for `down_s` seconds, start again."""
        self.stop()
        time.sleep(down_s)  # the scenario: the broker is away this long while the device keeps trying
        self.start()


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost: (ca, cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=papo-test-ca",
    )
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    extensions = directory / "san.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(extensions),
    )
    return ca, cert, key


def enrol(connection: Any, tenants: dict[str, str]) -> None:
    """Record each device's tenant in the cloud database, as `papo-cloud devices add` does (the ingestor checks it)."""
    for device_id, tenant in tenants.items():
        connection.execute(
            "INSERT INTO enrolment (device_id, tenant, enrolled_at) VALUES (%s, %s, now()) ON CONFLICT DO NOTHING",
            (device_id, tenant),
        )
