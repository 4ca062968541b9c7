"""W3C trace context across processes and threads.

``inject`` writes ``traceparent``/``tracestate`` for the active stage; ``extract``
makes a remote parent current so the next ``gb.trace`` continues that trace;
``wrap`` and ``ThreadPoolExecutor`` carry the current context into worker threads.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Mapping, MutableMapping
from concurrent import futures
from typing import Any, Literal, TypeVar

from glassbox.context import CURRENT as _current
from glassbox.context import RemoteParent, SampledOut, restore
from glassbox.ids import is_valid_span_id, is_valid_trace_id

T = TypeVar("T")


def _current_ids() -> tuple[str, str, bool, str | None] | None:
    cur = _current.get()
    if cur is None:
        return None
    if isinstance(cur, RemoteParent):
        return cur.trace_id, cur.span_id, cur.sampled, cur.tracestate
    if isinstance(cur, SampledOut):
        return (cur.trace_id, cur.span_id, False, None) if cur.span_id else None
    if getattr(cur, "recording", False):
        return cur.trace_id, cur.span_id, True, cur._trace.tracestate
    return None


def inject(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write W3C ``traceparent`` (and ``tracestate``) for the active stage into ``headers``.

    The correlation id (``gb.correlation``), if any, goes in ``baggage`` as ``glassbox.correlation_id``.
    """
    from glassbox._correlation import inject_baggage

    inject_baggage(headers)
    ids = _current_ids()
    if ids is None:
        return headers
    from opentelemetry import trace as otel_trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from glassbox.otel import span_context

    trace_id, span_id, sampled, tracestate = ids
    ctx = otel_trace.set_span_in_context(
        otel_trace.NonRecordingSpan(span_context(trace_id, span_id, sampled, tracestate=tracestate))
    )
    TraceContextTextMapPropagator().inject(headers, context=ctx)
    return headers


class extract:
    """Make the remote parent in ``headers`` current; a malformed or missing header is ignored."""

    __slots__ = ("_corr_token", "_otel_token", "_token", "correlation_id", "parent")

    def __init__(self, headers: Mapping[str, Any] | None) -> None:
        from glassbox._correlation import from_headers

        self.parent = _parse(headers)
        self.correlation_id = from_headers(headers)  # the baggage entry gb.inject wrote, if any
        self._token: contextvars.Token[Any] | None = None
        self._otel_token: object | None = None
        self._corr_token: contextvars.Token[Any] | None = None

    def __enter__(self) -> RemoteParent | None:
        if self.correlation_id is not None:
            from glassbox._correlation import set_current

            self._corr_token = set_current(self.correlation_id)
        if self.parent is not None:
            self._token = _current.set(self.parent)
            from glassbox import runtime

            rt = runtime.current()
            if rt is not None:
                rt.refresh_hooks()
                if rt.hooks is not None and rt.hooks.bridge is not None:
                    # The app's own OTel spans started here continue the remote trace too.
                    from opentelemetry import context as otel_context
                    from opentelemetry import trace as otel_trace

                    from glassbox.otel import span_context

                    p = self.parent
                    sc = span_context(p.trace_id, p.span_id, p.sampled, remote=True, tracestate=p.tracestate)
                    self._otel_token = otel_context.attach(
                        otel_trace.set_span_in_context(otel_trace.NonRecordingSpan(sc))
                    )
        return self.parent

    def __exit__(self, *exc: object) -> Literal[False]:
        if self._corr_token is not None:
            from glassbox._correlation import reset

            reset(self._corr_token)
            self._corr_token = None
        if self._otel_token is not None:
            from opentelemetry import context as otel_context

            otel_context.detach(self._otel_token)  # type: ignore[arg-type]
        if self._token is not None:
            restore(self._token)
        return False


def _parse(headers: Mapping[str, Any] | None) -> RemoteParent | None:
    if not headers:
        return None
    lowered = {str(k).lower(): v for k, v in headers.items()}
    raw = lowered.get("traceparent")
    if isinstance(raw, (list, tuple)):
        raw = raw[0] if raw else None
    if not isinstance(raw, str):
        return None
    parts = raw.strip().split("-")
    # version-traceid-spanid-flags; version ff is forbidden, future versions may append fields.
    if len(parts) < 4 or len(parts[0]) != 2 or parts[0] == "ff" or (parts[0] == "00" and len(parts) != 4):
        return None
    version, trace_id, span_id, flags = parts[0], parts[1], parts[2], parts[3]
    if not (is_valid_trace_id(trace_id) and is_valid_span_id(span_id)) or len(flags) != 2:
        return None
    try:
        int(version, 16)
        sampled = bool(int(flags, 16) & 1)
    except ValueError:
        return None
    state = lowered.get("tracestate")
    if isinstance(state, (list, tuple)):
        state = ",".join(state)
    return RemoteParent(trace_id, span_id, sampled, state if isinstance(state, str) and state else None)


def wrap(fn: Callable[..., T]) -> Callable[..., T]:
    """Bind ``fn`` to the caller's current context, for threads and executors."""
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        return ctx.copy().run(fn, *args, **kwargs)

    return run


class ThreadPoolExecutor(futures.ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run inside the submitting caller's trace context."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> futures.Future[T]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
