"""schemathesis over the served OpenAPI schema: whatever the inputs, the server never answers 5xx."""

from __future__ import annotations

import tempfile
from datetime import timedelta

import schemathesis
from hypothesis import HealthCheck, settings
from runs_builder import make_run

from glassbox.server.app import create_app
from glassbox.store.store import Store

_dir = tempfile.mkdtemp(prefix="glassbox-fuzz-")
_store = Store(f"sqlite:///{_dir}/fuzz.db")
_store.write_traces(
    [
        make_run(
            i,
            ago=timedelta(hours=i),
            quality=0.5 + i / 20,
            dims={"grounding": 0.4},
            decisions=[("retrieve", "use bm25", 0.7)],
        )
        for i in range(1, 6)
    ]
)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_store, calibration=False))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
