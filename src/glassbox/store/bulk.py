"""Batched upserts compiled once and bound as plain tuples.

SQLAlchemy's per-row parameter machinery (``construct_params`` and a processor call per
value) is about a third of a batch write on SQLite; the statement and its parameter order
never change between batches, so compile it once per shape and bind rows ourselves, with
the same type processors SQLAlchemy would apply (JSON, datetimes, floats).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection


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
        procs = [(i, compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect)) for i, n in enumerate(names)]
        self.procs = [(i, p) for i, p in procs if p is not None]

    def params(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        names, procs, consts = self.names, self.procs, self.constants
        out: list[Any] = []
        for r in rows:
            values = [r[n] if n in r else consts[n] for n in names]
            for i, p in procs:
                values[i] = p(values[i])
            out.append(tuple(values) if self.positional else dict(zip(names, values, strict=True)))
        return out


class BulkWriter:
    """Per-store cache of compiled statements, keyed by a name and the rows' keys."""

    def __init__(self, dialect: Any) -> None:
        self.dialect = dialect
        self._cache: dict[tuple[str, tuple[str, ...]], Compiled] = {}

    def execute(self, conn: Connection, name: str, make_stmt: Callable[[], Any],
                rows: Sequence[dict[str, Any]]) -> None:  # fmt: skip
        """Run ``make_stmt()`` for every row in one executemany; rows must share their keys (else the slow path)."""
        keys = tuple(rows[0])
        if any(len(r) != len(keys) for r in rows):
            conn.execute(make_stmt(), list(rows))
            return
        compiled = self._cache.get((name, keys))
        if compiled is None:
            compiled = self._cache[(name, keys)] = Compiled(make_stmt(), self.dialect, keys)
        try:
            params = compiled.params(rows)
        except KeyError:  # a row with other keys of the same count: let SQLAlchemy bind it
            conn.execute(make_stmt(), list(rows))
            return
        conn.exec_driver_sql(compiled.sql, params)
