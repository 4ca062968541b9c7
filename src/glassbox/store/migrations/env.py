"""Alembic environment: migrations run on the connection glassbox hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from glassbox.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=conn,
        target_metadata=metadata,
        render_as_batch=conn.dialect.name == "sqlite",  # SQLite alters tables by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # the `alembic` command line, for writing new revisions
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///alembic-dev.db")
    with engine.begin() as conn:
        _run(conn)
