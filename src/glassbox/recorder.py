"""The lean hot path: live traces and stages, one ContextVar, no locks.

Entering a stage creates one slotted object and sets one ContextVar; leaving it
records the end time and resets the ContextVar. Everything else (serialising,
pricing, writing, OTLP conversion) happens later on the writer thread.
"""

from __future__ import annotations

import sys
import traceback
from contextvars import Token
from time import time_ns
from typing import TYPE_CHECKING, Any, Literal

from glassbox.coerce import COERCE
from glassbox.context import CURRENT, RemoteParent, restore
from glassbox.ids import new_record_id, new_span_id
from glassbox.model import Decision, Event, Score, Span, Trace
from glassbox.noop import NOOP_STAGE, NoopStage

if TYPE_CHECKING:
    from glassbox.runtime import Runtime

_current = CURRENT  # the name the SDK core has always imported from here (glassbox.context holds it)

_PRIMITIVES = (str, bool, int, float)
_INT_BOUND = 1 << 63


def _coerce_attribute(value: Any, limit: int) -> Any:
    """Make a value something OpenTelemetry can carry; JSON-encode the rest, never drop it."""
    if isinstance(value, str):
        return truncate(value, limit)
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, (list, tuple)) and value:
        t = type(value[0])
        if (
            t in _PRIMITIVES
            and all(type(v) is t for v in value)
            and (t is not int or all(-_INT_BOUND <= v < _INT_BOUND for v in value))
        ):
            return [truncate(v, limit) if t is str else v for v in value]
    if value is None:
        return None
    from glassbox.jsonsafe import dumps_text

    return truncate(dumps_text(value), limit)


def truncate(text: str, limit: int) -> str:
    if limit and len(text) > limit:
        return f"{text[:limit]}…[truncated {len(text) - limit} chars]"
    return text


def _error_info(exc: BaseException, stage: str | None = None) -> dict[str, Any]:
    info = {
        "type": type(exc).__qualname__,
        "message": str(exc),
        "stack": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }
    if stage is not None:
        info["stage"] = stage
    return info


