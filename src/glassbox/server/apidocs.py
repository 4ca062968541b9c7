"""The API docs pages (``/docs``: Swagger UI, ``/redoc``: ReDoc) served offline: their scripts and styles
come from the installed ``fastapi-offline`` package (which ships them as files), never a CDN."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
PREFIX = "/docs/assets"
# The pages may load only what this server serves (ReDoc would otherwise fetch its logo from a CDN).
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'"
)


def _locked(resp: HTMLResponse) -> HTMLResponse:
    resp.headers["Content-Security-Policy"] = CSP
    return resp


def install(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their assets to ``app`` (created with ``docs_url=redoc_url=None``)."""
    schema = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return _locked(
            get_swagger_ui_html(
                openapi_url=schema,
                title=f"{app.title} API",
                swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
                swagger_css_url=f"{PREFIX}/swagger-ui.css",
                swagger_favicon_url=f"{PREFIX}/favicon.png",
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _locked(
            get_redoc_html(
                openapi_url=schema,
                title=f"{app.title} API",
                redoc_js_url=f"{PREFIX}/redoc.standalone.js",
                redoc_favicon_url=f"{PREFIX}/favicon.png",
                with_google_fonts=False,
            )
        )

    @app.get(PREFIX + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in ASSETS:  # a fixed list: no path ever reaches the file system from the URL
            raise HTTPException(404, "no such asset")
        body = files("fastapi_offline").joinpath("static", name).read_bytes()
        return Response(body, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})
