"""``/health`` (alive) and ``/health/full`` (each component with status and detail, an overall score)."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select

from glassbox.store.schema import alerts

DISK_WARN_BYTES = 1 * 1024**3
DISK_FAIL_BYTES = 100 * 1024**2


def _check(name: str, fn: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        status, detail = fn()
    except Exception as exc:  # noqa: BLE001 - a failing probe is a finding, not a crash
        status, detail = "fail", f"{type(exc).__name__}: {exc}"
    return {"name": name, "status": status, "detail": detail, "ms": round((time.perf_counter() - t0) * 1000, 2)}


def full(app: Any) -> tuple[int, dict[str, Any]]:
    state = app.state
    store, ingest = state.store, state.ingest

    def store_probe() -> tuple[str, str]:
        probe = f"hc{uuid.uuid4().hex[:14]}"
        with store.ready().engine.begin() as conn:  # write, read back, remove: a real round trip
            conn.execute(insert(alerts).values(id=probe, source="health", rule="probe", severity="info",
                                               message="health probe", acknowledged=True))  # fmt: skip
            found = conn.execute(select(alerts.c.id).where(alerts.c.id == probe)).scalar()
            conn.execute(delete(alerts).where(alerts.c.id == probe))
        return ("ok", f"write+read on {store.engine.dialect.name}") if found == probe else ("fail", "read-back failed")

    def queue_probe() -> tuple[str, str]:
        h = ingest.health()
        share = h["queue_depth"] / max(1, h["queue_max"])
        status = "ok" if share < 0.5 else ("warn" if share < 0.9 else "fail")
        errs = sum(s["errors"] for s in h["sinks"].values())
        if errs and status == "ok":
            status = "warn"
        return status, f"{h['queue_depth']}/{h['queue_max']} queued, {h['accepted']} accepted, {errs} write errors"

    def disk_probe() -> tuple[str, str]:
        where = Path(store.engine.url.database or ".").resolve().parent if store.engine.dialect.name == "sqlite" \
            else Path(".").resolve()  # fmt: skip
        free = shutil.disk_usage(where).free
        status = "ok" if free > DISK_WARN_BYTES else ("warn" if free > DISK_FAIL_BYTES else "fail")
        return status, f"{free / 1024**3:.1f} GiB free at {where}"

    def jobs_probe() -> tuple[str, str]:
        alive = ingest.writer.health()["thread_alive"] or ingest.writer.queue_depth == 0
        return ("ok" if alive else "fail"), "writer thread running" if alive else "writer thread stopped"

    checks = [_check("store", store_probe), _check("ingest_queue", queue_probe), _check("disk", disk_probe),
              _check("background_jobs", jobs_probe)]  # fmt: skip
    weights = {"ok": 1.0, "warn": 0.5, "fail": 0.0}
    score = round(100 * sum(weights[c["status"]] for c in checks) / len(checks))
    unhealthy = any(c["status"] == "fail" for c in checks)
    body = {"status": "unhealthy" if unhealthy else ("degraded" if score < 100 else "healthy"), "score": score,
            "checks": checks}  # fmt: skip
    return (503 if unhealthy else 200), body
