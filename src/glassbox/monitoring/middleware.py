"""ASGI and WSGI middleware for users' apps: a trace per request, W3C headers in and out, request logs.

    app.add_middleware(gb.asgi_middleware)              # FastAPI / Starlette (or GlassboxASGI(app))
    flask_app.wsgi_app = gb.wsgi_middleware(flask_app.wsgi_app)

Each request: ``traceparent``/``tracestate`` and the correlation id (``x-correlation-id`` header, else
the ``baggage`` entry, else a new id) are read; a trace named ``METHOD /path`` runs around the app with
``http.*`` attributes; the response carries ``traceparent`` and ``x-correlation-id``; ``request started``
and ``request finished`` (status, duration_ms) are logged as JSON with the ids. A 5xx answer or an
exception fails the run. Tracing never breaks the app: errors in this middleware are swallowed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

CORRELATION_HEADER = "x-correlation-id"


class _Lifecycle:
    """What both middlewares share: the request's trace, its logs and its response headers."""

    def __init__(self, *, workflow: str | None, log: Any, correlation_header: str) -> None:
        from glassbox.monitoring.logging import logger

        self.workflow = workflow
        self.log = log if log is not None else logger("glassbox.http")
        self.header = correlation_header

    def begin(self, method: str, path: str, headers: dict[str, str]) -> tuple[Any, Any, Any, float]:
        import glassbox as gb
        from glassbox._correlation import correlation, from_headers

        ext = gb.extract(headers)
        ext.__enter__()
        corr = correlation(from_headers(headers, header=self.header))
        corr.__enter__()
        tr = gb.trace(name=f"{method} {path}", workflow=self.workflow)
        tr.__enter__()
        try:
            gb.current_stage().set(**{"http.method": method, "http.target": path, "correlation_id": corr.id})
            self.log.info("request started", method=method, path=path)
        except Exception:  # noqa: BLE001 - logging must never break the request
            pass
        return ext, corr, tr, time.perf_counter()

    def response_headers(self, corr: Any) -> list[tuple[str, str]]:
        import glassbox as gb

        out = [(k, v) for k, v in gb.inject({}).items() if k.lower() in ("traceparent", "tracestate")]
        return [*out, (self.header, corr.id)]

    def end(
        self, parts: tuple[Any, Any, Any, float], method: str, path: str, status: int | None, exc: BaseException | None
    ) -> None:
        import glassbox as gb

        ext, corr, tr, t0 = parts
        ms = round((time.perf_counter() - t0) * 1000, 3)
        try:
            gb.current_stage().set(**{"http.status_code": status or 500})
            fields = {"method": method, "path": path, "status": status or 500, "duration_ms": ms}
            if exc is not None or (status or 500) >= 500:
                self.log.error("request finished", **fields, error=type(exc).__name__ if exc else None)
            else:
                self.log.info("request finished", **fields)
        except Exception:  # noqa: BLE001
            pass
        failure = exc if exc is not None else (_ServerError(f"HTTP {status}") if (status or 500) >= 500 else None)
        if failure is not None:
            tr.__exit__(type(failure), failure, failure.__traceback__)
        else:
            tr.__exit__(None, None, None)
        corr.__exit__(None, None, None)
        ext.__exit__(None, None, None)


class _ServerError(Exception):
    """A 5xx answer without an exception: the run failed."""


class GlassboxASGI:
    """ASGI middleware (FastAPI/Starlette ``app.add_middleware(GlassboxASGI)``, or wrap any ASGI app)."""

    def __init__(
        self, app: Any, *, workflow: str | None = None, logger: Any = None, correlation_header: str = CORRELATION_HEADER
    ) -> None:
        self.app = app
        self.life = _Lifecycle(workflow=workflow, log=logger, correlation_header=correlation_header)

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        method, path = scope.get("method", "GET"), scope.get("path", "/")
        parts = self.life.begin(method, path, headers)
        status: list[int] = []

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message.get("status", 200)))
                extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.life.response_headers(parts[1])]
                message = {**message, "headers": [*list(message.get("headers") or []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except BaseException as exc:
            self.life.end(parts, method, path, status[0] if status else None, exc)
            raise
        self.life.end(parts, method, path, status[0] if status else None, None)


class GlassboxWSGI:
    """WSGI middleware (``flask_app.wsgi_app = GlassboxWSGI(flask_app.wsgi_app)``). The body is read inside the
    trace, so a streamed response is buffered."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        *,
        workflow: str | None = None,
        logger: Any = None,
        correlation_header: str = CORRELATION_HEADER,
    ) -> None:
        self.app = app
        self.life = _Lifecycle(workflow=workflow, log=logger, correlation_header=correlation_header)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        parts = self.life.begin(method, path, headers)
        status: list[int] = []

        def start(status_line: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(int(status_line.split(" ", 1)[0]))
            return start_response(status_line, [*response_headers, *self.life.response_headers(parts[1])], exc_info)

        try:
            result = self.app(environ, start)
            try:
                body = list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:
            self.life.end(parts, method, path, status[0] if status else None, exc)
            raise
        self.life.end(parts, method, path, status[0] if status else None, None)
        return body
