"""The server's ingest path: bounded by traces and spans, a store that is down holds batches (no loss),
spooled at shutdown, and a trace stays in the project that stored it first."""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import pytest

from glassbox.errors import StoreError
from glassbox.model import Span, Trace
from glassbox.monitoring.metrics import Metrics
from glassbox.server.ingest import Ingest, StoreSink
from glassbox.server.otlp import Segment
from glassbox.store.trail import read_trail

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from runs_builder import make_run


def segment(i: int, project: str, keyed: bool, spans: int = 2) -> Segment:
    run = make_run(i, project=project, stages=[(f"s{j}", 10, "ok") for j in range(spans - 1)])
    seg = Segment(run.trace_id, run.name)
    for name in Trace.__slots__:
        setattr(seg, name, getattr(run, name))
    seg.keyed = keyed
    ids = {s.span_id: hashlib.blake2b(f"{project}{s.span_id}".encode(), digest_size=8).hexdigest() for s in seg.spans}
    for s in seg.spans:  # each project's segment has span ids of its own
        s.span_id, s.parent_id = ids[s.span_id], ids.get(s.parent_id)
    seg.root_span_id = ids[seg.root_span_id]
    return seg


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels or None) or 0.0


def test_a_keyed_sender_cannot_write_into_another_projects_trace(store):
    metrics = Metrics()
    sink = StoreSink(store, metrics)
    sink.write([segment(1, "alpha", keyed=True)])
    sink.write([segment(1, "beta", keyed=True), segment(2, "beta", keyed=True)])
    t1 = store.get_trace(f"{1:032x}")
    assert t1.project == "alpha" and len(t1.spans) == 2  # nothing of beta's segment joined it
    assert store.get_trace(f"{2:032x}").project == "beta"
    assert value(metrics, "glassbox_ingest_spans_rejected_total", reason="other_project") == 2
    assert value(metrics, "glassbox_ingest_traces_written_total") == 2


def test_an_open_senders_segment_joins_the_owners_project(store):
    """A service without glassbox.project (project 'default') adds its spans to the run it belongs to."""
    sink = StoreSink(store, Metrics())
    sink.write([segment(1, "alpha", keyed=True)])
    sink.write([segment(1, "default", keyed=False, spans=3)])
    t = store.get_trace(f"{1:032x}")
    assert t.project == "alpha" and len(t.spans) == 5


class FlakyStore:
    """A store that is unreachable for its first ``failures`` writes."""

    def __init__(self, store, failures: int) -> None:
        self.store, self.failures = store, failures
        self.engine, self.ready = store.engine, store.ready

    def write_traces(self, batch):
        if self.failures:
            self.failures -= 1
            err = StoreError("connection refused")
            err.data_error = False
            raise err
        self.store.write_traces(batch)

    def close(self):
        self.store.close()


def test_a_store_that_is_down_holds_the_batch_and_retries(store):
    metrics = Metrics()
    sink = StoreSink(store, metrics)
    sink.inner.store = FlakyStore(store, failures=3)
    t0 = time.monotonic()
    sink.write([make_run(7)])
    assert store.get_trace(f"{7:032x}").trace_id == f"{7:032x}"  # written once the store answered
    assert value(metrics, "glassbox_store_write_errors_total") == 3 and sink.retrying_since is None
    assert time.monotonic() - t0 >= 0.1 + 0.2 + 0.4  # backoff between attempts


