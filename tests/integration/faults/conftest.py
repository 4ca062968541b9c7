"""Fault-injection fixtures: ``private_pg``, a PostgreSQL of the test's own (see pgserver.py).

Without the binaries the tests using it skip, except in CI (``GLASSBOX_REQUIRE_POSTGRES=1``), where they fail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "analysis"))

from pgserver import PrivatePostgres, Unavailable, bindir

REQUIRE_PG = os.environ.get("GLASSBOX_REQUIRE_POSTGRES") == "1"


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    try:
        found = bindir()
        if found is None:
            raise Unavailable("no PostgreSQL binaries under /usr/lib/postgresql/*/bin to start a private server")
        pg = PrivatePostgres(found)
    except Unavailable as exc:
        if REQUIRE_PG:
            pytest.fail(f"GLASSBOX_REQUIRE_POSTGRES=1 but {exc}")
        pytest.skip(str(exc))
    pg.start()
    try:
        yield pg
    finally:
        pg.cleanup()


@pytest.fixture
def pg_url(pg_store_url) -> str:
    """The shared test PostgreSQL (a fresh schema)."""
    return pg_store_url
