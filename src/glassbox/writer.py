"""The background writer: a bounded queue, and an explicit list of batch steps run off the hot path.

Finished traces are handed over with ``submit`` (a deque append under a lock). The writer's
work on each batch is a list of ``BatchStep`` objects in three phases:

1. **prepare** steps run in order on the writer thread (scorers, JSON-safe values);
2. each **sink** (database, trail, OTLP …) then gets the batch on its *own lane*: a thread with a
   bounded backlog, so a slow, hung or failing sink delays no other sink;
3. **after** steps run, in order, once every sink lane is done with the batch (daily spend,
   metrics, calibration, letting go of stages) on one more thread.

A step failing is caught, counted and logged at most once a minute; it never stops the others and
never reaches user code. The writer's own threads run with OpenTelemetry instrumentation
suppressed, so glassbox's database and HTTP calls never show up as the app's spans. At ``close``,
whatever could not be written in time goes to the ``spool`` (if one is given) and the next writer
with the same spool reloads it.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from glassbox.model import Trace

log = logging.getLogger("glassbox")


class BatchStep(Protocol):
    """One thing the writer does with every batch of finished traces: the writer's plug point.

    Like OpenTelemetry's ``SpanProcessor``, the whole seam is one method, ``run(batch)``; ``name``
    labels its errors in logs and ``gb.health()``. Where a step runs is given by the list it is
    put in (``Writer(prepare=[…], sinks=[…], after=[…])``): prepare steps may change the traces in
    place, sinks (``Sink``: ``write`` + ``close``) each run on their own lane, after steps see the
    batch once every sink is done with it. A step that raises costs only itself.
    """

    name: str

    def run(self, batch: list[Trace]) -> None: ...


class Sink(Protocol):
    """Where finished traces go. One method does the work; ``close`` releases resources."""

    name: str

    def write(self, traces: Sequence[Trace]) -> None: ...

    def close(self) -> None: ...


class Spool(Protocol):
    """Where a writer puts what it could not write before ``close`` returned, per sink."""

    def put(self, sink: str, traces: Sequence[Trace]) -> None: ...

    def reload(self, sink: str) -> Iterable[tuple[list[Trace], Callable[[bool], None]]]:
        """Spooled batches for ``sink``, each with ``done(ok)``: ok forgets it, not ok keeps it for later."""
        ...

    def has(self, sink: str) -> bool: ...


class Step:
    """A named function as a ``BatchStep``."""

    __slots__ = ("fn", "name")

    def __init__(self, name: str, fn: Callable[[list[Trace]], None]) -> None:
        self.name, self.fn = name, fn

    def run(self, batch: list[Trace]) -> None:
        self.fn(batch)


class PerTrace:
    """A ``BatchStep`` applying ``fn`` to each trace: one trace failing costs only that trace."""

    __slots__ = ("errors", "fn", "name", "on_error")

    def __init__(self, name: str, fn: Callable[[Trace], None], on_error: Callable[[Trace, Exception], None]) -> None:
        self.name, self.fn, self.on_error = name, fn, on_error

    def run(self, batch: list[Trace]) -> None:
        fn = self.fn
        for trace in batch:
            try:
                fn(trace)
            except Exception as exc:  # noqa: BLE001 - a bad value must not lose the batch
                self.on_error(trace, exc)


class RateLimitedLog:
    """Log a given problem at most once per ``interval`` seconds, counting what it suppressed."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        n = self._suppressed.pop(key, 0)
        suffix = f" ({n} similar messages suppressed)" if n else ""
        log.warning(message + suffix, *args)


class SinkStats:
    __slots__ = ("dropped", "errors", "last_error", "last_error_at", "written")

    def __init__(self) -> None:
        self.written = 0
        self.errors = 0
        self.dropped = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None


class _Batch:
    __slots__ = ("first", "left", "traces")

    def __init__(self, traces: list[Trace], first: int, lanes: int) -> None:
        self.traces, self.first, self.left = traces, first, lanes


