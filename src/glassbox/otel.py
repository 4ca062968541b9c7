"""OpenTelemetry interop: context publishing, folding foreign spans, OTLP export.

Imported only when the app uses OpenTelemetry or OTLP export is configured, so
an app without OpenTelemetry pays nothing for any of this.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from glassbox import otel_fields
from glassbox.content import policy_for
from glassbox.model import Span, Trace

if TYPE_CHECKING:
    from glassbox.runtime import Runtime

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_NO_STATE = TraceState()
_set_span_in_context = otel_trace.set_span_in_context
_attach = otel_context.attach
_detach = otel_context.detach


def active_otel_parent() -> tuple[str, str, bool] | None:
    """The app's current OTel span as (trace_id, span_id, sampled), if there is a valid one."""
    ctx = otel_trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", bool(ctx.trace_flags & TraceFlags.SAMPLED)


def span_context(
    trace_id: str, span_id: str, sampled: bool = True, remote: bool = False, tracestate: Any = None
) -> SpanContext:
    state = tracestate if isinstance(tracestate, TraceState) else _NO_STATE
    if isinstance(tracestate, str) and tracestate:
        state = TraceState.from_header([tracestate])
    flags = _SAMPLED if sampled else _NOT_SAMPLED
    return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=remote, trace_flags=flags, trace_state=state)


class OTelBridge:
    """Ties glassbox to an app's OTel SDK TracerProvider without replacing it.

    (a) each glassbox stage is published into the OTel context, so spans the app or
    its instrumentations start nest under it; (b) a span processor folds those spans
    into the glassbox trace when they end.
    """

    _by_provider: weakref.WeakKeyDictionary[Any, OTelBridge] = weakref.WeakKeyDictionary()

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.processor = FoldingProcessor()

    @classmethod
    def for_provider(cls, provider: Any, runtime: Runtime) -> OTelBridge | None:
        if not hasattr(provider, "add_span_processor"):  # the API's no-op / proxy provider
            return None
        bridge = cls._by_provider.get(provider)
        if bridge is None:
            bridge = cls(provider)
            provider.add_span_processor(bridge.processor)
            cls._by_provider[provider] = bridge
        bridge.processor.runtime = runtime
        return bridge

    # Called for every stage while an app's TracerProvider is set: kept to the OTel API's bare minimum.
    def on_start(self, stage: Any) -> object:
        sc = SpanContext(int(stage.trace_id, 16), int(stage.span_id, 16), False, _SAMPLED, _NO_STATE)
        return _attach(_set_span_in_context(NonRecordingSpan(sc)))

    def on_end(self, stage: Any, token: Any) -> None:
        if token is not None:
            try:  # noqa: SIM105 - contextlib.suppress costs a context manager per stage
                _detach(token)
            except Exception:  # noqa: BLE001 - detaching in another context fails; OTel has logged it
                pass

    attach = on_start

    @property
    def bridge(self) -> OTelBridge:
        """As a stage hook, the bridge is its own bridge (see ``StageHooks.bridge``)."""
        return self

    def detach(self, token: object) -> None:
        self.on_end(None, token)

    def detach_from_runtime(self, runtime: Runtime) -> None:
        if self.processor.runtime is runtime:
            self.processor.runtime = None


