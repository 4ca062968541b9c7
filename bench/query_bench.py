"""Query API speed on a big store (fill it first with gen_store.py).

    python bench/gen_store.py --store sqlite:////tmp/bench-1m.db --traces 100000
    python bench/query_bench.py --store sqlite:////tmp/bench-1m.db

Targets (issue "Understanding runs", 1,000,000 spans / 100,000 runs): newest 50 runs with two
filters p95 < 50 ms; one run whole < 20 ms; summary and latency by workflow < 500 ms;
compare < 50 ms; cost reports (by model, stage, day) are held to the summary's 500 ms.
Each case repeats with varied arguments; p95 over the repeats.
"""

from __future__ import annotations

import argparse
import random
import statistics
from typing import Any

from _common import Results, log, timed
from gen_store import DOMAINS, INTENTS, WORKFLOWS

from glassbox.analysis.costs import cost_report
from glassbox.analysis.query import Query
from glassbox.store.store import Store


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    store = Store(args.store)
    q = Query(store)
    counts = store.counts()
    backend = store.engine.dialect.name
    res = Results(f"query-{backend}")
    log(f"query bench on {backend}: {counts['traces']:,} runs, {counts['spans']:,} spans")
    rng = random.Random(1)
    n = counts["traces"]
    ids = [f"{rng.randint(1, n):032x}" for _ in range(args.repeats * 2)]
    it = iter(ids)
    q.traces(limit=50)  # warm the connection pool and the page cache

    def page() -> Any:
        return q.traces(limit=50, workflow=rng.choice(WORKFLOWS), status=rng.choice(("complete", "failed")))

    def page_intent() -> Any:
        return q.traces(limit=50, intent=rng.choice(INTENTS), domain=rng.choice(DOMAINS))

    cases = {
        "newest 50, workflow+status": (page, args.repeats, 50),
        "newest 50, intent+domain": (page_intent, args.repeats, 50),
        "one run whole": (lambda: q.trace(next(it)), args.repeats, 20),
        "compare two runs": (lambda: q.compare(next(it), next(it)), args.repeats // 2, 50),
        "summary, all runs": (q.summary, 5, 500),
        "summary, last 7 days": (lambda: q.summary(since="7d"), 5, 500),
        "latency by workflow": (lambda: q.latency(by="workflow"), 5, 500),
        # Cost by model / stage reads LLM-call spans of the window through the partial call indexes.
        "costs by model, 7 days": (lambda: cost_report(store, days=7, by="model"), 5, 500),
        "costs by stage, 30 days": (lambda: cost_report(store, days=30, by="stage"), 5, 500),
        "costs by day, 30 days": (lambda: cost_report(store, days=30, by="day"), 5, 500),
    }
    for name, (fn, reps, target) in cases.items():
        values = timed(fn, reps)
        res.figure(f"{name} median", statistics.median(values), "ms")
        res.check(f"{name} p95", p95(values), "ms", f"< {target} ms", p95(values) < target)
    for name, fn in {
        "failed_stages": q.failed_stages,
        "decisions": q.decisions,
        "latency by stage": lambda: q.latency(by="stage"),
    }.items():
        res.figure(name, statistics.median(timed(fn, 3)), "ms", "(no target)")
    res.emit()


if __name__ == "__main__":
    main()
