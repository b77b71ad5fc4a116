"""The on-disk cache of recomputable results (sled, through papo._native); papo works without it."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import numpy.typing as npt

from papo import _native
from papo.errors import PapoError
from papo.settings import Settings
from papo.statedir import writable_dir
from papo.system.logging import fields

log = logging.getLogger(__name__)

_MB = 1_000_000


class CacheInUseError(PapoError):
    """Another papo process (the companion service, or another command) has the cache open."""


def open_cache(settings: Settings, raise_if_in_use: bool = False) -> _native.Cache | None:
    """Open the cache; None (and a log line saying why) when it is disabled, in use or unusable.

    With `raise_if_in_use`, a cache held by another process raises CacheInUseError instead.
    """
    if not settings.cache.enabled:
        return None
    try:
        directory = writable_dir(settings.cache_dir, "cache")
        cache = _native.Cache(
            directory,
            max_bytes=int(settings.cache.max_mb * _MB),
            max_disk_bytes=int(settings.cache.max_disk_mb * _MB),
            max_disk_ratio=settings.cache.max_disk_ratio,
            flush_every_ms=settings.cache.flush_every_ms,
            memory_bytes=int(settings.cache.memory_mb * _MB),
        )
    except _native.CacheLockedError as exc:
        if raise_if_in_use:
            raise CacheInUseError(str(exc)) from None
        log.warning("cache in use by another papo process; continuing without it", extra=fields(reason=str(exc)))
        return None
    except (_native.NativeError, PapoError) as exc:
        log.warning("cache unavailable; continuing without it", extra=fields(reason=str(exc)))
        return None
    if cache.open_outcome == "rebuilt":
        log.warning("cache was unreadable and has been rebuilt", extra=fields(reason=cache.rebuild_reason))
    return cache


class CacheNamespace:
    """One namespace of the cache as bytes by key; every failure is logged and treated as a miss."""

    def __init__(self, cache: _native.Cache | None, namespace: str) -> None:
        self._cache = cache
        self._namespace = namespace

    @staticmethod
    def key(*parts: object) -> bytes:
        """A fixed-size key for the parts that determine the value."""
        return hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()

    def get_bytes(self, key: bytes) -> bytes | None:
        """The cached value, or None."""
        if self._cache is None:
            return None
        try:
            return self._cache.get(self._namespace, key)
        except _native.NativeError as exc:
            log.warning("cache read failed", extra=fields(reason=str(exc)))
            return None

    def put_bytes(self, key: bytes, value: bytes) -> None:
        """Cache `value` (best effort)."""
        if self._cache is None:
            return
        try:
            self._cache.put(self._namespace, key, value)
        except _native.NativeError as exc:
            log.warning("cache write failed", extra=fields(reason=str(exc)))


class AudioCache(CacheNamespace):
    """Cached mono audio (int16 on disk) by a description of how it was made (voice, text...)."""

    def get(self, key: bytes) -> npt.NDArray[np.float32] | None:
        """The cached audio, or None."""
        data = self.get_bytes(key)
        if data is None:
            return None
        return np.frombuffer(data, dtype=np.int16).astype(np.float32) / 32768.0

    def put(self, key: bytes, samples: npt.NDArray[np.float32]) -> None:
        """Cache `samples`."""
        self.put_bytes(key, (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes())


class VectorCache(CacheNamespace):
    """Cached float32 vectors (embeddings) by what they were computed from."""

    def get(self, key: bytes) -> npt.NDArray[np.float32] | None:
        """The cached vector, or None."""
        data = self.get_bytes(key)
        return None if data is None else np.frombuffer(data, dtype=np.float32).copy()

    def put(self, key: bytes, vector: npt.NDArray[np.float32]) -> None:
        """Cache `vector`."""
        self.put_bytes(key, np.ascontiguousarray(vector, dtype=np.float32).tobytes())
