"""OTLP logs and metrics sent to glassbox get a clear JSON answer, not a bare 404."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from glassbox.server.app import create_app


@pytest.mark.parametrize("signal", ["logs", "metrics"])
@pytest.mark.parametrize("ctype", ["application/x-protobuf", "application/json"])
def test_logs_and_metrics_say_glassbox_takes_traces(store, signal, ctype):
    with TestClient(create_app(store)) as client:
        r = client.post(f"/v1/{signal}", content=b"{}", headers={"content-type": ctype})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert err["code"] == "signal_not_supported"
    assert "/v1/traces" in err["message"] and signal in err["message"]
    assert f"OTEL_{signal.upper()}_EXPORTER=none" in err["message"]
