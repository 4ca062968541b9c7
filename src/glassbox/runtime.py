"""The process-wide recording state: settings, sampler, writer, hooks and live traces.

``gb.configure`` replaces it; the first traced call without ``configure`` builds
one from env and config files.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from glassbox.budget import after_cost, check, exact
from glassbox.ids import new_span_id, new_trace_id
from glassbox.model import Span, Trace
from glassbox.noop import NOOP_STAGE, NOOP_TRACE, NoopTrace, SampledOut
from glassbox.recorder import LiveTrace, RemoteParent, Stage, _current, otel_parent
from glassbox.writer import RateLimitedLog, Writer

if TYPE_CHECKING:
    from glassbox.config import Settings

log = logging.getLogger("glassbox")

_MAX_BOUND = 1 << 64


class Runtime:
    """Everything a traced call needs, built once per ``configure``."""

    def __init__(self, settings: Settings, writer: Writer | None) -> None:
        self.settings = settings
        self.writer = writer
        self.enabled = settings.enabled
        self.project = settings.project
        self.service = settings.service or settings.project
        self.environment = settings.environment
        self.release = settings.release
        self.keep_errors = settings.keep_errors
        self.max_attribute_length = settings.max_attribute_length
        self.max_text_length = settings.max_text_length
        self.stray_timeout = settings.stray_timeout
        self._bound = int(settings.sample_rate * _MAX_BOUND)
        self.default_budget: Any = None
        self.daily: Any = None
        self.costs: Any = None  # glassbox.cost.calls.CostContext, built on the first priced call
        self.calibration: Any = None  # glassbox.analysis.calibration.CalibrationEngine, set by bootstrap
        self.metrics: Any = None  # glassbox.monitoring.metrics.Metrics, set by gb.start_metrics_server
        self.deliver_alerts: Any = None  # (alerts) -> None: budget alerts to their receivers, set by bootstrap
        if settings.budget_warn_usd is not None or settings.budget_max_usd is not None:
            from glassbox.budget import Budget

            self.default_budget = Budget(settings.budget_warn_usd, settings.budget_max_usd)
        self.hooks: Any = None
        self.gpu: Any = None
        self._provider: Any = None  # the app's OTel TracerProvider the hooks were built for
        self._live: dict[str, LiveTrace] = {}
        self._pending: dict[str, tuple[LiveTrace, Span, float]] = {}
        self._pending_lock = threading.Lock()
        self._log = RateLimitedLog()
        self.errors = 0
        self.dropped_unsampled = 0
        if settings.capture_gpu:
            from glassbox.resources import gpu_probe

            self.gpu = gpu_probe()
        self._rebuild_hooks(None)

    # -- sampling ----------------------------------------------------------------
    def sampled(self, trace_id: str) -> bool:
        """Head sampling on the trace id's low 64 bits, as OTel's TraceIdRatioBased does.

        Every service with the same rate makes the same choice for the same trace.
        """
        bound = self._bound
        if bound >= _MAX_BOUND:
            return True
        if bound <= 0:
            return False
        return int(trace_id[16:], 16) < bound

    # -- OTel and resource hooks ---------------------------------------------------
    def refresh_hooks(self) -> None:
        if "opentelemetry.sdk.trace" not in sys.modules:
            return
        from opentelemetry import trace as otel_trace

        provider = otel_trace.get_tracer_provider()
        if provider is not self._provider:
            self._rebuild_hooks(provider)

    def _rebuild_hooks(self, provider: Any) -> None:
        bridge = None
        if provider is not None:
            from glassbox.otel import OTelBridge

            bridge = OTelBridge.for_provider(provider, self)
        self._provider = provider
        if bridge is None and self.gpu is None:
            self.hooks = None
        elif self.gpu is None:
            self.hooks = bridge  # the bridge is its own hook object: one call per stage start and end
        else:
            from glassbox.resources import StageHooks

            self.hooks = StageHooks(bridge, self.gpu)

    # -- trace lifecycle -----------------------------------------------------------
    def start_trace(self, name: str, fields: dict[str, Any]) -> Any:
        """A new trace, a child stage of the active one, or a no-op; never raises."""
        if not self.enabled:
            return NOOP_TRACE
        cur = _current.get()
        if cur is not None:
            if cur.recording:  # inside an active trace: this becomes a child stage
                stage = Stage(cur._trace, cur.span_id, name, "stage")
                _apply_stage_fields(stage, fields)
                return stage
            if isinstance(cur, SampledOut):
                return NOOP_STAGE
        if isinstance(cur, RemoteParent):
            trace_id, parent_id, keep = cur.trace_id, cur.span_id, cur.sampled
            tracestate = cur.tracestate
        else:
            tracestate = None
            remote = otel_parent()
            if remote is not None:
                trace_id, parent_id, keep = remote
            else:
                trace_id, parent_id = new_trace_id(), None
                keep = self.sampled(trace_id)
        if not keep and not self.keep_errors:
            return NoopTrace(trace_id, parent_id or new_span_id())
        self.refresh_hooks()
        trace = LiveTrace(self, trace_id, name, parent_id, keep)
        trace.tracestate = tracestate
        _apply_trace_fields(trace, fields, self.max_text_length)
        if trace.budget is None:
            trace.budget = self.default_budget
            if trace.budget is None and self.daily is not None:
                from glassbox.budget import NO_LIMIT

                trace.budget = NO_LIMIT  # only the daily limit applies, but stages must still check
        return trace

    def trace_started(self, trace: LiveTrace) -> None:
        self._live[trace.trace_id] = trace

    def trace_finished(self, trace: LiveTrace) -> None:
        try:
            if self._live.get(trace.trace_id) is trace:
                del self._live[trace.trace_id]
            if not trace._keep and trace.status != "failed":
                self.dropped_unsampled += 1
                return
            open_spans = [s for s in trace.spans if s.end_ns is None]
            if open_spans:
                trace.spans = [s for s in trace.spans if s.end_ns is not None]
                deadline = time.monotonic() + self.stray_timeout
                with self._pending_lock:
                    for s in open_spans:
                        self._pending[s.span_id] = (trace, s, deadline)
            if self._pending:
                self.flush_strays(expired_only=True)
            self._submit(trace)
        except Exception as exc:  # noqa: BLE001 - tracing never raises into user code
            self.internal_error("finish", exc)

    def live_trace(self, trace_id: str) -> LiveTrace | None:
        return self._live.get(trace_id)

    def late_span(self, trace: LiveTrace, span: Span) -> None:
        """A span that ended after its trace was handed over: write it as a segment to merge."""
        with self._pending_lock:
            self._pending.pop(span.span_id, None)
        if not trace._keep and trace.status != "failed":
            return
        self._submit(_segment(trace, [span]))

    def flush_strays(self, expired_only: bool = False) -> None:
        """Write spans still open after ``stray_timeout`` (or all, at flush) as they are."""
        now = time.monotonic()
        with self._pending_lock:
            due = [k for k, (_, _, dl) in self._pending.items() if not expired_only or dl <= now]
            items = [self._pending.pop(k) for k in due]
        for trace, span, _ in items:
            if trace._keep or trace.status == "failed":
                self._submit(_segment(trace, [span]))

    def check_budget(self, trace: LiveTrace) -> None:
        """Raise BudgetExceeded when the trace's or the project's daily budget is spent."""
        # Runs before every stage of a budgeted trace: answer "not yet" without a call when possible.
        limit = trace.budget.max_usd
        daily = self.daily
        if (limit is None or trace._spent < limit) and (daily is None or daily.total() < daily.limit_usd):
            return
        check(trace, daily)

    def foreign_llm_span(self, trace: LiveTrace, span: Span) -> None:
        """Price an LLM span an OTel instrumentor produced inside ``trace`` (otel.FoldingProcessor hands it over)."""
        from glassbox.cost.calls import price_foreign

        price_foreign(self, trace, span)

    def add_cost(self, trace: LiveTrace, usd: float) -> None:
        """Count a priced call against the budgets (warns once per trace past the threshold)."""
        after_cost(trace, self.daily, usd)

    def after_batch(self, batch: list[Trace]) -> None:
        """Writer thread, after each batch: the daily total now includes what was just stored.

        Last, the written live traces let go of their stages (``LiveTrace.detach_stages``).
        """
        try:
            self._after_batch(batch)
        finally:
            for trace in batch:
                if type(trace) is LiveTrace:
                    trace.detach_stages()

    def _after_batch(self, batch: list[Trace]) -> None:
        daily = self.daily
        if daily is not None:
            daily.written(sum((exact(getattr(t, "_spent", 0)) for t in batch), exact(0)))  # exact: budget.py
            daily.refresh()
        metrics = self.metrics
        if metrics is not None:
            try:
                metrics.observe(batch)
            except Exception as exc:  # noqa: BLE001
                self.internal_error("metrics", exc)
        engine = self.calibration
        if engine is not None:
            try:
                engine.after_batch(batch)
            except Exception as exc:  # noqa: BLE001 - a rule or a query failing must not stop the writer
                self.internal_error("calibration", exc)
        deliver = self.deliver_alerts
        if deliver is not None:
            raised = [a for t in batch for a in t.alerts]
            if raised:
                try:
                    deliver(raised)
                except Exception as exc:  # noqa: BLE001
                    self.internal_error("alerts", exc)

    def tick(self) -> None:
        """Writer thread, when idle: stray-span timeouts, and keep the daily total fresh."""
        self.flush_strays(expired_only=True)
        daily = self.daily
        if daily is not None and time.monotonic() - daily.refreshed_at > 1.0:
            daily.refresh()

    def _submit(self, trace: Trace) -> None:
        writer = self.writer
        if writer is not None and (writer._closing or writer._closed):
            # gb.configure() replaced this runtime while the trace ran: it goes to the one now active.
            active = _runtime
            if active is not None and active is not self and active.writer is not None:
                writer = active.writer
        if writer is not None:
            writer.submit(trace)

    def internal_error(self, where: str, exc: BaseException) -> None:
        self.errors += 1
        self._log.warning(f"internal-{where}", "glassbox: internal error in %s: %r", where, exc)

    # -- flush / shutdown ------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        self.flush_strays(expired_only=True)
        if self.writer is None:
            return True
        return self.writer.flush(timeout)

    def shutdown(self, timeout: float = 5.0) -> None:
        self.flush_strays(expired_only=False)
        if self.writer is not None:
            self.writer.close(timeout)
        if self.hooks is not None and getattr(self.hooks, "bridge", None) is not None:
            self.hooks.bridge.detach_from_runtime(self)

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "enabled": self.enabled,
            "project": self.project,
            "sample_rate": self.settings.sample_rate,
            "live_traces": len(self._live),
            "pending_spans": len(self._pending),
            "internal_errors": self.errors,
            "sampled_out_dropped": self.dropped_unsampled,
            "otel_bridge": bool(self.hooks is not None and getattr(self.hooks, "bridge", None)),
        }
        if self.writer is not None:
            out.update(self.writer.health())
        return out


def _segment(trace: LiveTrace, spans: list[Span]) -> Trace:
    seg = Trace(trace.trace_id, trace.name, min(s.start_ns for s in spans))
    seg.project = trace.project
    seg.service = trace.service
    seg.status = trace.status
    seg.root_span_id = None  # not the primary segment: the store merges it into the trace
    seg.spans = spans
    ends = [s.end_ns for s in spans if s.end_ns is not None]
    seg.end_ns = max(ends) if ends else None
    return seg


_TRACE_KEYS = (
    "workflow",
    "intent",
    "domain",
    "user_id",
    "session_id",
    "environment",
    "release",
    "experiment",
    "variant",
    "project",
)


def _apply_trace_fields(trace: LiveTrace, fields: dict[str, Any], limit: int) -> None:
    for key in _TRACE_KEYS:
        value = fields.get(key)
        if value is not None:
            setattr(trace, key, str(value))
    if fields.get("input") is not None:
        trace.input = fields["input"]
    if fields.get("tags"):
        trace.tags = [str(t) for t in fields["tags"]]
    if fields.get("metadata"):
        trace.metadata = dict(fields["metadata"])
        if trace.release is None and "release" in trace.metadata:
            trace.release = str(trace.metadata["release"])
    if fields.get("budget") is not None:
        trace.budget = fields["budget"]


def _apply_stage_fields(stage: Stage, fields: dict[str, Any]) -> None:
    if fields.get("input") is not None:
        stage.input = fields["input"]
    attrs = {k: fields[k] for k in ("workflow", "intent", "domain") if fields.get(k) is not None}
    if fields.get("metadata"):
        attrs.update({f"metadata.{k}": v for k, v in fields["metadata"].items()})
    if attrs:
        stage.set(**attrs)


# -- the process-wide runtime ------------------------------------------------------
_runtime: Runtime | None = None
_factory: Callable[[], Runtime] | None = None
_lock = threading.Lock()
_broken = False


def set_factory(factory: Callable[[], Runtime]) -> None:
    global _factory
    _factory = factory


def get() -> Runtime | None:
    """The active runtime, building the default one on first use (None if that fails)."""
    global _broken
    rt = _runtime
    if rt is not None or _broken:
        return rt
    with _lock:
        if _runtime is None and _factory is not None and not _broken:
            try:
                install(_factory())
            except Exception as exc:  # noqa: BLE001 - a broken config must not break the app
                # Warn once, then stay disabled until gb.configure() is called.
                _broken = True
                log.warning("glassbox: tracing disabled, could not configure: %s", exc)
                return None
    return _runtime


def install(rt: Runtime | None) -> Runtime | None:
    """Make ``rt`` the active runtime; returns the one it replaced (not shut down)."""
    global _runtime, _broken
    old, _runtime = _runtime, rt
    if rt is not None and old is not None and rt.metrics is None:
        rt.metrics = old.metrics  # gb.start_metrics_server keeps serving across gb.configure()
    _broken = False
    return old


def current() -> Runtime | None:
    return _runtime


@atexit.register
def _flush_at_exit() -> None:
    rt = _runtime
    if rt is not None:
        with contextlib.suppress(Exception):  # the interpreter is exiting; nothing to report to
            rt.shutdown(timeout=5.0)
