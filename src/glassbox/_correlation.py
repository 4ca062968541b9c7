"""Correlation ids: one id per request, carried through every component like trace context.

``with gb.correlation("req-42"):`` (or ``gb.correlation()`` for a fresh id) sets it for the current
context (threads started with ``gb.wrap``/``gb.ThreadPoolExecutor`` and asyncio tasks inherit it);
``gb.inject`` writes it as a W3C ``baggage`` entry (``glassbox.correlation_id``) and ``gb.extract``
reads it back on the other side. Logs from ``gb.logger`` and ``gb.instrument_logging`` carry it.
A leaf module: the SDK core imports it, it imports nothing of glassbox.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal
from urllib.parse import quote, unquote

BAGGAGE_KEY = "glassbox.correlation_id"
MAX_LENGTH = 256
_correlation: contextvars.ContextVar[str | None] = contextvars.ContextVar("glassbox_correlation", default=None)


def current() -> str | None:
    """The correlation id of the current context, or None."""
    return _correlation.get()


class correlation:
    """Set a correlation id for the ``with`` block (a new random one when ``id`` is None); yields it."""

    __slots__ = ("_token", "id")

    def __init__(self, id: str | None = None) -> None:
        self.id = (str(id)[:MAX_LENGTH] if id else None) or uuid.uuid4().hex
        self._token: contextvars.Token[str | None] | None = None

    def __enter__(self) -> str:
        self._token = _correlation.set(self.id)
        return self.id

    def __exit__(self, *exc: object) -> Literal[False]:
        if self._token is not None:
            _correlation.reset(self._token)
            self._token = None
        return False


def inject_baggage(headers: MutableMapping[str, str]) -> None:
    """Add (or replace) the correlation entry of the ``baggage`` header, keeping the other entries."""
    cid = _correlation.get()
    if not cid:
        return
    key = next((k for k in headers if k.lower() == "baggage"), "baggage")
    entries = [
        e for e in (headers.get(key) or "").split(",") if e.strip() and e.split("=", 1)[0].strip() != BAGGAGE_KEY
    ]
    entries.append(f"{BAGGAGE_KEY}={quote(cid, safe='')}")
    headers[key] = ",".join(e.strip() for e in entries)


def from_headers(headers: Mapping[str, Any] | None, *, header: str | None = None) -> str | None:
    """The correlation id in ``baggage`` (or in ``header``, e.g. ``x-correlation-id``, which wins)."""
    if not headers:
        return None
    lowered = {str(k).lower(): v for k, v in headers.items()}
    if header and isinstance(lowered.get(header.lower()), str) and lowered[header.lower()].strip():
        return lowered[header.lower()].strip()[:MAX_LENGTH]
    raw = lowered.get("baggage")
    if isinstance(raw, (list, tuple)):
        raw = ",".join(raw)
    if not isinstance(raw, str):
        return None
    for entry in raw.split(","):
        key, sep, value = entry.partition("=")
        if sep and key.strip() == BAGGAGE_KEY:
            value = unquote(value.split(";", 1)[0].strip())
            return value[:MAX_LENGTH] or None
    return None


def set_current(value: str | None) -> contextvars.Token[str | None]:
    return _correlation.set(value)


def reset(token: contextvars.Token[str | None]) -> None:
    _correlation.reset(token)
