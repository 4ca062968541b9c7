"""No-op objects: answer every call of a trace or stage and record nothing.

Returned when tracing is disabled, sampled out, or a call happens outside any
trace, so instrumented code never checks whether tracing is on.
"""

from __future__ import annotations

from typing import Any


class NoopStage:
    """Stands in for a stage; every method accepts its arguments and does nothing."""

    __slots__ = ()
    recording = False
    trace_id = None
    span_id = None
    name = ""
    kind = "stage"
    status = "unset"

    def __enter__(self) -> NoopStage:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False

    async def __aenter__(self) -> NoopStage:
        return self

    async def __aexit__(self, *exc: object) -> bool:
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

    def __init__(self, trace_id: str | None = None, span_id: str | None = None) -> None:
        object.__setattr__(self, "_ids", (trace_id, span_id))
        object.__setattr__(self, "_token", None)

    @property  # type: ignore[override]
    def trace_id(self) -> str | None:
        return self._ids[0]

    @property  # type: ignore[override]
    def span_id(self) -> str | None:
        return self._ids[1]

    def __enter__(self) -> NoopTrace:
        if self._ids[0] is not None:
            from glassbox.recorder import _current

            object.__setattr__(self, "_token", _current.set(SampledOut(*self._ids)))
        return self

    def __exit__(self, *exc: object) -> bool:
        if self._token is not None:
            from glassbox.recorder import _current

            try:
                _current.reset(self._token)
            except ValueError:
                _current.set(None)
        return False


class SampledOut(NoopStage):
    """Current-context marker inside a sampled-out trace: nested stages stay no-ops."""

    __slots__ = ("_ids",)
    recording = False

    def __init__(self, trace_id: str, span_id: str | None) -> None:
        object.__setattr__(self, "_ids", (trace_id, span_id))

    @property  # type: ignore[override]
    def trace_id(self) -> str:
        return self._ids[0]

    @property  # type: ignore[override]
    def span_id(self) -> str | None:
        return self._ids[1]


NOOP_STAGE = NoopStage()
NOOP_TRACE = NoopTrace()
