"""The server's ingest path: a bounded queue in front of the batching writer, so overload slows senders down
(429 + Retry-After) instead of losing spans."""

from __future__ import annotations

import time
from typing import Any

from glassbox.model import Trace
from glassbox.monitoring.metrics import Metrics
from glassbox.store.store import DatabaseSink, Store
from glassbox.writer import Writer


class Ingest:
    def __init__(self, store: Store, metrics: Metrics, *, queue_size: int = 2000, batch_size: int = 500,
                 calibration: bool = True, writer_delay: float = 0.0) -> None:  # fmt: skip
        self.store = store
        self.metrics = metrics
        self.writer_delay = writer_delay  # tests slow the writer down to overload it
        self.engine = None
        if calibration:
            from glassbox.analysis.calibration import CalibrationEngine

            self.engine = CalibrationEngine(store)
        self.writer = Writer([DatabaseSink(store)], max_queue=queue_size, policy="drop", batch_size=batch_size,
                             interval=0.05, after_batch=self._after_batch)  # fmt: skip
        self.accepted = 0
        self._waiting_since = time.monotonic()
        self.last_write_at: float | None = None
        self.errors = 0

    def offer(self, traces: list[Trace]) -> bool:
        if self.writer.queue_depth == 0:
            self._waiting_since = time.monotonic()  # the oldest unwritten trace arrived about now
        ok = self.writer.offer(traces)
        if ok:
            self.accepted += len(traces)
        self.metrics.queue_depth.set(self.writer.queue_depth)
        return ok

    def _after_batch(self, batch: list[Trace]) -> None:
        now = time.monotonic()
        self.last_write_at = now
        self.metrics.writer_lag.set(max(0.0, now - self._waiting_since))
        self._waiting_since = now
        self.metrics.queue_depth.set(self.writer.queue_depth)
        if self.writer_delay:
            time.sleep(self.writer_delay)
        try:
            self.metrics.observe(batch)
            if self.engine is not None:
                self.engine.after_batch(batch)
        except Exception:  # noqa: BLE001 - metrics or rules must never stop ingest
            self.errors += 1

    def retry_after(self) -> int:
        """Seconds a sender should wait: roughly how long the queue takes to drain."""
        return max(1, min(30, self.writer.queue_depth // max(1, self.writer.batch_size)))

    def health(self) -> dict[str, Any]:
        return {**self.writer.health(), "accepted": self.accepted, "hook_errors": self.errors}

    def close(self) -> None:
        self.writer.close(10.0)
