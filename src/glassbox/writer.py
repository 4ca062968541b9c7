"""The background writer: a bounded queue, one thread, batches to every sink.

Finished traces are handed over with ``submit`` (a deque append under a lock);
the writer thread prepares them (JSON-safe values, truncation) and writes each
batch to every sink in turn. A sink failing is caught, counted and logged at
most once a minute; it never stops the others and never reaches user code.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from glassbox.model import Trace

log = logging.getLogger("glassbox")


class Sink(Protocol):
    """Where finished traces go. One method does the work; ``close`` releases resources."""

    name: str

    def write(self, traces: Sequence[Trace]) -> None: ...

    def close(self) -> None: ...


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
    __slots__ = ("errors", "last_error", "last_error_at", "written")

    def __init__(self) -> None:
        self.written = 0
        self.errors = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None


class Writer:
    """Moves finished traces from the app's threads to the sinks, off the hot path."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        max_queue: int = 10_000,
        policy: str = "drop",
        batch_size: int = 500,
        interval: float = 0.5,
        prepare: Callable[[Trace], None] | None = None,
        tick: Callable[[], None] | None = None,
        after_batch: Callable[[list[Trace]], None] | None = None,
    ) -> None:
        if policy not in ("drop", "block"):
            raise ValueError(f"queue policy must be 'drop' or 'block', not {policy!r}")
        self.sinks = list(sinks)
        self.max_queue = max_queue
        self.policy = policy
        self.batch_size = batch_size
        self.interval = interval
        self.prepare = prepare
        self.tick = tick  # called on the writer thread about every `interval` (stray-span timeouts)
        self.after_batch = after_batch
        self.stats = {s.name: SinkStats() for s in self.sinks}
        self.dropped = 0
        self.prepare_errors = 0
        self._log = RateLimitedLog()
        self._closed = False
        self._init_state()
        _live_writers.add(self)

    def _init_state(self) -> None:
        self._queue: deque[Trace] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._submitted = 0
        self._done = 0
        self._busy = False
        self._thread: threading.Thread | None = None

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
        """Queue all of ``traces`` or none of them (False when they do not fit): backpressure for servers."""
        if self._closed:
            return False
        with self._cond:
            if len(self._queue) + len(traces) > self.max_queue:
                return False
            self._queue.extend(traces)
            self._submitted += len(traces)
            if self._thread is None:
                self._start_thread()
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Return once everything queued so far is written (True) or the timeout passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._submitted
            if self._thread is None and self._queue:
                self._start_thread()
            self._cond.notify_all()
            while self._done < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.05 if remaining is None else min(remaining, 0.05))
                self._cond.notify_all()
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Flush, stop the thread and close every sink."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001
                self._record_error(sink.name, exc)

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    def health(self) -> dict[str, Any]:
        return {
            "queue_depth": len(self._queue),
            "queue_max": self.max_queue,
            "queue_policy": self.policy,
            "submitted": self._submitted,
            "dropped": self.dropped,
            "prepare_errors": self.prepare_errors,
            "sinks": {
                name: {
                    "written": st.written,
                    "errors": st.errors,
                    "last_error": st.last_error,
                    "last_error_at": st.last_error_at,
                }
                for name, st in self.stats.items()
            },
            "thread_alive": bool(self._thread and self._thread.is_alive()),
        }

    # -- writer thread -------------------------------------------------------------
    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="glassbox-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    if self._closed:
                        return
                    self._cond.wait(self.interval)
                    if not self._queue:
                        self._run_tick()
                        continue
                batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
                self._cond.notify_all()  # wake a blocked submitter
            self._write(batch)
            n, batch = len(batch), None  # written: hold no trace while waiting for the next batch
            with self._cond:
                self._done += n
                self._cond.notify_all()

    def _run_tick(self) -> None:
        if self.tick is not None:
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001
                self._log.warning("tick", "glassbox: writer tick failed: %r", exc)

    def _write(self, batch: list[Trace]) -> None:
        if self.prepare is not None:
            for trace in batch:
                try:
                    self.prepare(trace)
                except Exception as exc:  # noqa: BLE001 - a bad value must not lose the batch
                    self.prepare_errors += 1
                    self._log.warning("prepare", "glassbox: could not prepare trace %s: %r", trace.trace_id, exc)
        for sink in self.sinks:
            try:
                sink.write(batch)
            except Exception as exc:  # noqa: BLE001 - one sink failing must not stop the others
                self._record_error(sink.name, exc)
            else:
                self.stats[sink.name].written += len(batch)
        if self.after_batch is not None:
            try:
                self.after_batch(batch)
            except Exception as exc:  # noqa: BLE001
                self._log.warning("after-batch", "glassbox: after-batch step failed: %r", exc)

    def _record_error(self, name: str, exc: BaseException) -> None:
        st = self.stats.setdefault(name, SinkStats())
        st.errors += 1
        st.last_error = f"{type(exc).__name__}: {exc}"
        st.last_error_at = time.time()
        self._log.warning(f"sink-{name}", "glassbox: %s sink failed: %s", name, st.last_error)

    def _after_fork_in_child(self) -> None:
        # The parent's queue and thread are not ours: start empty, let sinks reopen connections.
        self._init_state()
        for sink in self.sinks:
            reset = getattr(sink, "after_fork", None)
            if reset is not None:
                try:
                    reset()
                except Exception as exc:  # noqa: BLE001
                    self._record_error(sink.name, exc)


_live_writers: weakref.WeakSet[Writer] = weakref.WeakSet()


def _reinit_after_fork() -> None:
    for w in list(_live_writers):
        w._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)
