"""The REST API over httpx (ASGI), on SQLite and PostgreSQL: answers, errors, auth and isolation."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from runs_builder import make_run

from glassbox.server.app import create_app
from glassbox.store.keys import create_key, revoke_key


@pytest.fixture
def filled(store):
    store.write_traces(
        [
            make_run(
                1,
                ago=timedelta(hours=3),
                quality=0.9,
                passed=True,
                dims={"grounding": 0.9},
                decisions=[("retrieve", "use bm25", 0.8)],
                tags=["prod"],
                cost=0.01,
                text="<script>x</script>",
                stages=[("retrieve", 40, "ok"), ("llm", 50, "ok")],
            ),
            make_run(
                2,
                ago=timedelta(hours=2),
                quality=0.3,
                passed=False,
                dims={"grounding": 0.2},
                decisions=[("retrieve", "use dense", 0.6)],
                stages=[("retrieve", 200, "ok"), ("llm", 90, "ok")],
            ),
            make_run(
                3, ago=timedelta(hours=1), status="failed", stages=[("retrieve", 490, "error")], workflow="summarize"
            ),
            make_run(4, ago=timedelta(hours=1), project="other", workflow="secret-workflow"),
        ]
    )
    return store


def tid(i: int) -> str:
    return f"{i:032x}"


def test_query_endpoints(filled, client):
    page = client.get("/api/v1/traces", params={"project": "p", "limit": 2}).json()
    assert [r["trace_id"] for r in page["items"]] == [tid(3), tid(2)] and page["next_cursor"]
    rest = client.get("/api/v1/traces", params={"project": "p", "limit": 2, "cursor": page["next_cursor"]}).json()
    assert [r["trace_id"] for r in rest["items"]] == [tid(1)] and rest["next_cursor"] is None
    assert [r["trace_id"] for r in client.get("/api/v1/traces", params={"tag": "prod"}).json()["items"]] == [tid(1)]
    assert client.get(f"/api/v1/traces/{tid(1)}").json()["input"] == "<script>x</script>"
    assert client.get(f"/api/v1/trace/{tid(1)}").json() == client.get(f"/api/v1/traces/{tid(1)}").json()
    cmp = client.get("/api/v1/compare", params={"a": tid(1), "b": tid(2)}).json()
    assert cmp["gaps_b_only"] == ["grounding"]
    s = client.get("/api/v1/summary", params={"project": "p"}).json()
    assert (s["runs"], s["failed"]) == (3, 1)
    assert {r["stage"] for r in client.get("/api/v1/latency", params={"by": "stage"}).json()} >= {"retrieve", "llm"}
    assert client.get("/api/v1/costs", params={"by": "workflow", "days": 30}).json()["by"] == "workflow"
    assert {d["what"] for d in client.get("/api/v1/decisions").json()} == {"use bm25", "use dense"}
    assert client.get("/api/v1/failures").json()[0]["stage"] == "retrieve"
    assert client.get("/api/v1/principles", params={"min_runs": 1}).json()["overall"][0]["principle"] == "grounding"


def test_errors_have_one_shape(filled, client):
    for path, params, status, code in (
        (f"/api/v1/traces/{'f' * 32}", {}, 404, "not_found"),
        ("/api/v1/traces", {"since": "whenever"}, 400, "bad_request"),
        ("/api/v1/traces", {"status": "weird"}, 422, "invalid_request"),
        ("/api/v1/traces", {"limit": 0}, 422, "invalid_request"),
        ("/api/v1/traces", {"cursor": "nope"}, 400, "bad_request"),
        ("/api/v1/latency", {"percentiles": "50,abc"}, 422, "invalid_request"),
        ("/api/v1/nothing-here", {}, 404, "not_found"),
    ):
        r = client.get(path, params=params)
        assert r.status_code == status, (path, r.text)
        body = r.json()
        assert body["error"]["code"] == code and body["error"]["message"], body
        assert "sqlite" not in r.text and "postgresql" not in r.text  # no store URL leaks


def test_scores_feedback_and_flags(filled, client):
    r = client.post(
        "/api/v1/scores",
        json={
            "trace_id": tid(2),
            "name": "quality",
            "value": 0.8,
            "passed": True,
            "dimensions": {"grounding": 0.8},
            "source": "human",
        },
    )
    assert r.status_code == 201, r.text
    assert client.get(f"/api/v1/traces/{tid(2)}").json()["quality_score"] == 0.8
    assert client.post("/api/v1/scores", json={"trace_id": tid(2), "name": "x", "value": "high"}).status_code == 422
    assert client.post("/api/v1/scores", json={"trace_id": "f" * 32, "name": "x", "value": 1}).status_code == 404
    ok = client.post("/api/v1/feedback", json={"trace_id": tid(1), "rating": 1, "comment": "great"})
    assert ok.status_code == 201, ok.text
    client.post("/api/v1/feedback", json={"trace_id": tid(1), "kind": "implicit", "signal": "re_query"})
    client.post("/api/v1/feedback", json={"trace_id": tid(2), "kind": "implicit", "signal": "accept"})
    bad = client.post("/api/v1/feedback", json={"trace_id": tid(1), "kind": "implicit", "signal": "Dance Now!"})
    assert bad.status_code == 400 and "signal" in bad.json()["error"]["message"]
    summary = client.get("/api/v1/feedback/summary").json()
    assert summary["explicit"]["count"] == 1 and summary["implicit"] == {"re_query": 1, "accept": 1}
    from glassbox.model import Alert
    from glassbox.store.alerts import add_alerts

    add_alerts(filled, [Alert("abcdabcdabcdabcd", "calibration", "r", "m", "warning", {}, tid(2), "p", 1)])
    assert [f["id"] for f in client.get("/api/v1/flags").json()] == ["abcdabcdabcdabcd"]
    assert client.post("/api/v1/flags/abcdabcd/ack").json()["acknowledged"] is True
    assert client.get("/api/v1/flags").json() == []
    assert client.post("/api/v1/flags/ffffffff/ack").status_code == 404


def test_keys_scopes_and_project_isolation(filled):
    read_key, _ = create_key(filled, "p", "read")
    write_key, _ = create_key(filled, "p", "write")
    other_key, _ = create_key(filled, "other", "read")
    with TestClient(create_app(filled, auth_required=True)) as c:
        assert c.get("/api/v1/traces").status_code == 401
        assert c.get("/api/v1/traces", headers={"Authorization": "Bearer gbk_nope_x"}).status_code == 401
        mine = c.get("/api/v1/traces", headers={"X-API-Key": read_key}).json()["items"]
        assert {r["project"] for r in mine} == {"p"} and len(mine) == 3
        theirs = c.get("/api/v1/traces", headers={"Authorization": f"Bearer {other_key}"}).json()["items"]
        assert [r["workflow"] for r in theirs] == ["secret-workflow"]
        assert c.get(f"/api/v1/traces/{tid(1)}", headers={"X-API-Key": other_key}).status_code == 404
        assert c.get("/api/v1/traces", params={"project": "p"}, headers={"X-API-Key": other_key}).status_code == 403
        body = {"trace_id": tid(1), "name": "x", "value": 1}
        assert c.post("/api/v1/scores", json=body, headers={"X-API-Key": read_key}).status_code == 403
        assert c.post("/api/v1/scores", json=body, headers={"X-API-Key": write_key}).status_code == 201
        assert (
            c.post(
                "/v1/traces", content=b"", headers={"X-API-Key": read_key, "content-type": "application/x-protobuf"}
            ).status_code
            == 403
        )
        revoke_key(filled, write_key)
        assert c.post("/api/v1/scores", json=body, headers={"X-API-Key": write_key}).status_code == 401
        assert c.get("/health").status_code == 200  # liveness needs no key


def test_openapi_schema_is_served(client):
    schema = client.get("/openapi.json").json()
    assert "/api/v1/traces" in schema["paths"] and "/v1/traces" in schema["paths"]


def test_metrics_and_health(filled, client):
    text = client.get("/metrics").text
    for name in (
        "glassbox_stage_duration_seconds",
        "glassbox_traces_total",
        "glassbox_llm_tokens_total",
        "glassbox_llm_cost_usd_total",
        "glassbox_ingest_queue_depth",
        "glassbox_ingest_spans_received_total",
    ):
        assert name in text
    h = client.get("/health/full")
    assert h.status_code == 200 and h.json()["score"] == 100
    # the core checks, plus those the features' background jobs add (SLO checks and alert delivery, drift monitor)
    assert {c["name"] for c in h.json()["checks"]} >= {
        "store",
        "ingest_queue",
        "writer",
        "disk",
        "background_jobs",
        "slo_and_alerts",
    }


def test_sdk_metrics_server_in_process(tmp_path):
    import httpx
    from live_server import free_port

    import glassbox as gb

    gb.configure(store=f"sqlite:///{tmp_path}/m.db", trail_dir=None, flush_interval=0.05)
    port = free_port()
    gb.start_metrics_server(port=port)
    with gb.trace("q", workflow="qa"):
        with gb.stage("retrieve"):
            pass
        gb.llm(
            {
                "object": "chat.completion",
                "model": "gpt-4o-mini",
                "choices": [],
                "usage": {"prompt_tokens": 100, "completion_tokens": 10},
            },
            provider="openai",
        )
        gb.score("quality", 0.8)
    gb.flush()
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'glassbox_traces_total{model_version="",status="complete",workflow="qa"} 1.0' in text
    assert 'glassbox_stage_duration_seconds_count{model_version="",stage="retrieve",workflow="qa"} 1.0' in text
    assert 'glassbox_llm_tokens_total{direction="input",model="gpt-4o-mini",provider="openai"} 100.0' in text
    assert "glassbox_quality_score_bucket" in text
    gb.start_metrics_server(port=port)  # again: already served, no error
    gb.configure(store=f"sqlite:///{tmp_path}/m2.db", trail_dir=None, flush_interval=0.05)  # a new runtime
    with gb.trace("q", workflow="qa"):
        pass
    gb.flush()
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    # still fed after configure()
    assert 'glassbox_traces_total{model_version="",status="complete",workflow="qa"} 2.0' in text


def test_dashboard_login_never_redirects_off_site(store):
    from glassbox.server.web import _safe_next
    from glassbox.server.web import router as web

    for bad in ("//evil.example/x", "/\\evil.example", "https://evil.example", "/\\\\evil", "javascript:alert(1)"):
        assert _safe_next(bad) == "/runs", bad
    assert _safe_next("/runs?workflow=qa") == "/runs?workflow=qa"
    key, _ = create_key(store, "p", "read")
    with TestClient(create_app(store, auth_required=True, routers=[web])) as c:
        form = c.get("/login?next=//evil.example/")
        assert 'value="/runs"' in form.text and "evil" not in form.text
        csrf = c.cookies.get("glassbox_csrf")
        r = c.post("/login", data={"key": key, "csrf": csrf, "next": "//evil.example/"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/runs"
        no_csrf = c.post("/login", data={"key": key, "csrf": "forged", "next": "/runs"}, follow_redirects=False)
        assert no_csrf.status_code == 403
        page = c.get("/runs")
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    for t in threading.enumerate():  # the dashboard warms its overview in the background: let it end first
        if t.name == "glassbox-overview":
            t.join(30)


def test_group_quality_review_and_seed_feedback_endpoints(filled, client):
    groups = client.get("/api/v1/group", params={"by": "workflow", "metrics": "runs,failed"}).json()
    assert {(g["workflow"], g["runs"], g["failed"]) for g in groups} >= {("qa", 2, 0), ("summarize", 1, 1)}
    assert client.get("/api/v1/group", params={"metrics": "runs,bogus"}).status_code == 400
    assert isinstance(client.get("/api/v1/quality", params={"days": 30, "by": "workflow"}).json(), list)
    r = client.post(f"/api/v1/traces/{tid(2)}/review", json={"flagged": True, "notes": "check grounding"})
    assert r.status_code == 200 and r.json()["flagged_for_review"] is True
    assert [x["trace_id"] for x in client.get("/api/v1/review").json()] == [tid(2)]
    assert client.post(f"/api/v1/traces/{tid(2)}/review", json={}).status_code == 400
    ok = client.post("/api/v1/feedback/explicit", json={"trace_id": tid(1), "rating": 0.2, "comment": "wrong"})
    assert ok.status_code == 201 and ok.json()["kind"] == "explicit"
    imp = client.post("/api/v1/feedback/implicit", json={"trace_id": tid(1), "signal": "share"})
    assert imp.status_code == 201 and imp.json()["signal"] == "share"
    assert client.post("/api/v1/feedback/implicit", json={"trace_id": tid(1), "signal": "Dance!"}).status_code == 400
    assert client.get("/api/v1/feedback/summary").json()["implicit"] == {"share": 1}


def test_metrics_need_a_metrics_key_when_keys_are_required(filled):
    read_key, _ = create_key(filled, "p", "read")
    metrics_key, _ = create_key(filled, "ops", "metrics")
    with TestClient(create_app(filled, auth_required=True)) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"X-API-Key": read_key}).status_code == 403  # server-wide: not a project's
        ok = c.get("/metrics", headers={"Authorization": f"Bearer {metrics_key}"})
        assert ok.status_code == 200 and "glassbox_traces_total" in ok.text
        assert c.get("/api/v1/traces", headers={"X-API-Key": metrics_key}).status_code == 403  # and no trace data
        assert c.get("/health/full").status_code == 200


def test_bodies_over_the_limit_are_413_even_when_chunked(store):
    def chunks():
        for _ in range(20):
            yield b"x" * 1000

    with TestClient(create_app(store, max_body_bytes=5000)) as c:
        r = c.post("/api/v1/scores", content=chunks(), headers={"content-type": "application/json"})
        assert "content-length" not in r.request.headers and r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large"
        r = c.post("/v1/traces", content=chunks(), headers={"content-type": "application/x-protobuf"})
        assert r.status_code == 413
        small = c.post(
            "/api/v1/scores",
            content=b'{"trace_id": "abcd", "name": "x", "value": 1}',
            headers={"content-type": "application/json"},
        )
        assert small.status_code == 404  # under the limit: handled (no such trace)
