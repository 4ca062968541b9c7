"""The background writer: flush, full-queue policies, failing sinks, health, fork."""

from __future__ import annotations

import os
import threading
import time

import pytest

import glassbox as gb
from glassbox.model import Trace
from glassbox.testing import MemorySink
from glassbox.writer import Writer


def _trace(i: int) -> Trace:
    t = Trace(f"{i + 1:032x}", "t", time.time_ns())
    t.root_span_id = f"{i + 1:016x}"
    return t


class BlockingSink(MemorySink):
    name = "blocking"

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def write(self, traces):
        self.gate.wait(10)
        super().write(traces)


class FailingSink:
    name = "broken"

    def __init__(self) -> None:
        self.calls = 0

    def write(self, traces):
        self.calls += 1
        raise OSError("disk on fire")

    def close(self):
        return None


def test_flush_returns_once_everything_queued_is_written():
    sink = MemorySink()
    w = Writer([sink], batch_size=7, interval=5.0)
    for i in range(100):
        w.submit(_trace(i))
    assert w.flush(10)
    assert len(sink.traces) == 100
    w.close()


def test_drop_policy_counts_what_it_drops_and_never_blocks():
    sink = BlockingSink()
    w = Writer([sink], max_queue=5, policy="drop", batch_size=1, interval=0.01)
    w.submit(_trace(0))
    time.sleep(0.1)  # the writer thread now holds trace 0 inside the blocked sink
    results = [w.submit(_trace(i)) for i in range(1, 20)]
    time.sleep(0.2)
    results += [w.submit(_trace(i)) for i in range(20, 30)]
    # The sink's own backlog holds up to max_queue traces, then the queue fills and submit refuses.
    assert results.count(True) == 10 and w.dropped == 19
    assert w.health()["dropped"] == 19 and w.health()["queue_depth"] == 11
    assert w.health()["sinks"]["blocking"]["backlog"] == 5
    sink.gate.set()
    assert w.flush(10)
    assert len(sink.traces) == 11
    w.close()


def test_block_policy_waits_for_room_and_loses_nothing():
    sink = BlockingSink()
    w = Writer([sink], max_queue=2, policy="block", batch_size=1, interval=0.01)
    done = threading.Event()

    def produce():
        for i in range(10):
            w.submit(_trace(i))
        done.set()

    th = threading.Thread(target=produce)
    th.start()
    time.sleep(0.2)
    assert not done.is_set()  # the producer is held back by the full queue
    sink.gate.set()
    th.join(10)
    assert done.is_set() and w.flush(10)
    assert len(sink.traces) == 10 and w.dropped == 0
    w.close()


def test_one_failing_sink_does_not_stop_the_others_and_is_reported():
    good, bad = MemorySink(), FailingSink()
    w = Writer([bad, good], batch_size=10, interval=0.01)
    for i in range(25):
        w.submit(_trace(i))
    assert w.flush(10)
    h = w.health()
    assert len(good.traces) == 25 and h["sinks"]["memory"]["written"] == 25
    assert h["sinks"]["broken"]["errors"] == bad.calls >= 3
    assert h["sinks"]["broken"]["last_error"] == "OSError: disk on fire"
    w.close()


def test_failures_are_logged_at_most_once_a_minute(caplog):
    w = Writer([FailingSink()], batch_size=1, interval=0.01)
    with caplog.at_level("WARNING", logger="glassbox"):
        for i in range(20):
            w.submit(_trace(i))
        w.flush(10)
    assert len([r for r in caplog.records if "broken sink failed" in r.getMessage()]) == 1
    w.close()


def test_a_bad_prepare_step_does_not_lose_the_batch():
    sink = MemorySink()

    def prepare(t):
        if t.trace_id.endswith("3"):
            raise ValueError("nope")

    w = Writer([sink], prepare=prepare, interval=0.01)
    for i in range(5):
        w.submit(_trace(i))
    w.flush(10)
    assert len(sink.traces) == 5 and w.prepare_errors == 1
    w.close()


def test_invalid_policy_is_rejected():
    with pytest.raises(ValueError, match="drop' or 'block"):
        Writer([], policy="maybe")


def test_submit_after_close_is_counted_as_dropped():
    w = Writer([MemorySink()])
    w.close()
    assert w.submit(_trace(1)) is False and w.dropped == 1