class FoldingProcessor:
    """An OTel SpanProcessor: spans that belong to a live glassbox trace join it."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def _on_ending(self, span: Any) -> None:
        return None

    def on_end(self, span: Any) -> None:
        rt = self.runtime
        if rt is None:
            return
        try:
            ctx = span.get_span_context()
            trace = rt.live_trace(f"{ctx.trace_id:032x}")
            if trace is None:
                return
            gspan = span_from_otel(span, trace.trace_id)
            gspan.service = gspan.service or trace.service
            if gspan.kind in ("llm", "embedding"):
                rt.foreign_llm_span(trace, gspan)  # priced by the runtime: the OTel layer knows no cost layer
            policy_for(rt.settings).apply(gspan)  # instrumentors' prompts: capture_content and redact, as gb.llm
            if trace._finished:
                rt.late_span(trace, gspan)
            else:
                trace.spans.append(gspan)
        except Exception as exc:  # noqa: BLE001 - never raise into the app's OTel pipeline
            rt.internal_error("otel-fold", exc)

    def shutdown(self) -> None:
        self.runtime = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


# -- OTel span -> glassbox span ------------------------------------------------------------
_OPENINFERENCE_KINDS = {
    "LLM": "llm",
    "EMBEDDING": "embedding",
    "RETRIEVER": "retrieval",
    "RERANKER": "retrieval",
    "TOOL": "tool",
    "AGENT": "agent",
    "CHAIN": "stage",
    "GUARDRAIL": "stage",
    "EVALUATOR": "stage",
}
_GENAI_OPERATIONS = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
}


def infer_kind(attrs: dict[str, Any]) -> str:
    oi = attrs.get("openinference.span.kind")
    if isinstance(oi, str) and oi.upper() in _OPENINFERENCE_KINDS:
        return _OPENINFERENCE_KINDS[oi.upper()]
    op = attrs.get("gen_ai.operation.name")
    if isinstance(op, str) and op in _GENAI_OPERATIONS:
        return _GENAI_OPERATIONS[op]
    if "glassbox.kind" in attrs:
        return str(attrs["glassbox.kind"])
    if any(k.startswith("gen_ai.") for k in attrs) or "llm.model_name" in attrs:
        return "llm"
    return "stage"


def _first_int(attrs: dict[str, Any], *keys: str) -> int | None:
    for k in keys:
        v = attrs.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return int(v)
    return None


def span_from_otel(span: Any, trace_id: str) -> Span:
    """A glassbox span from an OTel ReadableSpan (OpenLLMetry gen_ai.*, OpenInference llm.*, plain)."""
    ctx = span.get_span_context()
    attrs = dict(span.attributes or {})
    parent = span.parent
    g = Span(
        trace_id,
        f"{ctx.span_id:016x}",
        f"{parent.span_id:016x}" if parent else None,
        span.name,
        infer_kind(attrs),
        span.start_time or 0,
    )
    g.end_ns = span.end_time
    code = span.status.status_code.name
    g.status = {"OK": "ok", "ERROR": "error"}.get(code, "ok" if span.end_time else "unset")
    if g.status == "error":
        exc = next((e for e in span.events if e.name == "exception"), None)
        ea = dict(exc.attributes or {}) if exc is not None else {}
        g.error = {
            "type": ea.get("exception.type", "Error"),
            "message": ea.get("exception.message", span.status.description or ""),
            "stack": ea.get("exception.stacktrace", ""),
        }
    g.model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model") or attrs.get("llm.model_name")
    g.tokens_in = _first_int(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
    g.tokens_out = _first_int(
        attrs, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"
    )
    resource = getattr(span, "resource", None)
    if resource is not None:
        g.service = resource.attributes.get("service.name")
        g.resource = otel_fields.resource_to_keep(_plain(dict(resource.attributes)))
    scope = getattr(span, "instrumentation_scope", None)
    if scope is not None:
        attrs.setdefault("otel.scope.name", scope.name)
        g.scope = otel_fields.scope_to_keep(scope.name, scope.version, _plain(dict(scope.attributes or {})))
    g.otel_kind = otel_fields.kind_from_name(getattr(span.kind, "name", None))
    g.trace_state = ctx.trace_state.to_header() or None if ctx.trace_state else None
    g.status_message = span.status.description or None
    if span.links:
        g.links = [_link_dict(link) for link in span.links]
    g.attributes = _plain(attrs)
    return g


def _plain(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in attrs.items()}


def _link_dict(link: Any) -> dict[str, Any]:
    c = link.context
    d: dict[str, Any] = {"trace_id": f"{c.trace_id:032x}", "span_id": f"{c.span_id:016x}"}
    if c.trace_state:
        d["trace_state"] = c.trace_state.to_header()
    if link.attributes:
        d["attributes"] = _plain(dict(link.attributes))
    return d


# -- glassbox trace -> OTel spans (for OTLP export) -------------------------------------------
def _json(value: Any) -> str:
    from glassbox.jsonsafe import dumps_text

    return dumps_text(value)


def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if v is None:
            continue
        if isinstance(v, (str, bool, int, float)):
            out[k] = v
        elif (
            isinstance(v, (list, tuple))
            and v
            and all(type(x) is type(v[0]) for x in v)
            and isinstance(v[0], (str, bool, int, float))
        ):
            out[k] = list(v)
        else:
            out[k] = _json(v)
    return out


_SCALARS = (str, bool, int, float)


def _flat(payload: dict[str, Any]) -> bool:
    """Whether every value is an OTel attribute value as is: a scalar or a non-empty list of one scalar type."""
    for k, v in payload.items():
        if k.startswith("glassbox.") or v is None:
            return False
        one = v
        if isinstance(v, list):
            if not v or any(type(x) is not type(v[0]) for x in v):
                return False
            one = v[0]
        if not isinstance(one, _SCALARS) or (type(one) is int and not -(2**63) <= one < 2**63):
            return False
    return True


def _events_by_span(trace: Trace) -> dict[str | None, list[Any]]:
    """Decisions, evidence and scores as OTel span events with ``glassbox.*`` attributes."""
    from opentelemetry.sdk.trace import Event

    events: dict[str | None, list[Any]] = {}
    root_id = trace.root_span_id
    for d in trace.decisions:
        events.setdefault(d.span_id, []).append(
            Event(
                "glassbox.decision",
                _clean(
                    {
                        "glassbox.id": d.id,
                        "glassbox.decision.what": d.what,
                        "glassbox.decision.why": d.why,
                        "glassbox.decision.confidence": d.confidence,
                        "glassbox.decision.alternatives": _json([{"option": o, "score": s} for o, s in d.alternatives]),
                        "glassbox.decision.inputs": _json(d.inputs) if d.inputs else None,
                    }
                ),
                d.at_ns,
            )
        )
    for e in trace.events:
        # A payload OTel attributes can hold goes out as attributes (an event from an OTel span keeps its own);
        # any other as JSON under glassbox.evidence.
        attrs = (
            {"glassbox.id": e.id, **e.payload}
            if _flat(e.payload)
            else {"glassbox.id": e.id, "glassbox.evidence": _json(e.payload)}
        )
        events.setdefault(e.span_id, []).append(Event(e.name, _clean(attrs), e.at_ns))
    for s in trace.scores:
        events.setdefault(s.span_id or root_id, []).append(
            Event(
                "glassbox.score",
                _clean(
                    {
                        "glassbox.id": s.id,
                        "glassbox.score.comment": s.comment,
                        "glassbox.score.name": s.name,
                        "glassbox.score.value": s.value,
                        "glassbox.score.max": s.max,
                        "glassbox.score.passed": s.passed,
                        "glassbox.score.source": s.source,
                        "glassbox.score.dimensions": _json(s.dimensions) if s.dimensions else None,
                    }
                ),
                s.at_ns,
            )
        )
    return events


_MODEL_ATTRS = ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name")


def _resource_for(s: Span, trace: Trace, cache: dict[Any, Any]) -> Any:
    """The span's resource: the sender's own as it sent it (plus the project, for a glassbox downstream),
    else glassbox's (service and project)."""
    from opentelemetry.sdk.resources import Resource

    service = s.service or trace.service or "unknown_service"
    key: Any = service if s.resource is None else _json(s.resource)
    res = cache.get(key)
    if res is None:
        project = trace.project or "default"
        res = cache[key] = (
            Resource({"service.name": service, "glassbox.project": project})
            if s.resource is None
            else Resource({"glassbox.project": project, **_clean(s.resource)})
        )
    return res


