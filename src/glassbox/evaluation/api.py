"""The Python face of evaluation (``gb.evaluation.…``): the same calls as the CLI, with the store defaulted."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glassbox.evaluation.canary import CanaryDecision
    from glassbox.evaluation.datasets import Case, Dataset
    from glassbox.evaluation.gate import Verdict
    from glassbox.evaluation.golden import Golden, GoldenDiff
    from glassbox.evaluation.regress import RegressionRun
    from glassbox.store.store import Store


def open_store(store: str | Store | None = None) -> Store:
    """A Store from a URL, a Store, or None (the configured store)."""
    from glassbox.errors import StoreError
    from glassbox.store.store import Store

    if isinstance(store, Store):
        return store
    if store is None:
        from glassbox.config import load_settings

        store = load_settings().store
        if not store:
            raise StoreError("no store configured (store is off); pass store=URL")
    return Store(store)


@contextlib.contextmanager
def _store(store: str | Store | None) -> Iterator[Store]:
    from glassbox.store.store import Store

    st = open_store(store)
    try:
        yield st
    finally:
        if not isinstance(store, Store):
            st.close()


def _project(project: str | None) -> str:
    """The project given, else the configured one (glassbox.toml, GLASSBOX_PROJECT), else "default"."""
    if project:
        return project
    from glassbox.config import load_settings

    return load_settings().project


def push_dataset(
    cases: str | Path | Sequence[Case],
    name: str,
    *,
    store: str | Store | None = None,
    project: str | None = None,
    description: str | None = None,
) -> Dataset:
    """Store a JSONL/CSV file (or cases) as a version of dataset ``name``; the same content is not stored twice."""
    from glassbox.evaluation import datasets

    with _store(store) as st:
        return datasets.push(st, cases, name, project=_project(project), description=description)[0]


def dataset(
    name: str, version: str | None = None, *, store: str | Store | None = None, project: str | None = None
) -> Dataset:
    """A stored dataset (its newest version unless ``version``, a prefix, is given)."""
    from glassbox.evaluation import datasets

    with _store(store) as st:
        return datasets.get(st, name, version, project=_project(project))


def run_regression(
    data: str | Path | Dataset | Sequence[Case],
    target: str | Callable[..., Any],
    *,
    store: str | Store | None = None,
    project: str | None = None,
    **options: Any,
) -> RegressionRun:
    """Run ``target`` on every case (a dataset name, a .jsonl/.csv path, a Dataset or cases); see run_regression."""
    from glassbox.evaluation import datasets
    from glassbox.evaluation.regress import run_regression as run

    project = _project(project)
    with _store(store) as st:
        if isinstance(data, (str, Path)):
            p = Path(data)
            if p.suffix.lower() in (".jsonl", ".json", ".csv") and p.is_file():
                data = datasets.Dataset(p.stem, datasets.load_file(p), source=str(p))
            else:
                data = datasets.get(st, str(data), project=project)
        return run(st, data, target, project=project, **options)


def compare_runs(run_a: str, run_b: str, *, store: str | Store | None = None) -> dict[str, Any]:
    from glassbox.evaluation import regress as _regress

    with _store(store) as st:
        return _regress.compare_runs(_regress.load_run(st, run_a), _regress.load_run(st, run_b))


def capture_golden(trace_id: str, name: str, *, store: str | Store | None = None, **options: Any) -> Golden:
    """Keep a stored trace as golden ``name`` (options: project, metadata, tolerances)."""
    from glassbox.evaluation import golden

    with _store(store) as st:
        return golden.capture(st, trace_id, name, **options)


def compare_golden(
    name: str, trace: Any, *, store: str | Store | None = None, project: str | None = None
) -> GoldenDiff:
    """The diff of a trace (a Trace or a stored trace id) against golden ``name``."""
    from glassbox.evaluation import golden

    with _store(store) as st:
        run = st.get_trace(trace) if isinstance(trace, str) else trace
        g = golden.get(st, name, project=project or run.project or _project(None))
        return golden.compare(g, run, g.reference(st))


def check_goldens(since: Any = "1h", *, store: str | Store | None = None, **options: Any) -> list[GoldenDiff]:
    from glassbox.evaluation import golden

    with _store(store) as st:
        return golden.check(st, since=since, **options)


def _specs(thresholds: dict[str, Any]) -> list[Any]:
    from glassbox.evaluation.gate import DEFAULT_SPECS, GateError, MetricSpec, parse_tolerance

    names = {
        "max_error_rate": "error_rate",
        "max_latency": "latency",
        "max_p50": "latency_p50",
        "max_p95": "latency_p95",
        "max_p99": "latency_p99",
        "max_cost": "cost",
        "min_quality": "quality",
    }
    unknown = set(thresholds) - set(names)
    if unknown:
        raise GateError(f"unknown threshold {sorted(unknown)[0]!r}; known: {', '.join(names)}")
    given = [MetricSpec(names[k], parse_tolerance(v, k)) for k, v in thresholds.items() if v is not None]
    return given or list(DEFAULT_SPECS)


_JUDGE = ("confidence", "min_samples", "pass_score", "marginal_score")


def run_gate(
    baseline: Any,
    candidate: Any,
    *,
    store: str | Store | None = None,
    project: str | None = None,
    record: bool = True,
    **options: Any,
) -> Verdict:
    """Judge two trace populations: ``run_gate("release=2026.11", "release=2026.12", max_p95="+20%")``.

    Thresholds: max_error_rate, max_latency, max_p50, max_p95, max_p99, max_cost, min_quality (none: the
    default gate). Also confidence (0.98), min_samples (30), pass_score (95), marginal_score (75).
    """
    from glassbox.evaluation.gate import run_gate as run

    judge = {k: options.pop(k) for k in list(options) if k in _JUDGE}
    with _store(store) as st:
        return run(st, baseline, candidate, _specs(options), project=project, record=record, **judge)


def check_canary(baseline: Any, candidate: Any, *, store: str | Store | None = None, **options: Any) -> CanaryDecision:
    """Promote / hold / rollback ``candidate`` against ``baseline`` (options as canary.check)."""
    from glassbox.evaluation import canary as _canary

    with _store(store) as st:
        return _canary.check(st, baseline, candidate, **options)
