"""Turn arbitrary user values into JSON-safe data, truncating huge strings with a marker."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime
from typing import Any

_MAX_DEPTH = 32


def jsonable(value: Any, limit: int = 0, _depth: int = 0) -> Any:
    """A JSON-compatible copy of ``value``; unknown objects become their ``repr``-like text."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        # NaN and infinities are not JSON; keep them readable instead of failing the whole trace.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        if limit and len(value) > limit:
            return f"{value[:limit]}…[truncated {len(value) - limit} chars]"
        return value
    if _depth >= _MAX_DEPTH:
        return "…[nested too deep]"
    if isinstance(value, dict):
        return {str(k): jsonable(v, limit, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, limit, _depth + 1) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return jsonable(value.decode("utf-8", "replace"), limit, _depth)
    dump = getattr(value, "model_dump", None)  # pydantic models, incl. provider SDK responses
    if callable(dump):
        try:
            return jsonable(dump(mode="json"), limit, _depth + 1)
        except Exception:  # noqa: BLE001 - any failure falls back to text below
            pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), limit, _depth + 1)
    try:
        text = str(value)
    except Exception:  # noqa: BLE001
        text = f"<unprintable {type(value).__name__}>"
    return jsonable(text, limit, _depth)


def dumps_text(value: Any) -> str:
    """JSON text for a value OpenTelemetry attributes cannot carry as is."""
    import json

    return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))
