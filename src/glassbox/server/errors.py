"""One error shape for every 4xx/5xx: ``{"error": {"code": "...", "message": "..."}}``, and request size limits."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from glassbox.errors import GlassboxError, QueryError, StoreError, TraceNotFound
from glassbox.server.auth import AuthError

log = logging.getLogger("glassbox.server")


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is 413, whether or not it declared its length (chunked)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await error(413, "payload_too_large", f"request body over {limit} bytes")(scope, receive, send)
                return
        seen = 0

        async def bounded() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, bounded, send)


def install(app: FastAPI) -> None:
    """Map every exception a route can raise onto the error shape (never a store URL or a traceback)."""

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return error(413, "payload_too_large", str(exc))

    @app.exception_handler(TraceNotFound)
    async def _missing(request: Request, exc: TraceNotFound) -> JSONResponse:
        return error(404, "not_found", str(exc).split(" in ")[0])  # never the store URL

    @app.exception_handler(QueryError)
    async def _bad_query(request: Request, exc: QueryError) -> JSONResponse:
        return error(400, "bad_request", str(exc))

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        log.warning("glassbox serve: %s %s: %s", request.method, request.url.path, exc)
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
        return error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("glassbox serve: unexpected error on %s %s", request.method, request.url.path)
        return error(500, "internal_error", "unexpected server error (logged); please report it")
