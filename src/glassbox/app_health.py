"""The app's own ``/health/full``: components it registers with ``gb.health_check``, checked on request.

The answer has the shape of ``glassbox serve``'s ``/health/full`` (``server/health.py``)::

    {"status": "healthy" | "degraded" | "unhealthy", "score": 0-100,
     "checks": [{"name", "status": "ok" | "warn" | "fail", "detail", "ms", "critical", "details"}]}

The rule (docs/monitoring.md, "Application health"): each check weighs ok 1, warn 0.5, fail 0, and the
score is 100 times their mean, rounded. ``unhealthy`` (HTTP 503) when a *critical* check fails,
``degraded`` when the score is below 100, ``healthy`` otherwise.

A check is ``fn()`` or ``async fn()`` returning True/None (ok), False (fail), a string (ok, the
detail), ``(status, detail)``, or a dict (``{"status": "warn", "detail": ..., ...}`` or ``{"ok": bool, ...}``;
other keys become ``details``). Raising fails it with the error's type and message; running past
``timeout`` fails it as timed out. A sync check still running from an earlier request is not started
again (it answers "hung") until it returns, so a stuck dependency cannot pile up threads; it recovers
by itself on the first request after it returns.

No web framework: ``asgi_app()`` is a plain ASGI callable, and ``start_server`` serves the same
answer beside Prometheus metrics from the standard library's WSGI server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WEIGHTS = {"ok": 1.0, "warn": 0.5, "fail": 0.0}


@dataclass
class Check:
    name: str
    fn: Callable[[], Any]
    critical: bool = True
    timeout: float = 2.0
    running: concurrent.futures.Future[Any] | None = field(default=None, repr=False)
    started: float = 0.0


def _outcome(value: Any) -> tuple[str, str, dict[str, Any]]:
    """(status, detail, details) from what a check returned."""
    if value is None or value is True:
        return "ok", "", {}
    if value is False:
        return "fail", "check returned False", {}
    if isinstance(value, str):
        return "ok", value, {}
    if isinstance(value, tuple) and len(value) == 2 and value[0] in WEIGHTS:
        return value[0], str(value[1]), {}
    if isinstance(value, dict):
        details = {k: v for k, v in value.items() if k not in ("status", "ok", "detail")}
        if "status" in value:
            status = value["status"] if value["status"] in WEIGHTS else "fail"
        else:
            status = "ok" if value.get("ok", True) else "fail"
        return status, str(value.get("detail", "")), details
    return "fail", f"unexpected check result {type(value).__name__}", {}


class Registry:
    """Named component checks (one per name: registering again replaces it)."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._lock = threading.Lock()

    def register(self, name: str, fn: Callable[[], Any], *, critical: bool = True, timeout: float = 2.0) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("health check name: expected a non-empty string")
        if not callable(fn):
            raise ValueError(f"health check {name!r}: expected a function, got {type(fn).__name__}")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 < timeout <= 300
            or not math.isfinite(timeout)
        ):
            raise ValueError(f"health check {name!r}: timeout must be 0 < seconds <= 300, got {timeout!r}")
        with self._lock:
            self._checks[name] = Check(name, fn, bool(critical), float(timeout))

    def unregister(self, name: str) -> None:
        with self._lock:
            self._checks.pop(name, None)

    def clear(self) -> None:
        with self._lock:
            self._checks.clear()

    def names(self) -> list[str]:
        return list(self._checks)

    async def _run(self, c: Check) -> dict[str, Any]:
        t0 = time.perf_counter()
        status, detail = "fail", ""
        details: dict[str, Any] = {}
        try:
            if inspect.iscoroutinefunction(c.fn):
                value = await asyncio.wait_for(c.fn(), c.timeout)
            else:
                if c.running is not None and not c.running.done():
                    raise _Hung(time.monotonic() - c.started)
                fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
                c.running, c.started = fut, time.monotonic()
                threading.Thread(target=_call, args=(c.fn, fut), name=f"glassbox-health-{c.name}", daemon=True).start()
                value = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fut)), c.timeout)
                if inspect.isawaitable(value):
                    value = await asyncio.wait_for(value, max(0.001, c.timeout - (time.perf_counter() - t0)))
            status, detail, details = _outcome(value)
        except _Hung as exc:
            detail = f"hung: the previous check has been running for {exc.seconds:.1f} s"
        except TimeoutError:
            detail = f"timed out after {c.timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - a failing component is a finding, not a crash
            detail = f"{type(exc).__name__}: {exc}"[:500]
        return {
            "name": c.name,
            "status": status,
            "detail": detail,
            "ms": round((time.perf_counter() - t0) * 1000, 2),
            "critical": c.critical,
            "details": details,
        }

    async def evaluate(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) after running every check concurrently."""
        with self._lock:
            checks = list(self._checks.values())
        results = list(await asyncio.gather(*(self._run(c) for c in checks)))
        return summarize(results)

    def evaluate_sync(self) -> tuple[int, dict[str, Any]]:
        """``evaluate`` from a thread with no running event loop (WSGI, scripts)."""
        return asyncio.run(self.evaluate())


class _Hung(Exception):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


def _call(fn: Callable[[], Any], fut: concurrent.futures.Future[Any]) -> None:
    try:
        fut.set_result(fn())
    except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
        fut.set_exception(exc)


def summarize(checks: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """The documented rule: score = 100 x mean weight; a critical failure makes it unhealthy (503)."""
    score = round(100 * sum(WEIGHTS[c["status"]] for c in checks) / len(checks)) if checks else 100
    unhealthy = any(c["status"] == "fail" and c.get("critical", True) for c in checks)
    status = "unhealthy" if unhealthy else ("degraded" if score < 100 else "healthy")
    return (503 if unhealthy else 200), {"status": status, "score": score, "checks": checks}


registry = Registry()
register = registry.register


def asgi_app(reg: Registry | None = None) -> Callable[..., Any]:
    """An ASGI app: ``GET …/health/full`` (the checks), ``GET …/health`` (alive). Mount it anywhere."""
    reg = reg or registry

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        path = path.rstrip("/") or "/"
        body: dict[str, Any]
        if scope.get("method") not in ("GET", "HEAD"):
            code, body = 405, {"error": {"code": "method_not_allowed", "message": "use GET"}}
        elif path.endswith("/full") or path == "/health/full":
            code, body = await reg.evaluate()
        elif path in ("/", "/health") or path.endswith("/health"):
            code, body = 200, {"status": "ok"}
        else:
            code, body = 404, {"error": {"code": "not_found", "message": f"no route {path}; try /health/full"}}
        data = json.dumps(body, default=str).encode()
        await send(
            {
                "type": "http.response.start",
                "status": code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else data})

    return app


def wsgi_app(metrics_app: Callable[..., Any] | None, reg: Registry | None = None) -> Callable[..., Any]:
    """WSGI: ``/health/full`` and ``/health`` from the checks, everything else to ``metrics_app``."""
    reg = reg or registry

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = (environ.get("PATH_INFO") or "/").rstrip("/") or "/"
        body: dict[str, Any]
        if path in ("/health/full", "/health") or metrics_app is None:
            if path == "/health/full":
                code, body = reg.evaluate_sync()
            elif path == "/health":
                code, body = 200, {"status": "ok"}
            else:
                code, body = 404, {"error": {"code": "not_found", "message": "try /health/full"}}
            data = json.dumps(body, default=str).encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "no-store"),
            ]
            start_response(f"{code} {reason}", headers)
            return [data]
        return list(metrics_app(environ, start_response))

    return app


def start_server(port: int, addr: str = "127.0.0.1", registry_: Any = None) -> tuple[Any, threading.Thread]:
    """Serve Prometheus metrics of ``registry_`` and ``/health/full`` on one port (``gb.start_metrics_server``)."""
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client import REGISTRY, make_wsgi_app

    class _Server(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class _Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = make_server(addr, port, wsgi_app(make_wsgi_app(registry_ or REGISTRY)), _Server, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, name="glassbox-metrics", daemon=True)
    thread.start()
    return httpd, thread
