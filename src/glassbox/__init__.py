"""glassbox: see why your AI pipeline did what it did, what it cost, and how good it was.

``import glassbox as gb`` is the whole SDK surface; it imports no database driver,
web framework or CLI library (those load on first use).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from glassbox import runtime as _runtime
from glassbox._version import __version__
from glassbox.budget import Budget, BudgetExceeded
from glassbox.decorators import traced
from glassbox.errors import ConfigError, GlassboxError, ImportFormatError, StoreError, TraceNotFound
from glassbox.model import SCHEMA_VERSION, Decision, Event, Feedback, Score, Span, Trace
from glassbox.noop import NOOP_STAGE, NOOP_TRACE, NoopStage, NoopTrace
from glassbox.propagation import ThreadPoolExecutor, extract, inject, wrap
from glassbox.recorder import LiveTrace, Stage, _current
from glassbox.scoring import calibration_rule, scorer

if TYPE_CHECKING:
    from collections.abc import Callable

    from glassbox.analysis.query import Query
    from glassbox.config import Settings
    from glassbox.cost.calls import LLMCall
    from glassbox.reports.rules import Rule as ReportRule


def _default_runtime() -> _runtime.Runtime:
    from glassbox.bootstrap import default_runtime

    return default_runtime()


_runtime.set_factory(_default_runtime)


def configure(**options: Any) -> Settings:
    """Set options (all optional); unset ones come from GLASSBOX_* env, glassbox.toml, pyproject.

    Replaces the active configuration: traces queued so far are flushed first.
    Raises ConfigError for an invalid value.
    """
    from glassbox.bootstrap import build_runtime
    from glassbox.config import load_settings

    settings = load_settings(**options)
    new = build_runtime(settings)
    old = _runtime.install(new)
    if old is not None:
        old.shutdown()
    return settings


def trace(
    input: Any = None,
    *,
    name: str | None = None,
    workflow: str | None = None,
    intent: str | None = None,
    domain: str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    tags: Sequence[str] | None = None,
    metadata: dict[str, Any] | None = None,
    project: str | None = None,
    environment: str | None = None,
    release: str | None = None,
    experiment: str | None = None,
    variant: str | None = None,
    budget: Any = None,
) -> LiveTrace | Stage | NoopStage:
    """Start a run (use as ``with``). Inside an active trace it becomes a child stage."""
    rt = _runtime.get()
    if rt is None:
        return NOOP_TRACE
    try:
        return rt.start_trace(
            name or workflow or "trace",
            {
                "input": input,
                "workflow": workflow,
                "intent": intent,
                "domain": domain,
                "user_id": user_id,
                "session_id": session_id,
                "tags": tags,
                "metadata": metadata,
                "project": project,
                "environment": environment,
                "release": release,
                "experiment": experiment,
                "variant": variant,
                "budget": budget,
            },
        )
    except Exception as exc:  # noqa: BLE001 - tracing never raises into user code
        rt.internal_error("trace", exc)
        return NOOP_TRACE


def stage(name: str, kind: str = "stage", attributes: dict[str, Any] | None = None) -> Stage | NoopStage:
    """A stage of the current trace (use as ``with``); a no-op outside any trace.

    Raises ``BudgetExceeded`` when the trace's budget is spent (the one exception on purpose).
    """
    # start_stage() inlined: this is the hot path.
    cur = _current.get()
    if cur is None or not cur.recording:
        return NOOP_STAGE
    trace = cur._trace
    if trace.budget is not None:
        trace._runtime.check_budget(trace)
    st = Stage(trace, cur.span_id, name, kind)
    if attributes:
        st.set(**attributes)
    return st


def current_trace() -> LiveTrace | NoopStage:
    """The active trace, or a no-op object that accepts every call."""
    cur = _current.get()
    if cur is not None and cur.recording:
        return cur._trace
    return NOOP_TRACE


def current_stage() -> Stage | NoopStage:
    """The innermost active stage (the trace's root stage at top level), or a no-op object."""
    cur = _current.get()
    if cur is not None and cur.recording:
        return cur
    return NOOP_STAGE


def decision(
    what: str,
    why: str | None = None,
    confidence: float | None = None,
    alternatives: Any = None,
    inputs: dict[str, Any] | None = None,
) -> Decision | None:
    """Record a decision (what, why, confidence, alternatives with scores, inputs) in the current stage."""
    cur = _current.get()
    if cur is None or not cur.recording:
        return None
    try:
        return cur.decision(what, why, confidence, alternatives, inputs)
    except Exception as exc:  # noqa: BLE001
        cur._trace._runtime.internal_error("decision", exc)
        return None


def evidence(name: str, payload: dict[str, Any] | None = None, **fields: Any) -> Event | None:
    """Record evidence (any named payload) in the current stage."""
    cur = _current.get()
    if cur is None or not cur.recording:
        return None
    try:
        return cur.evidence(name, payload, **fields)
    except Exception as exc:  # noqa: BLE001
        cur._trace._runtime.internal_error("evidence", exc)
        return None


def score(
    name: str,
    value: float,
    *,
    max: float | None = None,
    passed: bool | None = None,
    dimensions: dict[str, float] | None = None,
    comment: str | None = None,
    source: str = "sdk",
) -> Score | None:
    """Score the current trace (or, inside a stage, that stage), with optional dimensions."""
    cur = _current.get()
    if cur is None or not cur.recording:
        return None
    try:
        return cur.score(name, value, max=max, passed=passed, dimensions=dimensions, comment=comment, source=source)
    except Exception as exc:  # noqa: BLE001
        cur._trace._runtime.internal_error("score", exc)
        return None


_llm_recorder: list[Any] = []  # glassbox.cost.calls.record, imported on the first gb.llm() call


def _load_llm_recorder() -> Any:
    from glassbox.cost.calls import record

    _llm_recorder.append(record)
    return record


def llm(
    response: Any = None,
    *,
    stage: str | Stage | None = None,
    prompt: Any = None,
    completion: Any = None,
    model: str | None = None,
    provider: str | None = None,
    duration_ms: float | None = None,
) -> LLMCall | None:
    """Record an LLM call from its response (OpenAI, Anthropic, google-genai, LangChain, dicts).

    Tokens, model and cost (with its source: provider, priced, estimated or unknown) land on
    a ``kind="llm"`` stage: the current LLM stage, the stage named ``stage``, or a new child.
    ``prompt``/``completion`` are used to estimate missing counts, and stored only when
    ``capture_content`` is on. Returns what was recorded (None outside a trace); never raises.
    """
    cur = _current.get()
    if cur is None or not cur.recording:
        return None
    rt = cur._trace._runtime
    try:
        record = _llm_recorder[0] if _llm_recorder else _load_llm_recorder()
        return record(
            rt,
            cur,
            response,
            stage=stage,
            prompt=prompt,
            completion=completion,
            model=model,
            provider=provider,
            duration_ms=duration_ms,
        )
    except Exception as exc:  # noqa: BLE001
        rt.internal_error("llm", exc)
        return None


def query(store: Any = None) -> Query:
    """Questions about the stored runs: ``gb.query().summary(workflow="qa", since="7d")``.

    ``store`` is a URL or a Store; by default the configured store. See docs/analysis.md.
    """
    from glassbox.analysis.query import open_query

    return open_query(store)


def report_rule(name: str) -> Callable[[ReportRule], ReportRule]:
    """Register ``fn(scope) -> [Recommendation]`` as a recommendation rule of every report (docs/reports.md).

    Used like ``gb.calibration_rule``: ``@gb.report_rule("retrieval_too_slow")``. The reports
    package loads when a rule is registered, not at ``import glassbox``.
    """
    from glassbox.reports.rules import report_rule as register

    return register(name)


def start_metrics_server(port: int = 9189, addr: str = "127.0.0.1") -> None:
    """Expose this app's Prometheus metrics (stage latency, runs, LLM tokens and cost, quality) on ``addr:port``.

    Runs are observed by the background writer, never on the hot path. Under a multi-process
    server set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode) before start.
    """
    rt = _runtime.get()
    if rt is None:
        return
    from glassbox.monitoring.metrics import start_metrics_server as start

    start(rt, port, addr)


def feedback(
    trace_id: Any,
    rating: Any = None,
    *,
    scale: Any = None,
    comment: str | None = None,
    signal: str | None = None,
    user_id: str | None = None,
    sentiment: Any = None,
) -> Feedback | None:
    """What a user thought of a run: ``rating`` on ``scale`` (``(1, 5)``, ``"thumbs"``, default 0-1),
    a ``comment``, or an implicit ``signal`` (``re_query``, ``skip``, ``accept``, ``click``, ``share``, or
    your own name). Sentiment: from the rating, else the comment, else the signal (glassbox.user_feedback).

    Works during the run or any time after (``trace_id`` or the trace object). Returns what was
    recorded, or None (outside a configuration, or bad input: a warning names the argument); never raises.
    """
    rt = _runtime.get()
    if rt is None:
        return None
    try:
        from glassbox.user_feedback import record

        fb = record(
            rt,
            trace_id,
            rating=rating,
            scale=scale,
            comment=comment,
            signal=signal,
            user_id=user_id,
            sentiment=sentiment,
        )
    except ValueError as exc:
        import logging

        logging.getLogger("glassbox").warning("glassbox: feedback not recorded: %s", exc)
        return None
    except Exception as exc:  # noqa: BLE001 - tracing never raises into user code
        rt.internal_error("feedback", exc)
        return None
    return fb


def health_check(name: str, check: Any, *, critical: bool = True, timeout: float = 2.0) -> None:
    """Register a component check of this app (sync or async ``check()``; see ``glassbox.app_health``).

    ``check`` returns True/None (up), False (down) or a dict of details (``{"ok": False, ...}``);
    raising or running past ``timeout`` seconds marks it down. Served by ``gb.health_app()`` and
    beside ``gb.start_metrics_server()`` at ``/health/full``.
    """
    from glassbox.app_health import register

    register(name, check, critical=critical, timeout=timeout)


def health_app() -> Any:
    """An ASGI app answering ``/health/full`` (and ``/health``) from the registered checks: mount it in yours."""
    from glassbox.app_health import asgi_app

    return asgi_app()


def check_budget() -> None:
    """Raise ``BudgetExceeded`` now if the current trace's or the daily budget is spent."""
    cur = _current.get()
    if cur is not None and cur.recording and cur._trace.budget is not None:
        cur._trace._runtime.check_budget(cur._trace)


def flush(timeout: float | None = None) -> bool:
    """Return once every trace finished so far is written (False if the timeout passed first), and every
    exposure recorded by gb.variant / gb.flag."""
    rt = _runtime.current()
    done = True if rt is None else rt.flush(timeout)
    if _flag_client:  # only once flags were used
        _flush_exposures()
    return done


def _flush_exposures() -> None:
    try:
        from glassbox.flags.client import flush_default

        flush_default()
    except Exception:  # noqa: BLE001 - exposures never break the app (the log counts its own errors)
        pass


def shutdown(timeout: float = 5.0) -> None:
    """Flush and stop the writer; the next traced call starts a fresh default configuration."""
    rt = _runtime.install(None)
    if rt is not None:
        rt.shutdown(timeout)
    if _flag_client:
        _flush_exposures()


def health() -> dict[str, Any]:
    """The recorder's own health: queue depth, written, dropped, errors per sink, last error (and alert delivery)."""
    rt = _runtime.current()
    out = {"configured": False} if rt is None else {"configured": True, **rt.health()}
    from glassbox.coerce import COERCE

    out["values_coerced"] = COERCE.changed  # odd values made storable (NaN confidence, non-text why …)
    import sys

    if rt is not None and "glassbox.monitoring.notifiers" in sys.modules:  # once alerts were delivered
        delivery = sys.modules["glassbox.monitoring.notifiers"].health()
        if delivery is not None:
            out["alerts"] = delivery
    return out


def logger(name: str | None = None, *, file: Any = None, **bound: Any) -> Any:
    """A structlog logger: JSON lines (stderr, or ``file``) with the current trace_id, span_id and correlation_id."""
    from glassbox.monitoring.logging import logger as make

    return make(name, file=file, **bound)


def instrument_logging(*, json_format: bool = False, level: int | None = None) -> None:
    """Give stdlib ``logging`` records trace_id, span_id and correlation_id (``json_format``: JSON lines)."""
    from glassbox.monitoring.logging import instrument_logging as install

    install(json_format=json_format, level=level)


def correlation(id: str | None = None) -> Any:
    """``with gb.correlation("req-42"):`` sets the correlation id (a new one when None); it travels in baggage."""
    from glassbox._correlation import correlation as make

    return make(id)


def asgi_middleware(app: Any, **options: Any) -> Any:
    """ASGI middleware: a trace per request, traceparent and correlation headers in and out, request logs."""
    from glassbox.monitoring.middleware import GlassboxASGI

    return GlassboxASGI(app, **options)


def wsgi_middleware(app: Any, **options: Any) -> Any:
    """WSGI middleware (Flask: ``app.wsgi_app = gb.wsgi_middleware(app.wsgi_app)``); see ``asgi_middleware``."""
    from glassbox.monitoring.middleware import GlassboxWSGI

    return GlassboxWSGI(app, **options)


def on_alert(fn: Any = None, *, source: str | Sequence[str] | None = None, min_severity: str = "info") -> Any:
    """Call ``fn(alert)`` for every alert this process fires (SLO burns, budgets, calibration, drift…).

    Runs off the caller's thread; usable as a decorator. ``alert.event`` is firing, resolved or test.
    """
    from glassbox.monitoring.notifiers import on_alert as register

    return register(fn, source=source, min_severity=min_severity)


_flag_client: list[Any] = []  # glassbox.flags.client.default_client, imported on the first gb.flag/gb.variant


def _flags() -> Any:
    if not _flag_client:
        from glassbox.flags.client import default_client

        _flag_client.append(default_client)
    return _flag_client[0]()


def variant(experiment: str, unit_id: Any, attributes: dict[str, Any] | None = None) -> str | None:
    """The unit's variant of ``experiment`` (deterministic: same unit, same variant, every process and restart).

    Inside the experiment the exposure is recorded on the current trace (its experiment and variant) and
    in the exposures table; outside it (stopped, killed, targeting, coverage) the control; None for an
    experiment that is not defined. Never raises. See docs/experiments.md.
    """
    try:
        return _flags().variant(experiment, None if unit_id is None else str(unit_id), attributes)
    except Exception:  # noqa: BLE001 - flags never break the app
        return None


def flag(name: str, unit_id: Any = None, default: Any = None, attributes: dict[str, Any] | None = None) -> Any:
    """The value of feature flag ``name`` for the unit (``default`` when the flag is missing or fails).

    Evaluated locally (rules, percentage rollout, kill switch); the exposure is recorded on the current trace.
    """
    try:
        return _flags().flag(name, None if unit_id is None else str(unit_id), default, attributes)
    except Exception:  # noqa: BLE001 - flags never break the app
        return default


_LAZY_MODULES = ("evaluation",)  # feature packages reached as gb.<name>, imported on first use


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"glassbox.{name}")
    raise AttributeError(f"module 'glassbox' has no attribute {name!r}")


__all__ = [
    "NOOP_STAGE",
    "NOOP_TRACE",
    "SCHEMA_VERSION",
    "Budget",
    "BudgetExceeded",
    "ConfigError",
    "Decision",
    "Event",
    "Feedback",
    "GlassboxError",
    "ImportFormatError",
    "LiveTrace",
    "NoopStage",
    "NoopTrace",
    "Score",
    "Span",
    "Stage",
    "StoreError",
    "ThreadPoolExecutor",
    "Trace",
    "TraceNotFound",
    "__version__",
    "asgi_middleware",
    "calibration_rule",
    "check_budget",
    "configure",
    "correlation",
    "current_stage",
    "current_trace",
    "decision",
    "evidence",
    "extract",
    "feedback",
    "flag",
    "flush",
    "health",
    "health_app",
    "health_check",
    "inject",
    "instrument_logging",
    "llm",
    "logger",
    "on_alert",
    "query",
    "report_rule",
    "score",
    "scorer",
    "shutdown",
    "stage",
    "start_metrics_server",
    "trace",
    "traced",
    "variant",
    "wrap",
    "wsgi_middleware",
]
