"""Options shared by commands, and turning them into things: a store, a point in time."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glassbox.analysis.filter_spec import TRACE_FILTERS, TraceFilter
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

_KW = inspect.Parameter.KEYWORD_ONLY
_CLI_TYPES: dict[str, Any] = {
    "text": str | None,
    "choice": str | None,
    "time": str | None,
    "number": float | None,
    "flag": bool | None,
    "list": list[str] | None,
}


def _filter_parameter(f: TraceFilter) -> inspect.Parameter:
    option = typer.Option(*f.cli_option.split(" "), help=f.help, show_default=False)
    return inspect.Parameter(f.name, _KW, default=None, annotation=Annotated[_CLI_TYPES[f.kind], option])


def with_filters(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the trace filter options (``analysis.filter_spec``) to a command, passed to it as one ``filters`` dict."""
    sig = inspect.signature(fn)
    hints = dict(inspect.get_annotations(fn, eval_str=True))
    added = [_filter_parameter(f) for f in TRACE_FILTERS]
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation), kind=_KW)
        for p in sig.parameters.values()
        if p.name != "filters"
    ]
    names = TRACE_FILTERS.names()

    @functools.wraps(fn)
    def command(**kwargs: Any) -> Any:
        filters = {}
        for name in names:
            value = kwargs.pop(name, None)
            if value not in (None, []):
                filters[name] = value
        return fn(filters=filters, **kwargs)

    command.__signature__ = sig.replace(parameters=own + added)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in own + added}
    return command


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
    """Open the store; with ``must_exist`` a missing SQLite file is an error rather than a new, empty store.

    The CLI's one store lifetime: ``with open_store(store, must_exist=True) as st:`` closes it however the block ends.
    """
    from glassbox.store.database import safe_url
    from glassbox.store.store import Store

    resolved = store_url(url)
    path = sqlite_path(resolved)
    if must_exist and path is not None and not path.is_file():
        raise StoreError(
            f"no store at {safe_url(resolved)} (run `glassbox demo` or `glassbox import PATH`, or pass --store)"
        )
    return Store(resolved, migrate=migrate)
