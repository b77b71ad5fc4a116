"""The amd64 twin of the appliance under qemu: build (or reuse) its image, boot it, read its self-test.

`twin_image()` runs image/twin.sh, which prints the cached image's directory (building it when the recipe, the
lockfile or papo's sources changed). `Twin` boots it with qemu-system-x86_64 on a throw-away qcow2 overlay (the
cached disk is never written): the first serial port (kernel and systemd console) goes to a file, the second is the
self-test's channel (papo-selftest.service, enabled by `papo.selftest` on the kernel command line) on qemu's
stdin/stdout, and the daemon's port 8080 is forwarded to a local port.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
PREFIX = "PAPO-SELFTEST "
GUEST_PORT = 8080


def twin_image(log: Path) -> Path:
    """The directory of the twin built from this checkout (disk.raw, vmlinuz, initrd.img, build.env)."""
    with log.open("w") as out:
        result = subprocess.run(
            [str(REPO / "image" / "twin.sh")], stdout=subprocess.PIPE, stderr=out, text=True, check=False
        )
    if result.returncode != 0:
        raise AssertionError(f"image/twin.sh failed ({result.returncode}):\n{log.read_text()[-6000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def accelerator(kernel: Path, probe_s: float = 8.0) -> str:
    """kvm when qemu can really use it here (the twin's kernel prints its banner), else tcg (software emulation).

    /dev/kvm may exist and still not work (nested virtualisation without the features qemu asks for): a short
    kernel-only boot tells. PAPO_TWIN_ACCEL=kvm|tcg skips the probe.
    """
    forced = os.environ.get("PAPO_TWIN_ACCEL")
    if forced:
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    probe = subprocess.Popen(
        ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-m", "256", "-nodefaults", "-display", "none",
         "-monitor", "none", "-no-reboot", "-kernel", str(kernel), "-append", "console=ttyS0 panic=-1",
         "-serial", "stdio"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seen = threading.Event()

    def watch(stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            if b"Linux version" in line:
                seen.set()
                return

    assert probe.stdout is not None
    threading.Thread(target=watch, args=(probe.stdout,), daemon=True).start()
    works = seen.wait(probe_s)
    probe.kill()
    probe.wait()
    probe.stdout.close()
    return "kvm" if works else "tcg"


def read_env(path: Path) -> dict[str, str]:
    """A KEY=value file (build.env) as a dict."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


class Twin:
    """One boot of the twin: the self-test's findings by event name, the console, the forwarded port."""

    def __init__(self, image: Path, workdir: Path, memory_mb: int = 3072) -> None:
        self.image = image
        self.workdir = workdir
        self.memory_mb = memory_mb
        self.port = free_port()
        self.console = workdir / "console.log"
        self.accel = accelerator(image / "vmlinuz")
        self.scale = 1 if self.accel == "kvm" else 10  # software emulation gets ten times longer to reach a step
        self.findings: dict[str, dict[str, Any]] = {}
        self.lines: list[str] = []
        self.started_at = 0.0
        self.seen_at: dict[str, float] = {}
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def command(self) -> list[str]:
        """The qemu command line."""
        overlay = self.workdir / "overlay.qcow2"
        return [
            "qemu-system-x86_64", "-accel", self.accel, "-cpu", "host" if self.accel == "kvm" else "max",
            "-smp", "2", "-m", str(self.memory_mb), "-nodefaults", "-display", "none", "-monitor", "none",
            "-no-reboot", "-kernel", str(self.image / "vmlinuz"), "-initrd", str(self.image / "initrd.img"),
            "-append", "root=LABEL=papo-root rw console=ttyS0 papo.selftest panic=-1",
            "-drive", f"file={overlay},if=virtio,format=qcow2",
            "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{self.port}-:{GUEST_PORT}",
            "-device", "virtio-net-pci,netdev=net0", "-device", "virtio-rng-pci",
            "-serial", f"file:{self.console}",
            "-chardev", "stdio,id=selftest,signal=off", "-serial", "chardev:selftest",
        ]  # fmt: skip

    def __enter__(self) -> Twin:
        """Boot the twin on a fresh overlay of the cached disk."""
        overlay = self.workdir / "overlay.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(self.image / "disk.raw"), str(overlay)],
            check=True,
        )
        self.started_at = time.monotonic()
        self._process = subprocess.Popen(
            self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert self._process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self._process.stdout,), daemon=True)
        self._reader.start()
        return self

    def _read(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.lines.append(line)
            start = line.find(PREFIX)
            if start >= 0:
                try:
                    finding = json.loads(line[start + len(PREFIX) :])
                except ValueError:
                    continue
                self.seen_at[finding["event"]] = time.monotonic() - self.started_at
                self._events.put(finding)
        self._events.put(None)

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        """The finding named `event`, waiting for it (and keeping the others) up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while event not in self.findings:
            remaining = deadline - time.monotonic()
            try:
                finding = self._events.get(timeout=max(0.0, remaining))
            except queue.Empty:
                raise AssertionError(f"no '{event}' from the twin within {timeout:g} s\n{self.tail()}") from None
            if finding is None:
                raise AssertionError(f"qemu ended before '{event}'\n{self.tail()}")
            if finding["event"] == "error":
                raise AssertionError(f"the twin's self-test failed: {finding['error']}\n{self.tail()}")
            self.findings[finding["event"]] = finding
        return self.findings[event]

    def send(self, line: str) -> None:
        """Send a command line to the self-test."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(f"{line}\n".encode())
        self._process.stdin.flush()

    def tail(self, chars: int = 6000) -> str:
        """The end of the console and of the self-test channel, for failure messages."""
        console = self.console.read_text(errors="replace") if self.console.exists() else ""
        return f"--- console ---\n{console[-chars:]}\n--- self-test ---\n" + "\n".join(self.lines[-40:])

    def record_times(self, build: dict[str, str]) -> None:
        """Write what this boot took (seconds from qemu's start to each finding) and found, beside the cached image."""
        seen = {k: round(v, 1) for k, v in self.seen_at.items()}
        times = {"accel": self.accel, "build": build, "seen_at_s": seen, "findings": self.findings}
        (self.image.parent / "last-boot.json").write_text(json.dumps(times, indent=2) + "\n")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Stop qemu (the overlay is thrown away with the work directory)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._reader is not None:
                self._reader.join(timeout=30)  # it ends at qemu's end of output
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()


def tools_missing() -> list[str]:
    """The host programs the twin needs that are not installed (`make test` installs them)."""
    return [tool for tool in ("qemu-system-x86_64", "qemu-img", "mmdebstrap", "mke2fs") if shutil.which(tool) is None]
