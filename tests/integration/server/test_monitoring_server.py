"""Alerts and SLOs on the server: REST (alerts, old /flags aliases, /api/v1/slo), project keys, the dashboard pages,
and the background SLO check firing a burn-rate alert delivered to a real local webhook."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glassbox.model import Alert
from glassbox.monitoring import notifiers
from glassbox.server import features
from glassbox.server.app import create_app
from glassbox.server.web import router as web
from glassbox.store.alerts import record
from glassbox.store.keys import create_key
from glassbox.store.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "analysis"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "monitoring"))
from runs_builder import make_run
from test_alerts import Receiver

TOML = """
[[slo]]
name = "availability"
sli = "availability"
objective = 0.99

[[slo]]
name = "fast"
sli = "latency"
objective = 0.9
threshold_ms = 5120
workflow = "qa"
"""


@pytest.fixture
def burning(store_url, tmp_path, monkeypatch):
    """40 runs in the last 40 minutes, the 10 newest failed; glassbox.toml with two SLOs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "glassbox.toml").write_text(TOML)
    now = datetime.utcnow()
    st = Store(store_url)
    st.write_traces(
        [
            make_run(
                i, ago=timedelta(minutes=41 - i), now=now, project="demo", status="failed" if i > 30 else "complete"
            )
            for i in range(1, 41)
        ]
    )
    yield st
    st.close()
    old = notifiers.set_delivery(None)
    if old is not None:
        old.close()


def test_slo_api_alerts_api_and_old_flag_routes(burning, monkeypatch):
    monkeypatch.setenv("GLASSBOX_SLO_CHECK_INTERVAL", "0")
    notifiers.set_delivery(notifiers.Delivery([]))
    record(
        burning,
        [
            Alert(
                "cafe0000cafe0000",
                "calibration",
                "quality_gate_regression",
                "gate failed",
                "critical",
                {},
                None,
                "demo",
                time.time_ns(),
            )
        ],
    )
    with TestClient(create_app(burning, routers=[web, *features.page_routers()])) as c:
        body = c.get("/api/v1/slo").json()
        by = {s["slo"]["name"]: s for s in body["slos"]}
        assert by["availability"]["events"] == 40 and by["availability"]["sli"] == pytest.approx(0.75)
        assert "page:1h/5m" in by["availability"]["firing"] and by["fast"]["firing"] == []
        assert by["availability"]["burn_down"][-1]["budget_remaining"] == pytest.approx(
            by["availability"]["budget_remaining"]
        )
        assert c.get("/api/v1/slo/fast").json()["sli"] == 1.0
        assert c.get("/api/v1/slo/nope").status_code == 404
        # alerts: every source, firing by default; the old routes answer the same
        assert [a["id"] for a in c.get("/api/v1/alerts").json()] == ["cafe0000cafe0000"]
        assert c.get("/api/v1/flags").json() == c.get("/api/v1/alerts").json()
        acked = c.post("/api/v1/flags/cafe0000/ack").json()
        assert acked["state"] == "acknowledged"
        assert c.get("/api/v1/alerts").json() == [] and len(c.get("/api/v1/alerts?state=open").json()) == 1
        assert c.post("/api/v1/alerts/cafe0000/resolve").json()["state"] == "resolved"
        assert c.get("/api/v1/alerts?state=bogus").status_code == 400
        assert c.post("/api/v1/alerts/ffffffff/ack").status_code == 404
        page = c.get("/slo")
        assert page.status_code == 200 and 'id="slo-availability"' in page.text and "badge critical" in page.text
        assert "/static/slo.js" in page.text and "cdn" not in page.text.lower()
        assert c.get("/flags", follow_redirects=False).headers["location"] == "/alerts"
        assert "quality_gate_regression" in c.get("/alerts?state=any").text


def test_project_keys_see_their_own_alerts_only(burning, monkeypatch):
    monkeypatch.setenv("GLASSBOX_SLO_CHECK_INTERVAL", "0")
    notifiers.set_delivery(notifiers.Delivery([]))
    record(
        burning,
        [
            Alert("aaaa0000aaaa0000", "budget", "b", "mine", "warning", {}, None, "demo", 1),
            Alert("bbbb0000bbbb0000", "budget", "b2", "theirs", "warning", {}, None, "other", 2),
        ],
    )
    key, _ = create_key(burning, "demo", "write")
    with TestClient(create_app(burning, auth_required=True)) as c:
        h = {"Authorization": f"Bearer {key}"}
        assert [a["id"] for a in c.get("/api/v1/alerts", headers=h).json()] == ["aaaa0000aaaa0000"]
        assert c.post("/api/v1/alerts/bbbb0000/ack", headers=h).status_code == 404
        assert c.get("/api/v1/alerts").status_code == 401
        assert {s["events"] for s in c.get("/api/v1/slo", headers=h).json()["slos"]} == {40}


def test_the_background_check_fires_an_alert_to_a_webhook(burning, monkeypatch):
    receiver = Receiver()
    try:
        monkeypatch.setenv("GLASSBOX_SLO_CHECK_INTERVAL", "0.2")
        monkeypatch.setenv("GLASSBOX_REPORTS_SCHEDULE", "off")  # the report schedule would tell this webhook too
        notifiers.set_delivery(notifiers.Delivery([notifiers.WebhookNotifier(receiver.url)], backoff=0.01))
        with TestClient(create_app(burning)) as c:
            deadline = time.monotonic() + 30
            while not receiver.bodies and time.monotonic() < deadline:
                time.sleep(0.1)
            health = {x["name"]: x for x in c.get("/health/full").json()["checks"]}
        assert receiver.bodies, "no alert reached the webhook"
        body = receiver.bodies[0]
        assert body["alert"]["source"] == "slo" and body["alert"]["rule"].startswith("availability:")
        assert "burns its error budget" in body["text"]
        assert health["slo_and_alerts"]["status"] == "ok" and "0 dead letters" in health["slo_and_alerts"]["detail"]
    finally:
        receiver.close()
