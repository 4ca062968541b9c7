"""``@gb.traced``: a stage around a function call, sync, async, generator or async generator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from glassbox import runtime
from glassbox.noop import NOOP_STAGE, NoopStage
from glassbox.recorder import RemoteParent, _current, start_stage

F = TypeVar("F", bound=Callable[..., Any])


def _args_of(sig: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if sig is None:
        return {"args": list(args), "kwargs": kwargs}
    try:
        bound = sig.bind_partial(*args, **kwargs)
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}
    return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}


@overload
def traced(func: F, /) -> F: ...
@overload
def traced(
    func: None = None, /, *, name: str | None = None, kind: str = "stage",
    capture_input: bool = False, capture_output: bool = False,
) -> Callable[[F], F]: ...  # fmt: skip


def traced(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    kind: str = "stage",
    capture_input: bool = False,
    capture_output: bool = False,
) -> Any:
    """Record each call of the function as a stage of the current trace, or as a trace of its own.

    Generators are one stage from the first ``next`` to exhaustion; the stage is current
    only while the generator's own code runs, never in the consumer's code between items.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        stage_name = name or fn.__qualname__
        sig = inspect.signature(fn) if capture_input else None

        def open_stage(args: tuple[Any, ...], kwargs: dict[str, Any], root_ok: bool = False) -> Any:
            cur = _current.get()
            if root_ok and (cur is None or isinstance(cur, RemoteParent)):
                # Called outside any trace: the call is a trace of its own, as with Langfuse's @observe.
                rt = runtime.get()
                st = rt.start_trace(stage_name, {}) if rt is not None else NOOP_STAGE
            else:
                st = start_stage(stage_name, kind)
            if capture_input and not isinstance(st, NoopStage):
                st.input = _args_of(sig, args, kwargs)
            return st

        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
                st = open_stage(args, kwargs)
                if isinstance(st, NoopStage):
                    async for item in fn(*args, **kwargs):
                        yield item
                    return
                st._begin()
                gen = fn(*args, **kwargs)
                exc: BaseException | None = None
                try:
                    while True:
                        token = _current.set(st)
                        try:
                            item = await gen.__anext__()
                        except StopAsyncIteration:
                            break
                        finally:
                            _current.reset(token)
                        yield item
                except BaseException as e:
                    exc = e if not isinstance(e, GeneratorExit) else None
                    raise
                finally:
                    st._end(exc)

            return agen_wrapper

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                st = open_stage(args, kwargs)
                if isinstance(st, NoopStage):
                    return (yield from fn(*args, **kwargs))
                st._begin()
                gen = fn(*args, **kwargs)
                exc: BaseException | None = None
                result = None
                try:
                    to_send: Any = None
                    while True:
                        token = _current.set(st)
                        try:
                            item = gen.send(to_send)
                        except StopIteration as stop:
                            result = stop.value
                            break
                        finally:
                            _current.reset(token)
                        to_send = yield item
                except BaseException as e:
                    exc = e if not isinstance(e, GeneratorExit) else None
                    if isinstance(e, GeneratorExit):
                        gen.close()
                    raise
                finally:
                    st._end(exc)
                return result

            return gen_wrapper

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with open_stage(args, kwargs, root_ok=True) as st:
                    result = await fn(*args, **kwargs)
                    if capture_output and not isinstance(st, NoopStage):
                        st.output = result
                    return result

            return async_wrapper

        @functools.wraps(fn)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            with open_stage(args, kwargs, root_ok=True) as st:
                result = fn(*args, **kwargs)
                if capture_output and not isinstance(st, NoopStage):
                    st.output = result
                return result

        return sync_wrapper

    if func is not None:
        return decorate(func)
    return decorate
