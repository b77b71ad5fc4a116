"""The real daemon (create_app served by uvicorn, as `papo run`) on a microphone that can hang, for the watchdog.

The microphone delivers silent 32 ms frames at a microphone's pace until the process gets SIGUSR1; from then on
its `read()` blocks, as a hung audio driver's would, until SIGUSR2. Nothing else differs from `papo run`: the
store, the models, the web server, sd_notify and the watchdog are the shipped ones.

Run: python tests/support/hanging_daemon.py PORT  (with the daemon's environment: PAPO_STATE_DIR, NOTIFY_SOCKET...)
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType

import numpy as np
import numpy.typing as npt

from papo.app import create_app
from papo.audio import FRAME_SAMPLES, SAMPLE_RATE
from papo.settings import load_settings
from papo.system.logging import configure_logging

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE


class HangingMicrophone:
    """A FrameSource of silence that blocks while `flowing` is clear."""

    name = "hanging microphone"
    overruns = 0

    def __init__(self, flowing: threading.Event) -> None:
        self._flowing = flowing
        self._due = time.monotonic()

    def read(self) -> npt.NDArray[np.float32]:
        """The next frame of silence, on time; none while the microphone hangs."""
        if not self._flowing.is_set():
            self._flowing.wait()
            self._due = time.monotonic()
        self._due += FRAME_S
        time.sleep(max(0.0, self._due - time.monotonic()))
        return np.zeros(FRAME_SAMPLES, np.float32)

    def close(self) -> None:
        """Nothing to release."""


def main() -> None:
    """Serve the daemon on 127.0.0.1:PORT until SIGINT; SIGUSR1 hangs the microphone, SIGUSR2 frees it."""
    import uvicorn

    port = int(sys.argv[1])
    settings = load_settings()
    configure_logging(settings.log_level)
    server = settings.server.model_copy(update={"host": "127.0.0.1", "port": port})
    settings = settings.model_copy(update={"server": server})
    flowing = threading.Event()
    flowing.set()

    def hang(signum: int, frame: FrameType | None) -> None:
        flowing.clear()

    def free(signum: int, frame: FrameType | None) -> None:
        flowing.set()

    signal.signal(signal.SIGUSR1, hang)
    signal.signal(signal.SIGUSR2, free)
    app = create_app(settings, open_source=lambda: HangingMicrophone(flowing))
    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)).run()


if __name__ == "__main__":
    main()
