"""SLO checks on a big store: each SLO's status over 30 days (the issue's target: < 500 ms at 1,000,000 spans).

    python bench/slo_bench.py --store sqlite:////tmp/bench-1m.db [--traces 100000]

Fills the store first (gen_store's runs: 10 spans each, over 30 days) when it holds fewer runs.
Cases: the default RAG SLOs (availability, run latency, quality, error rate: the last one checks every
run for a failed stage), a stage latency SLO (joins the stage's spans) and a ratio SLO; p95 over repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import Results, log
from gen_store import fill

from glassbox.monitoring.slo import SLO, check, default_rag_slos, status
from glassbox.store.store import Store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    store = Store(args.store)
    fill(store, args.traces)
    counts = store.counts()
    backend = store.engine.dialect.name
    res = Results(f"slo-{backend}")
    log(f"slo bench on {backend}: {counts['traces']:,} runs, {counts['spans']:,} spans")
    slos = [
        *default_rag_slos(),
        SLO("llm_latency", "latency", 0.95, threshold_ms=1280, stage="llm.final", workflow="search_qa"),
        SLO("grounded", "ratio", 0.9, good={"min_score": 0.7}, total={"environment": "prod"}),
    ]
    status(store, slos[0])  # warm the pool and the page cache
    for slo in slos:
        values = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            st = status(store, slo)
            values.append((time.perf_counter() - t0) * 1000)
        p95 = statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]
        label = f"{slo.name} ({slo.sli}{', stage' if slo.stage else ''}) 30 d"
        res.figure(f"{label} median", statistics.median(values), "ms", f"{st.events:,} events")
        res.check(f"{label} p95", p95, "ms", "< 500 ms", p95 < 500)
    t0 = time.perf_counter()
    check(store, default_rag_slos(), alert=False)
    res.figure("check of the 4 default SLOs", (time.perf_counter() - t0) * 1000, "ms", "(no target)")
    res.emit()


if __name__ == "__main__":
    main()
