"""Evaluation over HTTP: datasets, regression runs, goldens, gates and canaries; the dashboard pages render
(escaped) and every read stays in the caller's project."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glassbox.evaluation import datasets, golden
from glassbox.evaluation.datasets import Case
from glassbox.evaluation.regress import run_regression
from glassbox.server.app import create_app
from glassbox.server.evaluation_routes import pages
from glassbox.server.web import router as web
from glassbox.store.keys import create_key

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "evaluation"))
from populations import population

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def filled(store):
    store.write_traces(population("r1", 120, seed=31))
    store.write_traces(population("r2", 120, seed=32, error_rate=0.3))
    ds, _ = datasets.push(store, [Case("c1", HOSTILE, expected_fields=["answer"]), Case("c2", "fine")], "support")
    run = run_regression(store, ds, lambda q: {"answer": q} if q == "fine" else HOSTILE, settings={"trail_dir": None})
    golden.capture(store, population("r1", 1, seed=31)[0].trace_id, "ref")
    return store, run


def test_rest_round_trip(filled):
    store, run = filled
    with TestClient(create_app(store)) as c:
        assert [d["name"] for d in c.get("/api/v1/datasets").json()] == ["support"]
        one = c.get("/api/v1/datasets/support").json()
        assert [x["id"] for x in one["items"]] == ["c1", "c2"]
        pushed = c.post("/api/v1/datasets", json={"name": "api-set", "cases": [{"question": "q?"}]})
        assert pushed.status_code == 201 and pushed.json()["cases"] == 1
        bad = c.post("/api/v1/datasets", json={"name": "x", "jsonl": '{"question": 1}\n'})
        assert bad.status_code == 400 and "line 1, field 'question'" in bad.json()["error"]["message"]
        assert c.get("/api/v1/datasets/nope").status_code == 404
        runs = c.get("/api/v1/regressions").json()
        assert runs[0]["run_id"] == run.run_id and runs[0]["failed"] == 1
        detail = c.get(f"/api/v1/regressions/{run.run_id}").json()
        assert [r["status"] for r in detail["results"]] == ["failed", "passed"]
        same = c.get("/api/v1/regressions/compare", params={"a": run.run_id, "b": run.run_id}).json()
        assert same["counts"]["still_passing"] == 1
        assert [g["name"] for g in c.get("/api/v1/goldens").json()] == ["ref"]
        other = population("r1", 2, seed=31)[1].trace_id
        diff = c.get(f"/api/v1/goldens/ref/compare/{other}").json()
        assert diff["golden"] == "ref" and "figures" in diff
        v = c.post(
            "/api/v1/gate",
            json={"baseline": "release=r1", "candidate": "release=r2", "thresholds": {"max_error_rate": "+5pp"}},
        ).json()
        assert v["verdict"] == "fail" and v["metrics"][0]["classification"] == "High"
        bad_gate = c.post(
            "/api/v1/gate",
            json={"baseline": "release=r1", "candidate": "release=r2", "thresholds": {"max_error_rate": "lots"}},
        )
        assert bad_gate.status_code == 400 and "expected a change like" in bad_gate.json()["error"]["message"]
        d = c.post("/api/v1/canary/check", json={"baseline": "r1", "canary": "r2", "name": "api"}).json()
        assert d["decision"] == "rollback"
        kinds = [x["kind"] for x in c.get("/api/v1/verdicts").json()]
        assert kinds == ["canary", "gate"]


def test_pages_render_and_escape(filled):
    store, run = filled
    with TestClient(create_app(store, routers=[web, pages])) as c:
        for path in (
            "/datasets",
            "/datasets?name=support",
            "/regressions",
            f"/regressions/{run.run_id}",
            f"/regressions?a={run.run_id}&b={run.run_id}",
            "/goldens",
        ):
            r = c.get(path)
            assert r.status_code == 200, path
            assert HOSTILE not in r.text
        assert "output has no field" in c.get(f"/regressions/{run.run_id}").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get("/datasets?name=support").text
        assert c.get("/regressions/ffffffff").status_code == 404


def test_a_key_sees_only_its_project(filled):
    store, run = filled
    key, _ = create_key(store, "elsewhere", "read")
    with TestClient(create_app(store, auth_required=True)) as c:
        h = {"X-API-Key": key}
        assert c.get("/api/v1/datasets", headers=h).json() == []
        assert c.get(f"/api/v1/regressions/{run.run_id}", headers=h).status_code == 404
        assert c.get("/api/v1/goldens", headers=h).json() == []
        assert c.post("/api/v1/gate", headers=h, json={"baseline": "r1", "candidate": "r2"}).status_code == 403