class Stage(Span):
    """A live stage: a Span that is also its own context manager."""

    __slots__ = ("_hook_state", "_token", "_trace")

    def __init__(self, trace: LiveTrace, parent_id: str | None, name: str, kind: str) -> None:
        # Assigned inline rather than via Span.__init__: this runs once per stage on the hot path.
        self._trace = trace
        self.trace_id = trace.trace_id
        self.span_id = new_span_id()
        self.parent_id = parent_id
        self.name = name
        self.kind = kind
        self.start_ns = 0
        self.end_ns = None
        self.status = "unset"
        self.attributes = None
        self.service = trace.service
        self._token: Token[Any] | None = None
        self._hook_state = None

    recording = True

    # -- lifecycle -------------------------------------------------------------
    def __enter__(self) -> Stage:
        # _begin() inlined: this is the hot path.
        trace = self._trace
        trace.spans.append(self)
        if trace._hooks is not None:
            self._hook_state = trace._hooks.on_start(self)
        self._token = _current.set(self)
        self.start_ns = time_ns()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> Literal[False]:
        token = self._token
        # Exited out of order (e.g. after its trace ended): restoring would resurrect a finished parent.
        if token is not None and _current.get() is self:
            try:
                _current.reset(token)
            except ValueError:  # exited in another context (e.g. a generator finalised elsewhere)
                _current.set(None)
        self._token = None  # freed now rather than when the trace is written: less for the GC to scan
        if exc is None and self.status == "unset" and self._trace._hooks is None and not self._trace._finished:
            self.end_ns = time_ns()  # the common case of _end(), inlined
            self.status = "ok"
        else:
            self._end(exc)
        return False

    async def __aenter__(self) -> Stage:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)

    def _begin(self) -> None:
        trace = self._trace
        trace.spans.append(self)
        hooks = trace._hooks
        if hooks is not None:
            self._hook_state = hooks.on_start(self)
        self.start_ns = time_ns()

    def _end(self, exc: BaseException | None) -> None:
        self.end_ns = time_ns()
        trace = self._trace
        if exc is not None:
            self.status = "error"
            if self.error is None:
                self.error = _error_info(exc)
            trace._note_error(self, exc)
        elif self.status == "unset":
            self.status = "ok"
        hooks = trace._hooks
        if hooks is not None:
            hooks.on_end(self, self._hook_state)
        if trace._finished:
            trace._runtime.late_span(trace, self)

    # -- recording -----------------------------------------------------------------
    def set(self, **attributes: Any) -> Stage:
        """Set span attributes; values OTel cannot carry are JSON-encoded, long strings truncated."""
        try:
            limit = self._trace._runtime.max_attribute_length
            for key, value in attributes.items():
                t = type(value)
                if t is str:
                    if len(value) > limit:
                        attributes[key] = truncate(value, limit)
                elif t is int:
                    if not -_INT_BOUND <= value < _INT_BOUND:
                        attributes[key] = str(value)  # beyond 64 bits: no sink stores it as a number
                elif t is not float and t is not bool:
                    attributes[key] = _coerce_attribute(value, limit)
            if self.attributes is None:
                self.attributes = attributes  # the kwargs dict is ours alone
            else:
                self.attributes.update(attributes)
        except Exception as exc:  # noqa: BLE001 - tracing never raises into user code
            self._trace._runtime.internal_error("set", exc)
        return self

    def decision(
        self,
        what: str,
        why: str | None = None,
        confidence: float | None = None,
        alternatives: Any = None,
        inputs: dict[str, Any] | None = None,
    ) -> Decision | None:
        """Record a decision; odd values are coerced (counted in health), never raised."""
        try:
            c = COERCE
            d = Decision(
                new_record_id(),
                c.name(what),
                c.text(why),
                c.number(confidence),
                c.alternatives(alternatives),
                c.mapping(inputs),
                self.span_id,
                self.name,
                time_ns(),
            )
            self._trace.decisions.append(d)
            return d
        except Exception as exc:  # noqa: BLE001 - tracing never raises into user code
            self._trace._runtime.internal_error("decision", exc)
            return None

    def evidence(self, name: str, payload: dict[str, Any] | None = None, **fields: Any) -> Event | None:
        try:
            payload = COERCE.mapping(payload)
            if fields:
                payload = {**(payload or {}), **fields}
            e = Event(new_record_id(), COERCE.name(name), payload, self.span_id, time_ns())
            self._trace.events.append(e)
            return e
        except Exception as exc:  # noqa: BLE001
            self._trace._runtime.internal_error("evidence", exc)
            return None

    def score(
        self,
        name: str,
        value: float,
        *,
        max: float | None = None,
        passed: bool | None = None,
        dimensions: dict[str, float] | None = None,
        comment: str | None = None,
        source: str = "sdk",
    ) -> Score | None:
        """Score the trace (at the root) or this stage. A value that is not a finite number is not a score:
        it is kept as an ``invalid_score`` event instead (and counted in health)."""
        try:
            # A score taken at the root belongs to the whole trace, not to a stage.
            span_id = None if self is self._trace._root else self.span_id
            c = COERCE
            number = c.number(value)
            if number is None:
                self.evidence("invalid_score", {"name": c.name(name), "value": c.text(repr(value))})
                return None
            sc = Score(
                new_record_id(),
                c.name(name),
                number,
                c.number(max),
                c.flag(passed),
                c.name(source),
                c.dimensions(dimensions),
                c.text(comment),
                span_id,
                time_ns(),
            )
            self._trace.scores.append(sc)
            return sc
        except Exception as exc:  # noqa: BLE001
            self._trace._runtime.internal_error("score", exc)
            return None

    def model_load(self, count: int = 1) -> None:
        """Count a model load in this stage (the step's ``model_loads``)."""
        try:
            total = (self.model_loads or 0) + int(count)
            self.model_loads = total if 0 <= total < _INT_BOUND else self.model_loads
        except Exception as exc:  # noqa: BLE001
            self._trace._runtime.internal_error("model_load", exc)

    def __repr__(self) -> str:
        return f"<Stage {self.name!r} kind={self.kind} span_id={self.span_id}>"


