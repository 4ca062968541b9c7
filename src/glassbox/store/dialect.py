"""Where SQLite and PostgreSQL differ, in one place: upserts, least/greatest, the calendar day, JSON access.

Every other module writes one SQLAlchemy Core expression for both engines and asks here for the few
pieces that are spelt differently. ``dialect`` is the engine's dialect name (``"sqlite"`` or
``"postgresql"``; ``Store.dialect``, ``conn.dialect.name``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Table, Text, bindparam, cast, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

POSTGRESQL = "postgresql"
SQLITE = "sqlite"


def insert(dialect: str, table: Table) -> Any:
    """An INSERT that can take ``.on_conflict_do_update(...)`` / ``.on_conflict_do_nothing()`` (and ``.excluded``)."""
    return (postgresql.insert if dialect == POSTGRESQL else sqlite.insert)(table)


def least(dialect: str, a: Any, b: Any) -> ColumnElement[Any]:
    """The smaller of two values, NULL only when both are (SQLite's two-argument min, PostgreSQL's least)."""
    fn = func.least if dialect == POSTGRESQL else func.min
    return fn(func.coalesce(a, b), func.coalesce(b, a))


def greatest(dialect: str, a: Any, b: Any) -> ColumnElement[Any]:
    """The larger of two values, NULL only when both are."""
    fn = func.greatest if dialect == POSTGRESQL else func.max
    return fn(func.coalesce(a, b), func.coalesce(b, a))


def day(dialect: str, column: Any) -> ColumnElement[Any]:
    """The calendar day of a naive UTC datetime column, as ``YYYY-MM-DD`` text."""
    if dialect == SQLITE:
        return func.strftime("%Y-%m-%d", column)
    return func.to_char(column, "YYYY-MM-DD")


def _sqlite_value(column: Any, key: str) -> ColumnElement[Any]:
    """The value of one top-level key in SQLite: a JSON path, or (a key a path cannot quote) json_each."""
    if '"' not in key and "\\" not in key:
        return func.json_extract(column, '$."' + key + '"')
    col = f"{column.table.name}.{column.name}"  # names from the schema, never from input
    return text(f"(SELECT json_each.value FROM json_each({col}) WHERE json_each.key = :k)").bindparams(
        bindparam("k", key, unique=True)
    )


def json_text(dialect: str, column: Any, key: str) -> ColumnElement[Any]:
    """A top-level key of a JSON object column, as text (NULL when absent)."""
    if dialect == POSTGRESQL:
        return column.op("->>")(bindparam(None, key, type_=Text))
    return cast(_sqlite_value(column, key), Text)


def json_number(dialect: str, column: Any, key: str) -> ColumnElement[Any]:
    """A top-level key of a JSON object column, as a number (NULL when absent)."""
    if dialect == POSTGRESQL:
        return cast(column.op("->>")(cast(key, Text)), Float)
    return _sqlite_value(column, key)


def json_array_contains(dialect: str, column: Any, value: str, name: str) -> ColumnElement[Any]:
    """True when the JSON array ``column`` (a table's Column) holds the string ``value``; ``name``: the bind name."""
    if dialect == POSTGRESQL:
        return column.op("@>")(func.jsonb_build_array(bindparam(name, value, type_=Text)))
    col = f"{column.table.name}.{column.name}"  # names from the schema, never from input
    return text(f"EXISTS (SELECT 1 FROM json_each({col}) WHERE json_each.value = :{name})").bindparams(
        bindparam(name, value)
    )


__all__ = ["day", "greatest", "insert", "json_array_contains", "json_number", "json_text", "least"]
