"""Exposure log: which unit saw which variant, written to the store's ``exposures`` table off the hot path.

``record`` appends to a bounded in-memory queue (first exposure per unit, variant and experiment only:
later ones add nothing to an analysis by unit); a daemon thread writes batches every second, and
``flush`` writes now. A failing store is counted and logged once, never raised into the app.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from typing import Any

log = logging.getLogger("glassbox.flags")

_MAX_QUEUE = 100_000
_MAX_SEEN = 1_000_000


class ExposureLog:
    """Buffered exposures for one store URL."""

    def __init__(self, store_url: str | None, project: str = "default", interval: float = 1.0) -> None:
        self.store_url = store_url
        self.project = project
        self.interval = interval
        self._queue: deque[tuple[Any, ...]] = deque()
        self._seen: set[tuple[str, str, str, str]] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._store: Any = None
        self.written = 0
        self.dropped = 0
        self.errors = 0
        self._logged_error = False

    def record(self, kind: str, name: str, variant: str, unit_id: str, trace_id: str | None, source: str) -> bool:
        """Queue one exposure; False when it was a repeat (or the queue is full)."""
        key = (kind, name, variant, unit_id)
        if key in self._seen:
            return False
        if len(self._seen) >= _MAX_SEEN:
            self._seen.clear()
        self._seen.add(key)
        if self.store_url is None:
            return True
        if len(self._queue) >= _MAX_QUEUE:
            self.dropped += 1
            return False
        self._queue.append((kind, name, variant, unit_id, trace_id, source, time.time_ns()))
        if self._thread is None:
            self.start()
        return True

    def start(self) -> None:
        """Start the writer thread (once; a no-op without a store). The flag client calls this when it loads its
        definitions, so that the first exposure does not pay for starting a thread; ``record`` starts it otherwise."""
        if self._thread is not None or self.store_url is None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="glassbox-exposures", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        """Write every queued exposure now."""
        with self._lock:
            batch: list[tuple[Any, ...]] = []
            while self._queue:
                batch.append(self._queue.popleft())
            if not batch:
                return
            try:
                self._write(batch)
                self.written += len(batch)
            except Exception as exc:  # noqa: BLE001 - exposures never break the app
                self.errors += 1
                self.dropped += len(batch)
                if not self._logged_error:
                    self._logged_error = True
                    log.warning("glassbox: could not write %d exposures: %s", len(batch), exc)

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        from datetime import UTC, datetime

        from sqlalchemy import insert

        from glassbox.store.store import Store
        from glassbox.store.tables.experiments import exposures

        if self._store is None:
            self._store = Store(self.store_url)  # type: ignore[arg-type]
        store = self._store.ready()
        rows = [
            {
                "project": self.project,
                "kind": k,
                "experiment": n,
                "variant": v,
                "unit_id": u,
                "trace_id": t,
                "source": s,
                "at": datetime.fromtimestamp(ns / 1e9, UTC).replace(tzinfo=None),
                "at_ns": ns,
            }
            for k, n, v, u, t, s, ns in batch
        ]
        with store.engine.begin() as conn:
            conn.execute(insert(exposures), rows)

    def close(self) -> None:
        self._stop.set()
        self.flush()
        if self._store is not None:
            self._store.close()
