"""Batched upserts compiled once and bound as plain tuples.

SQLAlchemy's per-row parameter machinery (``construct_params`` and a processor call per
value) is about a third of a batch write on SQLite; the statement and its parameter order
never change between batches, so compile it once per shape and bind rows ourselves, with
the same type processors SQLAlchemy would apply (JSON, datetimes, floats).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime

ROWS_PER_STATEMENT = 200  # x 25 span columns = 5,000 parameters (SQLite allows 32,766 since 3.32)


def _fast(impl: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """The type's bind processor; SQLite datetimes are formatted by ``datetime.isoformat`` (C, 3x faster)
    into the very text SQLAlchemy's processor writes (``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    proc = impl.bind_processor(dialect)
    if proc is None or dialect.name != "sqlite" or not isinstance(impl, DateTime):
        return proc

    def datetime_text(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return proc(value)

    return datetime_text


class Compiled:
    """One INSERT … ON CONFLICT statement for rows with exactly ``keys``."""

    def __init__(self, stmt: Any, dialect: Any, keys: Sequence[str]) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        names = list(compiled.positiontup) if self.positional else list(compiled.binds)
        wanted = set(keys)
        self.names = names
        # Binds that are not row values are constants of the statement (e.g. the 1e6 of a duration).
        self.constants = {n: compiled.binds[n].effective_value for n in names if n not in wanted}
        procs = [(i, _fast(compiled.binds[n].type.dialect_impl(dialect), dialect)) for i, n in enumerate(names)]
        # A processor's answer for None is computed once (JSON's is 'null'): most optional columns are None.
        self.procs = [(i, p, p(None)) for i, p in procs if p is not None]
        self.multirow = self._multirow_parts(len(keys)) if dialect.name == "sqlite" else None
        self._sql_for: dict[int, str] = {}

    def _multirow_parts(self, width: int) -> tuple[str, str, str] | None:
        """(head, one VALUES group, tail) when rows can go many to a statement: ``VALUES (?, …), (?, …)``."""
        if not self.positional or self.names[width:] != [n for n in self.names if n in self.constants]:
            return None
        head, sep, rest = self.sql.partition("VALUES (")
        group, close, tail = rest.partition(")")
        if not sep or not close or group.replace("?", "").replace(", ", "") or group.count("?") != width:
            return None
        return head + "VALUES ", f"({group})", tail

    def statements(self, rows: Sequence[dict[str, Any]], per: int = ROWS_PER_STATEMENT) -> list[tuple[str, Any]]:
        """(SQL, parameters) to run: many rows per statement on SQLite (one step, one GIL hand-back instead of one
        per row, which a busy server's other threads otherwise stretch to the switch interval), else executemany."""
        params = self.params(rows)
        if self.multirow is None or len(params) == 1:
            return [(self.sql, params)]
        head, group, tail = self.multirow
        width = len(self.names) - len(self.constants)
        consts = tuple(params[0][width:])
        out = []
        for i in range(0, len(params), per):
            chunk = params[i : i + per]
            sql = self._sql_for.get(len(chunk))
            if sql is None:
                sql = self._sql_for[len(chunk)] = head + ", ".join([group] * len(chunk)) + tail
            flat = [v for p in chunk for v in p[:width]]
            out.append((sql, tuple(flat) + consts))
        return out

    def params(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        names, procs, consts = self.names, self.procs, self.constants
        out: list[Any] = []
        for r in rows:
            values = [r[n] if n in r else consts[n] for n in names]
            for i, p, none in procs:
                v = values[i]
                values[i] = none if v is None else p(v)
            out.append(tuple(values) if self.positional else dict(zip(names, values, strict=True)))
        return out


class BulkWriter:
    """Per-store cache of compiled statements, keyed by a name and the rows' keys."""

    def __init__(self, dialect: Any) -> None:
        self.dialect = dialect
        self._cache: dict[tuple[str, tuple[str, ...]], Compiled] = {}

    def execute(
        self, conn: Connection, name: str, make_stmt: Callable[[], Any], rows: Sequence[dict[str, Any]]
    ) -> None:
        """Run ``make_stmt()`` for every row in one executemany; rows must share their keys (else the slow path)."""
        keys = tuple(rows[0])
        if any(len(r) != len(keys) for r in rows):
            conn.execute(make_stmt(), list(rows))
            return
        compiled = self._cache.get((name, keys))
        if compiled is None:
            compiled = self._cache[(name, keys)] = Compiled(make_stmt(), self.dialect, keys)
        try:
            statements = compiled.statements(rows)
        except KeyError:  # a row with other keys of the same count: let SQLAlchemy bind it
            conn.execute(make_stmt(), list(rows))
            return
        for sql, params in statements:
            conn.exec_driver_sql(sql, params)
