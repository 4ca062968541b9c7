"""OTLP ingest into one `glassbox serve` process on SQLite, and the REST list endpoint on a big store.

    python bench/ingest_bench.py [--batches 300] [--senders 2] [--big-store sqlite:////tmp/bench-1m.db]

The server runs in its own process (uvicorn, like `glassbox serve`, with pricing, metrics and
calibration on). Senders post pre-encoded OTLP protobuf requests of 512 spans (64 traces x 8
spans from the real OTel SDK, one priced LLM span per trace; every request has fresh trace ids
and later times) as fast as they can over keep-alive connections, honouring 429 + Retry-After
as an exporter would, and the run ends when the server's writer has stored every span
(`glassbox_ingest_spans_written_total`). Target: >= 20,000 spans/s sustained; server RSS bounded.
With --big-store (see gen_store.py), also `GET /api/v1/traces` p95 (target < 50 ms).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _common import Results, log

SPANS_PER_TRACE = 8
TRACES_PER_BATCH = 64


def template() -> bytes:
    """One export request of 512 spans from the real OTel SDK (protobuf)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    mem = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(mem))
    tracer = provider.get_tracer("bench")
    for t in range(TRACES_PER_BATCH):
        with tracer.start_as_current_span(f"request {t % 8}") as root:
            root.set_attribute("http.route", "/ask")
            for j in range(SPANS_PER_TRACE - 2):
                with tracer.start_as_current_span(f"stage-{j}") as s:
                    s.set_attribute("k", j)
            with tracer.start_as_current_span("chat") as c:
                c.set_attributes(
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.usage.input_tokens": 400 + t,
                        "gen_ai.usage.output_tokens": 50 + t,
                    }
                )
    return encode_spans(mem.get_finished_spans()).SerializeToString()


def payloads(n: int) -> list[bytes]:
    """``n`` requests like ``template()``, each with fresh random trace ids and later times (new runs, as a
    live app sends them: re-sent ids would be idempotent upserts, equal times an unrealistic index load)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    base = ExportTraceServiceRequest()
    base.ParseFromString(template())
    spans = [sp for rs in base.resource_spans for ss in rs.scope_spans for sp in ss.spans]
    step = 25_000_000  # each request 25 ms after the previous one
    out = []
    for _ in range(n):
        new_ids: dict[bytes, bytes] = {}
        for sp in spans:
            sp.trace_id = new_ids.setdefault(sp.trace_id, os.urandom(16))
            sp.start_time_unix_nano += step
            sp.end_time_unix_nano += step
        out.append(base.SerializeToString())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DURABLE_SPOOL: list[str] = []  # --durable: serve with durable=True over this spool folder


def start_server(store: str, port: int, web: bool = False, calibration: bool = True) -> subprocess.Popen:
    """`glassbox serve`'s app in its own process (with the dashboard when ``web``), once /health answers."""
    # The dashboard as `glassbox serve` mounts it: web.py's pages and the features' (alerts, SLOs, drift…).
    routers = (
        "[__import__('glassbox.server.web', fromlist=['router']).router,"
        " *__import__('glassbox.server.features', fromlist=['page_routers']).page_routers()]"
        if web
        else "[]"
    )
    durable = f", durable=True, spool_dir={DURABLE_SPOOL[0]!r}" if DURABLE_SPOOL else ""
    code = (
        "import uvicorn; from glassbox.server.app import create_app; "
        f"uvicorn.run(create_app({store!r}, routers={routers}, calibration={calibration}{durable}), "
        f"host='127.0.0.1', port={port}, log_level='warning', access_log=False)"
    )
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


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spans_written(c: httpx.Client) -> float:
    m = re.search(r"^glassbox_ingest_spans_written_total ([0-9.e+]+)$", c.get("/metrics").text, re.M)
    return float(m.group(1)) if m else 0.0


def send(url: str, bodies: list[bytes], retries: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=60) as c:
        for body in bodies:
            while True:
                r = c.post("/v1/traces", content=body, headers={"content-type": "application/x-protobuf"})
                if r.status_code == 200:
                    break
                if r.status_code not in (429, 503):
                    raise SystemExit(f"unexpected {r.status_code}: {r.text[:200]}")
                retries.append(1)
                # An exporter sleeps Retry-After (>= 1 s); a benchmark sender polls sooner to stay saturating.
                time.sleep(min(0.2, float(r.headers.get("retry-after", "1")) / 10))


def ingest(res: Results, batches: int, senders: int) -> None:
    log(f"encoding {batches} requests of {TRACES_PER_BATCH * SPANS_PER_TRACE} spans …")
    bodies = payloads(batches)
    tmp = tempfile.mkdtemp(prefix="glassbox-ingest-")
    port = free_port()
    proc = start_server(f"sqlite:///{tmp}/ingest.db", port)
    url = f"http://127.0.0.1:{port}"
    total = batches * TRACES_PER_BATCH * SPANS_PER_TRACE
    rss: list[float] = []
    retries: list[int] = []
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            rss_start, cpu_start = rss_mb(proc.pid), cpu_seconds(proc.pid)
            t0 = time.perf_counter()
            threads = [threading.Thread(target=send, args=(url, bodies[i::senders], retries)) for i in range(senders)]
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                rss.append(rss_mb(proc.pid))
                time.sleep(0.1)
            accepted_s = time.perf_counter() - t0
            while spans_written(c) < total:
                rss.append(rss_mb(proc.pid))
                time.sleep(0.1)
            stored_s = time.perf_counter() - t0
            cpu = cpu_seconds(proc.pid) - cpu_start
            assert c.get("/api/v1/summary").json()["runs"] == batches * TRACES_PER_BATCH  # every run is there
    finally:
        proc.terminate()
        proc.wait(10)
    res.figure(
        "spans sent", total, "spans", f"in {batches} requests from {senders} senders, {len(retries)} retried after 429"
    )
    res.figure("accepted", total / accepted_s, "spans/s", "answered 200 (queued)")
    rate = total / stored_s
    res.check("OTLP ingest, stored (sustained)", rate, "spans/s", ">= 20,000", rate >= 20_000)
    res.figure("server CPU per span", cpu / total * 1e6, "us", "decode, price, store, metrics, calibration, HTTP")
    growth = max(rss) - rss_start if rss else 0.0
    res.figure("server RSS start / peak", max(rss) if rss else 0, "MB", f"start {rss_start:.0f} MB")
    res.check("server RSS growth under load", growth, "MB", "< 200 MB", growth < 200)


def list_p95(res: Results, store: str) -> None:
    port = free_port()
    proc = start_server(store, port)
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--senders", type=int, default=2)
    ap.add_argument("--big-store", default=None)
    ap.add_argument("--durable", action="store_true", help="serve --durable: fsync each request before 200")
    args = ap.parse_args()
    if args.durable:
        import tempfile

        DURABLE_SPOOL.append(tempfile.mkdtemp(prefix="gb-bench-spool-"))
    res = Results("ingest")
    ingest(res, args.batches, args.senders)
    if args.big_store:
        list_p95(res, args.big_store)
    res.emit()


if __name__ == "__main__":
    main()
