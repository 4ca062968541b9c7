"""SIGTERM with work left (issue 18, item 2): what cannot be written in time is spooled to disk and written at
the next start, in `glassbox serve` (a real process over a private PostgreSQL) and in the SDK."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from pgserver import free_port, wait_for
from test_postgres_outage import otlp_body, stored_ids

import glassbox as gb
from glassbox import runtime
from glassbox.store.store import Store


def start_serve(store_url: str, spool: Path, cwd: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = Path(sys.executable).parent / "glassbox"
    args = [
        "serve",
        "--port",
        str(port),
        "--store",
        store_url,
        "--no-web",
        "--spool-dir",
        str(spool),
        "--shutdown-grace",
        "1",
        *extra,
    ]
    proc = subprocess.Popen([str(exe), *args], cwd=cwd, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "glassbox serve did not start"
        time.sleep(0.1)


def test_serve_spools_at_sigterm_what_it_could_not_write_and_writes_it_at_the_next_start(private_pg, tmp_path):
    spool = tmp_path / "spool"
    headers = {"content-type": "application/x-protobuf"}
    proc, url = start_serve(private_pg.url, spool, tmp_path)
    acked: set[str] = set()
    try:
        private_pg.stop()
        for _ in range(20):
            body, ids = otlp_body(10)
            r = httpx.post(f"{url}/v1/traces", content=body, headers=headers, timeout=10)
            assert r.status_code in (200, 503)
            if r.status_code == 200:
                acked |= ids
            time.sleep(0.05)
        assert acked  # the first requests were taken before the outage was noticed
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGTERM), err  # uvicorn re-raises the signal once shut down
    assert "spooled" in err
    assert sum(1 for f in spool.rglob("*.jsonl") for line in f.read_bytes().splitlines() if line) == len(acked)
    private_pg.start()
    assert_next_start_writes_the_spool(private_pg.url, spool, acked)


def assert_next_start_writes_the_spool(url: str, spool: Path, acked: set[str]) -> None:
    """The next start over the same spool folder (serve's ingest, in-process) writes what was left."""
    from glassbox.monitoring.metrics import Metrics
    from glassbox.server.ingest import Ingest

    store = Store(url)
    ingest = Ingest(store, Metrics(), calibration=False, spool_dir=str(spool))
    try:
        assert wait_for(lambda: acked <= stored_ids(store), timeout=30)
        assert ingest.health()["reloaded_from_spool"] >= len(acked)
        assert wait_for(lambda: not list(spool.rglob("*.jsonl")), timeout=10)
    finally:
        ingest.close()
        store.close()


class SlowStoreWrites:
    """Wraps a sink so every batch takes ``delay`` seconds (a long queue at shutdown)."""

    def __init__(self, sink, delay: float) -> None:
        self.sink, self.delay = sink, delay
        self.original = sink.write

    def write(self, traces):
        time.sleep(self.delay)
        self.original(traces)


def test_sdk_shutdown_spools_a_long_queue_and_the_next_configure_writes_it(tmp_path):
    db = f"sqlite:///{tmp_path}/gb.db"
    gb.configure(store=db, trail_dir=str(tmp_path / "trail"), spool_dir=str(tmp_path / "spool"), batch_size=50)
    writer = runtime.current().writer
    database = next(s for s in writer.sinks if s.name == "database")
    database.write = SlowStoreWrites(database, 0.3).write
    ids = []
    for i in range(1000):
        with gb.trace(i, name="q") as t:
            pass
        ids.append(t.trace_id)
    gb.shutdown(timeout=0.5)
    h = writer.health()
    assert h["spooled"] > 0 and h["lost_at_close"] == 0 and h["dropped"] == 0
    trail = "".join(p.read_text() for p in (tmp_path / "trail").glob("*.jsonl"))
    assert all(i in trail for i in ids)  # the trail was not held back by the slow database
    gb.configure(store=db, trail_dir=str(tmp_path / "trail"), spool_dir=str(tmp_path / "spool"))
    store = Store(db)
    assert wait_for(lambda: store.counts()["traces"] == 1000, timeout=30)
    assert gb.health()["reloaded_from_spool"] == h["spooled"]
    assert not list((tmp_path / "spool").rglob("*.jsonl"))
    store.close()
