"""No-op objects: answer every call of a trace or stage and record nothing.

Returned when tracing is disabled, sampled out, or a call happens outside any
trace, so instrumented code never checks whether tracing is on.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import Token
from typing import Any, Literal

from glassbox.context import CURRENT, SampledOut, restore


class NoopStage:
    """Stands in for a stage; every method accepts its arguments and does nothing."""

    __slots__ = ()
    recording = False
    name = ""
    kind = "stage"
    status = "unset"

    @property
    def trace_id(self) -> str | None:
        return None

    @property
    def span_id(self) -> str | None:
        return None

    def __enter__(self) -> NoopStage:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        return False

    async def __aenter__(self) -> NoopStage:
        return self

    async def __aexit__(self, *exc: object) -> Literal[False]:
        return False

    def set(self, **attributes: Any) -> NoopStage:
        return self

    def decision(self, *args: Any, **kwargs: Any) -> None:
        return None

    def evidence(self, *args: Any, **kwargs: Any) -> None:
        return None

    def score(self, *args: Any, **kwargs: Any) -> None:
        return None

    def model_load(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __setattr__(self, name: str, value: Any) -> None:
        # `t.output = ...` on a no-op must not raise.
        return None

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class NoopTrace(NoopStage):
    """Stands in for a trace. A sampled-out trace keeps its ids so they still propagate."""

    __slots__ = ("_ids", "_token")
    _ids: tuple[str | None, str | None]
    _token: Token[Any] | None

    def __init__(self, trace_id: str | None = None, span_id: str | None = None) -> None:
        _set_ids(self, (trace_id, span_id))
        _set_token(self, None)

    @property
    def trace_id(self) -> str | None:
        return self._ids[0]

    @property
    def span_id(self) -> str | None:
        return self._ids[1]

    def __enter__(self) -> NoopTrace:
        trace_id, span_id = self._ids
        if trace_id is not None:
            _set_token(self, _set_current(SampledOut(trace_id, span_id)))
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        token = self._token
        if token is not None:
            restore(token)
        return False


# The slots' own setters, bound once: NoopStage.__setattr__ swallows assignments on purpose (``t.output = ...``),
# and this is the sampled-out path, paid per trace.
_set_ids: Callable[[NoopTrace, tuple[str | None, str | None]], None] = NoopTrace.__dict__["_ids"].__set__
_set_token: Callable[[NoopTrace, Token[Any] | None], None] = NoopTrace.__dict__["_token"].__set__
_set_current = CURRENT.set

NOOP_STAGE = NoopStage()
NOOP_TRACE = NoopTrace()

__all__ = ["NOOP_STAGE", "NOOP_TRACE", "NoopStage", "NoopTrace", "SampledOut"]
