"""``@gb.traced``: a stage around a function call, sync, async, generator or async generator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from glassbox import runtime
from glassbox.context import CURRENT as _current
from glassbox.context import RemoteParent
from glassbox.noop import NOOP_STAGE, NoopStage
from glassbox.recorder import start_stage

F = TypeVar("F", bound=Callable[..., Any])
Opener = Callable[[tuple[Any, ...], dict[str, Any], bool], Any]


def _args_of(sig: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if sig is None:
        return {"args": list(args), "kwargs": kwargs}
    try:
        bound = sig.bind_partial(*args, **kwargs)
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}
    return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}


def _opener(name: str, kind: str, sig: inspect.Signature | None) -> Opener:
    def open_stage(args: tuple[Any, ...], kwargs: dict[str, Any], root_ok: bool) -> Any:
        cur = _current.get()
        if root_ok and (cur is None or isinstance(cur, RemoteParent)):
            # Called outside any trace: the call is a trace of its own, as with Langfuse's @observe.
            rt = runtime.get()
            st = rt.start_trace(name, {}) if rt is not None else NOOP_STAGE
        else:
            st = start_stage(name, kind)
        if sig is not None and not isinstance(st, NoopStage):
            st.input = _args_of(sig, args, kwargs)
        return st

    return open_stage


def _wrap_async_generator(fn: Callable[..., Any], open_stage: Opener) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        st = open_stage(args, kwargs, False)
        if isinstance(st, NoopStage):
            async for item in fn(*args, **kwargs):
                yield item
            return
        st._begin()
        gen = fn(*args, **kwargs)
        exc: BaseException | None = None
        try:
            while True:
                # Current only while the generator's own code runs, not in the consumer between items.
                token = _current.set(st)
                try:
                    item = await gen.__anext__()
                except StopAsyncIteration:
                    break
                finally:
                    _current.reset(token)
                yield item
        except BaseException as e:
            exc = None if isinstance(e, GeneratorExit) else e
            raise
        finally:
            st._end(exc)

    return wrapper


def _wrap_generator(fn: Callable[..., Any], open_stage: Opener) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        st = open_stage(args, kwargs, False)
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
            exc = None if isinstance(e, GeneratorExit) else e
            if isinstance(e, GeneratorExit):
                gen.close()
            raise
        finally:
            st._end(exc)
        return result

    return wrapper


def _wrap_call(fn: Callable[..., Any], open_stage: Opener, capture_output: bool) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            with open_stage(args, kwargs, True) as st:
                result = await fn(*args, **kwargs)
                if capture_output and not isinstance(st, NoopStage):
                    st.output = result
                return result

        return async_wrapper

    @functools.wraps(fn)
    def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
        with open_stage(args, kwargs, True) as st:
            result = fn(*args, **kwargs)
            if capture_output and not isinstance(st, NoopStage):
                st.output = result
            return result

    return sync_wrapper


@overload
def traced(func: F, /) -> F: ...
@overload
def traced(
    func: None = None,
    /,
    *,
    name: str | None = None,
    kind: str = "stage",
    capture_input: bool = False,
    capture_output: bool = False,
) -> Callable[[F], F]: ...


def traced(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    kind: str = "stage",
    capture_input: bool = False,
    capture_output: bool = False,
) -> Any:
    """Record each call as a stage of the current trace, or as a trace of its own outside one.

    Generators are one stage from the first ``next`` to exhaustion (inside a trace only).
    ``capture_input`` records the bound arguments, ``capture_output`` the return value.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        open_stage = _opener(name or fn.__qualname__, kind, inspect.signature(fn) if capture_input else None)
        if inspect.isasyncgenfunction(fn):
            return _wrap_async_generator(fn, open_stage)
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(fn, open_stage)
        return _wrap_call(fn, open_stage, capture_output)

    return decorate(func) if func is not None else decorate