class LiveTrace(Trace):
    """A trace being recorded in this process; its root stage is current inside ``with``."""

    __slots__ = (
        "_budget_warned",
        "_finished",
        "_hooks",
        "_keep",
        "_root",
        "_runtime",
        "_spent",
        "_token",
        "budget",
        "tracestate",
    )

    def __init__(self, runtime: Runtime, trace_id: str, name: str, parent_span_id: str | None, keep: bool) -> None:
        super().__init__(trace_id, name)
        self._runtime = runtime
        self._hooks = runtime.hooks
        self._keep = keep  # False: sampled out, recorded only because keep_errors is on
        self._finished = False
        self._token: Token[Any] | None = None
        self.parent_span_id = parent_span_id
        self.project = runtime.project
        self.service = runtime.service
        self.environment = runtime.environment
        self.release = runtime.release
        self.budget: Any = None  # a glassbox.budget.Budget when any budget applies
        self._spent: Any = 0.0  # a float, then an exact Decimal once a call is counted (budget.py)
        self._budget_warned: Any = False  # budget.py's flags (warned, trace max, daily max)
        self.tracestate: str | None = None
        self._root = Stage(self, parent_span_id, name, "trace")
        self.root_span_id = self._root.span_id

    recording = True

    @property
    def span_id(self) -> str:
        return self._root.span_id

    @property
    def kind(self) -> str:
        return "trace"

    def __enter__(self) -> LiveTrace:
        self._runtime.trace_started(self)
        self._root._begin()
        self.start_ns = self._root.start_ns
        self._token = _current.set(self._root)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> Literal[False]:
        if self._token is not None:
            restore(self._token)
        root = self._root
        root._end(exc)
        self.end_ns = root.end_ns
        if exc is not None:
            self.status = "failed"
        elif self.status == "in_progress":
            self.status = "complete"
        self._finished = True
        self._runtime.trace_finished(self)
        return False

    async def __aenter__(self) -> LiveTrace:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)

    def detach_stages(self) -> None:
        """Called once the sinks have the trace: point its ended stages at a shadow of it.

        A recorded trace is a reference cycle (``Stage._trace`` and ``LiveTrace.spans``), which only
        the cyclic GC can free; by then it has aged into the oldest generation and pays for full
        collections. The shadow has the trace's identity and settings but empty collections, so the
        stages no longer keep the trace (nor it them) alive. A stage still current somewhere (e.g. in
        an asyncio task started inside it) goes on working: new child stages become late segments of
        the trace, exactly as they did before, and the shadow holds only those.
        """
        shadow = LiveTrace.__new__(LiveTrace)
        for name in _SHADOWED:
            setattr(shadow, name, getattr(self, name, None))
        for name in _FRESH_LISTS:
            setattr(shadow, name, [])
        shadow.metadata = {}
        shadow.input = shadow.output = shadow._token = None
        shadow._finished = True
        for span in self.spans:
            if type(span) is Stage and span.end_ns is not None:
                span._trace = shadow

    def _note_error(self, stage: Stage, exc: BaseException) -> None:
        # The innermost failing stage explains the failure best; keep the first one seen.
        if self.error is None:
            self.error = {**(stage.error or _error_info(exc)), "stage": stage.name}

    # Recording calls on the trace act on its root stage.
    def set(self, **attributes: Any) -> LiveTrace:
        self._root.set(**attributes)
        return self

    def _on_root(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return getattr(self._root, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - e.g. a missing argument: tracing never raises into user code
            self._runtime.internal_error(method, exc)
            return None

    def decision(self, *args: Any, **kwargs: Any) -> Decision | None:
        return self._on_root("decision", args, kwargs)

    def evidence(self, *args: Any, **kwargs: Any) -> Event | None:
        return self._on_root("evidence", args, kwargs)

    def score(self, *args: Any, **kwargs: Any) -> Score | None:
        return self._on_root("score", args, kwargs)

    def __repr__(self) -> str:
        return f"<Trace {self.name!r} trace_id={self.trace_id} status={self.status}>"


# What a trace's shadow (LiveTrace.detach_stages) starts empty, and the slots it copies.
_FRESH_LISTS = ("spans", "decisions", "events", "scores", "feedback", "alerts", "tags")
_SHADOWED = tuple(
    dict.fromkeys(
        n
        for cls in (Trace, LiveTrace)
        for n in cls.__slots__
        if n not in (*_FRESH_LISTS, "metadata", "input", "output", "_token", "_finished")
    )
)


def current() -> Any:
    """The active stage (or trace root), or None."""
    return _current.get()


def start_stage(name: str, kind: str = "stage") -> Stage | NoopStage:
    cur = _current.get()
    if cur is None or not cur.recording:
        return NOOP_STAGE
    trace = cur._trace
    if trace.budget is not None:
        trace._runtime.check_budget(trace)
    return Stage(trace, cur.span_id, name, kind)


def otel_parent() -> tuple[str, str, bool] | None:
    """The app's active OpenTelemetry span, if the app uses OpenTelemetry at all."""
    if "opentelemetry.trace" not in sys.modules:
        return None  # nothing imported it, so nothing can be active: pay nothing
    from glassbox.otel import active_otel_parent

    return active_otel_parent()


__all__ = ["LiveTrace", "RemoteParent", "Stage", "current", "start_stage", "truncate"]
