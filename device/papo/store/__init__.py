"""The device's own records: SQLite (WAL) through SQLModel, migrated by Alembic."""
