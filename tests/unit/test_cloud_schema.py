"""The cloud schema is stated once: the migrations end where the metadata is, and the queries come from it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from papo_sync.cloud import schema, store
from papo_sync.cloud.schema import columns, sql
from support.sync_fixtures import ADMIN_URL


def _differences(url: str, metadata: sa.MetaData) -> list[Any]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def migrated() -> Iterator[str]:
    """A fresh database that only the migrations have shaped."""
    name = f"papo_schema_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        schema.migrate(url)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.services
def test_the_migrations_end_where_the_metadata_is(migrated: str) -> None:
    assert _differences(migrated, schema.metadata) == []


def _named(differences: list[Any]) -> set[tuple[str, str, str | None]]:
    """(what, table, column) of each difference alembic reports."""
    named: set[tuple[str, str, str | None]] = set()
    for difference in differences:
        for change in difference if isinstance(difference, list) else [difference]:
            if change[0] == "add_table":
                named.add(("add_table", change[1].name, None))
            elif change[0] == "add_column":
                named.add(("add_column", change[2], change[3].name))
            elif change[0].startswith("modify_"):
                named.add((change[0], change[2], change[3]))
            else:
                named.add((change[0], str(change[1]), None))
    return named


@pytest.mark.services
def test_a_metadata_change_without_its_migration_is_noticed(migrated: str) -> None:
    changed = sa.MetaData()
    for table in schema.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["turn"].append_column(sa.Column("mood", sa.String(16)))
    changed.tables["device"].c.tenant.type = sa.String(128)
    changed.tables["device"].c.presence.server_default = sa.DefaultClause("online")
    sa.Table("visit", changed, sa.Column("id", sa.BigInteger, primary_key=True))

    assert _named(_differences(migrated, changed)) == {
        ("add_column", "turn", "mood"),
        ("modify_type", "device", "tenant"),
        ("modify_default", "device", "presence"),
        ("add_table", "visit", None),
    }


def test_copy_columns_are_the_tables_columns_in_declared_order() -> None:
    assert store._TURNS.columns == tuple(c.name for c in schema.turn.columns)
    assert store._TURNS.columns[:3] == ("device_id", "msg_id", "seq")
    assert store._TURNS.columns[-1] == "received_at"
    assert store._WELLBEING.columns == columns(schema.wellbeing_event)
    assert store._TOMBSTONES.columns == columns(schema.tombstone)
    assert f"COPY turn_stage ({', '.join(columns(schema.turn))}) FROM STDIN" == store._TURNS.copy


def test_queries_name_only_columns_of_the_metadata() -> None:
    statement = sql(sa.update(schema.device).where(schema.device.c.device_id == sa.bindparam("id")), ("presence",))
    assert statement == "UPDATE device SET presence=%(presence)s WHERE device.device_id = %(id)s"
    with pytest.raises(AttributeError):
        _ = schema.device.c.mood


def test_constants_are_never_silently_turned_into_parameters() -> None:
    query = sa.select(schema.turn.c.seq).where(schema.turn.c.role == "person")
    with pytest.raises(ValueError, match="constants"):
        sql(query)
    assert sql(query, literal=True).endswith("WHERE turn.role = 'person'")


def test_inserts_return_nothing() -> None:
    insert = sql(sa.insert(schema.dead_letter), ("topic", "reason", "payload"))
    assert "RETURNING" not in insert
    assert insert == "INSERT INTO dead_letter (topic, reason, payload) VALUES (%(topic)s, %(reason)s, %(payload)s)"