class _WarmupGate:
    """Writer threads run each step's first call (lazy imports, migrations) inside ``entered()``, many at once;
    ``os.fork`` waits (bounded) until none is inside, so a child never inherits an import lock held by a
    thread it does not have."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.inside = 0
        self.forking = False

    def enter(self) -> None:
        with self.cond:
            while self.forking:
                self.cond.wait(0.1)
            self.inside += 1

    def leave(self) -> None:
        with self.cond:
            self.inside -= 1
            self.cond.notify_all()

    def before_fork(self) -> None:
        deadline = time.monotonic() + 10.0  # a step stuck in its first call must not stop the app forking
        with self.cond:
            self.forking = True
            while self.inside and time.monotonic() < deadline:
                self.cond.wait(0.05)

    def after_fork_in_parent(self) -> None:
        with self.cond:
            self.forking = False
            self.cond.notify_all()


_gate = _WarmupGate()


class _WarmUp:
    """Per writer thread: its first call of each step runs inside the warm-up gate."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def run(self, key: Any, fn: Callable[[], Any]) -> Any:
        k = id(key)
        if k in self.seen:
            return fn()
        gate = _gate
        gate.enter()
        try:
            return fn()
        finally:
            self.seen.add(k)
            gate.leave()


def _quiet_thread(target: Callable[[], None], name: str) -> threading.Thread:
    def run() -> None:
        _suppress_instrumentation()
        target()

    th = threading.Thread(target=run, name=name, daemon=True)
    th.start()
    return th


def _suppress_instrumentation() -> None:
    """For the rest of this (writer) thread: OTel instrumentations skip glassbox's own DB and HTTP calls."""
    try:
        from opentelemetry import context

        # The key every instrumentation checks (HTTP ones too, via is_http_instrumentation_enabled).
        context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
    except Exception:  # noqa: BLE001 - without OpenTelemetry there is nothing to suppress
        pass


class _Lane:
    """One sink on its own thread, with a backlog bounded like the writer's queue."""

    def __init__(self, writer: Writer, sink: Sink) -> None:
        self.writer, self.sink, self.name = writer, sink, sink.name
        self.init_state()

    def init_state(self) -> None:
        self.backlog: deque[_Batch] = deque()
        self.backlog_traces = 0
        self.current: _Batch | None = None
        self.cond = threading.Condition(threading.Lock())
        self.thread: threading.Thread | None = None
        self.stopping = False
        self.warm = _WarmUp()

    def put(self, batch: _Batch) -> bool:
        """Queue ``batch`` for this sink; False (drop policy) when its backlog is full."""
        w = self.writer
        with self.cond:
            if self.backlog and self.backlog_traces + len(batch.traces) > w.max_queue and not self.stopping:
                if w.policy == "drop":
                    return False
                while self.backlog and self.backlog_traces + len(batch.traces) > w.max_queue and not self.stopping:
                    self.cond.wait(0.1)
            self.backlog.append(batch)
            self.backlog_traces += len(batch.traces)
            self.start()
            self.cond.notify_all()
        return True

    @property
    def full(self) -> bool:
        return self.backlog_traces >= self.writer.max_queue

    def start(self) -> None:
        if self.thread is None:
            self.thread = _quiet_thread(self._run, f"glassbox-sink-{self.name}")

    def _run(self) -> None:
        w = self.writer
        if w.spool is not None:
            self._reload(w.spool)
        while True:
            with self.cond:
                while not self.backlog and not self.stopping:
                    self.cond.wait(1.0)
                if self.stopping:
                    return
                batch = self.current = self.backlog.popleft()
                self.backlog_traces -= len(batch.traces)
                self.cond.notify_all()  # wake a blocked dispatcher
            ok = w._run_sink(self, batch.traces)
            with self.cond:
                self.current = None
            if ok is not None:
                w._lane_done(batch)

    def _reload(self, spool: Spool) -> None:
        """Write what an earlier writer spooled for this sink before taking new batches."""
        w = self.writer
        try:
            for traces, done in spool.reload(self.name):
                ok = w._run_sink(self, traces)
                done(bool(ok))
                if ok:
                    w.reloaded += len(traces)
                else:
                    break
        except Exception as exc:  # noqa: BLE001 - a bad spool file must not stop the lane
            w._record_error(self.name, exc)

    def take_all(self) -> list[Trace]:
        """Stop the lane and hand back what it has not written (its in-flight batch too: writes are idempotent)."""
        with self.cond:
            self.stopping = True
            batches = ([self.current] if self.current is not None else []) + list(self.backlog)
            self.backlog.clear()
            self.backlog_traces = 0
            self.cond.notify_all()
        return [t for b in batches for t in b.traces]


