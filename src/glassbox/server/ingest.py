"""The server's ingest path: a bounded queue in front of the batching writer.

Nothing a sender was told is accepted gets lost: a full queue answers 429 + Retry-After
(senders slow down and retry), and a store that is down holds the batch in the writer,
retried with backoff, while new requests get 503 + Retry-After. At shutdown, whatever is not
written within the grace period (store down or just a long queue) goes to the spool folder
(audit-trail format) and is written back at the next start. A trace belongs to the project that
stored it first: another project's segment of the same trace id is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from glassbox.errors import StoreError
from glassbox.model import Trace
from glassbox.monitoring.metrics import Counted, Metrics
from glassbox.server.otlp import Segment
from glassbox.store.database import _short as short_error
from glassbox.store.database import safe_url
from glassbox.store.schema import traces as traces_table
from glassbox.store.store import DatabaseSink, Store
from glassbox.writer import RateLimitedLog, Step, Writer

if TYPE_CHECKING:
    from glassbox.analysis.calibration import CalibrationSettings

log = logging.getLogger("glassbox.server")


class StoreSink:
    """The writer's only sink: project ownership, then the store, retried while it is unreachable."""

    name = "database"

    def __init__(self, store: Store, metrics: Metrics, max_backoff: float = 5.0) -> None:
        self.store = store
        self.metrics = metrics
        self.inner = DatabaseSink(store)
        self.max_backoff = max_backoff
        self.give_up_at: float | None = None  # set at shutdown: stop retrying after this moment
        self.retrying_since: float | None = None
        self._log = RateLimitedLog(30.0)

    def write(self, batch: Sequence[Trace]) -> None:
        delay = 0.1
        while True:
            try:
                kept = self._owned(batch)
                if kept:
                    self._one_count(kept)
                    self.inner.write(kept)
            except StoreError as exc:
                self.metrics.store_errors.inc()
                if getattr(exc, "data_error", False):  # rows the store refused (isolated per trace): no retry helps
                    raise
                if self.give_up_at is not None and time.monotonic() >= self.give_up_at:
                    raise  # shutting down: the writer spools what is left
                if self.retrying_since is None:
                    self.retrying_since = time.monotonic()
                self._log.warning(
                    "store-down", "glassbox serve: store unreachable (%s); holding %d traces, retrying", exc, len(batch)
                )
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            self.retrying_since = None
            self.metrics.traces_written.inc(len(kept))
            self.metrics.spans_written.inc(sum(len(t.spans) for t in kept))
            return

    def _owned(self, batch: Sequence[Trace]) -> list[Trace]:
        """The batch without segments of traces another project owns (a keyed sender's are refused;
        an open sender's are adopted by the owner, e.g. a service without ``glassbox.project``)."""
        ids = list({t.trace_id for t in batch})
        owner: dict[str, str] = {}
        try:
            with self.store.ready().engine.connect() as conn:
                for i in range(0, len(ids), 500):
                    q = select(traces_table.c.trace_id, traces_table.c.project).where(
                        traces_table.c.trace_id.in_(ids[i : i + 500])
                    )
                    owner.update((tid, project) for tid, project in conn.execute(q).all())
        except SQLAlchemyError as exc:  # the server is unreachable (this read comes before any write): retry
            err = StoreError(f"read from {safe_url(self.store.url)} failed: {short_error(exc)}")
            err.data_error = False  # type: ignore[attr-defined]
            raise err from None
        kept, refused = [], 0
        for t in batch:
            project = owner.setdefault(t.trace_id, t.project or "default")
            if project == (t.project or "default"):
                kept.append(t)
            elif getattr(t, "keyed", False):
                refused += len(t.spans)
            else:
                t.project = project
                kept.append(t)
        if refused:
            self.metrics.spans_rejected.labels("other_project").inc(refused)
            self._log.warning(
                "other-project", "glassbox serve: refused %d spans of traces another project owns", refused
            )
        return kept

    def _one_count(self, batch: Sequence[Trace]) -> None:
        """Spans of one LLM call sent in different requests count once too (cost/dedupe.py): a segment's
        priced spans are judged against its trace's stored ones; stored spans that lose are rewritten."""
        from glassbox.cost.dedupe import fold_segment
        from glassbox.errors import NotFound

        priced = [t for t in batch if any(s.attributes and "glassbox.cost.source" in s.attributes for s in t.spans)]
        if not priced:
            return
        try:
            with self.store.ready().engine.connect() as conn:
                known = {
                    r[0]
                    for r in conn.execute(
                        select(traces_table.c.trace_id).where(traces_table.c.trace_id.in_([t.trace_id for t in priced]))
                    )
                }
        except SQLAlchemyError as exc:  # as in _owned: a read before any write, retried
            err = StoreError(f"read from {safe_url(self.store.url)} failed: {short_error(exc)}")
            err.data_error = False  # type: ignore[attr-defined]
            raise err from None
        for t in priced:
            if t.trace_id not in known:
                continue
            try:
                stored = self.store.get_trace(t.trace_id)
            except NotFound:
                continue
            # What /metrics counted for the stored spans, before the rule rewrites some of them: those
            # sent again or rewritten are not counted twice (Metrics.observe adds only what changed).
            counted = {s.span_id: Counted.of(s) for s in stored.spans}
            t.spans.extend(fold_segment(t.spans, stored.spans))
            if isinstance(t, Segment):
                t.counted = {s.span_id: counted[s.span_id] for s in t.spans if s.span_id in counted}

    def close(self) -> None:
        self.inner.close()


