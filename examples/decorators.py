"""@gb.traced on sync, async, generator and async-generator functions.

A decorated call is a stage of the current trace; called at top level it starts a trace.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import glassbox as gb


@gb.traced(kind="tool", capture_input=True, capture_output=True)
def lookup(sku: str) -> dict:
    return {"sku": sku, "price": 12.5}


@gb.traced(kind="retrieval")
async def search(q: str) -> list[str]:
    await asyncio.sleep(0.01)
    return [f"doc-{i}" for i in range(3)]


@gb.traced(name="stream-chunks")
def chunks(text: str) -> Iterator[str]:
    yield from text.split()  # one stage from the first item to the last


@gb.traced
async def tokens(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


async def main() -> None:
    with gb.trace("decorated pipeline", workflow="demo") as t:
        lookup("A-1")
        docs = await search("refunds")
        words = list(chunks("one two three"))
        total = sum([i async for i in tokens(4)])
    gb.flush()
    print(f"trace {t.trace_id}: {[s.name for s in t.spans]}")
    print(f"docs={len(docs)} words={len(words)} total={total}")
    lookup("B-2")  # outside any trace: a trace of its own


gb.configure(project="decorators-example")
asyncio.run(main())
