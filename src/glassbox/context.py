"""The current stage: one ContextVar, and the markers it holds when no live stage is current.

Leaf of the SDK core (imports nothing from glassbox): the recorder, the no-op trace, propagation
and the decorators all set and read the same variable.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

# The active stage (or trace root), a SampledOut marker, a RemoteParent, or None.
CURRENT: ContextVar[Any] = ContextVar("glassbox_current", default=None)


class SampledOut:
    """Current inside a sampled-out trace: nested stages stay no-ops, the ids still propagate."""

    __slots__ = ("span_id", "trace_id")
    recording = False

    def __init__(self, trace_id: str, span_id: str | None) -> None:
        self.trace_id = trace_id
        self.span_id = span_id

    def __repr__(self) -> str:
        return f"<SampledOut trace_id={self.trace_id}>"


class RemoteParent:
    """A parent span from another process, made current by ``gb.extract``."""

    __slots__ = ("sampled", "span_id", "trace_id", "tracestate")
    recording = False

    def __init__(self, trace_id: str, span_id: str, sampled: bool, tracestate: str | None = None) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled
        self.tracestate = tracestate


def restore(token: Token[Any]) -> None:
    """Undo the ``CURRENT.set`` that returned ``token``; if it was set in another context, clear instead."""
    try:
        CURRENT.reset(token)
    except ValueError:  # exited in another context (e.g. a generator finalised elsewhere)
        CURRENT.set(None)


__all__ = ["CURRENT", "RemoteParent", "SampledOut", "restore"]
