"""The bulk writer's own value formatting must write exactly what SQLAlchemy would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME

from glassbox.store.bulk import _fast
from glassbox.store.rows import dt

_dialect = sqlite.dialect()
_impl = DATETIME().dialect_impl(_dialect)
_sqlalchemy = _impl.bind_processor(_dialect)
_ours = _fast(_impl, _dialect)


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_sqlite_datetime_text_is_sqlalchemys(value):
    # Same text, so range filters and ordering on *_at columns compare as before (also at .000000).
    assert _ours(value) == _sqlalchemy(value)


@given(st.datetimes(timezones=st.just(UTC)))
def test_aware_datetimes_fall_back_to_sqlalchemy(value):
    assert _ours(value) == _sqlalchemy(value)


@given(st.integers(min_value=0, max_value=2**62))
def test_epoch_nanoseconds_to_datetime_is_exact_to_the_microsecond(ns):
    whole_seconds = datetime.fromtimestamp(ns // 10**9, UTC).replace(tzinfo=None)
    assert dt(ns) == whole_seconds + timedelta(microseconds=ns % 10**9 // 1000)  # truncated, never rounded up
