"""The OTLP receiver: the real OTel SDK exporter and the glassbox SDK in remote mode against a real uvicorn,
JSON and gzip payloads, malformed and oversize bodies, partial success, and overload without loss."""

from __future__ import annotations

import gzip
import json
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from live_server import LiveServer
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import glassbox as gb
from glassbox.analysis.query import Query
from glassbox.server.app import create_app
from glassbox.store.keys import create_key


def otel_spans(n_traces: int = 1, service: str = "checkout", llm: bool = True) -> list:
    """Finished spans from a real OTel SDK tracer: a root, a child, and an OpenLLMetry-style LLM span."""
    mem = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(mem))
    tracer = provider.get_tracer("app")
    for i in range(n_traces):
        with tracer.start_as_current_span(f"POST /checkout {i}"), tracer.start_as_current_span("db.query") as db:
            db.set_attribute("db.system", "postgresql")
            if llm:
                with tracer.start_as_current_span("chat gpt-4o-mini") as c:
                    c.set_attributes(
                        {
                            "gen_ai.operation.name": "chat",
                            "gen_ai.provider.name": "openai",
                            "gen_ai.request.model": "gpt-4o-mini",
                            "gen_ai.usage.input_tokens": 1000,
                            "gen_ai.usage.output_tokens": 200,
                        }
                    )
    provider.shutdown()
    return list(mem.get_finished_spans())


def wait_for(fn, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    return fn()


def test_real_otel_exporter_to_a_real_server(store):
    spans = otel_spans(3)
    with LiveServer(create_app(store)) as srv:
        exporter = OTLPSpanExporter(endpoint=f"{srv.url}/v1/traces")
        from opentelemetry.sdk.trace.export import SpanExportResult

        assert exporter.export(spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
        q = Query(store)
        assert wait_for(lambda: q.summary()["runs"] == 3)
    trace_id = f"{spans[0].context.trace_id:032x}"
    t = q.trace(trace_id)
    assert t.name.startswith("POST /checkout") and t.status == "complete" and t.service == "checkout"
    llm = next(s for s in t.spans if s.kind == "llm")
    assert llm.model == "gpt-4o-mini" and llm.tokens_in == 1000
    assert llm.cost_usd == pytest.approx((1000 * 0.15 + 200 * 0.6) / 1e6)  # priced like an SDK call
    assert llm.attributes["glassbox.cost.source"] == "priced" and t.cost_source == "priced"
    db = next(s for s in t.spans if s.name == "db.query")
    assert db.parent_id == t.root_span_id and db.attributes["db.system"] == "postgresql"


def test_json_and_gzip_payloads_and_partial_success(store, client):
    spans = otel_spans(1, llm=False)
    body = encode_spans(spans).SerializeToString()
    r = client.post(
        "/v1/traces",
        content=gzip.compress(body),
        headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    tid = "5b8efff798038103d269b633813fc60c"
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "web"},
                        "spans": [
                            {
                                "traceId": tid,
                                "spanId": "eee19b7ec3c1b174",
                                "name": "GET /",
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000500000000",
                                "attributes": [{"key": "http.route", "value": {"stringValue": "/"}}],
                                "status": {"code": 1},
                            },
                            {
                                "traceId": "00" * 16,
                                "spanId": "eee19b7ec3c1b175",
                                "name": "bad ids",
                                "startTimeUnixNano": "1700000000000000000",
                            },
                        ],
                    }
                ],
            }
        ]
    }
    r = client.post("/v1/traces", json=doc)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "partialSuccess": {"rejectedSpans": "1", "errorMessage": "span 'bad ids': invalid trace or span id"}
    }
    q = Query(store)
    assert wait_for(lambda: q.summary()["runs"] == 2)
    t = q.trace(tid)
    assert (t.name, t.service, t.duration_ms) == ("GET /", "js", 500.0)


