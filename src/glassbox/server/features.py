"""The wave's features on the server: each has an API router, dashboard pages and, optionally, a background job.

A feature module ``glassbox.server.<name>`` may define:

- ``router``: an ``APIRouter`` (its routes under ``/api/v1/…``), mounted by ``create_app``;
- ``pages``: an ``APIRouter`` of dashboard pages (``include_in_schema=False``), mounted with the dashboard;
- ``start(app) -> stop``: a background job started with the server (drift monitor, report schedule,
  SLO checks); ``stop()`` is called at shutdown. It must never block the event loop.

Dashboard templates extend ``base.html`` and render through ``glassbox.server.web.page``.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

log = logging.getLogger("glassbox.server")

FEATURES = ("evaluation_routes", "experiment_routes", "monitoring_routes", "drift_routes", "report_routes")


def modules() -> Iterator[ModuleType]:
    for name in FEATURES:
        try:
            yield importlib.import_module(f"glassbox.server.{name}")
        except ImportError as exc:  # a feature whose extra is not installed: the rest still serve
            log.info("glassbox serve: feature %s not available: %s", name, exc)


def api_routers() -> list[Any]:
    """Each feature's ``router``, and its ``aliases`` (routes outside /api/v1: ``/trace/{id}``, ``/feedback``…)."""
    found = list(modules())
    return [m.router for m in found if getattr(m, "router", None) is not None] + [
        m.aliases for m in found if getattr(m, "aliases", None) is not None
    ]


def page_routers() -> list[Any]:
    return [m.pages for m in modules() if getattr(m, "pages", None) is not None]


def start_jobs(app: Any) -> list[Callable[[], None]]:
    """Start every feature's background job; returns their stop functions."""
    stops: list[Callable[[], None]] = []
    for m in modules():
        start = getattr(m, "start", None)
        if start is None:
            continue
        try:
            stop = start(app)
        except Exception:
            log.exception("glassbox serve: background job of %s did not start", m.__name__)
            continue
        if stop is not None:
            stops.append(stop)
    return stops


def periodic(
    name: str, run: Callable[[], dict[str, Any] | None], status: dict[str, Any], *, interval: float, first: float
) -> Callable[[], None]:
    """Run ``run()`` on a daemon thread ``first`` seconds after start, then every ``interval`` seconds, until the
    returned stop function is called. ``status`` (shown by the job's health check and API) gets ``last_check``,
    ``checks``, ``last_error`` and whatever ``run`` returns; a failed run is logged and retried next time."""
    stop = threading.Event()

    def loop() -> None:
        wait = first
        while not stop.wait(wait):
            try:
                result = run() or {}
                status.update(
                    result,
                    last_check=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    last_error=None,
                    checks=status.get("checks", 0) + 1,
                )
            except Exception as exc:  # noqa: BLE001 - reported in health; the next round retries
                status["last_error"] = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("glassbox serve: %s failed: %s", name, exc)
            wait = interval

    thread = threading.Thread(target=loop, name=f"glassbox-{name.replace(' ', '-')}", daemon=True)
    thread.start()

    def stop_job() -> None:
        stop.set()
        thread.join(timeout=5)

    return stop_job
