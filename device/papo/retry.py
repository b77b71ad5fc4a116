"""How long to wait before trying again: doubling waits up to a ceiling (microphone, speaker, embedded LLM)."""

from __future__ import annotations


class Backoff:
    """Waits that double after each failed try (`first_s`, 2×, 4×... up to `max_s`); `reset()` after a success."""

    def __init__(self, max_s: float, first_s: float = 1.0) -> None:
        self.first_s = min(first_s, max_s)
        self.max_s = max_s
        self._next = self.first_s

    def next(self) -> float:
        """The wait before the next try (the one after it will be twice as long, up to the ceiling)."""
        delay = self._next
        self._next = min(delay * 2, self.max_s)
        return delay

    def peek(self) -> float:
        """The wait the next failed try will bring."""
        return self._next

    def reset(self) -> None:
        """It worked: the next failure waits `first_s` again."""
        self._next = self.first_s
