"""OTLP ingest into one `glassbox serve` process on SQLite, and the REST list endpoint on a big store.

    python bench/ingest_bench.py [--batches 200] [--big-store sqlite:////tmp/bench-1m.db]

The server runs in its own process (uvicorn, like `glassbox serve`); this process sends
pre-encoded OTLP protobuf requests of 512 spans (64 traces x 8 spans, from the real OTel SDK)
as fast as it can over one keep-alive connection, retrying on 429 as an exporter would, and
waits until every span is stored. Target: >= 20,000 spans/s sustained; server RSS bounded.
With --big-store (see gen_store.py), also `GET /api/v1/traces` p95 (target < 50 ms).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import Results, log

SPANS_PER_TRACE = 8
TRACES_PER_BATCH = 64


def payloads(n: int) -> list[bytes]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    out = []
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    mem = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(mem))
    tracer = provider.get_tracer("bench")
    for _ in range(n):
        mem.clear()
        for t in range(TRACES_PER_BATCH):
            with tracer.start_as_current_span(f"request {t}"):
                for j in range(SPANS_PER_TRACE - 2):
                    with tracer.start_as_current_span(f"stage-{j}") as s:
                        s.set_attribute("k", j)
                with tracer.start_as_current_span("chat") as c:
                    c.set_attributes({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
                                      "gen_ai.usage.input_tokens": 500, "gen_ai.usage.output_tokens": 50})
        out.append(encode_spans(mem.get_finished_spans()).SerializeToString())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store: str, port: int, web: bool = False, calibration: bool = True) -> subprocess.Popen:
    """`glassbox serve`'s app in its own process (with the dashboard when ``web``), once /health answers."""
    routers = "[__import__('glassbox.server.web', fromlist=['router']).router]" if web else "[]"
    code = ("import uvicorn; from glassbox.server.app import create_app; "
            f"uvicorn.run(create_app({store!r}, queue_size=4000, routers={routers}, calibration={calibration}), "
            f"host='127.0.0.1', port={port}, log_level='warning', access_log=False)")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--big-store", default=None)
    args = ap.parse_args()
    res = Results("ingest")
    log(f"encoding {args.batches} requests of {TRACES_PER_BATCH * SPANS_PER_TRACE} spans …")
    bodies = payloads(args.batches)
    tmp = tempfile.mkdtemp(prefix="glassbox-ingest-")
    store = f"sqlite:///{tmp}/ingest.db"
    port = free_port()
    proc = start_server(store, port)
    url = f"http://127.0.0.1:{port}"
    rss: list[float] = []
    try:
        retries = 0
        with httpx.Client(base_url=url, timeout=30) as c:
            rss_start = rss_mb(proc.pid)
            t0 = time.perf_counter()
            for body in bodies:
                while True:
                    r = c.post("/v1/traces", content=body, headers={"content-type": "application/x-protobuf"})
                    if r.status_code == 200:
                        break
                    if r.status_code != 429:
                        raise SystemExit(f"unexpected {r.status_code}: {r.text[:200]}")
                    retries += 1
                    time.sleep(min(0.2, float(r.headers.get("retry-after", "1")) / 10))
                if len(rss) < 1000:
                    rss.append(rss_mb(proc.pid))
            accepted_s = time.perf_counter() - t0
            want = args.batches * TRACES_PER_BATCH
            while c.get("/api/v1/summary").json()["runs"] < want:
                time.sleep(0.05)
            stored_s = time.perf_counter() - t0
        spans = args.batches * TRACES_PER_BATCH * SPANS_PER_TRACE
        res.figure("spans sent", spans, "spans", f"in {args.batches} requests, {retries} retried after 429")
        res.figure("accepted", spans / accepted_s, "spans/s")
        rate = spans / stored_s
        res.check("OTLP ingest, stored (sustained)", rate, "spans/s", ">= 20,000", rate >= 20_000)
        res.figure("server RSS start / peak", max(rss) if rss else 0, "MB", f"start {rss_start:.0f} MB")
        res.check("server RSS growth under load", (max(rss) - rss_start) if rss else 0, "MB", "< 200 MB",
                  ((max(rss) - rss_start) if rss else 0) < 200)  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)
    if args.big_store:
        port = free_port()
        proc = start_server(args.big_store, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
                c.get("/api/v1/traces")
                times = []
                for i in range(40):
                    params = {"limit": 50, "workflow": ("search_qa", "agent")[i % 2]}
                    if i % 4 == 0:
                        params["status"] = "failed"
                    t0 = time.perf_counter()
                    assert c.get("/api/v1/traces", params=params).status_code == 200
                    times.append((time.perf_counter() - t0) * 1000)
            p95 = statistics.quantiles(times, n=20)[-1]
            res.check("GET /api/v1/traces p95 at the big store", p95, "ms", "< 50 ms", p95 < 50)
        finally:
            proc.terminate()
            proc.wait(10)
    res.emit()


if __name__ == "__main__":
    main()
