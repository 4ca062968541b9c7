"""Drift checks on a big store, the drift statistics on big samples, gb.feedback and app health checks.

    python bench/drift_bench.py --store sqlite:////tmp/glassbox-bench-slo.db [--traces 100000]

Fills the store first (gen_store's runs over 30 days: 10 spans, 2 decisions and a quality score each)
when it holds fewer runs. Cases: one drift check of five fields (duration, quality, decision
confidence, workflow, LLM model) over the last day against the 7 days before, overall and per release
(target < 5 s at 100,000 runs), and one of a score and a stage's confidence (fields read by name, same
target); KS, normed Wasserstein and PSI on 100,000 values a side; gb.feedback after a run (the app's
cost, the write is off the caller's thread); one /health/full of 10 checks.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time

from _common import Results, log, timed
from gen_store import fill

from glassbox.monitoring import drift
from glassbox.stats import drift as stats
from glassbox.store.store import Store

FIELDS = ("duration_ms", "quality_score", "confidence", "workflow", "model")
NAMED_FIELDS = ("score:quality", "confidence:retrieve")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    store = Store(args.store)
    fill(store, args.traces)
    counts = store.counts()
    backend = store.engine.dialect.name
    res = Results(f"drift-{backend}")
    log(f"drift bench on {backend}: {counts['traces']:,} runs, {counts['spans']:,} spans")

    def check() -> None:
        drift.check(store, FIELDS, by="release", project="bench", save=False, alert=False)

    check()  # warm the pool, the page cache and scipy's imports
    values = timed(check, args.repeats)
    report = drift.check(store, FIELDS, by="release", project="bench", save=False, alert=False)
    n = sum(r.n_current + r.n_reference for r in report.results if r.segment is None)
    res.check(
        "drift check, 5 fields x (all + 3 releases), 24 h vs 7 d",
        statistics.median(values),
        " ms",
        "< 5000 ms",
        statistics.median(values) < 5000,
    )
    res.note(f"{n:,} values compared overall; methods {sorted({r.method for r in report.results if r.method})}")

    def check_named() -> None:  # fields with a name or stage: their rows must be found by run, not by name
        drift.check(store, NAMED_FIELDS, by="release", project="bench", save=False, alert=False)

    check_named()
    named = statistics.median(timed(check_named, args.repeats))
    res.check(
        "drift check, score:quality and confidence:retrieve x (all + 3 releases), 24 h vs 7 d",
        named,
        " ms",
        "< 5000 ms",
        named < 5000,
    )

    rng = random.Random(1)
    a = [rng.gauss(0, 1) for _ in range(100_000)]
    b = [rng.gauss(0.05, 1) for _ in range(100_000)]
    cases = (
        ("ks", lambda: stats.ks_test(a, b)),
        ("wasserstein normed", lambda: stats.wasserstein_normed(a, b)),
        ("psi", lambda: stats.psi(a, b)),
    )
    for name, fn in cases:
        res.figure(f"{name}, 100,000 values a side", statistics.median(timed(fn, 5)), "ms")

    import glassbox as gb
    from glassbox.app_health import Registry

    with tempfile.TemporaryDirectory() as tmp:
        gb.configure(store=f"sqlite:///{tmp}/f.db", trail_dir=None)
        with gb.trace("q") as t:
            pass
        gb.flush()
        gb.feedback(t.trace_id, 4, scale=(1, 5))  # the first loads nothing heavy; comments load VADER once
        n_calls = 2000
        t0 = time.perf_counter()
        for i in range(n_calls):
            gb.feedback(t.trace_id, 1 + i % 5, scale=(1, 5))
        per_call = (time.perf_counter() - t0) / n_calls * 1e6
        gb.flush()
        res.figure("gb.feedback (rating) after the run, caller's cost", per_call, "us")
        gb.feedback(t.trace_id, comment="warm up the lexicon")
        t0 = time.perf_counter()
        for _ in range(200):
            gb.feedback(t.trace_id, comment="This answer was great, thank you!")
        res.figure(
            "gb.feedback (comment: VADER sentiment), caller's cost", (time.perf_counter() - t0) / 200 * 1e6, "us"
        )
        gb.shutdown()

    reg = Registry()
    for i in range(10):
        reg.register(f"c{i}", (lambda: True) if i % 2 else (lambda: {"ok": True, "n": 1}))
    res.figure("/health/full of 10 sync checks", statistics.median(timed(reg.evaluate_sync, 20)), "ms")
    res.emit()


if __name__ == "__main__":
    main()
