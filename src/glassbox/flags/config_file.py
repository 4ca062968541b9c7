"""Flag and experiment definitions from glassbox.toml (``[[flag]]``, ``[[experiment]]``): light, no store."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from glassbox.errors import QueryError
from glassbox.flags.definitions import KINDS, Definition, DefinitionError, parse


def validate(kind: str, raw: Mapping[str, Any]) -> Definition:
    """Parse a definition; bad input is a QueryError naming the field (CLI exit 2, HTTP 400)."""
    if kind not in KINDS:
        raise QueryError(f"kind: expected flag or experiment, got {kind!r}")
    try:
        return parse(kind, raw)
    except DefinitionError as exc:
        raise QueryError(str(exc)) from None


def read_toml(path: str | Path = "glassbox.toml") -> list[tuple[str, dict[str, Any]]]:
    """``[[flag]]`` and ``[[experiment]]`` tables of a glassbox.toml, as (kind, raw) pairs (none if no file)."""
    p = Path(path)
    if not p.is_file():
        return []
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise QueryError(f"{p}: {exc}") from None
    out: list[tuple[str, dict[str, Any]]] = []
    for kind in KINDS:
        items = data.get(kind, [])
        if not isinstance(items, list):
            raise QueryError(f"{p}: [{kind}] must be an array of tables: write [[{kind}]]")
        out.extend((kind, dict(item)) for item in items)
    return out


def definitions_from(pairs: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Definition]:
    return [validate(kind, raw) for kind, raw in pairs]
