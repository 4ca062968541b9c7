"""Regression runs: a target on every case of a dataset, each case a trace, each checked and stored.

``run_regression(store, dataset, "myapp.pipeline:answer", concurrency=4)`` calls the target (sync or
async) with each case's input under ``gb.trace`` (tags ``regress:<run id>`` and ``case:<case id>``),
then checks per case: the expected workflow, the expected output fields, ``quality_thresholds``
(``min_<score>`` / ``max_<score>`` on any score or signal, plus ``latency_ms`` and ``cost_usd``)
and the evaluators given. Results go to ``regression_runs`` / ``regression_results``.

A case whose target raises is an *error* (the run fails); a target that cannot be imported is a
``TargetError`` before anything runs.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from glassbox.errors import GlassboxError, NotFound

if TYPE_CHECKING:
    from glassbox.evaluation.datasets import Case, Dataset
    from glassbox.model import Trace
    from glassbox.store.store import Store

METRICS = {
    "latency_ms": "the case's duration (ms)",
    "duration_ms": "the case's duration (ms)",
    "cost_usd": "the case's LLM cost (USD)",
    "tokens": "tokens in + out",
}


class TargetError(GlassboxError):
    """The target cannot be imported or called."""


class RunNotFound(NotFound):
    """No regression run with that id."""


@dataclass
class Assertion:
    name: str
    passed: bool
    expected: Any = None
    actual: Any = None
    message: str = ""


@dataclass
class CaseResult:
    case_id: str
    position: int
    passed: bool
    trace_id: str | None = None
    error: str | None = None
    duration_ms: float | None = None
    cost_usd: float | None = None
    workflow: str | None = None
    output: Any = None
    assertions: list[Assertion] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def failures(self) -> list[Assertion]:
        return [a for a in self.assertions if not a.passed]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = "error" if self.error else ("passed" if self.passed else "failed")
        return d


@dataclass
class RegressionRun:
    run_id: str
    target: str
    results: list[CaseResult]
    project: str = "default"
    dataset_name: str | None = None
    dataset_version: str | None = None
    dataset_id: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_ms: float | None = None

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def errors(self) -> int:
        return sum(1 for r in self.results if r.error)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.passed and not r.error)

    @property
    def status(self) -> str:
        return "passed" if self.passed == len(self.results) else "failed"

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def summary(self) -> dict[str, Any]:
        durations = sorted(r.duration_ms for r in self.results if r.duration_ms is not None)
        costs = [r.cost_usd for r in self.results if r.cost_usd is not None]
        from glassbox.analysis.query import percentile

        return {
            "cases": len(self.results),
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "pass_rate": self.passed / len(self.results) if self.results else None,
            "p50_ms": percentile(durations, 50),
            "p95_ms": percentile(durations, 95),
            "total_cost_usd": sum(costs) if costs else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "project": self.project,
            "status": self.status,
            "target": self.target,
            "dataset": {"name": self.dataset_name, "version": self.dataset_version, "id": self.dataset_id},
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "duration_ms": self.duration_ms,
            "summary": self.summary(),
            "results": [r.to_dict() for r in self.results],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# -- the target ----------------------------------------------------------------------------------
def resolve_target(spec: str | Callable[..., Any]) -> tuple[str, Callable[..., Any]]:
    """(its name, the callable) for ``"package.module:callable"`` (dots after the colon reach attributes)."""
    if callable(spec):
        return f"{getattr(spec, '__module__', '?')}:{getattr(spec, '__qualname__', repr(spec))}", spec
    text = str(spec).strip()
    module_name, sep, attr = text.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"target {text!r}: expected module:callable, e.g. myapp.pipeline:answer")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # like uvicorn and pytest: the project's own modules import
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's to see, in one line
        raise TargetError(f"target {text!r}: cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise TargetError(f"target {text!r}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TargetError(f"target {text!r} is a {type(obj).__name__}, not a callable")
    return text, obj


# -- checks ------------------------------------------------------------------------------------
def trace_workflow(trace: Trace, output: Any = None) -> str | None:
    """The run's workflow: the trace's, a stage's ``workflow`` attribute (a nested gb.trace), or the output's."""
    if trace.workflow:
        return trace.workflow
    for span in trace.spans:
        if span.attributes and span.attributes.get("workflow"):
            return str(span.attributes["workflow"])
    if isinstance(output, dict) and isinstance(output.get("workflow"), str):
        return output["workflow"]
    return None


def _has_field(output: Any, path: str) -> bool:
    node = output
    for part in path.split("."):
        if isinstance(node, dict):
            if part not in node:
                return False
            node = node[part]
        elif hasattr(node, part):
            node = getattr(node, part)
        else:
            return False
    return node is not None


def metric_value(trace: Trace, name: str) -> float | None:
    """A case's figure by name: latency_ms, cost_usd, tokens, else the latest score of that name."""
    if name in ("latency_ms", "duration_ms"):
        return trace.duration_ms
    if name == "cost_usd":
        return trace.cost_usd if trace.cost_usd is not None else 0.0
    if name == "tokens":
        return float((trace.tokens_in or 0) + (trace.tokens_out or 0))
    named = [s for s in trace.scores if s.name == name]
    if not named:
        return None
    return float(max(named, key=lambda s: (s.at_ns, s.id)).value)