def _status(s: Span, span_events: list[Any]) -> Any:
    """The span's OTel status; a failed span also gets its exception event (unless one was kept as sent)."""
    from opentelemetry.sdk.trace import Event
    from opentelemetry.trace import Status, StatusCode

    if s.status == "ok":
        return Status(StatusCode.OK)
    if s.status != "error":
        return Status(StatusCode.UNSET)
    err = s.error or {}
    if not any(e.name == "exception" for e in span_events):
        span_events.append(
            Event(
                "exception",
                _clean(
                    {
                        "exception.type": err.get("type"),
                        "exception.message": err.get("message"),
                        "exception.stacktrace": err.get("stack"),
                    }
                ),
                s.end_ns or s.start_ns,
            )
        )
    return Status(StatusCode.ERROR, s.status_message or f"{err.get('type', 'Error')}: {err.get('message', '')}")


def _links(links: list[dict[str, Any]] | None) -> list[Any]:
    from opentelemetry.trace import Link

    return [
        Link(
            span_context(lk["trace_id"], lk["span_id"], tracestate=lk.get("trace_state")),
            _clean(lk.get("attributes") or {}),
        )
        for lk in links or ()
    ]


def _scope_for(scope: dict[str, Any], cache: dict[str, Any]) -> Any:
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    key = _json(scope)
    got = cache.get(key)
    if got is None:
        got = cache[key] = InstrumentationScope(
            scope.get("name") or "", scope.get("version"), None, _clean(scope.get("attributes") or {})
        )
    return got


