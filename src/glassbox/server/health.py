"""``/health/full``: each component with a status (ok/warn/fail) and a detail, and an overall score 0-100.

Routers mounted into the app can add their own checks: ``app.state.health_checks[name] = fn``,
where ``fn()`` returns ``(status, detail)`` (the dashboard's background jobs, for instance).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select

from glassbox.store.schema import alerts

DISK_WARN_BYTES = 1 * 1024**3
DISK_FAIL_BYTES = 100 * 1024**2
LAG_WARN_SECONDS = 30.0
_WEIGHTS = {"ok": 1.0, "warn": 0.5, "fail": 0.0}


def _check(name: str, fn: Callable[[], tuple[str, str]]) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        status, detail = fn()
    except Exception as exc:  # noqa: BLE001 - a failing probe is a finding, not a crash
        status, detail = "fail", type(exc).__name__ + (": store unreachable" if "sql" in repr(exc).lower() else "")
    if status not in _WEIGHTS:
        status, detail = "fail", f"unknown status {status!r}: {detail}"
    return {"name": name, "status": status, "detail": detail, "ms": round((time.perf_counter() - t0) * 1000, 2)}


def full(app: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body): 503 when any component fails."""
    state = app.state
    store, ingest = state.store, state.ingest

    def store_probe() -> tuple[str, str]:
        probe = f"hc{uuid.uuid4().hex[:14]}"
        with store.ready().engine.begin() as conn:  # write, read back, remove: a real round trip, never visible
            conn.execute(
                insert(alerts).values(
                    id=probe, source="health", rule="probe", severity="info", message="health probe", acknowledged=True
                )
            )
            found = conn.execute(select(alerts.c.id).where(alerts.c.id == probe)).scalar()
            conn.execute(delete(alerts).where(alerts.c.id == probe))
        return ("ok", f"write+read on {store.engine.dialect.name}") if found == probe else ("fail", "read-back failed")

    def queue_probe() -> tuple[str, str]:
        h = ingest.health()
        share = max(h["queue_depth"] / max(1, h["queue_max"]), h["queued_spans"] / max(1, h["max_queue_spans"]))
        status = "ok" if share < 0.5 else ("warn" if share < 0.9 else "fail")
        return status, (
            f"{h['queue_depth']}/{h['queue_max']} traces, {h['queued_spans']}/{h['max_queue_spans']} "
            f"spans queued; {h['accepted']} accepted"
        )

    def writer_probe() -> tuple[str, str]:
        h = ingest.health()
        sink = h["sinks"].get("database", {})
        if h["store_down_for"] is not None:
            return "fail", f"store unreachable for {h['store_down_for']} s; batches held and retried"
        if h["queue_depth"] and not h["thread_alive"]:
            return "fail", "writer thread stopped with traces queued"
        lag = ingest.lag()
        status = "warn" if sink.get("errors") or lag > LAG_WARN_SECONDS else "ok"
        spool = f"; {h['reloaded_from_spool']} written from the shutdown spool" if h.get("reloaded_from_spool") else ""
        return status, (
            f"{sink.get('written', 0)} traces written, {sink.get('errors', 0)} write errors, lag {lag:.2f} s{spool}"
        )

    def disk_probe() -> tuple[str, str]:
        sqlite = store.engine.dialect.name == "sqlite" and store.engine.url.database not in (None, "", ":memory:")
        where = Path(store.engine.url.database).resolve().parent if sqlite else Path(".").resolve()
        free = shutil.disk_usage(where).free
        status = "ok" if free > DISK_WARN_BYTES else ("warn" if free > DISK_FAIL_BYTES else "fail")
        return status, f"{free / 1024**3:.1f} GiB free ({'store' if sqlite else 'working'} folder)"

    def jobs_probe() -> tuple[str, str]:
        errors = ingest.hook_errors
        return ("warn" if errors else "ok"), f"metrics and calibration after each batch: {errors} failures"

    checks = [
        _check("store", store_probe),
        _check("ingest_queue", queue_probe),
        _check("writer", writer_probe),
        _check("disk", disk_probe),
        _check("background_jobs", jobs_probe),
    ]
    checks += [_check(name, fn) for name, fn in getattr(state, "health_checks", {}).items()]
    score = round(100 * sum(_WEIGHTS[c["status"]] for c in checks) / len(checks))
    unhealthy = any(c["status"] == "fail" for c in checks)
    body = {
        "status": "unhealthy" if unhealthy else ("degraded" if score < 100 else "healthy"),
        "score": score,
        "checks": checks,
    }
    return (503 if unhealthy else 200), body
