"""`glassbox serve` as users run it: a real process (two workers), spans from a real OTel exporter."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from live_server import free_port
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from test_otlp import otel_spans


def test_two_workers_share_the_store_and_one_metrics_endpoint(store_url, tmp_path):
    port = free_port()
    exe = Path(sys.executable).parent / "glassbox"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    proc = subprocess.Popen(
        [str(exe), "serve", "--workers", "2", "--port", str(port), "--store", store_url, "--no-web"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "glassbox serve did not start"
            time.sleep(0.2)
        exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces")
        for _ in range(8):  # new connections: uvicorn's workers share the socket and take turns
            assert exporter.export(otel_spans(2, llm=False)) is SpanExportResult.SUCCESS
            exporter.shutdown()
            exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces")

        def received() -> float:
            text = httpx.get(f"{url}/metrics").text
            return sum(float(x) for x in re.findall(r"^glassbox_ingest_spans_written_total (\S+)$", text, re.M))

        deadline = time.monotonic() + 30
        while received() < 32 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert received() == 32  # 8 requests x 2 runs x 2 spans, summed over both workers
        assert httpx.get(f"{url}/api/v1/summary").json()["runs"] == 16
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "2 workers" in err
