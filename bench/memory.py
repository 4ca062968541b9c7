"""Memory: RSS growth after recording many traces in one process, once everything is flushed.

Runs in its own process (run.py starts it) so the baseline is clean. glassbox is configured
(trail off; ``--store none`` discards traces after the writer prepared them, ``--store sqlite``
writes them to a SQLite file in a temporary folder), warmed up with 1,000 traces, flushed and
collected; then the baseline RSS (VmRSS) is read, ``--traces`` traces of 10 stages (three
attributes and one decision each) are recorded, flushed and collected, and RSS is read again.
The writer queue blocks rather than drops, so every trace is really recorded and handed over.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from pathlib import Path
from time import perf_counter

import workload
from _common import Results, log, peak_rss_kb, rss_kb

import glassbox as gb

LIMIT_MB = 50.0
WARMUP = 1_000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--store", choices=("none", "sqlite"), default="none")
    args = ap.parse_args()
    res = Results(f"memory-{args.store}")
    tmp = tempfile.TemporaryDirectory(prefix="glassbox-bench-")
    url = None if args.store == "none" else f"sqlite:///{Path(tmp.name) / 'memory.db'}"
    log(f"memory: {args.traces:,} traces of {workload.STAGES} stages, store={args.store}")

    gb.configure(store=url, trail_dir=None, queue_policy="block")
    workload.record(WARMUP)
    gb.flush()
    gc.collect()
    before, peak_before = rss_kb(), peak_rss_kb()

    t0 = perf_counter()
    workload.record(args.traces)
    gb.flush()
    elapsed = perf_counter() - t0
    gc.collect()
    after, peak_after = rss_kb(), peak_rss_kb()

    health = gb.health()
    gb.shutdown()
    tmp.cleanup()
    total = WARMUP + args.traces
    if health["submitted"] != total or health["dropped"] or health["live_traces"] or health["queue_depth"]:
        raise SystemExit(f"not every trace was recorded and handed over: {health}")
    if url is not None and health["sinks"]["database"]["written"] != total:
        raise SystemExit(f"not every trace reached the store: {health}")

    growth = (after - before) / 1024
    label = f"store={args.store}, {args.traces:,} traces"
    res.figure(f"RSS before ({label})", before / 1024, "MB")
    res.figure(f"RSS after flush ({label})", after / 1024, "MB")
    res.figure(
        f"peak RSS growth while recording ({label})",
        (peak_after - peak_before) / 1024,
        "MB",
        "VmHWM; the writer queue holds unwritten traces",
    )
    res.figure(f"recording + flush time ({label})", elapsed, "s")
    res.check(f"RSS growth once flushed ({label})", growth, " MB", f"< {LIMIT_MB:.0f} MB", growth < LIMIT_MB)
    res.emit()


if __name__ == "__main__":
    main()
