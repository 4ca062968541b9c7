"""Plain-text formatting of trace figures: durations, costs, scores, previews of content."""

from __future__ import annotations

import json
from typing import Any

DASH = "—"


def duration(ms: float | None) -> str:
    """``850ms``, ``5.2s``, ``1m 23s``, ``2h 05m``; a dash when unknown."""
    if ms is None:
        return DASH
    if ms < 1000:
        return f"{ms:.0f}ms" if ms >= 10 else f"{ms:.1f}ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        m, sec = divmod(round(s), 60)
        return f"{m}m {sec:02d}s"
    h, rest = divmod(round(s), 3600)
    return f"{h}h {rest // 60:02d}m"


def cost(usd: float | None) -> str:
    """``$0.0032`` below a dollar, ``$1.25`` above; a dash when unknown."""
    if usd is None:
        return DASH
    if usd == 0:
        return "$0"
    if abs(usd) < 1:
        return f"${usd:.4f}"
    return f"${usd:,.2f}"


def number(value: float | None) -> str:
    """A score value: two decimals, a dash when unknown."""
    if value is None:
        return DASH
    return f"{value:.2f}"


def score(value: float | None, max_value: float | None = None) -> str:
    """``0.82`` or ``0.82/1.00``."""
    if value is None:
        return "n/a"
    return f"{number(value)}/{number(max_value)}" if max_value is not None else number(value)


def verdict(passed: bool | None) -> str:
    """``PASS``, ``FAIL`` or an empty string when no gate was applied."""
    if passed is None:
        return ""
    return "PASS" if passed else "FAIL"


def tokens(tokens_in: int | None, tokens_out: int | None) -> str:
    if tokens_in is None and tokens_out is None:
        return DASH
    return f"{tokens_in or 0:,} in / {tokens_out or 0:,} out"


def preview(value: Any, limit: int = 80) -> str:
    """One line of any JSON value (strings as they are), cut at ``limit`` characters."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    if limit and len(text) > limit:
        return text[: max(limit - 1, 1)] + "…"
    return text


def started(iso: str | None) -> str:
    """``2026-11-24 04:00:53`` from an ISO-8601 string (UTC), a dash when unknown."""
    if not iso:
        return DASH
    return iso.replace("T", " ")[:19]


def error_line(error: dict[str, Any] | None) -> str:
    """``TimeoutError: shard 3 did not answer (in retrieval)`` from a trace or span error."""
    if not error:
        return ""
    kind = error.get("type") or "Error"
    message = " ".join(str(error.get("message") or "").split())
    where = f" (in {error['stage']})" if error.get("stage") else ""
    return f"{kind}: {message}{where}" if message else f"{kind}{where}"
