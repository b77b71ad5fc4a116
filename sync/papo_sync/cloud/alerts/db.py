"""The alert code's PostgreSQL connections: autocommit (transactions are explicit), rows as dicts."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

Db = psycopg.Connection[dict[str, Any]]


def connect(database_url: str) -> Db:
    """A new connection."""
    return psycopg.connect(database_url, autocommit=True, row_factory=dict_row, connect_timeout=5)
