"""Turn arbitrary user values into JSON-safe data, truncating huge strings with a marker."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime
from typing import Any

_MAX_DEPTH = 32
MAX_ITEMS = 20_000  # values visited per call: a wide or self-referencing value is cut off, never walked forever
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1  # what every sink stores as a number (SQLite, orjson, OTLP)
CYCLE = "…[cycle]"
TOO_DEEP = "…[nested too deep]"
TOO_MANY = "…[truncated: too many items]"


def jsonable(value: Any, limit: int = 0, _depth: int = 0) -> Any:
    """A JSON-compatible copy of ``value``; unknown objects become their ``repr``-like text.

    Bounded whatever the value: a container met again on its own path becomes ``…[cycle]``, nesting
    beyond 32 levels ``…[nested too deep]``, and after ``MAX_ITEMS`` values the rest is cut with a marker.
    Integers beyond 64 bits and NaN/infinities become text, which every sink can store.
    """
    return _Encoder(limit).encode(value, _depth)


class _Encoder:
    __slots__ = ("budget", "limit", "path")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.budget = MAX_ITEMS
        self.path: set[int] = set()

    def encode(self, value: Any, depth: int) -> Any:
        t = type(value)
        if value is None or t is bool:
            return value
        if isinstance(value, int):  # bool returned above
            return int(value) if _INT_MIN <= value <= _INT_MAX else str(value)
        if isinstance(value, float):
            # NaN and infinities are not JSON; keep them readable instead of failing the whole trace.
            return float(value) if math.isfinite(value) else str(value)
        if isinstance(value, str):
            limit = self.limit
            if limit and len(value) > limit:
                return f"{value[:limit]}…[truncated {len(value) - limit} chars]"
            return str(value)
        if depth >= _MAX_DEPTH:
            return TOO_DEEP
        if isinstance(value, (dict, list, tuple, set, frozenset)):
            key = id(value)
            if key in self.path:
                return CYCLE
            self.path.add(key)
            try:
                return self._container(value, depth)
            finally:
                self.path.discard(key)
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        if isinstance(value, (bytes, bytearray)):
            return self.encode(bytes(value[: self.limit * 4 or None]).decode("utf-8", "replace"), depth)
        dump = getattr(value, "model_dump", None)  # pydantic models, incl. provider SDK responses
        if callable(dump):
            try:
                return self.encode(dump(mode="json"), depth + 1)
            except Exception:  # noqa: BLE001 - any failure falls back to text below
                pass
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            try:
                return self.encode({f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}, depth + 1)
            except Exception:  # noqa: BLE001
                pass
        return self.encode(_text(value), depth)

    def _container(self, value: Any, depth: int) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                self.budget -= 1
                if self.budget < 0:
                    out[TOO_MANY] = len(value) - len(out)
                    break
                out[k if type(k) is str else _text(k)] = self.encode(v, depth + 1)
            return out
        items: list[Any] = []
        for v in value:
            self.budget -= 1
            if self.budget < 0:
                items.append(TOO_MANY)
                break
            items.append(self.encode(v, depth + 1))
        return items


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001
        return f"<unprintable {type(value).__name__}>"


def dumps_text(value: Any) -> str:
    """JSON text for a value OpenTelemetry attributes cannot carry as is."""
    import json

    return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))
