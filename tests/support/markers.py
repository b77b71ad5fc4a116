"""Where a made-up marker word is kept: byte searches of the device's files and of the cloud's PostgreSQL and Redis.

The searches ignore case (a search that misses "Zorblaxo" because it looked for "zorblaxo" would pass wrongly).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from papo_sync.cloud.settings import CloudSettings


def files_holding(state_dir: Path, word: str) -> list[str]:
    """Every file under the state directory (the models aside) holding the bytes of `word`, relative to it."""
    needle = word.lower().encode()
    found = []
    for path in state_dir.rglob("*"):
        relative = path.relative_to(state_dir)
        if relative.parts[0] != "models" and path.is_file() and needle in path.read_bytes().lower():
            found.append(str(relative))
    return sorted(found)


def in_postgresql(database: str, word: str) -> bool:
    """Whether `pg_dump --data-only` of the database holds `word`."""
    dump = subprocess.run(["pg_dump", "--data-only", database], capture_output=True, check=True)
    return word.lower().encode() in dump.stdout.lower()


def in_redis(settings: CloudSettings, word: str) -> bool:
    """Whether any key or value under the cloud's Redis prefix holds `word` (read by type: DUMP may compress)."""
    import redis

    live = redis.Redis.from_url(settings.redis_url)
    readers: dict[bytes, Callable[[bytes], Any]] = {
        b"string": live.get, b"hash": live.hgetall, b"stream": live.xrange, b"list": lambda k: live.lrange(k, 0, -1),
        b"set": live.smembers, b"zset": lambda k: live.zrange(k, 0, -1),
    }  # fmt: skip
    needle = word.lower()
    try:
        return any(needle in repr(readers[live.type(key)](key)).lower() or needle.encode() in key.lower()
                   for key in live.scan_iter(f"{settings.redis_prefix}:*"))  # fmt: skip
    finally:
        live.close()
