"""The store on SQLite and PostgreSQL: round trips, merging, idempotence, migrations, faults."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa

import glassbox as gb
from glassbox.errors import StoreError, TraceNotFound
from glassbox.model import Trace
from glassbox.store import database
from glassbox.store.store import Store
from glassbox.testing import capture


def _record(**options) -> list[Trace]:
    with capture(**options) as traces:
        with gb.trace(
            "What is X?",
            workflow="search_qa",
            intent="lookup",
            domain="billing",
            tags=["a"],
            metadata={"release": "r1", "nested": {"k": [1, 2]}},
        ) as t:
            with gb.stage("retrieval", kind="retrieval") as s:
                gb.decision("bm25", why="short", confidence=0.8, alternatives={"dense": 0.6}, inputs={"n": 5})
                gb.evidence("retrieved", {"collected": 20})
                s.set(top_k=8)
            with gb.stage("synthesis", kind="llm") as s:
                s.model, s.tokens_in, s.tokens_out, s.cost_usd = "gpt-4o-mini", 100, 20, 0.0012
            gb.score("quality", 0.7, passed=False, dimensions={"clarity": 0.4})
            t.output = {"answer": "X is Y", "citations": ["a"]}
    return list(traces)


def test_trace_round_trips_through_the_store_unchanged(store):
    (tr,) = _record()
    store.write_traces([tr])
    back = store.get_trace(tr.trace_id)
    assert back.to_dict() == tr.to_dict()
    assert back.tokens_in == 100 and back.cost_usd == pytest.approx(0.0012)


def test_configured_sdk_writes_to_the_store(configured):
    with gb.trace("q", workflow="w") as t, gb.stage("s"):
        gb.decision("d")
    assert gb.flush(10)
    st = Store(configured)
    assert st.get_trace(t.trace_id).decisions[0].what == "d"
    summaries = st.list_traces(workflow="w")
    assert [s["trace_id"] for s in summaries] == [t.trace_id]
    st.close()


def test_writing_twice_is_idempotent(store):
    (tr,) = _record()
    store.write_traces([tr])
    store.write_traces([tr, tr])
    # 7 scores: the quality score and the 6 heuristic signals the writer adds
    assert store.counts() == {
        "traces": 1,
        "spans": 3,
        "decisions": 1,
        "events": 1,
        "scores": 7,
        "feedback": 0,
        "alerts": 0,
    }


def test_segments_from_two_services_merge_into_one_trace(store):
    with capture(project="p", service="frontend") as a:
        with gb.trace("q", workflow="front") as t, gb.stage("call backend") as call:
            headers = gb.inject({})
            call.tokens_in = 5
    with capture(project="p", service="backend") as b:
        with gb.extract(headers), gb.trace("q", workflow="back"), gb.stage("llm") as s:
            s.tokens_in, s.cost_usd = 50, 0.5
    seg_a, seg_b = a[0], b[0]
    # Either order of arrival gives the same merged trace.
    store.write_traces([seg_b])
    store.write_traces([seg_a])
    merged = store.get_trace(t.trace_id)
    assert merged.workflow == "front" and merged.root_span_id == seg_a.root_span_id
    assert {s.service for s in merged.spans} == {"frontend", "backend"}
    back_root = next(s for s in merged.spans if s.name == "back")
    assert back_root.parent_id == call.span_id
    row = _row(store, t.trace_id)
    assert row["tokens_in"] == 55 and row["cost_usd"] == pytest.approx(0.5)
    assert row["start_ns"] == min(seg_a.start_ns, seg_b.start_ns)
    assert row["end_ns"] == max(seg_a.end_ns, seg_b.end_ns)


def _row(store, trace_id):
    from glassbox.store.schema import traces

    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(traces).where(traces.c.trace_id == trace_id)).one()._mapping)


def test_late_span_segment_merges_into_the_stored_trace(store):
    with capture(stray_timeout=60) as traces:
        with gb.trace("q", workflow="w"):
            late = gb.stage("background")
            late.__enter__()
            late.tokens_in = 9
        late.__exit__(None, None, None)
    traces.flush()
    store.write_traces(traces)
    merged = store.get_trace(traces[0].trace_id)
    assert {s.name for s in merged.spans} == {"w", "background"}
    assert merged.workflow == "w" and _row(store, merged.trace_id)["tokens_in"] == 9


def test_review_state_survives_reimport(store):
    (tr,) = _record()
    store.write_traces([tr])
    store.set_review(tr.trace_id, flagged=True, notes="looks wrong")
    store.write_traces([tr])
    back = store.get_trace(tr.trace_id)
    assert back.flagged_for_review is True and back.review_notes == "looks wrong"


def test_unknown_trace_raises_trace_not_found(store):
    with pytest.raises(TraceNotFound, match="no trace 'deadbeef'"):
        store.get_trace("deadbeef")
    with pytest.raises(TraceNotFound):
        store.set_review("0" * 32, notes="x")


def test_unique_prefix_finds_a_trace(store):
    (tr,) = _record()
    store.write_traces([tr])
    assert store.get_trace(tr.trace_id[:8]).trace_id == tr.trace_id


def test_list_filters_and_order(store):
    traces = []
    for wf in ("a", "b", "a"):
        with capture() as got, gb.trace("q", workflow=wf):
            pass
        traces.extend(got)
    store.write_traces(traces)
    assert [s["trace_id"] for s in store.list_traces(workflow="a")] == [traces[2].trace_id, traces[0].trace_id]
    assert len(store.list_traces(limit=2)) == 2
    assert store.list_traces(status="failed") == []


def test_hostile_strings_are_stored_as_data(store):
    evil = "'); DROP TABLE traces; -- <script>alert(1)</script>"
    with capture() as got, gb.trace(evil, workflow=evil) as t:
        gb.decision(evil, why=evil)
        t.output = evil
    store.write_traces(got)
    back = store.get_trace(got[0].trace_id)
    assert back.input == evil and back.workflow == evil and back.decisions[0].what == evil


def test_schema_built_by_migrations_matches_the_tables(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from glassbox.store.schema import metadata

    store.ready()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrations_go_down_and_up_again(store):
    store.ready()
    assert database.downgrade(store.engine, "base") is None
    assert "traces" not in sa.inspect(store.engine).get_table_names()
    assert database.upgrade(store.engine) == database.HEAD_REVISION
    assert {"traces", "spans", "decisions", "events", "scores", "feedback"} <= set(
        sa.inspect(store.engine).get_table_names()
    )


def test_info_reports_revision_and_counts(store):
    (tr,) = _record()
    store.write_traces([tr])
    info = store.info()
    assert info["up_to_date"] is True and info["rows"]["spans"] == 3
    assert info["backend"] == store.dialect


def test_several_processes_migrating_at_once(store_url):
    code = (
        "import sys; from glassbox.store.store import Store; "
        "s = Store(sys.argv[1]); s.ready(); print(s.info()['revision'])"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, store_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [o[1][-500:] for o in outs]
    assert {o[0].strip() for o in outs} == {database.HEAD_REVISION}


def test_invalid_and_unsupported_urls_give_clear_errors(tmp_path):
    with pytest.raises(StoreError, match="invalid store URL"):
        Store("not a url://x")
    assert Store(str(tmp_path / "a plain path.db")).url.startswith("sqlite:///")  # a path is an SQLite file
    with pytest.raises(StoreError, match="unsupported store"):
        Store("mysql://x@y/z")


def test_unreachable_database_raises_store_error_with_the_url_masked():
    st = Store("postgresql+psycopg://user:secret@127.0.0.1:1/nope")
    with pytest.raises(StoreError) as err:
        st.ready()
    assert "secret" not in str(err.value) and "***" in str(err.value)


def test_unwritable_sqlite_location():
    with pytest.raises(StoreError, match="cannot create the folder"):
        Store("sqlite:////proc/glassbox/x.db")


def test_unbindable_values_fail_one_trace_not_the_batch(store):
    from glassbox.store.store import DatabaseSink

    good = Trace("a" * 32, "good")
    good.start_ns, good.end_ns, good.status = 1_700_000_000 * 10**9, 1_700_000_001 * 10**9, "complete"
    bad = Trace("b" * 32, "bad")
    bad.start_ns, bad.end_ns, bad.status = 10**30, 10**30 + 1, "complete"  # no datetime can hold it
    with pytest.raises(StoreError, match="1 of 2 traces not written"):
        DatabaseSink(store).write([good, bad])
    assert store.get_trace("a" * 32).name == "good"
    with pytest.raises(TraceNotFound):
        store.get_trace("b" * 32)


def test_ambiguous_prefix_says_so(store):
    for tid in ("abcd" + "0" * 28, "abcd" + "1" * 28):
        t = Trace(tid, "x")
        t.start_ns, t.end_ns, t.status = 10**18, 10**18 + 5, "complete"
        store.write_traces([t])
    with pytest.raises(TraceNotFound, match="ambiguous"):
        store.get_trace("abcd")
    assert store.get_trace("abcd1").trace_id == "abcd" + "1" * 28


def test_relative_sqlite_path_is_migrated_again_after_chdir(tmp_path, monkeypatch):
    from glassbox.store.store import Store

    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    Store("sqlite:///rel.db").counts()
    monkeypatch.chdir(tmp_path / "two")
    assert Store("sqlite:///rel.db").counts()["traces"] == 0  # a new file in a new cwd is migrated too
