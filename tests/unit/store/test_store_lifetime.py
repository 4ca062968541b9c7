"""Store lifetime and connections in one place: ``with Store(...)``, ``store.read()``, ``store.write()``."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from glassbox.model import Span, Trace
from glassbox.store.schema import traces
from glassbox.store.store import Store


def _run(i: int) -> Trace:
    t = Trace(f"{i:032x}", "qa", 1_700_000_000_000_000_000)
    t.project, t.workflow, t.status, t.end_ns = "p", "qa", "complete", t.start_ns + 1_000_000
    root = Span(t.trace_id, f"{i:016x}", None, "qa", "trace", t.start_ns)
    root.end_ns, root.status = t.end_ns, "ok"
    t.root_span_id, t.spans = root.span_id, [root]
    return t


def _count(st: Store) -> int:
    with st.read() as conn:
        return conn.execute(select(func.count()).select_from(traces)).scalar_one()


def test_with_store_closes_it_and_read_sees_what_write_committed(store_url):
    with Store(store_url) as st:
        st.write_traces([_run(1)])
        assert _count(st) == 1
        with st.write() as conn:
            conn.execute(update(traces).values(workflow="renamed"))
        with st.read() as conn:
            assert conn.execute(select(traces.c.workflow)).scalar_one() == "renamed"
        assert st.engine.pool.checkedout() == 0  # every block gave its connection back
    assert st.engine.pool.checkedout() == 0


def test_a_write_block_that_raises_rolls_back(store_url):
    with Store(store_url) as st:
        st.write_traces([_run(1)])
        with pytest.raises(RuntimeError), st.write() as conn:
            conn.execute(update(traces).values(workflow="half-done"))
            raise RuntimeError("boom")
        with st.read() as conn:
            assert conn.execute(select(traces.c.workflow)).scalar_one() == "qa"
        assert st.engine.pool.checkedout() == 0


def test_read_migrates_a_new_store_first(store_url):
    with Store(store_url) as st:
        assert _count(st) == 0  # the tables exist: read() made the store ready
