"""``POST /v1/traces``: the OTLP/HTTP receiver (protobuf or JSON, gzip), partial success, backpressure."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from glassbox.errors import ConfigError
from glassbox.server import otlp
from glassbox.server.auth import Principal, writer
from glassbox.server.errors import error

router = APIRouter(tags=["otlp"])

_DOC = """Any OpenTelemetry SDK or Collector can export here (`OTEL_EXPORTER_OTLP_ENDPOINT=http://host:7433`).

Body: an `ExportTraceServiceRequest` as protobuf (`application/x-protobuf`) or OTLP/JSON
(`application/json`, hex ids), optionally `Content-Encoding: gzip`. Answers an
`ExportTraceServiceResponse` in the request's encoding, with `partial_success` when some spans
were rejected; `429`/`503` with `Retry-After` when the server is busy (retry: nothing was kept).
Needs a `write` key when keys are required; the key's project is the project of every span."""


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export",
    description=_DOC,
    response_class=Response,
    responses={
        200: {"content": {"application/x-protobuf": {}, "application/json": {}}},
        400: {"description": "not an OTLP trace export"},
        413: {"description": "too large"},
        429: {"description": "queue full: retry after Retry-After seconds"},
        503: {"description": "store unreachable: retry after Retry-After seconds"},
    },
)
async def otlp_traces(request: Request) -> Response:
    who = await run_in_threadpool(writer, request)  # a key lookup is a store query: off the event loop
    body = await request.body()  # the BodyLimit middleware bounds it (413)
    headers = request.headers
    # Decoding is CPU work: in a worker thread, so health checks and queries stay responsive meanwhile.
    return await run_in_threadpool(
        receive, request.app.state, who, body, headers.get("content-type"), headers.get("content-encoding")
    )


_OTHER_SIGNALS = {"logs": "OTEL_LOGS_EXPORTER=none", "metrics": "OTEL_METRICS_EXPORTER=none"}


@router.post(
    "/v1/logs",
    summary="Not taken: glassbox takes traces at /v1/traces",
    responses={404: {"description": "glassbox takes OTLP traces only"}},
)
async def otlp_logs() -> Response:
    return other_signal("logs")


@router.post(
    "/v1/metrics",
    summary="Not taken: glassbox takes traces at /v1/traces",
    responses={404: {"description": "glassbox takes OTLP traces only"}},
)
async def otlp_metrics() -> Response:
    return other_signal("metrics")


def other_signal(signal: str) -> Response:
    """404 with a body that says why: an OTLP exporter pointed at glassbox for every signal gets a clear answer
    (404 is not retried by OTLP exporters, so nothing piles up)."""
    return error(
        404,
        "signal_not_supported",
        f"glassbox takes OpenTelemetry traces only, at POST /v1/traces; OTLP {signal} are not stored here. "
        f"Send {signal} to a {signal} backend, or turn the exporter off ({_OTHER_SIGNALS[signal]}).",
    )


def receive(state: Any, who: Principal, body: bytes, content_type: str | None, encoding: str | None) -> Response:
    metrics, ingest = state.metrics, state.ingest
    is_json = (content_type or "").split(";")[0].strip().lower() == "application/json"
    try:
        raw = otlp.decompress(body, encoding, state.max_body_bytes * 4)
        req = otlp.parse(raw, content_type)
        count = otlp.span_count(req)
        if count > state.max_spans:  # too large whatever the queue holds: 413, not a retry
            raise otlp.TooLarge(f"{count} spans in one request; the limit is {state.max_spans}")
        if ingest.store_down or not ingest.has_room(count):  # before decoding: refusing stays cheap
            return busy(state)
        decoded = otlp.decode(
            req, project=who.project, pricer=pricer(state), max_spans=state.max_spans, content=content_policy(state)
        )
    except otlp.TooLarge as exc:
        metrics.requests_rejected.labels("too_large").inc()
        return error(413, "payload_too_large", str(exc))
    except otlp.PayloadError as exc:
        metrics.requests_rejected.labels("malformed").inc()
        return error(400, "bad_payload", str(exc))
    if decoded.traces and not ingest.offer(decoded.traces):
        return busy(state)
    metrics.spans_received.inc(decoded.spans - decoded.rejected)
    if decoded.rejected:
        metrics.spans_rejected.labels("invalid").inc(decoded.rejected)
    return export_response(is_json, decoded.rejected, "; ".join(decoded.problems[:5]))


def busy(state: Any) -> Response:
    """429 (queue full) or 503 (store down), with Retry-After: the sender keeps the spans and retries."""
    ingest, metrics = state.ingest, state.metrics
    retry = {"Retry-After": str(ingest.retry_after())}
    if ingest.store_down:
        metrics.requests_rejected.labels("store_unavailable").inc()
        return error(503, "store_unavailable", "the store is unreachable; nothing was kept, retry later", retry)
    metrics.requests_rejected.labels("overloaded").inc()
    return error(429, "overloaded", "the ingest queue is full; nothing was kept, retry after the delay", retry)


def content_policy(state: Any) -> Any:
    """What the server keeps of instrumentors' prompts and completions: its own capture_content / redact
    settings (glassbox.toml, GLASSBOX_CAPTURE_CONTENT, GLASSBOX_REDACT), read on first use."""
    policy = getattr(state, "content_policy", None)
    if policy is None:
        from glassbox.config import load_settings
        from glassbox.content import ContentPolicy

        try:
            policy = ContentPolicy.from_settings(load_settings())
        except ConfigError:
            policy = ContentPolicy()
        state.content_policy = policy
        state.capture_content = policy.capture
    return policy


def pricer(state: Any) -> Any:
    """The server's pricer (price overrides from its settings), built on first use."""
    if state.pricer is None:
        from glassbox.config import load_settings
        from glassbox.cost.record import make_pricer

        try:
            s = load_settings()
            state.pricer = make_pricer(s.prices, s.prices_file)
        except ConfigError:
            state.pricer = make_pricer()
    return state.pricer


def export_response(is_json: bool, rejected: int, message: str) -> Response:
    """ExportTraceServiceResponse, with partial_success when spans were rejected (OTLP spec)."""
    if is_json:
        doc: dict[str, Any] = {}
        if rejected:
            doc["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
        return JSONResponse(doc)
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    resp = ExportTraceServiceResponse()
    if rejected:
        resp.partial_success.rejected_spans = rejected
        resp.partial_success.error_message = message
    return Response(resp.SerializeToString(), media_type="application/x-protobuf")