def to_otel_spans(trace: Trace) -> list[Any]:
    """Convert a finished glassbox trace into OTel SDK ReadableSpans for any exporter."""
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanKind

    from glassbox._version import __version__

    scope = InstrumentationScope("glassbox", __version__)
    resources: dict[Any, Any] = {}
    scopes: dict[str, Any] = {}
    events = _events_by_span(trace)
    root_id = trace.root_span_id
    own_ids = {s.span_id for s in trace.spans}
    out = []
    for s in trace.spans:
        res = _resource_for(s, trace, resources)
        span_scope = scope if s.scope is None else _scope_for(s.scope, scopes)
        attrs: dict[str, Any] = dict(s.attributes or {})
        if s.scope is not None:  # `otel.scope.name` was derived from the scope on ingest: the scope itself goes out
            attrs.pop("otel.scope.name", None)
        attrs["glassbox.kind"] = s.kind
        attrs.setdefault("openinference.span.kind", otel_fields.openinference_kind(s.kind))
        if s.model and not any(k in attrs for k in _MODEL_ATTRS):
            attrs["gen_ai.response.model"] = s.model  # the model that answered; the request's is not known
        if s.tokens_in is not None:
            attrs.setdefault("gen_ai.usage.input_tokens", s.tokens_in)
        if s.tokens_out is not None:
            attrs.setdefault("gen_ai.usage.output_tokens", s.tokens_out)
        attrs["glassbox.cost_usd"] = s.cost_usd
        attrs["glassbox.peak_gpu_mem_bytes"] = s.peak_gpu_mem_bytes
        attrs["glassbox.model_loads"] = s.model_loads
        if s.input is not None:
            attrs["input.value"] = s.input if isinstance(s.input, str) else _json(s.input)
        if s.output is not None:
            attrs["output.value"] = s.output if isinstance(s.output, str) else _json(s.output)
        if s.span_id == root_id:
            attrs.update(
                {
                    "glassbox.trace.name": trace.name,
                    "glassbox.workflow": trace.workflow,
                    "glassbox.intent": trace.intent,
                    "glassbox.domain": trace.domain,
                    "glassbox.status": trace.status,
                    "glassbox.environment": trace.environment,
                    "glassbox.release": trace.release,
                    "user.id": trace.user_id,
                    "session.id": trace.session_id,
                    "glassbox.tags": list(trace.tags) or None,
                    "glassbox.metadata": _json(trace.metadata) if trace.metadata else None,
                    "glassbox.error": _json(trace.error) if trace.error else None,
                    "glassbox.experiment": trace.experiment,
                    "glassbox.variant": trace.variant,
                }
            )
            if trace.input is not None:
                attrs["input.value"] = trace.input if isinstance(trace.input, str) else _json(trace.input)
            if trace.output is not None:
                attrs["output.value"] = trace.output if isinstance(trace.output, str) else _json(trace.output)
        span_events = list(events.get(s.span_id, ()))
        status = _status(s, span_events)
        parent = None
        if s.parent_id:
            parent = span_context(trace.trace_id, s.parent_id, remote=s.parent_id not in own_ids)
        out.append(
            ReadableSpan(
                name=s.name,
                context=span_context(trace.trace_id, s.span_id, tracestate=s.trace_state),
                parent=parent,
                resource=res,
                attributes=_clean(attrs),
                events=sorted(span_events, key=lambda e: e.timestamp),
                links=_links(s.links),
                kind=SpanKind[s.otel_kind.upper()] if s.otel_kind else SpanKind.INTERNAL,
                status=status,
                start_time=s.start_ns,
                end_time=s.end_ns or s.start_ns,
                instrumentation_scope=span_scope,
            )
        )
    return out


class OTLPSink:
    """Writer sink: every finished trace, converted and sent with the real OTLP/HTTP exporter."""

    name = "otlp"

    def __init__(
        self,
        endpoint: str,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        compression: bool = False,
        name: str = "otlp",
        max_request_spans: int = 2000,
    ) -> None:
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        url = endpoint.rstrip("/")
        if not url.endswith("/v1/traces"):
            url += "/v1/traces"  # OTEL_EXPORTER_OTLP_ENDPOINT semantics: a base URL
        self.endpoint = url
        self.name = name
        self.max_request_spans = max_request_spans  # receivers bound request sizes (glassbox serve: 10,000 spans)
        # The exporter batches per writer batch and retries 429/503 (with backoff) until its timeout.
        self.exporter = OTLPSpanExporter(
            endpoint=url,
            headers=headers or None,
            timeout=timeout,
            compression=Compression.Gzip if compression else Compression.NoCompression,
        )

    def write(self, traces: Sequence[Trace]) -> None:
        from opentelemetry.sdk.trace.export import SpanExportResult

        spans = [s for t in traces for s in to_otel_spans(t)]
        step = max(1, self.max_request_spans)
        for i in range(0, len(spans), step):
            if self.exporter.export(spans[i : i + step]) is not SpanExportResult.SUCCESS:
                raise ConnectionError(f"OTLP export to {self.endpoint} failed ({len(spans)} spans)")

    def close(self) -> None:
        self.exporter.shutdown()
