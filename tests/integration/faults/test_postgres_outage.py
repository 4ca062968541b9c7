"""PostgreSQL dies under `glassbox serve`: every request answered 200 is stored once it is back, the rest
got 503 + Retry-After (issue 18, item 1). A real private PostgreSQL, stopped and started by the test."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pgserver import wait_for

from glassbox.server.app import create_app
from glassbox.store.store import Store


def otlp_body(n_traces: int) -> tuple[bytes, set[str]]:
    mem = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(mem))
    tracer = provider.get_tracer("app")
    for i in range(n_traces):
        with tracer.start_as_current_span(f"req {i}"), tracer.start_as_current_span("child"):
            pass
    provider.shutdown()
    spans = mem.get_finished_spans()
    return encode_spans(spans).SerializeToString(), {f"{s.context.trace_id:032x}" for s in spans}


def stored_ids(store: Store) -> set[str]:
    from sqlalchemy import select

    from glassbox.store.schema import traces

    with store.engine.connect() as conn:
        return {r[0] for r in conn.execute(select(traces.c.trace_id))}


def test_postgres_down_answers_503_and_loses_nothing_answered_200(private_pg, tmp_path):
    store = Store(private_pg.url)
    app = create_app(store, calibration=False, batch_size=50, spool_dir=str(tmp_path / "spool"), jobs=False)
    acked: set[str] = set()
    statuses: list[int] = []
    headers = {"content-type": "application/x-protobuf"}
    with TestClient(app) as c:
        body, ids = otlp_body(5)
        assert c.post("/v1/traces", content=body, headers=headers).status_code == 200
        acked |= ids
        assert wait_for(lambda: acked <= stored_ids(store))
        private_pg.stop()  # the database crashes
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            body, ids = otlp_body(10)
            r = c.post("/v1/traces", content=body, headers=headers)
            statuses.append(r.status_code)
            if r.status_code == 200:
                acked |= ids
            else:
                assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
                assert int(r.headers["retry-after"]) >= 1
            time.sleep(0.05)
        private_pg.start()
        assert wait_for(lambda: acked <= stored_ids(store), timeout=30), (
            f"{len(acked - stored_ids(store))} of {len(acked)} acknowledged traces were lost; statuses {statuses}"
        )
        assert 503 in statuses and 500 not in statuses
        print(
            f"outage: {statuses.count(200)} requests answered 200, {statuses.count(503)} answered 503; "
            f"{len(acked)} traces acknowledged, {len(acked - stored_ids(store))} lost"
        )
        body, ids = otlp_body(3)  # recovered by itself
        assert c.post("/v1/traces", content=body, headers=headers).status_code == 200
        assert wait_for(lambda: ids <= stored_ids(store))
    store.close()
