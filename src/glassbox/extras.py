"""The install shape: which optional extra installs which library, and a polite error when one is missing.

``pip install glassbox`` is the SDK, the embedded SQLite store, the audit trail and the CLI. Everything
else is an extra (``glassbox[server]``, ``[stats]``, … or ``[all]``; docs/install.md). A feature that
needs one asks for it with ``require("scipy", extra="stats")`` (httpx's pattern); the CLI turns any
missing optional module into one line naming the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from glassbox.errors import GlassboxError

# top-level module -> the extra of pyproject.toml that installs it
EXTRAS: dict[str, str] = {
    "fastapi": "server",
    "starlette": "server",
    "uvicorn": "server",
    "httptools": "server",
    "plotly": "server",
    "multipart": "server",
    "python_multipart": "server",
    "fastapi_offline": "server",
    "numpy": "stats",
    "scipy": "stats",
    "statsmodels": "stats",
    "rapidfuzz": "eval",
    "jsonschema": "eval",
    "openfeature": "flags",
    "vaderSentiment": "sentiment",
    "structlog": "logs",
    "psycopg": "postgres",
    "psycopg_binary": "postgres",
    "pyarrow": "parquet",
    "matplotlib": "reports",
}


class MissingExtra(GlassboxError, ModuleNotFoundError):
    """An optional library is not installed; the message names the extra that installs it."""


def _message(module: str, extra: str, purpose: str | None) -> str:
    what = f" for {purpose}" if purpose else ""
    return f"{module} is needed{what} but is not installed: pip install 'glassbox[{extra}]' (or 'glassbox[all]')"


def require(module: str, extra: str | None = None, *, purpose: str | None = None) -> ModuleType:
    """Import ``module``, or raise MissingExtra naming the extra to install (default: from ``EXTRAS``)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = (exc.name or module).split(".")[0]
        if top != module.split(".", maxsplit=1)[0]:
            raise  # the module is there but one of its own imports is missing: not ours to explain
        name = extra or EXTRAS.get(top, "all")
        raise MissingExtra(_message(top, name, purpose), name=top) from None


def check_installed(modules: tuple[str, ...], extra: str, *, purpose: str | None = None) -> None:
    """Raise MissingExtra unless every module can be imported (found, not imported: costs no import time)."""
    from importlib.util import find_spec

    for module in modules:
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):  # blocked (None in sys.modules) or a broken install
            found = False
        if not found:
            raise MissingExtra(_message(module, extra, purpose), name=module)


def missing_extra(exc: BaseException) -> MissingExtra | None:
    """The polite form of an ImportError for an optional library glassbox knows, else None."""
    if isinstance(exc, MissingExtra):
        return exc
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    extra = EXTRAS.get(top)
    return None if extra is None else MissingExtra(_message(top, extra, None), name=top)


__all__ = ["EXTRAS", "MissingExtra", "check_installed", "missing_extra", "require"]
