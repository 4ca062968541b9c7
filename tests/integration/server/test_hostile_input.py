"""Hostile and odd input (issue 18, items 11-13): 4xx, never 500; prefix lookups and the schema pages
follow the caller's project and the key rule."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from test_otlp import otel_spans

import glassbox as gb
from glassbox.server.app import create_app
from glassbox.server.web import router as web_router
from glassbox.store.keys import create_key


@pytest.fixture
def site(store):
    app = create_app(store, routers=[web_router], calibration=False, max_spans=1000, queue_size=10)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield app, c


def test_dashboard_run_page_renders_documented_sdk_arguments(site, store_url, tmp_path):
    gb.configure(store=store_url, trail_dir=None, flush_interval=0.02)
    with gb.trace("q", name="odd") as t:
        gb.decision(
            "route",
            alternatives=["google", ("bing", 0.4), ["ddg", None]],
            inputs={"a": None, "b": [None]},
            confidence=0.5,
        )
        gb.score("quality", 0.8, dimensions={"relevance": float("nan"), "speed": float("inf"), "ok": 1.0})
        gb.evidence("e", {"k": None})
        t.output = {"answer": None}
    assert gb.flush(10)
    _, c = site
    r = c.get(f"/runs/{t.trace_id}")
    assert r.status_code == 200, r.text[:300]
    assert "google" in r.text and "bing" in r.text
    assert c.get(f"/api/v1/traces/{t.trace_id}").status_code == 200


def test_otlp_json_nested_fifty_thousand_deep_is_400(site):
    _, c = site
    body = '{"resourceSpans": ' + "[" * 50_000 + "]" * 50_000 + "}"
    r = c.post("/v1/traces", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_payload"


def test_otlp_timestamps_beyond_64_bits_are_4xx_naming_the_field(site):
    _, c = site
    req = encode_spans(otel_spans(1, llm=False))
    req.resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano = 2**63 + 5
    r = c.post("/v1/traces", content=req.SerializeToString(), headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 400 and "end_time_unix_nano" in r.json()["error"]["message"]


def test_a_request_over_the_span_limit_is_413_even_when_the_queue_is_busy(site):
    app, c = site
    app.state.ingest.has_room = lambda spans: False  # the queue is full
    spans = otel_spans(1, llm=False)
    big = encode_spans(spans * 600)  # 1,200 spans > max_spans 1000
    r = c.post("/v1/traces", content=big.SerializeToString(), headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 413
    small = encode_spans(spans)
    r = c.post("/v1/traces", content=small.SerializeToString(), headers={"content-type": "application/x-protobuf"})
    assert r.status_code == 429


def test_static_with_a_very_long_name_is_404(site):
    _, c = site
    assert c.get("/static/" + "a" * 5000).status_code == 404
    assert c.get("/static/%00x.js").status_code == 404


def _run(trace_id: str, project: str):
    from glassbox.model import Trace

    t = Trace(trace_id, "r", 1_700_000_000_000_000_000)
    t.root_span_id, t.project, t.status = "a" * 16, project, "complete"
    return t


def test_prefix_lookups_are_scoped_to_the_callers_project(store):
    a_key, _ = create_key(store, "alpha", "read")
    b_key, _ = create_key(store, "beta", "read")
    theirs = [f"abcd{i:028x}" for i in (1, 2)]  # two of beta's runs share the prefix abcd
    mine = "abce" + "0" * 27 + "1"
    store.write_traces([_run(theirs[0], "beta"), _run(theirs[1], "beta"), _run(mine, "alpha")])
    app = create_app(store, auth_required=True, calibration=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/traces/abcd", headers={"X-API-Key": a_key})
        assert r.status_code == 404 and "ambiguous" not in r.text  # alpha learns nothing about beta's ids
        r = c.get("/api/v1/traces/abcd", headers={"X-API-Key": b_key})
        assert r.status_code == 404 and "ambiguous" in r.text  # beta's own two runs
        r = c.get(f"/api/v1/traces/{theirs[0]}", headers={"X-API-Key": a_key})
        assert r.status_code == 404
        r = c.get("/api/v1/traces/abce", headers={"X-API-Key": a_key})
        assert r.status_code == 200 and r.json()["trace_id"] == mine
        r = c.get("/api/v1/traces/abcd0000", headers={"X-API-Key": b_key})
        assert r.status_code == 404  # still ambiguous for beta, but about beta's own runs only


def test_schema_pages_follow_the_key_rule_off_loopback(store):
    key, _ = create_key(store, "alpha", "read")
    app = create_app(store, auth_required=True, calibration=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert c.get(path, follow_redirects=False).status_code == 401, path
        assert c.get("/openapi.json", headers={"X-API-Key": key}).status_code == 200
        assert json.loads(c.get("/openapi.json", headers={"X-API-Key": key}).text)["openapi"]
        assert c.get("/docs", headers={"X-API-Key": key}).status_code == 200
    open_app = create_app(store, calibration=False)
    with TestClient(open_app) as c:
        assert c.get("/openapi.json").status_code == 200  # loopback without --auth: open, as the API is