def check_case(case: Case, trace: Trace, output: Any, *, ceilings: dict[str, float] | None = None) -> list[Assertion]:
    """The case's assertions on its finished trace."""
    out: list[Assertion] = []
    if case.expected_workflow:
        actual = trace_workflow(trace, output)
        out.append(
            Assertion(
                "workflow",
                actual == case.expected_workflow,
                case.expected_workflow,
                actual,
                "" if actual == case.expected_workflow else f"workflow {actual!r}, expected {case.expected_workflow!r}",
            )
        )
    for name in case.expected_fields:
        present = _has_field(output, name)
        out.append(
            Assertion(
                f"field:{name}",
                present,
                "present",
                "present" if present else "missing",
                "" if present else f"output has no field {name!r}",
            )
        )
    limits = {**{f"max_{k}": v for k, v in (ceilings or {}).items()}, **case.quality_thresholds}
    for key, bound in limits.items():
        kind, metric = key[:3], key[4:]
        value = metric_value(trace, metric)
        if value is None:
            out.append(Assertion(key, False, bound, None, f"no {metric!r} to compare with {bound:g}"))
            continue
        ok = value >= bound if kind == "min" else value <= bound
        sign = ">=" if kind == "min" else "<="
        out.append(Assertion(key, ok, bound, value, "" if ok else f"{metric} {value:g}, expected {sign} {bound:g}"))
    return out


# -- running -----------------------------------------------------------------------------------
class _Sink:
    """Keeps the run's finished traces by id (beside the store and trail sinks)."""

    name = "regress"

    def __init__(self) -> None:
        self.traces: dict[str, Trace] = {}
        self.lock = threading.Lock()

    def write(self, traces: Sequence[Trace]) -> None:
        with self.lock:
            for t in traces:
                if t.root_span_id is not None:
                    self.traces[t.trace_id] = t

    def close(self) -> None:
        return None


@dataclass
class _Outcome:
    case: Case
    position: int
    trace_id: str | None
    output: Any
    error: str | None
    wall_ms: float


def _call_case(
    fn: Callable[..., Any],
    case: Case,
    position: int,
    tags: list[str],
    meta: dict[str, Any],
    loop: asyncio.AbstractEventLoop | None,
) -> _Outcome:
    import glassbox as gb

    t0 = time.perf_counter()
    output, error, trace_id = None, None, None
    try:
        with gb.trace(
            case.input,
            name=f"case {case.id}",
            tags=[*tags, f"case:{case.id}", *case.tags],
            metadata={**meta, "case_id": case.id},
        ) as tr:
            trace_id = getattr(tr, "trace_id", None)
            result = fn(case.input)
            if inspect.isawaitable(result):
                if loop is None:
                    raise TargetError("the target returned an awaitable outside an event loop")
                result = asyncio.run_coroutine_threadsafe(_await(result), loop).result()
            output = result
            tr.output = result
    except Exception as exc:  # noqa: BLE001 - a target that raises is the case's error, not the harness's
        error = f"{type(exc).__name__}: {exc}"
    return _Outcome(case, position, trace_id, output, error, (time.perf_counter() - t0) * 1000)


async def _await(aw: Any) -> Any:
    return await aw


