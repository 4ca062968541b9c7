"""Segment merges into stored runs: how fast, and whether it depends on the store's size.

    python bench/merge_bench.py [--traces N] [--merges M]

Fills a fresh SQLite store with N runs of 10 spans, then writes M late one-span segments of random
stored runs, one write each (as OTLP spans of one trace arriving in separate requests do). Before
issue 16 item 12, each merge summed the spans of the whole store (an uncorrelated subquery), so a
merge slowed down with the store and set every total wrong; now it reads only its own trace's spans.
Target: merges into a store 10x larger are at most 2x slower. Checks every merged total.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from _common import Results, log

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from glassbox.model import Span, Trace
from glassbox.store.store import Store


def run(tid: int) -> Trace:
    t = Trace(f"{tid:032x}", "run", 1_000_000_000)
    t.project, t.status, t.end_ns, t.root_span_id = "p", "complete", 2_000_000_000, f"{tid:08x}00000000"
    for j in range(10):
        s = Span(t.trace_id, f"{tid:08x}{j:08x}", None if j == 0 else t.root_span_id, f"s{j}", "llm", 1_000_000_000 + j)
        s.end_ns, s.status, s.tokens_in, s.cost_usd = 1_500_000_000, "ok", 10, 0.001
        t.spans.append(s)
    return t


def merges_per_second(n_traces: int, n_merges: int, rng: random.Random) -> float:
    with tempfile.TemporaryDirectory() as d:
        store = Store(f"sqlite:///{d}/merge.db")
        batch = [run(i) for i in range(1, n_traces + 1)]
        for i in range(0, len(batch), 500):
            store.write_traces(batch[i : i + 500])
        targets = [rng.randint(1, n_traces) for _ in range(n_merges)]
        t0 = time.perf_counter()
        for k, tid in enumerate(targets):
            seg = Trace(f"{tid:032x}", "run", 1_000_000_500)
            seg.project, seg.status = "p", "incomplete"
            s = Span(seg.trace_id, f"{tid:08x}{1000 + k:08x}", f"{tid:08x}00000000", "late", "llm", 1_000_000_500)
            s.end_ns, s.status, s.tokens_in, s.cost_usd = 1_600_000_000, "ok", 1, 0.0001
            seg.spans = [s]
            store.write_traces([seg])
        elapsed = time.perf_counter() - t0
        late = {tid: targets.count(tid) for tid in set(targets)}
        tid, n = next(iter(late.items()))
        row = store.counts()
        with store.engine.connect() as conn:
            got = conn.exec_driver_sql("SELECT tokens_in FROM traces WHERE trace_id = ?", (f"{tid:032x}",)).scalar()
        store.close()
        if got != 100 + n or row["spans"] != n_traces * 10 + n_merges:
            raise SystemExit(f"merged totals wrong: trace {tid} has tokens_in {got}, expected {100 + n}")
        return n_merges / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--traces", type=int, default=2000)
    ap.add_argument("--merges", type=int, default=300)
    args = ap.parse_args()
    rng = random.Random(16)
    res = Results("merge")
    small = merges_per_second(args.traces, args.merges, rng)
    log(f"store of {args.traces} runs: {small:,.0f} merges/s")
    large = merges_per_second(args.traces * 10, args.merges, rng)
    log(f"store of {args.traces * 10} runs: {large:,.0f} merges/s")
    res.figure(f"sqlite: merges into {args.traces:,} runs", small, "merges/s")
    res.figure(f"sqlite: merges into {args.traces * 10:,} runs", large, "merges/s")
    res.check("merge rate at 10x the store vs 1x", large / small, "x", ">= 0.5x", large / small >= 0.5)
    res.emit()


if __name__ == "__main__":
    main()