class Writer:
    """Moves finished traces from the app's threads through the batch steps, off the hot path."""

    def __init__(
        self,
        sinks: Sequence[Sink] = (),
        *,
        max_queue: int = 10_000,
        policy: str = "drop",
        batch_size: int = 500,
        interval: float = 0.5,
        prepare: Callable[[Trace], None] | Sequence[BatchStep] | None = None,
        after: Sequence[BatchStep] = (),
        tick: Callable[[], None] | None = None,
        after_batch: Callable[[list[Trace]], None] | None = None,
        spool: Spool | None = None,
    ) -> None:
        if policy not in ("drop", "block"):
            raise ValueError(f"queue policy must be 'drop' or 'block', not {policy!r}")
        self.sinks = list(sinks)
        self.max_queue = max_queue
        self.policy = policy
        self.batch_size = batch_size
        self.interval = interval
        self.prepare_errors = 0
        if prepare is None:
            self.prepare_steps: list[BatchStep] = []
        elif callable(prepare):
            self.prepare_steps = [PerTrace("prepare", prepare, self._prepare_failed)]
        else:
            self.prepare_steps = list(prepare)
        self.after_steps: list[BatchStep] = list(after)
        if after_batch is not None:
            self.after_steps.append(Step("after-batch", after_batch))
        self.tick = tick  # called on the writer thread about every `interval` (stray-span timeouts)
        self.spool = spool
        self.stats = {s.name: SinkStats() for s in self.sinks}
        self.step_errors: dict[str, int] = {}
        self.dropped = 0
        self.spooled = 0
        self.reloaded = 0
        self.lost_at_close = 0
        self._log = RateLimitedLog()
        self._closed = False
        self._closing = False
        self._lanes = [_Lane(self, s) for s in self.sinks]
        self._init_state()
        _live_writers.add(self)
        if spool is not None:
            for lane in self._lanes:
                if spool.has(lane.name):
                    lane.start()  # reload what an earlier process spooled, without waiting for traffic

    def _init_state(self) -> None:
        self._queue: deque[Trace] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._submitted = 0
        self._popped = 0  # traces taken from the queue by the dispatcher
        self._done = 0  # traces through every step
        self._inflight: dict[int, _Batch] = {}
        self._thread: threading.Thread | None = None
        self._after: deque[_Batch] = deque()
        self._after_thread: threading.Thread | None = None
        self._stopping = False
        self._warm_prepare, self._warm_after = _WarmUp(), _WarmUp()
        for lane in self._lanes:
            lane.init_state()

    # -- app side ----------------------------------------------------------------
    def submit(self, trace: Trace) -> bool:
        """Queue a finished trace; False if it was dropped because the queue is full."""
        if self._closed:
            self.dropped += 1
            return False
        with self._cond:
            if len(self._queue) >= self.max_queue:
                if self.policy == "drop":
                    self.dropped += 1
                    self._log.warning("queue-full", "glassbox: writer queue full (%d traces); dropping", self.max_queue)
                    return False
                while len(self._queue) >= self.max_queue and not self._closed:
                    self._cond.wait(0.1)
            self._queue.append(trace)
            self._submitted += 1
            if self._thread is None:
                self._start_thread()
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()
        return True

    def offer(self, traces: list[Trace]) -> bool:
        """Queue all of ``traces`` or none (False when they do not fit): backpressure for servers.

        What fits counts every trace not yet through every step, so a slow sink pushes back too.
        """
        if self._closed:
            return False
        with self._cond:
            if self._submitted - self._done + len(traces) > self.max_queue:
                return False
            self._queue.extend(traces)
            self._submitted += len(traces)
            if self._thread is None:
                self._start_thread()
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Return once everything queued so far went through every step (True) or the timeout passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._submitted
            if self._thread is None and self._queue:
                self._start_thread()
            self._cond.notify_all()
            while self._popped < target or any(b.first < target for b in self._inflight.values()):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.05 if remaining is None else min(remaining, 0.05))
                self._cond.notify_all()
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Flush for up to ``timeout`` seconds, spool what is left, stop the threads and close every sink."""
        if self._closed:
            return
        self._closing = True
        flushed = self.flush(timeout)
        self._closed = True
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        threads = [self._thread, self._after_thread]
        if not flushed:
            self._spool_leftovers()
        for lane in self._lanes:
            with lane.cond:
                lane.stopping = True
                lane.cond.notify_all()
            threads.append(lane.thread)
        end = time.monotonic() + (1.0 if not flushed else timeout)
        for th in threads:
            if th is not None and th is not threading.current_thread():
                th.join(max(0.0, end - time.monotonic()))
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001
                self._record_error(sink.name, exc)

    def _spool_leftovers(self) -> None:
        """Closing with work left: what each sink has not written goes to the spool (or is counted lost)."""
        for lane in self._lanes:
            with lane.cond:
                lane.stopping = True  # a blocked dispatcher puts its batch in the backlog and returns
                lane.cond.notify_all()
        th = self._thread
        if th is not None and th is not threading.current_thread():
            th.join(2.0)  # let a batch being prepared reach the lanes
        with self._cond:
            left = list(self._queue)
            self._queue.clear()
        self._run_steps(self.prepare_steps, left)
        for lane in self._lanes:
            self._spool(lane.name, lane.take_all() + left)

    def _spool(self, name: str, traces: list[Trace]) -> None:
        if traces:
            if self.spool is None:
                self.lost_at_close += len(traces)
                log.error(
                    "glassbox: %d traces not written to %s before shutdown and no spool folder is set",
                    len(traces),
                    name,
                )
                return
            try:
                self.spool.put(name, traces)
            except Exception as exc:  # noqa: BLE001
                self.lost_at_close += len(traces)
                log.error("glassbox: %d traces for %s lost at shutdown: spooling failed: %r", len(traces), name, exc)
                return
            self.spooled += len(traces)
            log.warning(
                "glassbox: %d traces not yet written to %s at shutdown were spooled (written at next start)",
                len(traces),
                name,
            )

    @property
    def queue_depth(self) -> int:
        """Traces handed over and not yet through every step."""
        return self._submitted - self._done

    def health(self) -> dict[str, Any]:
        lanes = {lane.name: lane for lane in self._lanes}
        out = {
            "queue_depth": self.queue_depth,
            "queue_max": self.max_queue,
            "queue_policy": self.policy,
            "submitted": self._submitted,
            "dropped": self.dropped,
            "prepare_errors": self.prepare_errors,
            "spooled": self.spooled,
            "reloaded_from_spool": self.reloaded,
            "lost_at_close": self.lost_at_close,
            "sinks": {
                name: {
                    "written": st.written,
                    "errors": st.errors,
                    "dropped": st.dropped,
                    "backlog": lanes[name].backlog_traces if name in lanes else 0,
                    "last_error": st.last_error,
                    "last_error_at": st.last_error_at,
                }
                for name, st in self.stats.items()
            },
            "thread_alive": bool(self._thread and self._thread.is_alive()),
        }
        if self.step_errors:
            out["step_errors"] = dict(self.step_errors)
        return out

    # -- writer threads ------------------------------------------------------------
    def _start_thread(self) -> None:
        self._thread = _quiet_thread(self._run, "glassbox-writer")

    def _run(self) -> None:
        """The dispatcher: take a batch, run the prepare steps, hand it to every sink lane."""
        while True:
            with self._cond:
                if not self._queue:
                    if self._closed or self._stopping:
                        return
                    self._cond.wait(self.interval)
                    if not self._queue:
                        if not self._stopping:
                            self._run_tick()
                        continue
                if self._stopping:
                    return
                if self.policy == "drop" and self._lanes and all(ln.full for ln in self._lanes):
                    self._cond.wait(0.05)  # every sink is behind: let the queue fill, so submit refuses (counted)
                    continue
                first = self._popped
                traces = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
                self._popped += len(traces)
                batch = _Batch(traces, first, len(self._lanes) or 1)
                self._inflight[first] = batch
                self._cond.notify_all()  # wake a blocked submitter
            self._run_steps(self.prepare_steps, traces)
            if not self._lanes:
                self._lane_done(batch)
            for lane in self._lanes:
                if not lane.put(batch):
                    self.stats[lane.name].dropped += len(traces)
                    self._log.warning(
                        f"backlog-{lane.name}",
                        "glassbox: %s sink is behind by %d traces; dropping a batch for it (other sinks unaffected)",
                        lane.name,
                        self.max_queue,
                    )
                    self._lane_done(batch)
            traces = batch = None  # type: ignore[assignment]  # hold no trace while waiting for the next batch

    def _run_sink(self, lane: _Lane, traces: list[Trace]) -> bool | None:
        """Write ``traces`` to the lane's sink: True written, False failed (counted), None stopped meanwhile."""
        try:
            lane.warm.run(lane.sink, lambda: lane.sink.write(traces))
        except Exception as exc:  # noqa: BLE001 - one sink failing must not stop the others
            if lane.stopping:
                return None
            self._record_error(lane.name, exc)
            if self._closing and not getattr(exc, "data_error", False):
                self._spool(lane.name, traces)  # shutting down: the next start retries it
            return False
        self.stats[lane.name].written += len(traces)
        return True

    def _lane_done(self, batch: _Batch) -> None:
        with self._cond:
            batch.left -= 1
            if batch.left:
                return
            if not self.after_steps:
                self._finish(batch)
                return
            self._after.append(batch)
            if self._after_thread is None:
                self._after_thread = _quiet_thread(self._run_after, "glassbox-after")
            self._cond.notify_all()

    def _finish(self, batch: _Batch) -> None:
        # under self._cond
        self._inflight.pop(batch.first, None)
        self._done += len(batch.traces)
        self._cond.notify_all()

    def _run_after(self) -> None:
        while True:
            with self._cond:
                while not self._after:
                    if self._stopping:
                        return
                    self._cond.wait(1.0)
                batch = self._after.popleft()
            self._run_steps(self.after_steps, batch.traces)
            with self._cond:
                self._finish(batch)
            batch = None  # type: ignore[assignment]

    def _run_steps(self, steps: Sequence[BatchStep], traces: list[Trace]) -> None:
        warm = self._warm_prepare if steps is self.prepare_steps else self._warm_after
        for step in steps:
            try:
                warm.run(step, functools.partial(step.run, traces))
            except Exception as exc:  # noqa: BLE001 - a step failing costs only itself
                self.step_errors[step.name] = self.step_errors.get(step.name, 0) + 1
                self._log.warning(f"step-{step.name}", "glassbox: %s step failed: %r", step.name, exc)

    def _prepare_failed(self, trace: Trace, exc: Exception) -> None:
        self.prepare_errors += 1
        self._log.warning("prepare", "glassbox: could not prepare trace %s: %r", trace.trace_id, exc)

    def _run_tick(self) -> None:
        if self.tick is not None:
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001
                self._log.warning("tick", "glassbox: writer tick failed: %r", exc)

    def _record_error(self, name: str, exc: BaseException) -> None:
        st = self.stats.setdefault(name, SinkStats())
        st.errors += 1
        st.last_error = f"{type(exc).__name__}: {exc}"
        st.last_error_at = time.time()
        self._log.warning(f"sink-{name}", "glassbox: %s sink failed: %s", name, st.last_error)

    def _after_fork_in_child(self) -> None:
        # The parent's queue, threads, locks and counts are not ours: start empty, let sinks reopen connections.
        self._init_state()
        self.stats = {s.name: SinkStats() for s in self.sinks}
        self.step_errors = {}
        self.dropped = self.prepare_errors = self.spooled = self.reloaded = self.lost_at_close = 0
        self._log = RateLimitedLog()
        for sink in self.sinks:
            reset = getattr(sink, "after_fork", None)
            if reset is not None:
                try:
                    reset()
                except Exception as exc:  # noqa: BLE001
                    self._record_error(sink.name, exc)


_live_writers: weakref.WeakSet[Writer] = weakref.WeakSet()


def _reinit_after_fork() -> None:
    global _gate
    _gate = _WarmupGate()
    for w in list(_live_writers):
        w._after_fork_in_child()


def _before_fork() -> None:
    _gate.before_fork()  # the gate of the moment: a child replaces it


def _after_fork_in_parent() -> None:
    _gate.after_fork_in_parent()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_reinit_after_fork)