def test_at_shutdown_a_dead_store_spools_the_queue_and_the_next_start_writes_it(store, tmp_path):
    ingest = Ingest(store, Metrics(), calibration=False, spool_dir=str(tmp_path / "spool"), batch_size=2)
    ingest.sink.max_backoff = 0.05
    ingest.sink.inner.store = FlakyStore(store, failures=10**6)
    runs = [make_run(8, decisions=[("retrieve", "use bm25", 0.7)])] + [make_run(i) for i in range(20, 25)]
    assert ingest.offer(runs)
    ingest.close(grace=0.3)
    assert ingest.health()["spooled"] == 6 and ingest.health()["lost_at_close"] == 0
    spooled = {t.trace_id for f in (tmp_path / "spool").rglob("*.jsonl") for _, t in read_trail(f)}
    assert spooled == {r.trace_id for r in runs}
    with pytest.raises(Exception, match="no trace"):
        store.get_trace(f"{8:032x}")
    # The next start (the store is back) writes the spool before anything else, then forgets it.
    again = Ingest(store, Metrics(), calibration=False, spool_dir=str(tmp_path / "spool"))
    try:
        deadline = time.monotonic() + 10
        while again.health()["reloaded_from_spool"] < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert again.health()["reloaded_from_spool"] == 6
        assert store.get_trace(f"{8:032x}").decisions[0].what == "use bm25"
        assert not list((tmp_path / "spool").rglob("*.jsonl"))
    finally:
        again.close()


def test_the_queue_is_bounded_by_spans_too(store):
    ingest = Ingest(store, Metrics(), queue_size=1000, max_queue_spans=10, calibration=False, writer_delay=0.2)
    try:
        big = [make_run(i, stages=[("a", 1, "ok"), ("b", 1, "ok")]) for i in range(1, 4)]  # 3 spans each
        assert ingest.has_room(9) and ingest.offer(big)
        assert not ingest.has_room(3) and not ingest.offer([make_run(9, stages=[("a", 1, "ok"), ("b", 1, "ok")])])
        assert ingest.queued_spans == 9 and ingest.lag() >= 0
        assert ingest.writer.flush(10)
        assert ingest.queued_spans == 0 and ingest.lag() == 0 and ingest.retry_after() >= 1
    finally:
        ingest.close()


def test_one_request_bigger_than_the_span_bound_still_fits_an_empty_queue(store):
    ingest = Ingest(store, Metrics(), max_queue_spans=2, calibration=False)
    try:
        assert ingest.has_room(50) and ingest.offer([make_run(1, stages=[(f"s{j}", 1, "ok") for j in range(9)])])
    finally:
        ingest.close()


def test_spans_and_runs_written_are_counted_after_each_batch(store):
    metrics = Metrics()
    ingest = Ingest(store, metrics, calibration=False)
    try:
        run = make_run(3, stages=[("retrieve", 40, "ok"), ("llm", 50, "ok")])
        run.spans.append(Span(run.trace_id, "ffffffffffffffff", run.root_span_id, "late", "stage", run.start_ns))
        assert ingest.offer([run]) and ingest.writer.flush(10)
        assert value(metrics, "glassbox_ingest_spans_written_total") == 4
        assert value(metrics, "glassbox_traces_total", workflow="qa", status="complete", model_version="") == 1
    finally:
        ingest.close()


def test_the_server_judges_runs_with_the_projects_calibration_settings(store, tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from glassbox.store.alerts import list_alerts

    monkeypatch.chdir(tmp_path)
    (tmp_path / "glassbox.toml").write_text(
        '[calibration]\nmin_failures = 1\nalerts_file = "server-flags.md"\n[calibration.thresholds]\ngrounding = 0.8\n'
    )
    ingest = Ingest(store, Metrics())
    try:  # one run whose grounding (0.75) is under the table's threshold; the default would wait for 3
        run = make_run(7, quality=0.9, dims={"grounding": 0.75}, now=datetime.now(UTC).replace(tzinfo=None))
        assert ingest.offer([run]) and ingest.writer.flush(10)
    finally:
        ingest.close()
    (flag,) = [a for a in list_alerts(store) if a.rule == "repeated_principle_failure"]
    assert flag.dims["principle"] == "grounding" and flag.dims["threshold"] == 0.8 and flag.trace_id == run.trace_id
    assert "grounding" in (tmp_path / "server-flags.md").read_text()
