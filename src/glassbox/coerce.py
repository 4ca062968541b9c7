"""Odd values from user code, made storable at the call: one bad value costs only itself.

Every helper returns something every sink can hold (finite floats, text, dicts) and tells the
runtime when it had to change a value, so ``gb.health()["values_coerced"]`` counts them.
"""

from __future__ import annotations

import math
from typing import Any

_INT_BOUND = 1 << 63


class Coercer:
    """Counts what it changed (``changed``); one per runtime."""

    __slots__ = ("changed",)

    def __init__(self) -> None:
        self.changed = 0

    def number(self, value: Any) -> float | None:
        """A finite float, or None for None, NaN, infinities and what is not a number."""
        if value is None:
            return None
        try:
            f = float(value)
        except (TypeError, ValueError, OverflowError):
            self.changed += 1
            return None
        if math.isfinite(f):
            return f
        self.changed += 1
        return None

    def text(self, value: Any) -> str | None:
        """``value`` as text (None stays None); non-text values are JSON-encoded, bounded."""
        if value is None or type(value) is str:
            return value
        self.changed += 1
        if isinstance(value, str):
            return str.__str__(value)
        from glassbox.jsonsafe import dumps_text

        return dumps_text(value)

    def flag(self, value: Any) -> bool | None:
        if value is None or type(value) is bool:
            return value
        self.changed += 1
        try:
            return bool(value)
        except Exception:  # noqa: BLE001
            return None

    def mapping(self, value: Any) -> dict[str, Any] | None:
        """A dict (what is not one is kept under ``"value"``)."""
        if value is None or type(value) is dict:
            return value
        if isinstance(value, dict):
            return dict(value)
        self.changed += 1
        return {"value": value}

    def dimensions(self, value: Any) -> dict[str, float | None]:
        """Score dimensions: text names, finite numbers (a NaN or non-number dimension becomes null)."""
        if not value:
            return {}
        if not isinstance(value, dict):
            self.changed += 1
            return {}
        return {k if type(k) is str else str(k): self.number(v) for k, v in value.items()}

    def alternatives(self, value: Any) -> list[tuple[str, float | None]]:
        """Decision alternatives: names, ``(name, score)`` pairs or a ``{name: score}`` dict, mixed freely."""
        if not value:
            return []
        if isinstance(value, (str, bytes)):
            value = [value]
        if isinstance(value, dict):
            items: Any = value.items()
        else:
            try:
                items = list(value)
            except TypeError:
                self.changed += 1
                return [(self.name(value), None)]
        out: list[tuple[str, float | None]] = []
        for item in items:
            if isinstance(item, (tuple, list)) and len(item) == 2:
                out.append((self.name(item[0]), self.number(item[1])))
            else:
                out.append((self.name(item), None))
        return out

    def name(self, value: Any) -> str:
        if type(value) is str:
            return value
        self.changed += 1
        try:
            return str(value)
        except Exception:  # noqa: BLE001
            return f"<unprintable {type(value).__name__}>"


COERCE = Coercer()  # process-wide: gb.health()["values_coerced"]
