"""Experiments and feature flags on the server: REST (definitions, history, analysis, report, power), key scopes,
and the dashboard pages (allocation, SRM, metric CIs, verdict), with hostile names escaped."""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi.testclient import TestClient

from glassbox.server import features, web
from glassbox.server.app import create_app
from glassbox.store.keys import create_key

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "experiments"))
from exp_runs import seed_runs


def test_definitions_analysis_report_and_page(store) -> None:
    seed_runs(store, quality=(0.70, 0.78), n=500, seed=12, define=False)
    with TestClient(create_app(store, routers=[web.router, *features.page_routers()])) as c:
        r = c.put(
            "/api/v1/experiments/prompt",
            json={"variants": ["control", "concise"], "metrics": ["avg_quality", "success_rate"]},
        )
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 1 and r.json()["updated_by"] == "api"
        assert c.get("/api/v1/experiments").json()[0]["name"] == "prompt"
        a = c.get("/api/v1/experiments/prompt/analysis").json()
        assert a["verdict"]["decision"] == "ship" and a["verdict"]["winner"] == "concise"
        assert a["srm"]["alarm"] is False and {v["key"] for v in a["variants"]} == {"control", "concise"}
        md = c.get("/api/v1/experiments/prompt/report", params={"format": "markdown"})
        assert md.headers["content-type"].startswith("text/markdown") and "Ship **concise**" in md.text
        page = c.get("/experiments/prompt")
        assert page.status_code == 200 and "Ship concise" in page.text and "Sample ratio check" in page.text
        assert 'class="ci-bar"' in page.text and 'href="/experiments"' in page.text
        assert "prompt" in c.get("/experiments").text
        assert c.get("/experiments/ghost").status_code == 404
        bad = c.put("/api/v1/experiments/x", json={"variants": ["a"]})
        assert bad.status_code == 400 and "at least two variants" in bad.json()["error"]["message"]
        assert c.get("/api/v1/experiments/ghost").status_code == 404
        assert c.get("/api/v1/experiments/prompt/report", params={"format": "pdf"}).status_code == 422
        p = c.get("/api/v1/experiments/power", params={"baseline_rate": 0.1, "mde": 0.02}).json()
        assert p["control"] == 3835 and p["total"] == 7670
        assert c.get("/api/v1/experiments/power", params={"mde": 0.02}).status_code == 400


def test_feature_flags_kill_switch_and_scopes(store) -> None:
    read_key, _ = create_key(store, "default", "read")
    write_key, _ = create_key(store, "default", "write")
    with TestClient(create_app(store, auth_required=True)) as c:
        w = {"Authorization": f"Bearer {write_key}"}
        r_ = {"Authorization": f"Bearer {read_key}"}
        assert (
            c.put("/api/v1/feature-flags/rerank", json={"default": False, "rollout": 0.1}, headers=r_).status_code
            == 403
        )
        assert (
            c.put("/api/v1/feature-flags/rerank", json={"default": False, "rollout": 0.1}, headers=w).status_code == 200
        )
        killed = c.post("/api/v1/feature-flags/rerank/kill", headers=w).json()
        assert killed["spec"]["killed"] is True and killed["version"] == 2
        hist = c.get("/api/v1/feature-flags/rerank", headers=r_).json()["history"]
        assert [h["action"] for h in hist] == ["create", "kill"] and hist[1]["actor"].startswith("key:")
        assert c.get("/api/v1/feature-flags", headers=r_).json()[0]["name"] == "rerank"
        assert c.get("/api/v1/feature-flags").status_code == 401


def test_dashboard_escapes_hostile_names(store) -> None:
    name = "<script>alert(1)</script>"
    seed_runs(store, n=80, seed=13, name=name, variants=("control", "<img src=x>"))
    with TestClient(create_app(store, routers=[web.router, *features.page_routers()])) as c:
        page = c.get("/experiments/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        assert page.status_code == 200
        assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<img src=x>" not in page.text
