"""The report schedule of ``glassbox serve``: write the configured reports when due, prune old ones,
and send each report's summary to the alerts' webhooks (as an ``info`` alert of source ``report``)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glassbox.errors import ConfigError

if TYPE_CHECKING:
    from glassbox.store.store import Store

log = logging.getLogger("glassbox")
EVERY = {"weekly": timedelta(days=7), "daily": timedelta(days=1)}
CHECK_S = 300.0  # how often the job looks whether a report is due
# The first look comes a minute after start, so a restart loop or a short-lived server does no report work.
FIRST_CHECK_S = 60.0


def interval(spec: str) -> timedelta | None:
    """``weekly`` / ``daily`` / ``off`` / a span like ``12h`` or ``3d``; None: off."""
    text = spec.strip().lower()
    if text in ("off", "none", "", "false", "0"):
        return None
    if text in EVERY:
        return EVERY[text]
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(m|h|d|w)", text)
    if not m:
        raise ConfigError(f"reports_schedule: expected weekly, daily, off or a span like 12h, got {spec!r}")
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]: float(m.group(1))})


def run_due(store: Store, settings: Any, *, force: bool = False) -> list[Path]:
    """Write every scheduled report that is due (all of them with ``force``); returns the files written."""
    from glassbox.analysis.query import Query
    from glassbox.reports import archive
    from glassbox.reports.build import build
    from glassbox.reports.period import period

    every = interval(settings.reports_schedule)
    if every is None and not force:
        return []
    span = every or timedelta(days=7)
    written: list[Path] = []
    for kind in settings.reports_kinds:
        if not force and not archive.due(store, kind, span):
            continue
        rep = build(kind, Query(store), period(days=span.total_seconds() / 86_400))
        for fmt in settings.reports_formats:
            written.append(archive.write(rep, fmt, settings.reports_dir, store=store))
        _deliver(rep, written[-1])
    archive.prune(store, settings.reports_keep_days)
    return written


def _deliver(report: Any, path: Path) -> None:
    """The summary to the alerts' webhooks/commands/callbacks (when any are configured); never raises."""
    try:
        from glassbox.ids import new_record_id
        from glassbox.model import Alert
        from glassbox.monitoring.notifiers import delivery

        d = delivery()
        alert = Alert(
            new_record_id(),
            "report",
            report.kind,
            f"{report.executive_summary()} File: {path}",
            severity="info",
            project=report.project,
            key=f"report:{report.kind}:{path.name}",
        )
        d.submit(alert, "firing")
    except Exception:
        log.warning("glassbox: the %s report's summary was not delivered", report.kind, exc_info=True)
