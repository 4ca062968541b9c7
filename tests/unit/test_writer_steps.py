"""The writer's batch steps: an explicit list, each sink on its own lane, after steps once all sinks are done,
writer threads shielded from OpenTelemetry instrumentation."""

from __future__ import annotations

import threading
import time

import glassbox as gb
from glassbox.model import Trace
from glassbox.store.spool import SpoolDir
from glassbox.testing import MemorySink
from glassbox.writer import PerTrace, Step, Writer


def _trace(i: int) -> Trace:
    t = Trace(f"{i + 1:032x}", "t", time.time_ns())
    t.root_span_id = f"{i + 1:016x}"
    return t


class SlowSink(MemorySink):
    """Takes ``delay`` seconds per batch (a slow database)."""

    def __init__(self, name: str, delay: float) -> None:
        super().__init__()
        self.name, self.delay = name, delay

    def write(self, traces):
        time.sleep(self.delay)
        super().write(traces)


class ArrivalSink(MemorySink):
    """Notes when each trace arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, float] = {}
        self.event = threading.Event()

    def write(self, traces):
        now = time.monotonic()
        for t in traces:
            self.arrived[t.trace_id] = now
        super().write(traces)
        self.event.set()


def test_a_two_second_sink_does_not_delay_the_other_sink():
    slow, fast = SlowSink("database", 2.0), ArrivalSink()
    w = Writer([slow, fast], batch_size=10, interval=0.01)
    submitted = time.monotonic()
    for i in range(5):
        w.submit(_trace(i))
    # The other sink gets every trace while the slow one is still writing (the writer may cut the five
    # into more than one batch: wait for all of them, not the first).
    while len(fast.traces) < 5 and time.monotonic() - submitted < 1.5:
        fast.event.wait(0.05)
    assert len(fast.traces) == 5 and not slow.traces
    assert max(fast.arrived.values()) - submitted < 1.5
    assert w.flush(10) and len(slow.traces) == 5
    w.close()


def test_a_failing_sink_and_a_failing_step_cost_only_themselves():
    good = MemorySink()

    class Broken:
        name = "broken"

        def write(self, traces):
            raise OSError("disk on fire")

        def close(self):
            return None

    seen: list[int] = []

    def bad_after(batch):
        raise RuntimeError("metrics down")

    w = Writer(
        [Broken(), good],
        batch_size=3,
        interval=0.01,
        after=[Step("bad", bad_after), Step("count", lambda b: seen.append(len(b)))],
    )
    for i in range(9):
        w.submit(_trace(i))
    assert w.flush(10)
    assert len(good.traces) == 9 and sum(seen) == 9
    h = w.health()
    assert h["sinks"]["broken"]["errors"] == len(seen) >= 3 and h["step_errors"] == {"bad": len(seen)}
    w.close()


def test_after_steps_see_a_batch_once_every_sink_wrote_it():
    a, b = SlowSink("a", 0.2), SlowSink("b", 0.01)
    seen: list[tuple[int, int, int]] = []  # (traces through after steps so far, written by a, written by b)

    def check(batch):
        done = (seen[-1][0] if seen else 0) + len(batch)
        seen.append((done, len(a.traces), len(b.traces)))

    w = Writer([a, b], batch_size=4, interval=0.01, after=[Step("check", check)])
    for i in range(8):
        w.submit(_trace(i))
    assert w.flush(10)
    assert seen[-1][0] == 8
    assert all(na >= done and nb >= done for done, na, nb in seen)  # every sink had each batch first
    w.close()


def test_prepare_steps_run_in_order_before_any_sink_and_a_bad_trace_costs_only_itself():
    sink = MemorySink()
    order: list[str] = []
    errors: list[str] = []

    def first(t):
        order.append("first")
        if t.trace_id.endswith("2"):
            raise ValueError("bad value")
        t.name = "prepared"

    w = Writer(
        [sink],
        batch_size=10,
        interval=0.01,
        prepare=[
            PerTrace("first", first, lambda t, e: errors.append(t.trace_id)),
            Step("second", lambda batch: order.append("second")),
        ],
    )
    for i in range(3):
        w.submit(_trace(i))
    assert w.flush(10)
    assert order == ["first", "first", "first", "second"] and len(errors) == 1
    assert [t.name for t in sink.traces] == ["prepared", "t", "prepared"]
    w.close()


def test_the_sdk_runtime_builds_its_step_list(tmp_path):
    gb.configure(store=f"sqlite:///{tmp_path}/gb.db", trail_dir=str(tmp_path / "tr"))
    from glassbox import runtime

    w = runtime.current().writer
    assert [s.name for s in w.prepare_steps] == ["prices", "scoring", "json-safe"]
    assert [s.name for s in w.sinks] == ["database", "trail"]
    assert [s.name for s in w.after_steps] == ["after-batch"]


def test_the_servers_ingest_builds_its_step_list(store):
    from glassbox.monitoring.metrics import Metrics
    from glassbox.server.ingest import Ingest

    ingest = Ingest(store, Metrics(), calibration=False)
    try:
        assert [s.name for s in ingest.writer.sinks] == ["database"]
        assert [s.name for s in ingest.writer.after_steps] == ["ingest-after"]
    finally:
        ingest.close()


def test_writer_threads_run_with_otel_instrumentation_suppressed():
    from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled, is_instrumentation_enabled

    seen: list[tuple[bool, bool]] = []

    class Probe(MemorySink):
        def write(self, traces):
            seen.append((is_instrumentation_enabled(), is_http_instrumentation_enabled()))

    w = Writer(
        [Probe()], after=[Step("probe", lambda b: seen.append((is_instrumentation_enabled(), True)))], interval=0.01
    )
    w.submit(_trace(0))
    assert w.flush(10)
    assert seen == [(False, False), (False, True)]
    assert is_instrumentation_enabled()  # the app's own threads are untouched
    w.close()


def test_close_spools_what_a_slow_sink_has_not_written_and_the_next_writer_writes_it(tmp_path):
    slow, fast = SlowSink("database", 0.5), MemorySink()
    spool = SpoolDir(tmp_path / "spool")
    w = Writer([slow, fast], batch_size=10, interval=0.01, spool=spool)
    for i in range(40):
        w.submit(_trace(i))
    w.close(timeout=0.2)
    h = w.health()
    assert len(fast.traces) == 40  # the fast sink was not held back
    assert h["spooled"] >= 30 and h["lost_at_close"] == 0
    assert spool.has("database") and not spool.has("memory")
    again = MemorySink()
    again.name = "database"
    w2 = Writer([again], spool=spool)
    deadline = time.monotonic() + 10
    while w2.reloaded < h["spooled"] and time.monotonic() < deadline:
        time.sleep(0.02)
    written = {t.trace_id for t in slow.traces} | {t.trace_id for t in again.traces}
    assert written == {_trace(i).trace_id for i in range(40)}
    assert not spool.has("database")
    w2.close()
