"""The period a report covers, and the one before it (for period-over-period deltas)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from glassbox.errors import QueryError


@dataclass(frozen=True)
class Period:
    """``[since, until)`` in naive UTC, as the query API's ``since``/``until`` filters take them."""

    since: datetime
    until: datetime

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / 86_400

    def previous(self) -> Period:
        """The period of the same length that ends where this one starts."""
        return Period(self.since - (self.until - self.since), self.since)

    def filters(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until}

    @property
    def label(self) -> str:
        end = self.until - timedelta(microseconds=1)
        return f"{self.since:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC ({self.days:g} days)"

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "days": round(self.days, 6)}


def period(days: float | None = None, since: Any = None, until: Any = None, *, now: datetime | None = None) -> Period:
    """The report's period: the last ``days`` (default 7) up to now, or ``since``/``until`` (dates, times or
    spans back from now like ``7d``, as every filter takes them)."""
    from glassbox.analysis.filters import parse_time

    now = now or datetime.now(UTC).replace(tzinfo=None)
    if days is not None and since is not None:
        raise QueryError("give --days or --since/--until, not both")
    end = parse_time(until, "until", now) if until is not None else now
    if since is not None:
        start = parse_time(since, "since", now)
    else:
        span = 7.0 if days is None else float(days)
        if not span > 0:
            raise QueryError(f"days: expected a positive number, got {days!r}")
        start = end - timedelta(days=span)
    if start >= end:
        raise QueryError(f"the period is empty: since {start:%Y-%m-%d %H:%M} is not before until {end:%Y-%m-%d %H:%M}")
    return Period(start, end)
