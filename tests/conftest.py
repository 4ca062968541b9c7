"""Shared fixtures: isolated cwd, configured SDK, and stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

import glassbox as gb

# Property tests judge glassbox, not the machine: a loaded 2-core CI box generates inputs slowly, which
# hypothesis would report as a failed health check. Deadlines stay per test where a test sets one.
settings.register_profile("glassbox", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("glassbox")

PG_URL = os.environ.get("GLASSBOX_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("GLASSBOX_REQUIRE_POSTGRES") == "1"


def _pg_reachable() -> str | None:
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg not installed ({exc})"
    from sqlalchemy.engine import make_url

    u = make_url(PG_URL)
    try:
        with psycopg.connect(
            host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, password=u.password, connect_timeout=3
        ):
            return None
    except Exception as exc:
        return f"PostgreSQL at {u.render_as_string(hide_password=True)} unreachable: {exc}"


_PG_PROBLEM = _pg_reachable()


def pytest_report_header(config: pytest.Config) -> str:
    if _PG_PROBLEM is None:
        return f"glassbox: PostgreSQL tests run against {PG_URL}"
    return f"glassbox: PostgreSQL tests SKIPPED: {_PG_PROBLEM}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _PG_PROBLEM is not None and REQUIRE_PG:
        raise pytest.UsageError(f"GLASSBOX_REQUIRE_POSTGRES=1 but {_PG_PROBLEM}")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch) -> Iterator[None]:
    """Every test runs in its own cwd with no GLASSBOX_* env leaking in, and ends unconfigured."""
    for key in list(os.environ):
        if key.startswith("GLASSBOX_") and key not in (
            "GLASSBOX_TEST_POSTGRES",
            "GLASSBOX_REQUIRE_POSTGRES",
            "GLASSBOX_REQUIRE_BROWSER",
        ):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield
    gb.shutdown()


def _pg_schema_url() -> Iterator[str]:
    import sqlalchemy as sa

    schema = f"gbt_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_store_url() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL, for tests about PostgreSQL alone (mark them ``postgres``)."""
    if _PG_PROBLEM is not None:
        pytest.skip(_PG_PROBLEM)  # only where no server runs; CI (GLASSBOX_REQUIRE_POSTGRES=1) fails at collection
    yield from _pg_schema_url()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store/glassbox.db"
        return
    if _PG_PROBLEM is not None:
        pytest.skip(_PG_PROBLEM)
    yield from _pg_schema_url()


@pytest.fixture
def store(store_url):
    from glassbox.store.store import Store

    s = Store(store_url)
    yield s
    s.close()


@pytest.fixture
def configured(store_url, tmp_path):
    """The SDK configured onto a fresh store and a trail folder in tmp_path."""
    gb.configure(project="test", store=store_url, trail_dir=str(tmp_path / "traces"), flush_interval=0.05)
    return store_url
