"""store/dialect.py: each piece spelt per engine gives the same answer on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, literal, null, select

from glassbox.store import dialect as sql
from glassbox.store.store import Store


def _store(store_url: str) -> tuple[Store, Table]:
    """The store and a scratch table; JSON columns are JSONB on PostgreSQL, as in the schema."""
    st = Store(store_url)
    if st.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        json_type: Any = JSONB
    else:
        json_type = JSON
    meta = MetaData()
    table = Table(
        "dialect_things",
        meta,
        Column("id", String, primary_key=True),
        Column("n", Integer),
        Column("at", DateTime),
        Column("doc", json_type),
        Column("tags", json_type),
    )
    meta.drop_all(st.engine)
    meta.create_all(st.engine)
    return st, table


def test_least_and_greatest_ignore_null(store_url):
    st, _ = _store(store_url)
    with st, st.read() as conn:
        d = st.dialect
        row = conn.execute(
            select(
                sql.least(d, literal(2), literal(3)),
                sql.greatest(d, literal(2), literal(3)),
                sql.least(d, null(), literal(5)),
                sql.greatest(d, literal(5), null()),
                sql.least(d, null(), null()),
            )
        ).one()
    assert tuple(row) == (2, 3, 5, 5, None)


def test_upsert_day_and_json(store_url):
    st, things = _store(store_url)
    with st:
        d = st.dialect
        with st.write() as conn:
            for n in (1, 2):  # the second insert updates the row
                doc = {"k": "v", 'we"ird': "q", "num": 0.25}
                stmt = sql.insert(d, things).values(
                    id="a", n=n, at=datetime(2026, 11, 3, 23, 59), doc=doc, tags=["x", "y"]
                )
                conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={"n": stmt.excluded.n}))
        with st.read() as conn:
            c = things.c
            row = conn.execute(
                select(
                    c.n,
                    sql.day(d, c.at),
                    sql.json_text(d, c.doc, "k"),
                    sql.json_text(d, c.doc, 'we"ird'),
                    sql.json_number(d, c.doc, "num"),
                    sql.json_text(d, c.doc, "absent"),
                )
            ).one()
            assert tuple(row) == (2, "2026-11-03", "v", "q", 0.25, None)
            hits = [
                conn.execute(select(c.id).where(sql.json_array_contains(d, c.tags, tag, "t"))).all()
                for tag in ("y", "z")
            ]
        assert hits == [[("a",)], []]
        things.drop(st.engine)
