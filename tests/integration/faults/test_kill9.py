"""kill -9 of `glassbox serve` (issue 18, item 3): with --durable nothing acknowledged is lost; without, the
promise is the documented one (what was written). A real process over a private PostgreSQL."""

from __future__ import annotations

import signal

import httpx
from test_postgres_outage import otlp_body
from test_shutdown_spool import assert_next_start_writes_the_spool, start_serve


def test_durable_serve_loses_nothing_acknowledged_to_kill_9(private_pg, tmp_path):
    spool = tmp_path / "spool"
    headers = {"content-type": "application/x-protobuf"}
    proc, url = start_serve(private_pg.url, spool, tmp_path, "--durable")
    acked: set[str] = set()
    try:
        private_pg.stop()  # nothing more can be written: what is acknowledged is in memory and the spool only
        for _ in range(10):
            body, ids = otlp_body(10)
            r = httpx.post(f"{url}/v1/traces", content=body, headers=headers, timeout=10)
            if r.status_code == 200:
                acked |= ids
        assert acked
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    private_pg.start()
    assert_next_start_writes_the_spool(private_pg.url, spool, acked)
