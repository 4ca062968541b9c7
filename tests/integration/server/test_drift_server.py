"""Drift and feedback on the server: REST, seed 004's bare paths, the dashboard page, /metrics gauges, and the
background monitor in a real `glassbox serve` process over seeded runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from live_server import free_port

from glassbox.server import features
from glassbox.server.app import create_app
from glassbox.server.web import router as web
from glassbox.store.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "monitoring"))
from drift_seed import seed


@pytest.fixture
def seeded(store_url, monkeypatch):
    monkeypatch.setenv("GLASSBOX_DRIFT_INTERVAL", "0")  # no background monitor in the in-process tests
    st = Store(store_url)
    seed(st, shift=0.2, release_cur="v2")
    yield st
    st.close()


def test_check_summary_history_and_gauges(seeded):
    with TestClient(create_app(seeded, routers=[web, *features.page_routers()])) as c:
        assert c.get("/api/v1/drift/summary").json()["last_check"] is None
        r = c.post("/api/v1/drift/check", json={"fields": ["confidence", "quality_score"], "by": "release"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["drifted"] == 1 and body["worst_severity"] == "critical"
        s = c.get("/api/v1/drift/summary").json()
        assert s["drifted"] == 1 and s["by_severity"]["critical"] == 1 and s["monitor"]["running"] is False
        assert c.get("/drift/summary").json()["drifted"] == 1  # seed 004's bare path
        hist = c.get("/api/v1/drift/history", params={"field": "confidence"}).json()
        assert {h["segment"] for h in hist} == {None, "v2"} and all(h["check_id"] == body["check_id"] for h in hist)
        metrics = c.get("/metrics").text
        line = 'glassbox_drift_severity{field="confidence",method="ks",project="default",segment="",segment_by=""} 4.0'
        assert line in metrics
        assert "glassbox_drift_detected" in metrics and "glassbox_drift_score" in metrics
        flags = c.get("/api/v1/flags", params={"source": "drift"}).json()
        assert len(flags) == 1 and flags[0]["rule"] == "confidence"
        page = c.get("/drift")
        assert page.status_code == 200 and "confidence" in page.text and "critical" in page.text
        assert 'id="drift-data"' in page.text and 'href="/drift"' in page.text
        bad = c.post("/api/v1/drift/check", json={"fields": ["nope"]})
        assert bad.status_code == 400 and "drift field" in bad.json()["error"]["message"]
        health = c.get("/health/full").json()
        assert any(ch["name"] == "drift_monitor" for ch in health["checks"])


def test_seed_004_aliases_and_feedback_scales(seeded):
    import glassbox as gb

    tid = gb.query(seeded).traces(limit=1).items[0]["trace_id"]
    with TestClient(create_app(seeded)) as c:
        assert c.get(f"/trace/{tid}").json()["trace_id"] == tid
        r = c.post("/feedback", json={"trace_id": tid, "rating": 4, "scale": "1-5", "comment": "good pick"})
        assert r.status_code == 201 and r.json()["normalized"] == 0.75 and r.json()["label"] == "positive"
        r = c.post("/feedback/explicit", json={"trace_id": tid, "rating": 2})  # seed 004 stars, no scale
        assert r.status_code == 201 and r.json()["scale"] == "1-5" and r.json()["label"] == "negative"
        r = c.post("/feedback/implicit", json={"trace_id": tid, "signal": "bookmarked"})  # a signal of one's own
        assert r.status_code == 201 and r.json()["kind"] == "implicit" and r.json()["label"] == "neutral"
        assert c.post("/feedback", json={"trace_id": tid, "rating": 9}).status_code == 400
        assert (
            c.post("/feedback", json={"trace_id": tid, "rating": 6, "scale": [1, 5]}).json()["error"]["message"]
            == "rating 6 is off its scale 1-5"
        )
        summary = c.get("/feedback/summary").json()
        assert summary["explicit"]["ratings"] == 2 and summary["explicit"]["avg_rating"] == pytest.approx(0.5)
        trend = c.get("/api/v1/feedback/trend", params={"by": "release"}).json()
        assert sum(w["feedback"] for w in trend) == 3
        groups = c.get("/api/v1/group", params={"by": "release", "metrics": "runs,avg_rating,positive_share"}).json()
        assert any(g["avg_rating"] == pytest.approx(0.5) for g in groups)
        assert "/drift/summary" in c.get("/openapi.json").json()["paths"]


def test_the_monitor_in_a_real_glassbox_serve(store_url, tmp_path):
    st = Store(store_url)
    seed(st, shift=0.2, release_cur="v2")
    st.close()
    port = free_port()
    exe = Path(sys.executable).parent / "glassbox"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GLASSBOX_")},
        "GLASSBOX_DRIFT_INTERVAL": "1",
        "GLASSBOX_DRIFT_FIELDS": "confidence,quality_score",
        "GLASSBOX_DRIFT_BY": "release",
    }
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--store", store_url],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        summary: dict = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, "glassbox serve exited"
            try:
                summary = httpx.get(f"{url}/api/v1/drift/summary", timeout=2).json()
                if summary.get("monitor", {}).get("checks", 0) >= 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert summary["monitor"]["checks"] >= 2 and summary["monitor"]["last_error"] is None
        assert summary["drifted"] == 1 and summary["worst_severity"] == "critical"
        state = {(r["field"], r["segment"]): r for r in summary["results"]}
        assert state[("confidence", None)]["drifted"] and not state[("quality_score", None)]["drifted"]
        assert state[("confidence", "v2")]["status"] == "not_enough_data"  # v2 has no past of its own
        flags = httpx.get(f"{url}/api/v1/flags", params={"source": "drift"}).json()
        assert len(flags) == 1 and flags[0]["severity"] == "critical"  # deduplicated across checks
        assert "glassbox_drift_severity" in httpx.get(f"{url}/metrics").text
        assert httpx.get(f"{url}/drift").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_gb_feedback_in_remote_mode_goes_to_the_servers_rest_api(store_url, tmp_path):
    from live_server import LiveServer

    import glassbox as gb
    from glassbox.store.keys import create_key

    st = Store(store_url)
    key, _ = create_key(st, "remote-app", "write")
    with LiveServer(create_app(st, auth_required=True)) as srv:
        gb.configure(endpoint=srv.url, api_key=key, flush_interval=0.05)
        with gb.trace("a question", workflow="recommend") as t:
            gb.feedback(t, 5, scale=(1, 5))  # during the run: posted once the run has reached the server
        gb.flush()
        gb.feedback(t.trace_id, signal="share")
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline and len(st.get_trace(t.trace_id).feedback if _has(st, t.trace_id) else []) < 2
        ):
            time.sleep(0.1)
        got = st.get_trace(t.trace_id).feedback
    assert sorted((f.kind, f.scale, f.signal) for f in got) == [("explicit", "1-5", None), ("implicit", None, "share")]
    assert not (tmp_path / ".glassbox" / "glassbox.db").exists()
    st.close()


def _has(st, trace_id):
    from glassbox.errors import TraceNotFound

    try:
        st.get_trace(trace_id)
        return True
    except TraceNotFound:
        return False
