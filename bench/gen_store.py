"""Fill a store with realistic runs for the query and server benchmarks.

    python bench/gen_store.py --store sqlite:///bench-1m.db --traces 100000   # 1,000,000 spans

Each run: a root and 9 stages (retrieval, rerank, two LLM calls with model, tokens and cost,
tools, a quality gate), 2 decisions with alternatives, a quality score with 4 dimensions, now
and then a failed stage; 4 workflows, 6 intents, 5 domains, 3 releases, spread over 30 days.
Deterministic (seeded). Writes straight through Store.write_traces in batches, so it measures
nothing itself; re-running on a filled store adds nothing (ids are the run numbers).
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from _common import log

from glassbox.model import Decision, Score, Span, Trace
from glassbox.store.store import Store

WORKFLOWS = ("search_qa", "summarize", "lesson_plan", "agent")
INTENTS = ("lookup", "compare", "explain", "troubleshoot", "plan", "condense")
DOMAINS = ("billing", "devops", "healthcare", "legal", "edtech")
RELEASES = ("2026.10", "2026.11", "2026.11.1")
MODELS = (("gpt-4o-mini", 0.15, 0.6), ("gpt-4o", 2.5, 10.0), ("claude-haiku-4-5", 1.0, 5.0))
STAGES = ("intake", "retrieve", "rerank", "plan", "llm.draft", "tool.lookup", "llm.final", "format", "quality_gate")
SPANS_PER_RUN = len(STAGES) + 1


def make_run(i: int, rng: random.Random, end: datetime, days: int) -> Trace:
    t = Trace(f"{i + 1:032x}", "run")
    t.project = "bench"
    t.workflow, t.intent, t.domain = rng.choice(WORKFLOWS), rng.choice(INTENTS), rng.choice(DOMAINS)
    t.release, t.environment = rng.choice(RELEASES), "prod"
    t.input = f"question {i}: how do I {rng.choice(('rotate keys', 'get a refund', 'plan a lesson', 'fix latency'))}?"
    t.output = f"answer {i} [1] [2]"
    t.tags = ["bench", t.workflow]
    t.metadata = {"run": i, "shard": i % 16}
    start = end - timedelta(seconds=rng.uniform(0, days * 86400))
    t.start_ns = int(start.replace(tzinfo=UTC).timestamp() * 1e9)
    root = Span(t.trace_id, f"{i + 1:08x}00000000", None, t.workflow, "trace", t.start_ns)
    t.root_span_id = root.span_id
    t.spans.append(root)
    clock = t.start_ns
    failing = rng.random() < 0.06
    for j, name in enumerate(STAGES):
        ms = rng.lognormvariate(3.0 if not name.startswith("llm") else 6.2, 0.6)
        kind = "llm" if name.startswith("llm") else ("retrieval" if name == "retrieve" else "stage")
        s = Span(t.trace_id, f"{i + 1:08x}{j + 1:08x}", root.span_id, name, kind, clock)
        s.end_ns = clock + int(ms * 1e6)
        s.status = "ok"
        if kind == "llm":
            model, pin, pout = rng.choice(MODELS)
            s.model, s.tokens_in, s.tokens_out = model, rng.randint(300, 4000), rng.randint(50, 800)
            s.cost_usd = round((s.tokens_in * pin + s.tokens_out * pout) / 1e6, 8)
            s.attributes = {"gen_ai.request.model": model, "glassbox.cost.source": "priced"}
        if failing and name == "tool.lookup":
            s.status = "error"
            s.error = {"type": rng.choice(("Timeout", "RateLimited")), "message": "upstream", "stack": ""}
        clock = s.end_ns
        t.spans.append(s)
        if failing and s.status == "error":
            break
    root.end_ns, t.end_ns = clock, clock
    root.status = "error" if failing else "ok"
    t.status = "failed" if failing else "complete"
    t.cost_source = "priced"
    for k, (stage, opts) in enumerate((("retrieve", ("bm25", "dense", "hybrid")), ("plan", ("short", "detailed")))):
        what = rng.choice(opts)
        span = next((s for s in t.spans if s.name == stage), root)
        t.decisions.append(
            Decision(
                f"{i + 1:08x}d{k:07x}",
                f"use {what}",
                "scored best",
                round(rng.random(), 2),
                [(o, round(rng.random(), 2)) for o in opts],
                {"k": k},
                span.span_id,
                stage,
                t.start_ns + k,
            )
        )
    if not failing:
        dims = {
            d: round(min(1.0, max(0.0, rng.gauss(0.72, 0.15))), 2)
            for d in ("relevance", "grounding", "completeness", "clarity")
        }
        value = round(sum(dims.values()) / 4, 3)
        t.scores.append(
            Score(f"{i + 1:08x}s0000000", "quality", value, 1.0, value >= 0.7, "rule", dims, None, None, clock)
        )
    return t


def fill(store: Store, traces: int, days: int = 30) -> None:
    """Top ``store`` up to ``traces`` of these runs over the last ``days`` (benchmarks keep their store between
    runs, so only the missing ones are written)."""
    have = store.counts()["traces"]
    if have >= traces:
        return
    log(f"filling the store with {traces:,} runs ({traces * 10:,} spans)…")
    rng = random.Random(42)
    end = datetime.now(UTC).replace(tzinfo=None)
    for first in range(0, traces, 1000):
        batch = [make_run(i, rng, end, days) for i in range(first, min(first + 1000, traces))]
        if first + len(batch) > have:
            store.write_traces(batch)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    store = Store(args.store)
    have = store.counts()["traces"]
    if have >= args.traces:
        log(f"{args.store} already holds {have:,} runs; nothing to add")
        return
    rng = random.Random(args.seed)
    end = datetime.now(UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    for first in range(0, args.traces, args.batch):
        batch = [make_run(i, rng, end, args.days) for i in range(first, min(first + args.batch, args.traces))]
        if first + len(batch) > have:
            store.write_traces(batch)
        if (first // args.batch) % 10 == 0:
            log(
                f"  {first + len(batch):,} runs ({(first + len(batch)) * SPANS_PER_RUN:,} spans), "
                f"{time.perf_counter() - t0:.0f}s"
            )
    log(f"filled {args.store}: {store.counts()}")


if __name__ == "__main__":
    main()
