"""The JSONL audit trail, and the round trip trace → JSON line → import → same trace."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glassbox as gb
from glassbox.model import Alert, Decision, Event, Feedback, Score, Span, Trace
from glassbox.store.schema import metadata
from glassbox.store.store import Store
from glassbox.store.trail import TrailSink, dumps_line, read_trail, trail_files

# PostgreSQL text cannot hold NUL (the store replaces it, see test below); other text is arbitrary.
text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30)
ident = st.text("abcdef0123456789", min_size=16, max_size=16).filter(lambda s: s != "0" * 16)
ns = st.integers(min_value=1_500_000_000_000_000_000, max_value=2_000_000_000_000_000_000)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e12, max_value=1e12)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), finite, text)
json_value = st.recursive(
    json_scalar, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(text, c, max_size=3)), max_leaves=8
)
attr_value = st.one_of(st.booleans(), st.integers(-(2**53), 2**53), finite, text, st.lists(text, max_size=3))


@st.composite
def traces(draw) -> Trace:
    tid = draw(st.text("0123456789abcdef", min_size=32, max_size=32).filter(lambda s: s != "0" * 32))
    start = draw(ns)
    t = Trace(tid, draw(text), start)
    t.end_ns = start + draw(st.integers(0, 10**12))
    t.project = draw(st.sampled_from(["p1", "p2"]))
    for f in (
        "service",
        "workflow",
        "intent",
        "domain",
        "user_id",
        "session_id",
        "environment",
        "release",
        "experiment",
        "variant",
        "review_notes",
        "cost_source",
    ):
        setattr(t, f, draw(st.one_of(st.none(), text)))
    t.input, t.output = draw(json_value), draw(json_value)
    t.status = draw(st.sampled_from(["complete", "failed", "incomplete"]))
    t.tags = draw(st.lists(text, max_size=3))
    t.metadata = draw(st.dictionaries(text, json_value, max_size=3))
    t.flagged_for_review = draw(st.booleans())
    span_ids = draw(st.lists(ident, min_size=1, max_size=5, unique=True))
    t.root_span_id = span_ids[0]
    for i, sid in enumerate(span_ids):
        s = Span(
            tid,
            sid,
            None if i == 0 else draw(st.sampled_from(span_ids[:i])),
            draw(text),
            draw(st.sampled_from(["stage", "llm", "tool", "retrieval"])),
            start + i,
        )
        s.end_ns = draw(st.one_of(st.none(), st.just(start + i + 1000)))
        s.status = draw(st.sampled_from(["ok", "error", "unset"]))
        if s.status == "error":
            s.error = {"type": draw(text), "message": draw(text), "stack": draw(text)}
        s.attributes = draw(st.dictionaries(text, attr_value, max_size=4))
        s.input, s.output = draw(json_value), draw(json_value)
        s.model = draw(st.one_of(st.none(), text))
        s.tokens_in = draw(st.one_of(st.none(), st.integers(0, 10**7)))
        s.tokens_out = draw(st.one_of(st.none(), st.integers(0, 10**7)))
        s.cost_usd = draw(st.one_of(st.none(), st.floats(0, 100, allow_nan=False)))
        s.model_loads = draw(st.one_of(st.none(), st.integers(0, 5)))
        s.peak_gpu_mem_bytes = draw(st.one_of(st.none(), st.integers(0, 2**40)))
        s.service = draw(st.one_of(st.none(), text))
        t.spans.append(s)
    rid = st.text("0123456789abcdef", min_size=16, max_size=16)
    for k in draw(st.lists(rid, max_size=3, unique=True)):
        t.decisions.append(
            Decision(
                k,
                draw(text),
                draw(st.one_of(st.none(), text)),
                draw(st.one_of(st.none(), st.floats(0, 1))),
                draw(st.lists(st.tuples(text, st.one_of(st.none(), finite)), max_size=3)),
                draw(st.dictionaries(text, json_value, max_size=2)),
                draw(st.sampled_from(span_ids)),
                draw(text),
                draw(ns),
            )
        )
    for k in draw(st.lists(rid, max_size=3, unique=True)):
        t.events.append(
            Event(
                k,
                draw(text),
                draw(st.dictionaries(text, json_value, max_size=2)),
                draw(st.sampled_from(span_ids)),
                draw(ns),
            )
        )
    for k in draw(st.lists(rid, max_size=3, unique=True)):
        t.scores.append(
            Score(
                k,
                draw(text),
                draw(finite),
                draw(st.one_of(st.none(), finite)),
                draw(st.one_of(st.none(), st.booleans())),
                draw(st.sampled_from(["sdk", "heuristic", "human"])),
                draw(st.dictionaries(text, finite, max_size=3)),
                draw(st.one_of(st.none(), text)),
                draw(st.one_of(st.none(), st.sampled_from(span_ids))),
                draw(ns),
            )
        )
    for k in draw(st.lists(rid, max_size=2, unique=True)):
        t.feedback.append(
            Feedback(
                k,
                draw(st.sampled_from(["explicit", "implicit"])),
                draw(st.one_of(st.none(), finite)),
                draw(st.one_of(st.none(), text)),
                draw(st.one_of(st.none(), text)),
                None,
                draw(st.one_of(st.none(), text)),
                draw(ns),
            )
        )
    for k in draw(st.lists(rid, max_size=2, unique=True)):
        # distinct rules: two alerts of one source, rule and dims are one alert (deduplicated) in the store
        t.alerts.append(
            Alert(
                k,
                draw(st.sampled_from(["budget", "calibration"])),
                f"{draw(text)}#{k}",
                draw(text),
                draw(st.sampled_from(["info", "warning", "critical"])),
                draw(st.dictionaries(text, json_value, max_size=2)),
                tid,
                t.project,
                draw(ns),
                draw(st.booleans()),
            )
        )
    return t


def _ordered(doc: dict) -> dict:
    # The store returns children ordered by time; the model keeps insertion order. Compare as sets.
    for key, by in (
        ("spans", "span_id"),
        ("decisions", "id"),
        ("events", "id"),
        ("scores", "id"),
        ("feedback", "id"),
        ("alerts", "id"),
    ):
        doc[key] = sorted(doc[key], key=lambda x, by=by: x[by])
    for a in doc["alerts"]:
        a.pop("key", None)  # the store gives an alert without one its dedup key (source:rule:dims)
    return doc


@given(traces())
def test_trace_survives_json_line_round_trip(trace):
    line = dumps_line(trace)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert Trace.from_dict(orjson.loads(line)).to_dict() == trace.to_dict()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trace=traces())
def test_trace_survives_trail_import_into_the_store(store, tmp_path, trace):
    store.ready()
    with store.engine.begin() as conn:  # hypothesis reuses the fixture: start each example empty
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    folder = tmp_path / uuid.uuid4().hex
    TrailSink(folder).write([trace])
    files = trail_files([folder])
    imported = [t for f in files for _, t in read_trail(f)]
    store.write_traces(imported)
    store.write_traces(imported)  # importing twice changes nothing
    back = store.get_trace(trace.trace_id).to_dict()
    assert _ordered(back) == _ordered(json.loads(json.dumps(trace.to_dict())))


def test_nul_characters_are_kept_on_sqlite_and_replaced_on_postgresql(store):
    t = Trace("ab" * 16, "n\x00ame", time.time_ns())
    t.root_span_id = "cd" * 8
    t.end_ns = t.start_ns + 1
    t.output = "a\x00b"
    t.spans.append(Span(t.trace_id, t.root_span_id, None, "root", "trace", t.start_ns))
    store.write_traces([t])
    back = store.get_trace(t.trace_id)
    assert back.output == ("a\x00b" if store.dialect == "sqlite" else "a\ufffdb")


def test_trail_files_are_daily_and_one_line_per_trace(tmp_path):
    gb.configure(store=None, trail_dir=str(tmp_path / "tr"), flush_interval=0.05)
    ids = []
    for i in range(3):
        with gb.trace(f"q{i}") as t:
            pass
        ids.append(t.trace_id)
    gb.flush(10)
    (path,) = list((tmp_path / "tr").iterdir())
    assert path.name == time.strftime("%Y-%m-%d.jsonl", time.gmtime())
    docs = [json.loads(x) for x in path.read_text().splitlines()]
    assert [d["trace_id"] for d in docs] == ids and all(d["schema_version"] == 1 for d in docs)


def test_torn_or_foreign_lines_are_reported_not_fatal(tmp_path):
    p = tmp_path / "2026-01-01.jsonl"
    good = Trace("ab" * 16, "x", 1_700_000_000_000_000_000)
    p.write_bytes(
        dumps_line(good) + b'{"not": "a trace"}\n' + b'{"schema_version": 99, "trace_id": "x"}\n' + b'{"trace_id": "ab'
    )
    results = list(read_trail(p))
    assert isinstance(results[0][1], Trace)
    errors = [(n, str(e)) for n, e in results[1:]]
    assert [n for n, _ in errors] == [2, 3, 4]
    assert "no trace_id" in errors[0][1] and "schema_version 99" in errors[1][1]


def test_killed_process_leaves_a_consistent_store_with_flushed_traces(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys, glassbox as gb
        gb.configure(store="sqlite:///{tmp_path}/gb.db", trail_dir="{tmp_path}/tr", flush_interval=0.01)
        for i in range(50):
            with gb.trace(f"flushed {{i}}"):
                with gb.stage("s"):
                    pass
        gb.flush()
        print("flushed", flush=True)
        i = 0
        while True:
            with gb.trace(f"unflushed {{i}}"):
                for j in range(10):
                    with gb.stage("s"):
                        gb.decision("d")
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "flushed"
    time.sleep(0.5)  # let it write more batches, then kill it mid-stream
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    conn = sqlite3.connect(tmp_path / "gb.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    inputs = {r[0] for r in conn.execute("SELECT json_extract(input, '$') FROM traces")}
    assert {f"flushed {i}" for i in range(50)} <= inputs
    # Every stored trace is whole: a transaction never leaves a trace without its spans.
    orphans = conn.execute(
        "SELECT count(*) FROM traces t WHERE NOT EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id)"
    ).fetchone()[0]
    assert orphans == 0
    conn.close()
    # The trail is readable up to at most one torn last line.
    bad = [e for f in trail_files([tmp_path / "tr"]) for _, e in read_trail(f) if not isinstance(e, Trace)]
    assert len(bad) <= 1
    st_ = Store(f"sqlite:///{tmp_path}/gb.db")
    assert st_.counts()["traces"] >= 50
