"""Option parsing (points in time, store URLs) and the text formats the CLI prints."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from glassbox.cli import formats as fmt
from glassbox.cli.errors import UsageProblem
from glassbox.cli.options import parse_when, sqlite_path, store_url

NOW = datetime(2026, 11, 24, 12, 0, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        ("30m", NOW - timedelta(minutes=30)),
        ("90s", NOW - timedelta(seconds=90)),
        ("2w", NOW - timedelta(weeks=2)),
        ("1.5h", NOW - timedelta(minutes=90)),
        ("2026-11-01", datetime(2026, 11, 1)),
        ("2026-11-01T08:30", datetime(2026, 11, 1, 8, 30)),
        ("2026-11-01T08:30:00Z", datetime(2026, 11, 1, 8, 30)),
        ("2026-11-01T10:30:00+02:00", datetime(2026, 11, 1, 8, 30)),  # converted to UTC
    ],
)
def test_parse_when(text, expected):
    assert parse_when(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "7 days", "-3d", "2026-13-01", "d7"])
def test_parse_when_rejects_with_the_option_name(text):
    with pytest.raises(UsageProblem, match="--until"):
        parse_when(text, "--until", now=NOW)


def test_store_url_prefers_the_option_then_settings(monkeypatch):
    assert store_url("sqlite:///x.db") == "sqlite:///x.db"
    assert store_url(None) == "sqlite:///.glassbox/glassbox.db"
    monkeypatch.setenv("GLASSBOX_STORE", "sqlite:///env.db")
    assert store_url(None) == "sqlite:///env.db"


def test_sqlite_path():
    assert str(sqlite_path("sqlite:///.glassbox/glassbox.db")) == ".glassbox/glassbox.db"
    assert str(sqlite_path("sqlite:////abs/x.db")) == "/abs/x.db"
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql+psycopg://u@h/db") is None


def test_formats():
    assert fmt.duration(None) == "—"
    assert fmt.duration(3.25) == "3.2ms" and fmt.duration(850) == "850ms"
    assert fmt.duration(5200) == "5.2s" and fmt.duration(83_000) == "1m 23s"
    assert fmt.duration(2 * 3600_000 + 5 * 60_000) == "2h 05m"
    assert fmt.cost(None) == "—" and fmt.cost(0) == "$0" and fmt.cost(0.00321) == "$0.0032"
    assert fmt.cost(1234.5) == "$1,234.50"
    assert fmt.score(0.8, 1.0) == "0.80/1.00" and fmt.score(2.4) == "2.40" and fmt.score(None) == "n/a"
    assert fmt.verdict(True) == "PASS" and fmt.verdict(False) == "FAIL" and fmt.verdict(None) == ""
    assert fmt.preview({"q": "a\nb"}) == '{"q": "a\\nb"}' and fmt.preview("a\n  b") == "a b"
    assert fmt.preview("x" * 100, 10) == "x" * 9 + "…"
    assert fmt.started("2026-11-24T04:00:53.123456Z") == "2026-11-24 04:00:53"
    assert fmt.error_line({"type": "E", "message": "bad\nthing", "stage": "s"}) == "E: bad thing (in s)"
    assert fmt.tokens(1200, None) == "1,200 in / 0 out"