async def _call_async_case(
    fn: Callable[..., Any], case: Case, position: int, tags: list[str], meta: dict[str, Any]
) -> _Outcome:
    import glassbox as gb

    t0 = time.perf_counter()
    output, error, trace_id = None, None, None
    try:
        with gb.trace(
            case.input,
            name=f"case {case.id}",
            tags=[*tags, f"case:{case.id}", *case.tags],
            metadata={**meta, "case_id": case.id},
        ) as tr:
            trace_id = getattr(tr, "trace_id", None)
            output = await fn(case.input)
            tr.output = output
    except Exception as exc:  # noqa: BLE001
        error = f"{type(exc).__name__}: {exc}"
    return _Outcome(case, position, trace_id, output, error, (time.perf_counter() - t0) * 1000)


async def _run_all(
    fn: Callable[..., Any],
    cases: Sequence[Case],
    concurrency: int,
    tags: list[str],
    meta: dict[str, Any],
    on_done: Callable[[], None],
) -> list[_Outcome]:
    from concurrent.futures import ThreadPoolExecutor

    sem = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)
    pool = None if is_async else ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="glassbox-regress")

    async def one(i: int, case: Case) -> _Outcome:
        async with sem:
            if is_async:
                res = await _call_async_case(fn, case, i, tags, meta)
            else:
                res = await loop.run_in_executor(pool, _call_case, fn, case, i, tags, meta, loop)
            on_done()
            return res

    try:
        return list(await asyncio.gather(*(one(i, c) for i, c in enumerate(cases))))
    finally:
        if pool is not None:
            pool.shutdown(wait=False)


