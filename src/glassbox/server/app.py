"""The ASGI app of ``glassbox serve``: OTLP receiver, REST API, metrics, health (and routers added later)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from glassbox import __version__
from glassbox.errors import ConfigError, GlassboxError, QueryError, StoreError, TraceNotFound
from glassbox.monitoring.metrics import Metrics
from glassbox.server.auth import AuthError, writer
from glassbox.server.ingest import Ingest
from glassbox.store.store import Store

MAX_BODY_BYTES = 8 * 1024 * 1024
log = logging.getLogger("glassbox.server")


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def create_app(store: str | Store, *, auth_required: bool = False, queue_size: int = 2000,
               max_body_bytes: int = MAX_BODY_BYTES, max_spans: int = 50_000, calibration: bool = True,
               writer_delay: float = 0.0, routers: Iterable[APIRouter] = ()) -> FastAPI:  # fmt: skip
    """The server app over ``store``. ``routers`` are mounted too (the web dashboard adds its pages this way)."""
    st = store if isinstance(store, Store) else Store(store)
    st.ready()  # migrate now: a store that cannot open fails the start, not the first request
    metrics = Metrics()
    ingest = Ingest(st, metrics, queue_size=queue_size, calibration=calibration, writer_delay=writer_delay)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        ingest.close()

    app = FastAPI(title="glassbox", version=__version__, lifespan=lifespan,
                  description="Traces, decisions, costs and quality of AI pipelines: REST API and OTLP receiver.")
    app.state.store, app.state.ingest, app.state.metrics = st, ingest, metrics
    app.state.auth_required = auth_required
    app.state.max_body_bytes, app.state.max_spans = max_body_bytes, max_spans
    app.state.pricer = None

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(TraceNotFound)
    async def _missing(request: Request, exc: TraceNotFound) -> JSONResponse:
        return error(404, "not_found", str(exc).split(" in ")[0])  # never the store URL

    @app.exception_handler(QueryError)
    async def _bad_query(request: Request, exc: QueryError) -> JSONResponse:
        return error(400, "bad_request", str(exc))

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        return error(503, "store_unavailable", "the store cannot be reached; try again", {"Retry-After": "5"})

    @app.exception_handler(GlassboxError)
    async def _other(request: Request, exc: GlassboxError) -> JSONResponse:
        return error(400, "bad_request", str(exc))

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> JSONResponse:
        return error(400, "bad_request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        return error(422, "invalid_request", f"{where or 'request'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("glassbox serve: unexpected error on %s %s", request.method, request.url.path)
        return error(500, "internal_error", "unexpected server error (logged); please report it")

    @app.middleware("http")
    async def _limits(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > app.state.max_body_bytes:
            return error(413, "payload_too_large", f"request body over {app.state.max_body_bytes} bytes")
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    from glassbox.server.api import router as api_router

    app.include_router(api_router)
    _otlp_routes(app)
    _ops_routes(app)
    for r in routers:
        app.include_router(r)
    return app


def _otlp_routes(app: FastAPI) -> None:
    @app.post("/v1/traces", tags=["otlp"], summary="OTLP/HTTP trace export (protobuf or JSON, gzip)")
    async def otlp_traces(request: Request) -> Response:
        from glassbox.server import otlp

        who = writer(request)
        state = request.app.state
        body = await request.body()
        ctype = request.headers.get("content-type")
        is_json = (ctype or "").split(";")[0].strip().lower() == "application/json"
        try:
            if len(body) > state.max_body_bytes:
                raise otlp.TooLarge(f"request body over {state.max_body_bytes} bytes")
            raw = otlp.decompress(body, request.headers.get("content-encoding"), state.max_body_bytes * 4)
            req = otlp.parse(raw, ctype)
            decoded = otlp.decode(req, project=who.project, pricer=_pricer(state), max_spans=state.max_spans)
        except otlp.TooLarge as exc:
            state.metrics.spans_rejected.labels("too_large").inc()
            return error(413, "payload_too_large", str(exc))
        except otlp.PayloadError as exc:
            state.metrics.spans_rejected.labels("malformed").inc()
            return error(400, "bad_payload", str(exc))
        if decoded.traces and not state.ingest.offer(decoded.traces):
            state.metrics.spans_rejected.labels("overloaded").inc(decoded.spans)
            retry = str(state.ingest.retry_after())
            return error(429, "overloaded", "the ingest queue is full; retry after the delay",
                         {"Retry-After": retry})  # fmt: skip
        state.metrics.spans_received.inc(decoded.spans - decoded.rejected)
        if decoded.rejected:
            state.metrics.spans_rejected.labels("invalid").inc(decoded.rejected)
        return _export_response(is_json, decoded.rejected, "; ".join(decoded.problems[:5]))


def _pricer(state: Any) -> Any:
    if state.pricer is None:
        from glassbox.config import load_settings
        from glassbox.cost.record import make_pricer

        try:
            s = load_settings()
            state.pricer = make_pricer(s.prices, s.prices_file)
        except ConfigError:
            state.pricer = make_pricer()
    return state.pricer


def _export_response(is_json: bool, rejected: int, message: str) -> Response:
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


def _ops_routes(app: FastAPI) -> None:
    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        m = request.app.state.metrics
        m.queue_depth.set(request.app.state.ingest.writer.queue_depth)
        from glassbox.monitoring.metrics import exposition_registry

        return Response(generate_latest(exposition_registry(m)), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", tags=["ops"], summary="Liveness")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/health/full", tags=["ops"], summary="Component checks with an overall score (503 when unhealthy)")
    def health_full(request: Request) -> JSONResponse:
        from glassbox.server.health import full

        status, body = full(request.app)
        return JSONResponse(body, status_code=status)
