"""Reports written to files: a reports folder (kept ``keep_days``), each file listed in the ``reports`` table
so the dashboard shows them with their period; and the weekly schedule ``glassbox serve`` follows."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select

from glassbox.errors import GlassboxError, NotFound
from glassbox.ids import new_record_id
from glassbox.reports.model import Report
from glassbox.store.tables.reports import reports

if TYPE_CHECKING:
    from glassbox.store.store import Store

log = logging.getLogger("glassbox")
FORMATS = ("md", "html", "json")
DEFAULT_DIR = ".glassbox/reports"


class ReportNotFound(NotFound):
    """No report file with that id."""


def render(report: Report, fmt: str, base_url: str = "") -> str:
    if fmt == "md":
        from glassbox.reports.render import markdown

        return markdown(report, base_url)
    if fmt == "json":
        from glassbox.reports.render import as_json

        return as_json(report)
    if fmt == "html":
        from glassbox.reports.html import html

        return html(report, base_url)
    raise GlassboxError(f"format: expected md, html or json, got {fmt!r}")


def file_name(report: Report, fmt: str) -> str:
    project = f"_{''.join(c if c.isalnum() or c in '-_' else '_' for c in report.project)}" if report.project else ""
    return f"{report.kind}_report{project}_{report.period.until:%Y%m%d_%H%M}.{fmt}"


def write(report: Report, fmt: str, folder: str | Path, *, store: Store | None = None, base_url: str = "") -> Path:
    """Write the report into ``folder`` (created if needed) whole or not at all; list it in ``store``."""
    body = render(report, fmt, base_url)
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
        path = out / file_name(report, fmt)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, path)  # a reader never sees half a report
    except OSError as exc:
        raise GlassboxError(f"cannot write the report into {out}: {exc.strerror or exc}") from None
    if store is not None:
        record(store, report, fmt, path)
    return path


def record(store: Store, report: Report, fmt: str, path: Path) -> str:
    rid = new_record_id()
    with store.ready().engine.begin() as conn:
        conn.execute(
            insert(reports).values(
                id=rid,
                project=report.project,
                kind=report.kind,
                format=fmt,
                since=report.period.since,
                until=report.period.until,
                path=str(path.resolve()),
                title=report.title,
                summary=report.headline(),
                created_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )
    return rid


@dataclass
class Listed:
    id: str
    project: str | None
    kind: str
    format: str
    since: datetime
    until: datetime
    path: str
    title: str
    summary: dict[str, Any] | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        d = dict(vars(self))
        for k in ("since", "until", "created_at"):
            d[k] = d[k].isoformat()
        d["exists"] = Path(self.path).is_file()
        return d


def listed(store: Store, *, project: str | None = None, kind: str | None = None, limit: int = 100) -> list[Listed]:
    c = reports.c
    cond = [col == v for col, v in ((c.project, project), (c.kind, kind)) if v is not None]
    with store.ready().engine.connect() as conn:
        rows = conn.execute(select(reports).where(*cond).order_by(c.created_at.desc()).limit(limit)).mappings().all()
    return [Listed(**dict(r)) for r in rows]


def get(store: Store, report_id: str) -> Listed:
    with store.ready().engine.connect() as conn:
        row = conn.execute(select(reports).where(reports.c.id == report_id)).mappings().first()
    if row is None:
        raise ReportNotFound(f"no report {report_id!r}")
    return Listed(**dict(row))


def prune(store: Store, keep_days: float) -> int:
    """Delete report files (and their rows) created more than ``keep_days`` ago; returns how many."""
    cutoff = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=keep_days)
    c = reports.c
    with store.ready().engine.begin() as conn:
        old = conn.execute(select(c.id, c.path).where(c.created_at < cutoff)).all()
        for _, path in old:
            with contextlib.suppress(OSError):
                Path(path).unlink(missing_ok=True)
        if old:
            conn.execute(delete(reports).where(c.id.in_([rid for rid, _ in old])))
    return len(old)


def due(store: Store, kind: str, every: timedelta, now: datetime | None = None) -> bool:
    """Whether a scheduled ``kind`` report is due: none was written within ``every``."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    c = reports.c
    with store.ready().engine.connect() as conn:
        last = conn.execute(select(c.created_at).where(c.kind == kind).order_by(c.created_at.desc()).limit(1)).first()
    return last is None or now - last[0] >= every