def test_malformed_and_oversize_bodies_are_refused_with_json(store):
    app = create_app(store, max_body_bytes=10_000, max_spans=5)
    with TestClient(app) as c:
        for content, headers, status in (
            (b"\x00\x01garbage", {"content-type": "application/x-protobuf"}, 400),
            (b"{not json", {"content-type": "application/json"}, 400),
            (b'{"resourceSpans": 3}', {"content-type": "application/json"}, 400),
            (b"abc", {"content-type": "application/x-protobuf", "content-encoding": "gzip"}, 400),
            (b"abc", {"content-type": "text/plain"}, 400),
            (b"abc", {"content-type": "application/x-protobuf", "content-encoding": "br"}, 400),
            (b"x" * 20_000, {"content-type": "application/x-protobuf"}, 413),
            (encode_spans(otel_spans(3)).SerializeToString(), {"content-type": "application/x-protobuf"}, 413),
        ):
            r = c.post("/v1/traces", content=content, headers=headers)
            assert r.status_code == status, (content[:20], r.text)
            assert r.json()["error"]["message"]
        assert Query(store).summary()["runs"] == 0  # nothing half-written
        bomb = gzip.compress(b"\x00" * 200_000)  # small on the wire, huge unpacked
        r = c.post(
            "/v1/traces", content=bomb, headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"}
        )
        assert r.status_code == 413


def test_overload_answers_429_and_a_retrying_sender_loses_nothing(store):
    app = create_app(store, queue_size=4, writer_delay=0.05, calibration=False)
    batches = [encode_spans(otel_spans(2, llm=False)).SerializeToString() for _ in range(30)]
    refused = 0
    with TestClient(app) as c:
        for body in batches:  # a sender far faster than the (slowed) writer
            while True:
                r = c.post("/v1/traces", content=body, headers={"content-type": "application/x-protobuf"})
                if r.status_code == 200:
                    break
                assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
                assert r.json()["error"]["code"] == "overloaded"
                refused += 1
                time.sleep(0.02)  # a real exporter honours Retry-After; the test just backs off briefly
        q = Query(store)
        assert wait_for(lambda: q.summary()["runs"] == 60)
    assert refused > 0  # backpressure happened
    assert q.summary()["runs"] == 60  # and no span was lost


def test_glassbox_sdk_in_remote_mode_round_trips_decisions_and_scores(store, tmp_path):
    key, _ = create_key(store, "remote-app", "write")
    with LiveServer(create_app(store, auth_required=True)) as srv:
        gb.configure(project="ignored-by-key", endpoint=srv.url, api_key=key, flush_interval=0.05)
        with gb.trace(
            "What is the refund window?",
            workflow="search_qa",
            intent="lookup",
            tags=["remote"],
            metadata={"release": "r1"},
        ) as t:
            with gb.stage("retrieve", kind="retrieval"):
                gb.decision("use bm25", why="short query", confidence=0.8, alternatives={"dense": 0.6})
                gb.evidence("retrieved", {"collected": 20, "passed": 8})
            gb.score("quality", 0.82, passed=True, dimensions={"grounding": 0.9})
            t.output = "30 days"
        gb.flush()
        assert gb.health()["sinks"]["server"]["errors"] == 0
        assert not (tmp_path / ".glassbox" / "glassbox.db").exists()  # nothing local in remote mode
        q = Query(store)
        assert wait_for(lambda: q.summary()["runs"] == 1)
        r = httpx.get(f"{srv.url}/api/v1/traces/{t.trace_id}", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["project"], doc["workflow"], doc["intent"], doc["input"], doc["output"]) == (
        "remote-app",
        "search_qa",
        "lookup",
        "What is the refund window?",
        "30 days",
    )
    assert doc["tags"] == ["remote"] and doc["metadata"] == {"release": "r1"}
    (d,) = doc["decisions"]
    assert (d["what"], d["why"], d["confidence"], d["stage"]) == ("use bm25", "short query", 0.8, "retrieve")
    assert d["alternatives"] == [{"option": "dense", "score": 0.6}]
    quality = next(s for s in doc["scores"] if s["name"] == "quality")
    assert (quality["value"], quality["passed"], quality["dimensions"]) == (0.82, True, {"grounding": 0.9})
    assert any(e["name"] == "retrieved" and e["payload"] == {"collected": 20, "passed": 8} for e in doc["events"])
    assert json.dumps(doc)  # JSON all the way


def test_remote_mode_spools_what_a_dead_server_did_not_take(tmp_path):
    from live_server import free_port

    from glassbox.store.trail import read_trail, trail_files

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    gb.configure(endpoint=dead, api_key="gbk_x_y", flush_interval=0.05)
    with gb.trace("kept anyway", workflow="qa") as t:
        gb.decision("use bm25", confidence=0.5)
    gb.flush(30)
    health = gb.health()["sinks"]["server"]
    assert health["errors"] >= 1 and health["last_error"]
    spooled = [tr for f in trail_files([tmp_path / ".glassbox" / "spool"]) for _, tr in read_trail(f)]
    assert [s.trace_id for s in spooled] == [t.trace_id]
    assert spooled[0].decisions[0].what == "use bm25"


