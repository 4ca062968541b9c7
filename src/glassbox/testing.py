"""Helpers for users' own tests: capture finished traces in memory.

    from glassbox.testing import capture

    with capture() as traces:
        my_pipeline("question")
    assert traces[0].status == "complete"
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from glassbox import runtime
from glassbox.model import Trace


class MemorySink:
    """A writer sink that keeps every trace it is given, in order."""

    name = "memory"

    def __init__(self) -> None:
        self.traces: list[Trace] = []
        self._lock = threading.Lock()

    def write(self, traces: Sequence[Trace]) -> None:
        with self._lock:
            self.traces.extend(traces)

    def close(self) -> None:
        return None


class CapturedTraces(list):  # type: ignore[type-arg]
    """The traces captured so far (a list, refreshed by ``flush``), plus lookups."""

    def __init__(self, sink: MemorySink, rt: runtime.Runtime) -> None:
        super().__init__()
        self._sink = sink
        self._rt = rt

    def flush(self) -> CapturedTraces:
        self._rt.flush(10.0)
        self[:] = list(self._sink.traces)
        return self

    def by_id(self, trace_id: str) -> Trace:
        self.flush()
        for t in self:
            if t.trace_id == trace_id:
                return t
        raise KeyError(trace_id)


@contextlib.contextmanager
def capture(**options: Any) -> Iterator[CapturedTraces]:
    """Record into memory only (no store, no trail) for the duration of the block.

    Options are settings as for ``gb.configure``; the previous configuration is
    restored afterwards.
    """
    from glassbox.bootstrap import build_runtime
    from glassbox.config import load_settings

    options.setdefault("store", None)
    options.setdefault("trail_dir", None)
    options.setdefault("otlp_endpoint", None)
    sink = MemorySink()
    rt = build_runtime(load_settings(**options), extra_sinks=[sink])
    previous = runtime.install(rt)
    captured = CapturedTraces(sink, rt)
    try:
        yield captured
    finally:
        captured.flush()
        runtime.install(previous)
        rt.shutdown()