def test_unwritable_trail_folder_loses_nothing_in_the_database(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the trail folder should be")
    gb.configure(store=f"sqlite:///{tmp_path}/gb.db", trail_dir=str(blocker / "traces"), flush_interval=0.05)
    with gb.trace("q") as t:
        pass
    assert gb.flush(10)
    h = gb.health()["sinks"]
    assert h["trail"]["errors"] == 1 and h["database"]["written"] == 1
    from glassbox.store.store import Store

    assert Store(f"sqlite:///{tmp_path}/gb.db").get_trace(t.trace_id).status == "complete"


def test_dead_database_still_writes_the_trail(tmp_path):
    gb.configure(store="postgresql+psycopg://x@127.0.0.1:1/none", trail_dir=str(tmp_path / "tr"), flush_interval=0.05)
    with gb.trace("q") as t:
        pass
    assert gb.flush(30)
    h = gb.health()["sinks"]
    assert h["database"]["errors"] == 1 and "cannot prepare store" in h["database"]["last_error"]
    lines = (tmp_path / "tr").glob("*.jsonl")
    assert t.trace_id in "".join(p.read_text() for p in lines)


def test_database_deleted_while_running_is_recreated(tmp_path):
    db = tmp_path / "gb.db"
    gb.configure(store=f"sqlite:///{db}", trail_dir=None, flush_interval=0.05)
    with gb.trace("first"):
        pass
    gb.flush(10)
    for suffix in ("", "-wal", "-shm"):
        p = tmp_path / f"gb.db{suffix}"
        if p.exists():
            p.unlink()
    with gb.trace("second") as t:
        pass
    assert gb.flush(10)
    assert gb.health()["sinks"]["database"]["errors"] == 0
    from glassbox.store.store import Store

    assert [s["trace_id"] for s in Store(f"sqlite:///{db}").list_traces()] == [t.trace_id]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_writer_works_in_a_forked_child(tmp_path):
    db = f"sqlite:///{tmp_path}/gb.db"
    gb.configure(store=db, trail_dir=None, flush_interval=0.05)
    with gb.trace("parent"):
        pass
    gb.flush(10)
    pid = os.fork()
    if pid == 0:  # child: record, flush, exit without running the parent's atexit handlers
        code = 1
        try:
            with gb.trace("child"):
                pass
            code = 0 if gb.flush(10) and gb.health()["sinks"]["database"]["written"] >= 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    from glassbox.store.store import Store

    assert sorted(s["input"] for s in Store(db).list_traces()) == ["child", "parent"]


def test_a_written_trace_is_freed_without_the_cyclic_gc():
    """Stages and their trace form a cycle while recording; once written it is broken, so a long-running
    app frees each trace when it drops it instead of piling traces up for full collections."""
    import gc

    from glassbox.recorder import LiveTrace

    gb.configure(store=None, trail_dir=None, heuristics=False)
    gc.collect()
    gc.disable()
    try:
        with gb.trace("q") as t, gb.stage("s") as s:
            s.set(k=1)
        trace_id = t.trace_id
        assert gb.flush(5)
        del t
        alive = [o for o in gc.get_objects() if type(o) is LiveTrace and o.trace_id == trace_id]
        assert [o.spans for o in alive] == [[]]  # only the stages' empty shadow of it is left
        s.set(after="the write")  # a finished stage still takes calls without raising
        s.decision("late", why="after the write")
        s.score("late", 1.0)
        s.__exit__(None, None, None)
    finally:
        gc.enable()
        gb.shutdown()


def test_a_task_started_in_a_stage_still_records_after_the_trace_is_written():
    """An asyncio task copies the context, so its current stage can outlive the written trace."""
    import asyncio

    from glassbox.testing import capture

    async def main():
        gate = asyncio.Event()

        async def background():
            await gate.wait()
            with gb.stage("late-child") as s:  # its parent ended long ago; the trace is written
                s.set(k=1)
                gb.decision("retry", why="after the run")
            gb.current_trace().score("late", 1.0)  # takes the call without raising

        with capture() as cap:
            with gb.trace("q") as t, gb.stage("parent"):
                task = asyncio.create_task(background())
            cap.flush()
            gate.set()
            await task
            return list(cap.flush()), t.trace_id

    written, trace_id = asyncio.run(main())
    late = [s for tr in written if tr.trace_id == trace_id and tr.root_span_id is None for s in tr.spans]
    assert [s.name for s in late] == ["late-child"] and late[0].attributes == {"k": 1}
