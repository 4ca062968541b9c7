"""gb.health_check: sync and async checks that pass, raise, hang and recover; the ASGI app and the metrics port."""

from __future__ import annotations

import asyncio
import socket
import threading

import httpx
import pytest

import glassbox as gb
from glassbox.app_health import Registry, registry, summarize


@pytest.fixture(autouse=True)
def _clean_registry():
    registry.clear()
    yield
    registry.clear()


def _by_name(body):
    return {c["name"]: c for c in body["checks"]}


def test_every_kind_of_result_and_the_score_rule():
    reg = Registry()
    reg.register("db", lambda: True)
    reg.register("cache", lambda: {"ok": True, "hits": 3})
    reg.register("disk", lambda: ("warn", "10% free"), critical=False)
    reg.register("model", lambda: "v3 loaded")

    async def llm():
        return {"status": "ok", "detail": "circuit closed", "latency_ms": 12}

    reg.register("llm", llm)
    code, body = reg.evaluate_sync()
    checks = _by_name(body)
    assert code == 200 and body["status"] == "degraded"
    assert body["score"] == round(100 * (4 * 1.0 + 0.5) / 5) == 90
    assert checks["cache"]["details"] == {"hits": 3} and checks["disk"]["status"] == "warn"
    assert checks["model"]["detail"] == "v3 loaded" and checks["llm"]["details"] == {"latency_ms": 12}
    assert checks["db"]["critical"] is True and checks["disk"]["critical"] is False


def test_a_raising_check_fails_and_only_a_critical_failure_is_unhealthy():
    reg = Registry()
    reg.register("ok", lambda: True)

    def broken():
        raise ConnectionError("redis refused")

    reg.register("redis", broken, critical=False)
    code, body = reg.evaluate_sync()
    assert code == 200 and body["status"] == "degraded" and body["score"] == 50
    assert _by_name(body)["redis"] == {
        **_by_name(body)["redis"],
        "status": "fail",
        "detail": "ConnectionError: redis refused",
    }
    reg.register("redis", broken, critical=True)
    code, body = reg.evaluate_sync()
    assert code == 503 and body["status"] == "unhealthy"


def test_a_hanging_sync_check_times_out_is_not_restarted_and_recovers():
    reg = Registry()
    release = threading.Event()
    calls = []

    def stuck():
        calls.append(1)
        release.wait(10)
        return True

    reg.register("upstream", stuck, timeout=0.05)
    code, body = reg.evaluate_sync()
    assert code == 503 and _by_name(body)["upstream"]["detail"] == "timed out after 0.05 s"
    code, body = reg.evaluate_sync()  # still stuck: reported, not started a second time
    assert _by_name(body)["upstream"]["detail"].startswith("hung: the previous check has been running for")
    assert len(calls) == 1
    release.set()
    for t in threading.enumerate():
        if t.name == "glassbox-health-upstream":
            t.join(5)
    code, body = reg.evaluate_sync()
    assert code == 200 and body == {**body, "status": "healthy", "score": 100} and len(calls) == 2


def test_a_hanging_async_check_is_cancelled_at_its_timeout():
    reg = Registry()
    cancelled = []

    async def slow():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    reg.register("slow", slow, timeout=0.05)
    code, body = reg.evaluate_sync()
    assert code == 503 and _by_name(body)["slow"]["detail"] == "timed out after 0.05 s" and cancelled == [True]


def test_bad_registrations_are_refused():
    reg = Registry()
    with pytest.raises(ValueError, match="expected a function"):
        reg.register("x", 3)
    with pytest.raises(ValueError, match="timeout"):
        reg.register("x", lambda: True, timeout=0)
    with pytest.raises(ValueError, match="non-empty"):
        reg.register(" ", lambda: True)


def test_summarize_matches_serves_rule():
    assert summarize([]) == (200, {"status": "healthy", "score": 100, "checks": []})
    code, body = summarize([{"name": "a", "status": "ok"}, {"name": "b", "status": "fail"}])
    assert (code, body["score"], body["status"]) == (503, 50, "unhealthy")  # no "critical" key: critical


def test_asgi_app_mounted_in_a_fastapi_app():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    gb.health_check("redis", lambda: {"ok": True, "clients": 2})
    app = FastAPI()
    app.mount("/ops", gb.health_app())
    with TestClient(app) as c:
        r = c.get("/ops/health/full")
        assert r.status_code == 200 and r.json()["checks"][0]["details"] == {"clients": 2}
        assert c.get("/ops/health").json() == {"status": "ok"}
        assert c.get("/ops/nope").status_code == 404
        assert c.post("/ops/health/full").status_code == 405
        gb.health_check("redis", lambda: False)
        r = c.get("/ops/health/full")
        assert r.status_code == 503 and r.json()["status"] == "unhealthy"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_health_is_served_beside_the_metrics(tmp_path):
    gb.configure(store=f"sqlite:///{tmp_path}/h.db", trail_dir=None)
    port = _free_port()
    gb.health_check("model", lambda: "loaded")
    gb.start_metrics_server(port=port)
    r = httpx.get(f"http://127.0.0.1:{port}/health/full")
    assert r.status_code == 200 and r.json()["checks"][0]["name"] == "model"
    assert "glassbox_traces_total" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