def test_senders_at_twice_the_writers_capacity_lose_no_span(store):
    """Two real OTel exporters push twice what a deliberately slowed writer stores; they get 429 +
    Retry-After, retry, and every span ends up stored."""
    import threading

    from opentelemetry.sdk.trace.export import SpanExportResult

    # Writer: batches of 10 runs, 0.1 s each -> at most ~100 runs/s. Senders: 2 x 10 runs every 0.1 s = 2x that.
    app = create_app(store, queue_size=20, batch_size=10, writer_delay=0.1, calibration=False)
    batches = [otel_spans(10, service=f"svc{i % 2}", llm=False) for i in range(24)]
    results: list[SpanExportResult] = []
    with LiveServer(app) as srv:

        def sender(mine: list) -> None:
            exporter = OTLPSpanExporter(endpoint=f"{srv.url}/v1/traces", timeout=60)
            for spans in mine:
                results.append(exporter.export(spans))
                time.sleep(0.1)
            exporter.shutdown()

        threads = [threading.Thread(target=sender, args=(batches[i::2],)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        q = Query(store)
        assert wait_for(lambda: q.summary()["runs"] == 240)
        metrics = httpx.get(f"{srv.url}/metrics").text
    assert results == [SpanExportResult.SUCCESS] * 24
    assert 'glassbox_ingest_requests_rejected_total{reason="overloaded"}' in metrics  # backpressure happened
    assert (
        q.summary()["runs"] == 240
        and sum(len(q.trace(r["trace_id"]).spans) for r in q.traces(limit=1000).items) == 240 * 2
    )


def test_a_key_cannot_add_spans_to_another_projects_trace(store):
    spans = otel_spans(1, llm=False)
    body = encode_spans(spans).SerializeToString()
    alpha, _ = create_key(store, "alpha", "write")
    beta, _ = create_key(store, "beta", "write")
    ops, _ = create_key(store, "ops", "metrics")
    with TestClient(create_app(store, auth_required=True)) as c:
        headers = {"content-type": "application/x-protobuf"}
        assert c.post("/v1/traces", content=body, headers={**headers, "X-API-Key": alpha}).status_code == 200
        q = Query(store)
        assert wait_for(lambda: q.summary()["runs"] == 1)
        hijack = encode_spans(otel_spans(1, llm=False))  # new spans, forged into alpha's trace id
        for rs in hijack.resource_spans:
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    sp.trace_id = spans[0].context.trace_id.to_bytes(16, "big")
        r = c.post("/v1/traces", content=hijack.SerializeToString(), headers={**headers, "X-API-Key": beta})
        assert r.status_code == 200  # accepted for the queue; refused by the writer, counted
        assert wait_for(lambda: 'reason="other_project"} 2.0' in c.get("/metrics", headers={"X-API-Key": ops}).text)
        trace_id = f"{spans[0].context.trace_id:032x}"
        t = q.trace(trace_id)
        assert t.project == "alpha" and len(t.spans) == 2
        assert c.get(f"/api/v1/traces/{trace_id}", headers={"X-API-Key": beta}).status_code == 404


def test_a_store_outage_answers_503_and_loses_nothing(store):
    """While the store is down the writer holds its batch; once the queue is full, senders get 503 +
    Retry-After; when the store is back, everything accepted is stored."""
    from glassbox.errors import StoreError

    app = create_app(store, queue_size=2, batch_size=1, calibration=False)
    real = store.write_traces
    down = True

    def flaky(batch):
        if down:
            err = StoreError("connection refused")
            err.data_error = False
            raise err
        real(batch)

    with TestClient(app) as c:
        app.state.ingest.sink.inner.store = type("S", (), {"write_traces": staticmethod(flaky)})()
        headers = {"content-type": "application/x-protobuf"}
        statuses = []
        for _ in range(6):
            r = c.post(
                "/v1/traces", content=encode_spans(otel_spans(1, llm=False)).SerializeToString(), headers=headers
            )
            statuses.append(r.status_code)
            if r.status_code == 503:
                assert r.json()["error"]["code"] == "store_unavailable" and int(r.headers["retry-after"]) >= 1
            time.sleep(0.15)
        assert 503 in statuses
        health = c.get("/health/full")
        assert health.status_code == 503
        assert next(x for x in health.json()["checks"] if x["name"] == "writer")["status"] == "fail"
        down = False
        q = Query(store)
        assert wait_for(lambda: q.summary()["runs"] == statuses.count(200))
        assert c.get("/health/full").status_code == 200
