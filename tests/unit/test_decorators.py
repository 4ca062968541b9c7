"""@gb.traced on sync, async, generator and async-generator functions."""

from __future__ import annotations

import asyncio

import pytest

import glassbox as gb
from glassbox.testing import capture


@gb.traced(kind="tool", capture_input=True, capture_output=True)
def add(a: int, b: int = 2) -> int:
    gb.decision("add", confidence=1.0)
    return a + b


@gb.traced(kind="tool")
async def search(q: str) -> list[str]:
    await asyncio.sleep(0)
    gb.evidence("searched", {"q": q})
    return [q]


@gb.traced
def numbers(n: int):
    for i in range(n):
        gb.evidence("yield", {"i": i})
        yield i
    return "done"


@gb.traced(name="stream", kind="llm")
async def tokens(n: int):
    for i in range(n):
        await asyncio.sleep(0)
        yield f"t{i}"


@gb.traced
def explode() -> None:
    raise RuntimeError("bad tool")


def _spans(trace):
    return {s.name: s for s in trace.spans}


def test_sync_function_is_a_stage_with_captured_io():
    with capture() as traces, gb.trace("q") as t:
        assert add(1, b=5) == 6
    s = _spans(traces[0])["add"]
    assert s.kind == "tool" and s.parent_id == t.span_id
    assert s.input == {"a": 1, "b": 5} and s.output == 6
    assert traces[0].decisions[0].span_id == s.span_id


def test_async_function_is_a_stage():
    async def main():
        with gb.trace("q"):
            return await search("refunds")

    with capture() as traces:
        assert asyncio.run(main()) == ["refunds"]
    s = _spans(traces[0])["search"]
    assert s.kind == "tool" and traces[0].events[0].span_id == s.span_id


def test_generator_is_one_stage_current_only_inside_the_generator():
    with capture() as traces, gb.trace("q") as t:
        seen = []
        for i in numbers(3):
            seen.append(i)
            gb.evidence("consumer", {"i": i})  # the consumer's code is not inside the generator's stage
    assert seen == [0, 1, 2]
    tr = traces[0]
    gen = _spans(tr)["numbers"]
    assert gen.status == "ok" and gen.end_ns >= gen.start_ns
    assert {e.span_id for e in tr.events if e.name == "yield"} == {gen.span_id}
    assert {e.span_id for e in tr.events if e.name == "consumer"} == {t.span_id}


def test_generator_closed_early_still_ends_its_stage():
    with capture() as traces, gb.trace("q"):
        g = numbers(10)
        next(g)
        g.close()
    s = _spans(traces[0])["numbers"]
    assert s.end_ns is not None and s.status == "ok"


def test_generator_return_value_is_kept():
    def consume():
        return (yield from numbers(2))

    with capture(), gb.trace("q"):
        g = consume()
        assert list(g) == [0, 1]


def test_async_generator_is_one_stage():
    async def main():
        with gb.trace("q"):
            return [x async for x in tokens(3)]

    with capture() as traces:
        assert asyncio.run(main()) == ["t0", "t1", "t2"]
    s = _spans(traces[0])["stream"]
    assert s.kind == "llm" and s.status == "ok"


def test_exception_in_decorated_function_marks_failure_and_reraises():
    with capture() as traces, pytest.raises(RuntimeError, match="bad tool"), gb.trace("q"):
        explode()
    assert _spans(traces[0])["explode"].status == "error" and traces[0].status == "failed"


def test_outside_a_trace_a_decorated_call_is_a_trace_of_its_own():
    with capture() as traces:
        assert add(2) == 4
        assert list(numbers(2)) == [0, 1]  # generators record only inside a trace
    (tr,) = traces
    assert tr.name == "add" and tr.decisions[0].what == "add"


def test_decorated_functions_work_when_disabled():
    with capture(enabled=False) as traces:
        assert add(1) == 3 and list(numbers(2)) == [0, 1]
        assert asyncio.run(search("x")) == ["x"]
    assert list(traces) == []
