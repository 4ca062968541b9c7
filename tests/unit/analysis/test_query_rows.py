"""Query.rows: a caller's own SELECT over traces, with the query API's trace filters applied and checked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import glassbox as gb
from glassbox.errors import QueryError
from glassbox.store.schema import traces


def test_rows_applies_and_checks_the_trace_filters(store_url) -> None:
    gb.configure(project="p", store=store_url, trail_dir=None)
    for i, workflow in enumerate(["qa", "qa", "chat"]):
        with gb.trace(f"question {i}", workflow=workflow, user_id=f"u{i}"):
            pass
    assert gb.flush(10)
    t = traces.c
    with gb.query() as q:
        stmt = select(t.user_id, t.workflow).where(t.user_id != "u1").order_by(t.user_id)
        assert [tuple(r) for r in q.rows(stmt, workflow="qa")] == [("u0", "qa")]  # both conditions hold
        assert [r.user_id for r in q.rows(stmt)] == ["u0", "u2"]
        with pytest.raises(QueryError, match="unknown filter 'colour'"):
            q.rows(stmt, colour="red")
