"""Trace filters shared by every query (and so by the CLI and the REST API): parsed, checked, SQL.

Which filters exist is declared once in ``glassbox.analysis.filter_spec``.

Every value reaches SQL as a bound parameter; a bad filter raises ``QueryError`` naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Text, and_, cast, func, or_
from sqlalchemy.sql.elements import ColumnElement

from glassbox.analysis.filter_spec import TRACE_FILTERS
from glassbox.errors import QueryError
from glassbox.model import TRACE_STATUSES
from glassbox.store import dialect as sql
from glassbox.store.schema import traces

# name -> what it takes (for messages); the filters themselves are declared once in filter_spec
FILTERS: dict[str, str] = {f.name: f.takes for f in TRACE_FILTERS}
_EQUALS = TRACE_FILTERS.equals()

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)$")
_UNITS = {"s": "seconds", "sec": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: Any, name: str = "since", now: datetime | None = None) -> datetime:
    """A naive UTC datetime from a datetime, ``2026-11-01``, ``2026-11-01T08:30[Z|+01:00]`` or ``7d``/``24h``."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text_value = str(value).strip()
    m = _SPAN.match(text_value.lower())
    if m:
        now = now or datetime.now(UTC).replace(tzinfo=None)
        return now - timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    try:
        when = datetime.fromisoformat(text_value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"{name}: expected a date (2026-11-01), a date and time (2026-11-01T08:30) "
            f"or a span back from now (30m, 24h, 7d, 2w), got {value!r}"
        ) from None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _number(name: str, value: Any) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError):
        raise QueryError(f"{name}: expected a number, got {value!r}") from None


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "yes", "y", "on"):
        return True
    if word in ("0", "false", "no", "n", "off"):
        return False
    raise QueryError(f"flagged: expected true or false, got {value!r}")


def parse_metadata(value: Any) -> dict[str, str]:
    """``{"k": "v"}``, ``"k=v"`` or a list of ``"k=v"``: every pair must match."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    items = [value] if isinstance(value, str) else list(value)
    out: dict[str, str] = {}
    for item in items:
        key, sep, val = str(item).partition("=")
        if not sep or not key.strip():
            raise QueryError(f"metadata: expected key=value, got {item!r}")
        out[key.strip()] = val.strip()
    return out


def check(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset filters; reject unknown names and malformed values (QueryError)."""
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise QueryError(
            f"unknown filter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(FILTERS)}"
        )
    out = {k: v for k, v in filters.items() if v is not None}
    if "status" in out and out["status"] not in TRACE_STATUSES:
        raise QueryError(f"status: expected one of {', '.join(TRACE_STATUSES)}, got {out['status']!r}")
    for key in ("since", "until"):
        if key in out:
            out[key] = parse_time(out[key], key)
    for key in ("min_score", "max_score"):
        if key in out:
            out[key] = _number(key, out[key])
    if "flagged" in out:
        out["flagged"] = _flag(out["flagged"])
    if "metadata" in out:
        out["metadata"] = parse_metadata(out["metadata"])
    if "tag" in out:
        out["tag"] = [out["tag"]] if isinstance(out["tag"], str) else [str(t) for t in out["tag"]]
    return out


def conditions(filters: Mapping[str, Any], dialect: str) -> list[ColumnElement[Any]]:
    """SQL conditions on the traces table for checked filters (see ``check``)."""
    c = traces.c
    out: list[ColumnElement[Any]] = [c[name] == filters[name] for name in _EQUALS if name in filters]
    if "since" in filters:
        out.append(c.started_at >= filters["since"])
    if "until" in filters:
        out.append(c.started_at < filters["until"])
    if "min_score" in filters:
        out.append(c.quality_score >= filters["min_score"])
    if "max_score" in filters:
        out.append(c.quality_score <= filters["max_score"])
    if "flagged" in filters:
        out.append(c.flagged_for_review.is_(filters["flagged"]))
    for i, tag in enumerate(filters.get("tag", ())):
        out.append(sql.json_array_contains(dialect, c.tags, tag, f"tag_{i}"))
    for key, value in filters.get("metadata", {}).items():
        out.append(sql.json_text(dialect, c.metadata, key) == value)
    if "text" in filters:
        needle = str(filters["text"]).lower()
        out.append(
            or_(
                func.lower(cast(c.input, Text)).contains(needle, autoescape=True),
                func.lower(cast(c.output, Text)).contains(needle, autoescape=True),
            )
        )
    return out


def where(filters: Mapping[str, Any], dialect: str) -> ColumnElement[Any]:
    return and_(True, *conditions(filters, dialect))