def _run_coroutine(coro: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: list[Any] = []  # called from inside an event loop (a notebook, an async test): use a thread of our own

    def runner() -> None:
        try:
            box.append((True, asyncio.run(coro)))
        except BaseException as exc:  # noqa: BLE001
            box.append((False, exc))

    t = threading.Thread(target=runner)
    t.start()
    t.join()
    ok, value = box[0]
    if not ok:
        raise value
    return value


def run_regression(
    store: Store,
    dataset: Dataset | Sequence[Case],
    target: str | Callable[..., Any],
    *,
    concurrency: int = 4,
    evaluators: Sequence[Any] = (),
    max_latency_ms: float | None = None,
    max_cost_usd: float | None = None,
    project: str | None = None,
    release: str | None = None,
    progress: bool = False,
    settings: dict[str, Any] | None = None,
) -> RegressionRun:
    """Run ``target`` on every case under tracing, check each, store the run; returns it.

    ``settings`` are glassbox options for the run's recording (as for ``gb.configure``; the store is
    ``store``). The active configuration is restored afterwards.
    """
    from glassbox import runtime
    from glassbox.bootstrap import build_runtime
    from glassbox.config import load_settings
    from glassbox.evaluation.datasets import Dataset as _Dataset
    from glassbox.ids import new_record_id

    if concurrency < 1:
        raise GlassboxError(f"concurrency must be at least 1, got {concurrency}")
    name, fn = resolve_target(target)
    ds = dataset if isinstance(dataset, _Dataset) else _Dataset("adhoc", list(dataset))
    if not ds.cases:
        raise GlassboxError("the dataset has no cases")
    opts = {"calibration": False, **(settings or {}), "store": store.url}
    if project:
        opts["project"] = project
    if release:
        opts["release"] = release
    run_settings = load_settings(**opts)
    run = RegressionRun(new_record_id(), name, [], run_settings.project, ds.name, ds.version, ds.id, _now())
    sink = _Sink()
    rt = build_runtime(run_settings, extra_sinks=[sink])
    previous = runtime.install(rt)
    tags = [f"regress:{run.run_id}"]
    meta = {"regress_run": run.run_id, "dataset": ds.name, "dataset_version": ds.version}
    t0 = time.perf_counter()
    try:
        with _progress(progress, len(ds.cases), ds.name) as advance:
            outcomes = _run_coroutine(_run_all(fn, ds.cases, concurrency, tags, meta, advance))
        rt.flush(60.0)
    finally:
        runtime.install(previous)
        rt.shutdown()
    ceilings = {k: v for k, v in (("latency_ms", max_latency_ms), ("cost_usd", max_cost_usd)) if v is not None}
    for o in outcomes:
        run.results.append(_result(store, o, sink.traces.get(o.trace_id or ""), evaluators, ceilings))
    run.ended_at = _now()
    run.duration_ms = (time.perf_counter() - t0) * 1000
    save_run(store, run)
    return run


def _result(
    store: Store, o: _Outcome, trace: Trace | None, evaluators: Sequence[Any], ceilings: dict[str, float]
) -> CaseResult:
    from glassbox.jsonsafe import jsonable

    res = CaseResult(
        o.case.id, o.position, False, o.trace_id, o.error, o.wall_ms, None, None, jsonable(o.output, 32_768)
    )
    if trace is None:
        res.error = res.error or "the case's trace was not recorded (tracing disabled or sampled out?)"
        return res
    res.duration_ms = trace.duration_ms
    res.cost_usd = trace.cost_usd
    res.workflow = trace_workflow(trace, o.output)
    if res.error is None:
        from glassbox.evaluation.evaluators import run_evaluators

        for score in run_evaluators(store, evaluators, o.case, trace):
            trace.scores.append(score)
            res.assertions.append(
                Assertion(
                    f"evaluator:{score.name}",
                    score.passed is not False,
                    None,
                    score.value,
                    "" if score.passed is not False else (score.comment or "failed"),
                )
            )
        res.assertions = check_case(o.case, trace, o.output, ceilings=ceilings) + res.assertions
        if o.case.golden:
            res.assertions.append(_golden_assertion(store, o.case.golden, trace))
    res.scores = {
        s.name: float(s.value)
        for s in sorted(trace.scores, key=lambda s: (s.at_ns, s.id))
        if isinstance(s.value, (int, float)) and math.isfinite(s.value)
    }
    res.passed = res.error is None and all(a.passed for a in res.assertions)
    return res


def _golden_assertion(store: Store, name: str, trace: Trace) -> Assertion:
    """The case's ``golden``: the run must match that golden trace."""
    from glassbox.evaluation import golden as goldens

    try:
        g = goldens.get(store, name, project=trace.project or "default")
        diff = goldens.compare(g, trace, g.reference(store))
    except NotFound as exc:
        return Assertion(f"golden:{name}", False, name, None, str(exc))
    return Assertion(f"golden:{name}", diff.ok, name, "matches" if diff.ok else "breach", "; ".join(diff.breaches))


class _progress:
    """A Rich progress bar on stderr (or nothing); yields the per-case callback."""

    def __init__(self, show: bool, total: int, label: str) -> None:
        self.show, self.total, self.label = show, total, label
        self.bar: Any = None

    def __enter__(self) -> Callable[[], None]:
        if not self.show:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("[bold]regress[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        lock = threading.Lock()

        def advance() -> None:
            with lock:
                self.bar.advance(task)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


# -- storing and reading runs ------------------------------------------------------------------
def save_run(store: Store, run: RegressionRun) -> None:
    from sqlalchemy import insert

    from glassbox.jsonsafe import jsonable
    from glassbox.store.tables.evaluation import regression_results, regression_runs

    with store.ready().engine.begin() as conn:
        conn.execute(
            insert(regression_runs),
            [
                {
                    "run_id": run.run_id,
                    "project": run.project,
                    "dataset_id": run.dataset_id,
                    "dataset_name": run.dataset_name,
                    "dataset_version": run.dataset_version,
                    "target": run.target,
                    "status": run.status,
                    "cases": len(run.results),
                    "passed": run.passed,
                    "failed": run.failed,
                    "errors": run.errors,
                    "started_at": run.started_at,
                    "ended_at": run.ended_at,
                    "duration_ms": run.duration_ms,
                    "summary": jsonable(run.summary()),
                }
            ],
        )
        conn.execute(
            insert(regression_results),
            [
                {
                    "run_id": run.run_id,
                    "case_id": r.case_id,
                    "position": r.position,
                    "trace_id": r.trace_id,
                    "passed": r.passed,
                    "error": r.error,
                    "duration_ms": r.duration_ms,
                    "cost_usd": r.cost_usd,
                    "workflow": r.workflow,
                    "output": r.output,
                    "assertions": jsonable([asdict(a) for a in r.assertions]),
                    "scores": jsonable(r.scores),
                }
                for r in run.results
            ],
        )


def load_run(store: Store, run_id: str) -> RegressionRun:
    """A stored run by id (a unique prefix of 4+ characters works); RunNotFound otherwise."""
    from sqlalchemy import select

    from glassbox.store.tables.evaluation import regression_results, regression_runs

    r = regression_runs.c
    with store.ready().engine.connect() as conn:
        rows = (
            conn.execute(select(regression_runs).where(r.run_id.startswith(run_id, autoescape=True)).limit(2)).all()
            if len(run_id) >= 4
            else []
        )
        exact = [row for row in rows if row.run_id == run_id]
        if len(rows) > 1 and not exact:
            raise RunNotFound(f"regression run id prefix {run_id!r} is ambiguous: give more characters")
        if not rows:
            raise RunNotFound(f"no regression run {run_id!r} (see `glassbox regress list`)")
        row = exact[0] if exact else rows[0]
        results = conn.execute(
            select(regression_results)
            .where(regression_results.c.run_id == row.run_id)
            .order_by(regression_results.c.position)
        ).all()
    out = RegressionRun(
        row.run_id,
        row.target,
        [],
        row.project,
        row.dataset_name,
        row.dataset_version,
        row.dataset_id,
        row.started_at,
        row.ended_at,
        row.duration_ms,
    )
    for x in results:
        asserts = [Assertion(**a) for a in x.assertions or []]
        out.results.append(
            CaseResult(
                x.case_id,
                x.position,
                bool(x.passed),
                x.trace_id,
                x.error,
                x.duration_ms,
                x.cost_usd,
                x.workflow,
                x.output,
                asserts,
                x.scores or {},
            )
        )
    return out


def list_runs(
    store: Store, *, project: str | None = None, dataset: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Stored runs, newest first."""
    from sqlalchemy import select

    from glassbox.store.tables.evaluation import regression_runs

    r = regression_runs.c
    q = select(regression_runs).order_by(r.started_at.desc(), r.run_id).limit(limit)
    if project is not None:
        q = q.where(r.project == project)
    if dataset is not None:
        q = q.where(r.dataset_name == dataset)
    with store.ready().engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        {
            "run_id": x.run_id,
            "project": x.project,
            "dataset": x.dataset_name,
            "version": x.dataset_version,
            "target": x.target,
            "status": x.status,
            "cases": x.cases,
            "passed": x.passed,
            "failed": x.failed,
            "errors": x.errors,
            "started_at": _iso(x.started_at),
            "duration_ms": x.duration_ms,
        }
        for x in rows
    ]


def compare_runs(a: RegressionRun, b: RegressionRun) -> dict[str, Any]:
    """What changed from run ``a`` to run ``b``, case by case: fixed, regressed, still failing, new, gone."""
    by_a = {r.case_id: r for r in a.results}
    by_b = {r.case_id: r for r in b.results}
    cases = []
    counts = {"fixed": 0, "regressed": 0, "still_failing": 0, "still_passing": 0, "added": 0, "removed": 0}
    for cid in [*by_a, *(c for c in by_b if c not in by_a)]:
        ra, rb = by_a.get(cid), by_b.get(cid)
        if ra is None or rb is None:
            change = "added" if ra is None else "removed"
        elif ra.passed and rb.passed:
            change = "still_passing"
        elif rb.passed:
            change = "fixed"
        elif ra.passed:
            change = "regressed"
        else:
            change = "still_failing"
        counts[change] += 1
        row: dict[str, Any] = {"case_id": cid, "change": change, "a": _brief(ra), "b": _brief(rb)}
        if ra is not None and rb is not None:
            row["duration_delta_ms"] = _delta(ra.duration_ms, rb.duration_ms)
            row["cost_delta_usd"] = _delta(ra.cost_usd, rb.cost_usd)
            row["score_deltas"] = {
                k: rb.scores[k] - ra.scores[k] for k in ra.scores if k in rb.scores and rb.scores[k] != ra.scores[k]
            }
            newly = sorted({x.name for x in rb.failures} - {x.name for x in ra.failures})
            row["new_failures"] = newly
        cases.append(row)
    sa, sb = a.summary(), b.summary()
    return {
        "a": a.run_id,
        "b": b.run_id,
        "counts": counts,
        "pass_rate": {"a": sa["pass_rate"], "b": sb["pass_rate"]},
        "p50_ms": {"a": sa["p50_ms"], "b": sb["p50_ms"]},
        "total_cost_usd": {"a": sa["total_cost_usd"], "b": sb["total_cost_usd"]},
        "cases": cases,
    }


def _brief(r: CaseResult | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "status": "error" if r.error else ("passed" if r.passed else "failed"),
        "duration_ms": r.duration_ms,
        "failures": [x.message or x.name for x in r.failures],
        "error": r.error,
    }


def _delta(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None else y - x
