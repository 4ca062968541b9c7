"""Logs with ids (structlog and stdlib, across threads and asyncio tasks), correlation in baggage, the ASGI
middleware through a real uvicorn server, the WSGI middleware, and the console exporter."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import threading
import time
import wsgiref.util

import httpx
import pytest

import glassbox as gb
from glassbox.monitoring.logging import JsonFormatter, uninstrument_logging
from glassbox.store.store import Store


def lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(x) for x in buf.getvalue().splitlines() if x.strip()]


def test_logger_writes_json_with_trace_span_and_correlation_ids(tmp_path):
    gb.configure(store=None, trail_dir=None)
    buf = io.StringIO()
    log = gb.logger("retrieval", file=buf)
    log.info("outside")
    with gb.correlation("req-42"), gb.trace("q") as t:
        with gb.stage("retrieve") as s:
            log.info("searched", hits=3)
        log.warning("after")
    first, inside, after = lines(buf)
    assert "trace_id" not in first and first["event"] == "outside" and first["logger"] == "retrieval"
    assert inside == {
        **inside,
        "event": "searched",
        "hits": 3,
        "level": "info",
        "trace_id": t.trace_id,
        "span_id": s.span_id,
        "correlation_id": "req-42",
    }
    assert after["span_id"] == t.root_span_id and after["level"] == "warning"
    assert inside["timestamp"].endswith("Z")


def test_ids_follow_threads_and_asyncio_tasks():
    from glassbox.monitoring.logging import logger

    gb.configure(store=None, trail_dir=None)
    buf = io.StringIO()
    log = logger("x", file=buf)

    async def task(name: str) -> None:
        with gb.correlation(name), gb.stage(name):
            await asyncio.sleep(0.01)
            log.info(name)

    async def main() -> None:
        await asyncio.gather(task("a"), task("b"))

    with gb.trace("q") as t:
        asyncio.run(main())
        worker = threading.Thread(target=gb.wrap(lambda: log.info("thread")))
        worker.start()
        worker.join()
    got = {d["event"]: d for d in lines(buf)}
    assert got["a"]["correlation_id"] == "a" and got["b"]["correlation_id"] == "b"
    assert got["a"]["span_id"] != got["b"]["span_id"] and got["a"]["trace_id"] == t.trace_id
    assert got["thread"]["trace_id"] == t.trace_id


def test_stdlib_logging_gets_the_same_fields():
    gb.configure(store=None, trail_dir=None)
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(JsonFormatter())
    lg = logging.getLogger("app.test")
    lg.addHandler(handler)
    lg.setLevel(logging.INFO)
    gb.instrument_logging()
    try:
        with gb.correlation("c-9"), gb.trace("q") as t:
            lg.info("hello %s", "world", extra={"user": "u1"})
        (rec,) = lines(buf)
        assert rec["event"] == "hello world" and rec["user"] == "u1" and rec["trace_id"] == t.trace_id
        assert rec["correlation_id"] == "c-9" and rec["span_id"] == t.root_span_id
    finally:
        lg.removeHandler(handler)
        uninstrument_logging()


def test_correlation_travels_as_baggage():
    with gb.correlation("req 42/é"):
        headers = gb.inject({"baggage": "tenant=acme"})
    assert headers["baggage"] == "tenant=acme,glassbox.correlation_id=req%2042%2F%C3%A9"
    with gb.extract(headers):
        from glassbox._correlation import current

        assert current() == "req 42/é"
    assert current() is None
    with gb.correlation() as fresh:
        assert len(fresh) == 32


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_asgi_middleware_through_a_real_uvicorn_server(tmp_path, capfd):
    import uvicorn
    from fastapi import FastAPI

    url = f"sqlite:///{tmp_path}/m.db"
    gb.configure(store=url, trail_dir=None)
    api = FastAPI()

    @api.get("/answer")
    def answer() -> dict:
        with gb.stage("retrieve"):
            gb.logger("handler").info("inside handler")
        return {"ok": True}

    @api.get("/boom")
    def boom() -> dict:
        raise RuntimeError("down")

    api.add_middleware(gb.asgi_middleware, workflow="api")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        r = httpx.get(f"http://127.0.0.1:{port}/answer", headers={"traceparent": parent, "x-correlation-id": "cid-1"})
        assert r.status_code == 200 and r.headers["x-correlation-id"] == "cid-1"
        assert r.headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
        bad = httpx.get(f"http://127.0.0.1:{port}/boom")
        assert bad.status_code == 500  # Starlette's error handler (outside the middleware) answers it
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    gb.flush()
    t = Store(url).get_trace("0af7651916cd43dd8448eb211c80319c")
    assert t.name == "GET /answer" and t.workflow == "api" and t.status == "complete"
    assert t.parent_span_id == "b7ad6b7169203331" and any(s.name == "retrieve" for s in t.spans)
    root = next(s for s in t.spans if s.span_id == t.root_span_id)
    assert root.attributes["http.status_code"] == 200 and root.attributes["correlation_id"] == "cid-1"
    logs = [json.loads(x) for x in capfd.readouterr().err.splitlines() if x.startswith("{")]
    mine = [d for d in logs if d.get("trace_id") == t.trace_id]
    assert [d["event"] for d in mine] == ["request started", "inside handler", "request finished"]
    assert mine[-1]["status"] == 200 and mine[-1]["duration_ms"] > 0 and mine[-1]["correlation_id"] == "cid-1"
    failed = [d for d in logs if d["event"] == "request finished" and d["status"] == 500]
    assert failed and failed[0]["level"] == "error"
    assert Store(url).get_trace(failed[0]["trace_id"]).status == "failed"


def test_wsgi_middleware(tmp_path, capfd):
    url = f"sqlite:///{tmp_path}/w.db"
    gb.configure(store=url, trail_dir=None)

    def app(environ, start_response):
        with gb.stage("work"):
            pass
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"made"]

    from glassbox.monitoring.middleware import GlassboxWSGI

    wrapped = GlassboxWSGI(app)
    environ: dict = {"REQUEST_METHOD": "POST", "PATH_INFO": "/items", "HTTP_BAGGAGE": "glassbox.correlation_id=w-7"}
    wsgiref.util.setup_testing_defaults(environ)
    got: dict = {}

    def start_response(status, headers, exc_info=None):
        got["status"], got["headers"] = status, dict(headers)

    assert b"".join(wrapped(environ, start_response)) == b"made"
    assert got["status"] == "201 Created" and got["headers"]["x-correlation-id"] == "w-7"
    trace_id = got["headers"]["traceparent"].split("-")[1]
    gb.flush()
    t = Store(url).get_trace(trace_id)
    assert t.name == "POST /items" and [s.name for s in t.spans if s.span_id != t.root_span_id] == ["work"]
    ends = [json.loads(x) for x in capfd.readouterr().err.splitlines() if '"request finished"' in x]
    assert ends[0]["status"] == 201 and ends[0]["correlation_id"] == "w-7"


def test_console_exporter_prints_each_trace_as_a_tree(monkeypatch, capfd):
    monkeypatch.setenv("GLASSBOX_CONSOLE", "1")
    gb.configure(store=None, trail_dir=None)
    with gb.trace("q", workflow="qa"):
        with gb.stage("retrieve"), gb.stage("embed"):
            pass
        with gb.stage("answer"):
            pass
    gb.flush()
    gb.shutdown()
    err = capfd.readouterr().err
    lines_ = [x for x in err.splitlines() if x.strip()]
    start = next(i for i, x in enumerate(lines_) if x.startswith("qa "))
    assert "complete" in lines_[start]
    tree = lines_[start + 1 : start + 4]
    assert tree[0].startswith("├─ retrieve ") and tree[1].startswith("│  └─ embed ")
    assert tree[2].startswith("└─ answer ")


@pytest.fixture(autouse=True)
def _no_leftover_instrumentation():
    yield
    uninstrument_logging()
