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


# -- golden traces in users' tests -------------------------------------------------------------------
def golden_from_trace(trace: Trace, name: str = "golden", **tolerances: Any) -> Any:
    """A golden (``glassbox.evaluation.golden.Golden``) holding ``trace`` as its reference, no store needed."""
    from glassbox.evaluation.golden import Golden

    return Golden(
        name,
        trace.project or "default",
        trace.trace_id,
        trace.workflow,
        trace.name,
        None,
        dict(tolerances),
        {},
        trace.to_dict(),
    )


def assert_matches_golden(trace: Trace, golden: Any, *, store: Any = None, **tolerances: Any) -> None:
    """Fail (AssertionError with the diff) unless ``trace`` matches ``golden``.

    ``golden`` is a Golden, a reference Trace, or the name of a golden in ``store`` (a URL or Store).
    Keyword tolerances (latency="+50%", quality=-0.1, similarity=0.7, confidence=0.2) override the golden's.
    """
    from glassbox.evaluation import golden as goldens

    if isinstance(golden, Trace):
        golden = golden_from_trace(golden, **tolerances)
    elif isinstance(golden, str):
        from glassbox.evaluation.api import open_store

        st = open_store(store)
        golden = goldens.get(st, golden, project=trace.project or "default")
        golden.snapshot = golden.snapshot or golden.reference(st).to_dict()
    if tolerances:
        golden.tolerances = {**golden.tolerances, **tolerances}
    diff = goldens.compare(golden, trace)
    if not diff.ok:
        raise AssertionError(str(diff))


def _golden_file(directory: Any, name: str) -> Any:
    import re
    from pathlib import Path

    return Path(directory) / "goldens" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".json")


class GoldenFiles:
    """The ``glassbox_golden`` fixture: goldens kept as JSON files beside the test (``goldens/<name>.json``).

    ``glassbox_golden.check(trace, "refund")`` compares with the file, or writes it when it does not exist
    yet (or when pytest runs with ``--glassbox-update-goldens``), like a snapshot test.
    """

    def __init__(self, directory: Any, update: bool) -> None:
        self.directory, self.update = directory, update

    def check(self, trace: Trace, name: str, **tolerances: Any) -> None:
        import json

        path = _golden_file(self.directory, name)
        if self.update or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(trace.to_dict(), indent=2, sort_keys=True, default=str), encoding="utf-8")
            return
        reference = Trace.from_dict(json.loads(path.read_text(encoding="utf-8")))
        assert_matches_golden(trace, golden_from_trace(reference, name, **tolerances))


import sys as _sys  # noqa: E402 - the fixtures below exist only when pytest loads this module as a plugin

if "pytest" in _sys.modules:
    import pytest

    def pytest_addoption(parser: Any) -> None:
        parser.addoption(
            "--glassbox-update-goldens",
            action="store_true",
            default=False,
            help="glassbox: rewrite the golden files the glassbox_golden fixture compares with",
        )

    @pytest.fixture
    def glassbox_traces() -> Iterator[CapturedTraces]:
        """Traces recorded during the test, in memory (``capture()``)."""
        with capture() as traces:
            yield traces

    @pytest.fixture
    def glassbox_golden(request: Any) -> GoldenFiles:
        """Compare traces with golden files beside the test module (see GoldenFiles)."""
        from pathlib import Path

        update = bool(request.config.getoption("--glassbox-update-goldens", default=False))
        return GoldenFiles(Path(str(request.fspath)).parent, update)