class Ingest:
    """Bounded queue (traces and spans) + batching writer + what runs after each stored batch."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        queue_size: int = 2000,
        max_queue_spans: int = 50_000,
        batch_size: int = 500,
        calibration: bool | CalibrationSettings = True,
        writer_delay: float = 0.0,
        spool_dir: str | None = None,
        durable: bool = False,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.max_queue_spans = max_queue_spans
        self.writer_delay = writer_delay  # tests slow the writer down to overload it
        self.engine = None
        if calibration:
            from glassbox.analysis.calibration import CalibrationEngine, CalibrationSettings

            if not isinstance(calibration, CalibrationSettings):
                # The same [calibration] table / GLASSBOX_CALIBRATION_* options the SDK reads in this folder.
                from glassbox.config import load_settings

                calibration = CalibrationSettings.from_settings(load_settings())
            self.engine = CalibrationEngine(store, calibration)
        self.sink = StoreSink(store, metrics)
        spool = None
        if spool_dir:
            from glassbox.store.spool import SpoolDir

            spool = SpoolDir(spool_dir, batch_size)  # what shutdown could not write; written back at the next start
        self.spool = spool
        # durable: each accepted request is fsynced to the spool folder before it is acknowledged (kill -9 safe).
        self.durable = bool(durable and spool is not None)
        # The ingest's step list: the store on its lane, then queue accounting, metrics and calibration.
        self.writer = Writer(
            [self.sink],
            max_queue=queue_size,
            policy="drop",
            batch_size=batch_size,
            interval=0.05,
            after=[Step("ingest-after", self._after_batch)],
            spool=spool,
        )
        self.accepted = 0
        self.queued_spans = 0
        self.last_write_at: float | None = None
        self.hook_errors = 0
        self._lock = threading.Lock()
        self._arrivals: deque[list[Any]] = deque()  # [traces left, monotonic arrival] per accepted request

    def has_room(self, spans: int) -> bool:
        """Whether ``spans`` more would fit now: checked before decoding, so a full queue costs senders little."""
        return self.writer.queue_depth < self.writer.max_queue and (
            self.queued_spans + spans <= self.max_queue_spans or not self.queued_spans
        )

    def offer(self, traces: list[Trace]) -> bool:
        """Queue all of ``traces`` or none (False: the queue is full, the sender should retry later)."""
        spans = sum(len(t.spans) for t in traces)
        ahead = self.spool.put_ahead(self.sink.name, traces) if self.durable else None  # type: ignore[union-attr]
        with self._lock:
            full = self.queued_spans + spans > self.max_queue_spans and self.queued_spans
            if full or not self.writer.offer(traces):
                if ahead is not None:
                    self.spool.forget(ahead)  # type: ignore[union-attr]
                return False
            self.queued_spans += spans
            self._arrivals.append([len(traces), time.monotonic(), ahead])
            self.accepted += len(traces)
        self.metrics.queue_depth.set(self.writer.queue_depth)
        return True

    @property
    def store_down(self) -> bool:
        return self.sink.retrying_since is not None

    def _after_batch(self, batch: list[Trace]) -> None:
        now = time.monotonic()
        with self._lock:
            self.queued_spans -= sum(len(t.spans) for t in batch)
            oldest = self._arrivals[0][1] if self._arrivals else now
            left = len(batch)
            while left and self._arrivals:
                head = self._arrivals[0]
                take = min(left, head[0])
                head[0] -= take
                left -= take
                if not head[0]:
                    self._arrivals.popleft()
                    if head[2] is not None:
                        self.spool.forget(head[2])  # type: ignore[union-attr]  # written: its copy is not needed
        self.last_write_at = now
        self.metrics.writer_lag.set(now - oldest)
        self.metrics.queue_depth.set(self.writer.queue_depth)
        if self.writer_delay:
            time.sleep(self.writer_delay)
        try:
            self.metrics.observe(batch)
            if self.engine is not None:
                self.engine.after_batch(batch)
        except Exception as exc:  # noqa: BLE001 - metrics or rules must never stop ingest
            self.hook_errors += 1
            log.warning("glassbox serve: after-batch step failed: %r", exc)

    def lag(self) -> float:
        """Seconds the oldest queued trace has been waiting (0 when the queue is empty)."""
        with self._lock:
            return time.monotonic() - self._arrivals[0][1] if self._arrivals else 0.0

    def retry_after(self) -> int:
        """Seconds a sender should wait: about how long the queue takes to drain (longer while the store is down)."""
        if self.store_down:
            return 5
        return max(1, min(30, self.writer.queue_depth // max(1, self.writer.batch_size)))

    def health(self) -> dict[str, Any]:
        return {
            **self.writer.health(),
            "accepted": self.accepted,
            "queued_spans": self.queued_spans,
            "max_queue_spans": self.max_queue_spans,
            "hook_errors": self.hook_errors,
            "store_down_for": None
            if self.sink.retrying_since is None
            else round(time.monotonic() - self.sink.retrying_since, 1),
        }

    def close(self, grace: float = 10.0) -> None:
        """Write what is queued for up to ``grace`` seconds; the rest goes to the spool (written at the next start)."""
        self.sink.give_up_at = time.monotonic() + grace
        self.writer.close(grace + 1.0)
