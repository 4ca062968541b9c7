"""Options shared by commands, and turning them into things: a store, a point in time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from glassbox.cli.errors import UsageProblem
from glassbox.errors import StoreError

if TYPE_CHECKING:
    from glassbox.store.store import Store

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="SQLAlchemy URL of the store (default: the configured store, GLASSBOX_STORE or .glassbox/glassbox.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

def parse_when(value: str, option: str = "--since", now: datetime | None = None) -> datetime:
    """A naive UTC datetime from ``2026-11-01``, ``2026-11-01T08:30``, or a span back from now (``7d``, ``24h``).

    Times without an offset are taken as UTC (the store keeps UTC). Raises UsageProblem.
    """
    from glassbox.analysis.filters import parse_time
    from glassbox.errors import QueryError

    try:
        return parse_time(value, option, now)
    except QueryError as exc:
        raise UsageProblem(str(exc)) from None


def store_url(url: str | None) -> str:
    """The ``--store`` value, else the configured store (settings: env, glassbox.toml, pyproject)."""
    if url:
        from glassbox.store.database import as_url

        return as_url(url)  # `--store .glassbox/glassbox.db`: a plain path is an SQLite file
    from glassbox.config import load_settings

    configured = load_settings().store
    if not configured:
        raise StoreError("no store configured (GLASSBOX_STORE is off); pass --store URL")
    return configured


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (None for other backends and in-memory databases)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    db = parsed.database
    if parsed.get_backend_name() != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def open_store(url: str | None, *, must_exist: bool, migrate: bool = True) -> Store:
    """Open the store; with ``must_exist`` a missing SQLite file is an error rather than a new, empty store."""
    from glassbox.store.database import safe_url
    from glassbox.store.store import Store

    resolved = store_url(url)
    path = sqlite_path(resolved)
    if must_exist and path is not None and not path.is_file():
        raise StoreError(
            f"no store at {safe_url(resolved)} (run `glassbox demo` or `glassbox import PATH`, or pass --store)"
        )
    return Store(resolved, migrate=migrate)
