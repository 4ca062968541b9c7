"""The ASGI app of ``glassbox serve``: OTLP receiver, REST API, metrics, health, and routers added by others.

``create_app(store, routers=[...])`` is the one factory; the web dashboard mounts its pages
through ``routers`` and reuses ``glassbox.server.auth`` (``reader``/``writer`` dependencies,
``principal(request, scope)``, the ``COOKIE`` name) for its access checks.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from glassbox import __version__
from glassbox.server import errors
from glassbox.server.auth import principal
from glassbox.server.ingest import Ingest
from glassbox.store.store import Store
from glassbox.store.trail import TrailSink

if TYPE_CHECKING:
    from glassbox.analysis.calibration import CalibrationSettings

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_SPANS = 10_000
CONFIG_ENV = "GLASSBOX_SERVE_CONFIG"  # create_app's options for worker processes (`glassbox serve --workers N`)
log = logging.getLogger("glassbox.server")


def create_app(
    store: str | Store,
    *,
    auth_required: bool = False,
    queue_size: int = 2000,
    max_queue_spans: int = 50_000,
    batch_size: int = 500,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_spans: int = MAX_SPANS,
    calibration: bool | CalibrationSettings = True,
    writer_delay: float = 0.0,
    spool_dir: str | None = None,
    shutdown_grace: float = 10.0,
    durable: bool = False,
    trail_dir: str | None = None,
    routers: Iterable[APIRouter] = (),
    jobs: bool = True,
) -> FastAPI:
    """The server app over ``store``; ``routers`` are mounted too (the web dashboard adds its pages this way).

    ``auth_required``: every request needs an API key (the CLI sets it off loopback or with ``--auth``).
    ``queue_size``/``max_queue_spans``: the ingest queue's bounds (traces, spans); beyond, senders get 429.
    ``spool_dir``: where shutdown leaves what it could not write within ``shutdown_grace`` seconds
    (audit-trail format; the next start over the same folder writes it).
    ``durable``: fsync each accepted request into ``spool_dir`` before answering 200, so a kill -9 loses
    nothing acknowledged (off by default: see docs/server.md for what it costs).
    ``trail_dir``: a JSONL audit-trail folder the REST API appends the feedback it takes to (as the SDK's
    trail holds its feedback), so ``glassbox import`` restores it; None: off.
    ``jobs``: start the features' background jobs (drift monitor, scheduled reports…; see ``features``).
    ``calibration``: True judges stored runs with the calibration rules, configured like the SDK
    (``[calibration]`` in glassbox.toml, ``GLASSBOX_CALIBRATION_*``); a ``CalibrationSettings``; False: off.
    """
    st = store if isinstance(store, Store) else Store(store)
    st.ready()  # migrate now: a store that cannot open fails the start, not the first request
    from glassbox.monitoring.metrics import Metrics

    metrics = Metrics()
    ingest = Ingest(
        st,
        metrics,
        queue_size=queue_size,
        max_queue_spans=max_queue_spans,
        batch_size=batch_size,
        calibration=calibration,
        writer_delay=writer_delay,
        spool_dir=spool_dir,
        durable=durable,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        from glassbox.server import features

        stops = features.start_jobs(app) if jobs else []
        yield
        for stop in stops:
            try:
                stop()
            except Exception:
                log.exception("glassbox serve: a background job failed to stop")
        ingest.close(shutdown_grace)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())  # its live gauges leave the sums

    app = FastAPI(
        title="glassbox",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Traces, decisions, costs and quality of AI pipelines: REST API and OTLP receiver. "
        'Errors: `{"error": {"code": …, "message": …}}`.',
    )
    app.state.store, app.state.ingest, app.state.metrics = st, ingest, metrics
    app.state.auth_required = auth_required
    app.state.trail = TrailSink(trail_dir) if trail_dir else None  # the REST API's feedback (api.post_feedback)
    app.state.max_body_bytes, app.state.max_spans = max_body_bytes, max_spans
    app.state.pricer = None
    app.state.health_checks = {}  # name -> () -> (status, detail): mounted routers add theirs (see health.py)
    errors.install(app)
    from glassbox.server import apidocs

    apidocs.install(app)  # Swagger UI from the installed package: /docs works offline
    app.add_middleware(errors.BodyLimit, limit=max_body_bytes)

    @app.middleware("http")
    async def _schema_pages_need_a_key(request: Request, call_next: Any) -> Response:
        # The API's own description follows the API's key rule: off loopback (or with --auth) it needs a key.
        path = request.url.path
        if app.state.auth_required and (path in ("/openapi.json", "/docs", "/redoc") or path.startswith("/docs/")):
            from starlette.concurrency import run_in_threadpool

            from glassbox.server.auth import AuthError

            try:
                await run_in_threadpool(principal, request, "read")
            except AuthError as exc:
                return errors.error(
                    exc.status, exc.code, exc.message, {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
                )
        return await call_next(request)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    from glassbox.server import features
    from glassbox.server.api import router as api_router
    from glassbox.server.receiver import router as otlp_router

    app.include_router(api_router)
    for feature_router in features.api_routers():
        app.include_router(feature_router)
    app.include_router(otlp_router)
    _ops_routes(app)
    for r in routers:
        app.include_router(r)
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes: ``create_app`` with the options the CLI put in the environment."""
    options = json.loads(os.environ[CONFIG_ENV])
    routers: list[APIRouter] = []
    if options.pop("web", False):
        from glassbox.server import features
        from glassbox.server.web import router

        routers.append(router)
        routers.extend(features.page_routers())
    return create_app(options.pop("store"), routers=routers, **options)


def _ops_routes(app: FastAPI) -> None:
    @app.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics (needs a `metrics` key when keys are required)",
        response_class=Response,
    )
    def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        from glassbox.monitoring.metrics import exposition_registry

        state = request.app.state
        if state.auth_required:
            principal(request, "metrics")  # server-wide figures (every project's workflows): not a project key's
        m = state.metrics
        m.queue_depth.set(state.ingest.writer.queue_depth)
        m.writer_lag.set(state.ingest.lag())
        m.health.set(0 if state.ingest.store_down else 50 if state.ingest.hook_errors else 100)
        return Response(generate_latest(exposition_registry(m)), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", tags=["ops"], summary="Liveness")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/health/full", tags=["ops"], summary="Component checks with an overall score (503 when unhealthy)")
    def health_full(request: Request) -> JSONResponse:
        from glassbox.server.health import full

        status, body = full(request.app)
        return JSONResponse(body, status_code=status)
