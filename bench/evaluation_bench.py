"""Evaluation benchmarks: regression-run overhead, gate/canary verdicts at scale, A/A false-positive rates.

    python bench/evaluation_bench.py --store sqlite:////tmp/glassbox-bench-gate.db [--traces 100000]

- regress: ``run_regression`` over N cases of a target that returns at once, against calling the target
  N times directly and against N bare ``gb.trace`` blocks; the overhead per case beyond the trace itself
  (thread hand-off, checks, stored results) must stay under 2 ms.
- gate: the default gate (error rate, latency HL, p95, cost, quality) and a canary check between two
  releases of ``--traces`` runs each (5 spans a run: 2 x 100,000 runs is a 1,000,000-span store), target < 2 s:
  in this process (warm), and as ``glassbox gate`` / ``glassbox canary check`` in a fresh process each (start-up,
  imports and store opening included: what a CI step waits for), with the CPU time beside each wall time.
- aa: many simulated A/A gates (both sides drawn from one distribution): how often each test calls a
  difference at 98 % confidence (alpha = 2 %) with a zero tolerance band, which must stay near alpha.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

from _common import Results, log

RELEASES = ("bench-a", "bench-b")
SPANS = 5


def fill(store, traces: int) -> None:
    """Two releases of ``traces`` runs each (root + 4 stages, one LLM call priced, a quality score)."""
    import numpy as np

    from glassbox.model import Score, Span, Trace

    have = store.counts()["traces"]
    if have >= 2 * traces:
        return
    log(f"filling the store with {2 * traces:,} runs ({2 * traces * SPANS:,} spans)…")
    rng = np.random.default_rng(7)
    now = time.time_ns() - 3600 * 10**9
    for r, release in enumerate(RELEASES):
        for first in range(0, traces, 2000):
            n = min(2000, traces - first)
            dur = rng.lognormal(np.log(300), 0.5, n)
            fails = rng.random(n) < 0.03
            qual = np.clip(rng.normal(0.8, 0.1, n), 0, 1)
            cost = rng.lognormal(np.log(0.002), 0.4, n)
            batch = []
            for k in range(n):
                i = r * traces + first + k
                t = Trace(f"{i + 1:032x}", "bench")
                t.project, t.release, t.workflow = "bench", release, "qa"
                t.status = "failed" if fails[k] else "complete"
                t.start_ns = now - (traces - first - k) * 10**7
                t.end_ns = t.start_ns + int(dur[k] * 1e6)
                root = Span(t.trace_id, f"{i + 1:012x}0000", None, "bench", "trace", t.start_ns)
                root.end_ns, root.status = t.end_ns, "error" if fails[k] else "ok"
                t.root_span_id, t.spans = root.span_id, [root]
                for j, (name, kind) in enumerate(
                    (("retrieve", "retrieval"), ("rerank", "stage"), ("generate", "llm"), ("format", "stage"))
                ):
                    s = Span(t.trace_id, f"{i + 1:012x}{j + 1:04x}", root.span_id, name, kind, t.start_ns + j)
                    s.end_ns, s.status = t.end_ns - 1, "ok"
                    if kind == "llm":
                        s.model, s.cost_usd = "gpt-4o-mini", float(cost[k])
                    t.spans.append(s)
                t.scores = [
                    Score(f"{i + 1:016x}", "quality", float(qual[k]), 1.0, None, "sdk", {}, None, None, t.start_ns + 5)
                ]
                batch.append(t)
            store.write_traces(batch)


def bench_regress(res: Results, cases: int, repeats: int) -> None:
    import glassbox as gb
    from glassbox.evaluation.datasets import Case, Dataset
    from glassbox.evaluation.regress import run_regression
    from glassbox.store.store import Store

    def target(question):
        return {"final_answer": question}

    ds = Dataset("bench", [Case(f"c{i}", f"q{i}") for i in range(cases)])
    direct, traced, regress1, regress4 = [], [], [], []
    import tempfile

    for _ in range(repeats):
        t0 = time.perf_counter()
        for c in ds.cases:
            target(c.input)
        direct.append((time.perf_counter() - t0) * 1000 / cases)
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/r.db"
            gb.configure(store=url, trail_dir=None, calibration=False)
            with gb.trace("warm-up"):  # the store's schema is made here, not in the timed loop
                pass
            gb.flush()
            t0 = time.perf_counter()
            for c in ds.cases:
                with gb.trace(c.input, name=f"case {c.id}") as tr:
                    tr.output = target(c.input)
            gb.flush()
            traced.append((time.perf_counter() - t0) * 1000 / cases)
            gb.shutdown()
            st = Store(url)
            run_regression(st, Dataset("warm", ds.cases[:5]), target, settings={"trail_dir": None})
            for conc, out in ((1, regress1), (4, regress4)):
                t0 = time.perf_counter()
                run = run_regression(st, ds, target, concurrency=conc, settings={"trail_dir": None})
                out.append((time.perf_counter() - t0) * 1000 / cases)
                assert run.ok
            st.close()
    med = sorted
    d, tr, r1, r4 = (med(x)[len(x) // 2] for x in (direct, traced, regress1, regress4))
    res.figure("regress: target called directly", d * 1000, "µs", "per case")
    res.figure("regress: target in a bare gb.trace (stored)", tr * 1000, "µs", "per case, written to SQLite")
    res.figure("regress: run_regression, concurrency 1", r1 * 1000, "µs", f"per case over {cases} cases")
    res.figure("regress: run_regression, concurrency 4", r4 * 1000, "µs", "per case")
    over = max(r1, r4) - tr
    res.check("regress overhead per case beyond the trace", over, "ms", "< 2 ms", over < 2.0)


def bench_gate(res: Results, url: str, traces: int, repeats: int) -> None:
    from glassbox.evaluation import canary
    from glassbox.evaluation.gate import DEFAULT_SPECS, run_gate
    from glassbox.store.store import Store

    st = Store(url)
    fill(st, traces)
    gate_ms, canary_ms, gate_cpu, canary_cpu, verdict = [], [], [], [], None
    t0 = time.perf_counter()
    run_gate(st, f"release={RELEASES[0]}", f"release={RELEASES[1]}", DEFAULT_SPECS, record=False)
    cold = (time.perf_counter() - t0) * 1000  # scipy's import, the first connections
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        verdict = run_gate(st, f"release={RELEASES[0]}", f"release={RELEASES[1]}", DEFAULT_SPECS, record=False)
        gate_ms.append((time.perf_counter() - t0) * 1000)
        gate_cpu.append((time.process_time() - c0) * 1000)
        t0, c0 = time.perf_counter(), time.process_time()
        canary.check(st, RELEASES[0], RELEASES[1], name="bench", alert=False)
        canary_ms.append((time.perf_counter() - t0) * 1000)
        canary_cpu.append((time.process_time() - c0) * 1000)
    st.close()
    g, c = sorted(gate_ms)[len(gate_ms) // 2], sorted(canary_ms)[len(canary_ms) // 2]
    cpu, c_cpu = sorted(gate_cpu)[len(gate_cpu) // 2], sorted(canary_cpu)[len(canary_cpu) // 2]
    res.figure("gate: CPU time of this process", cpu, "ms", "what the verdict costs when the machine is not shared")
    res.figure("canary check: CPU time of this process", c_cpu, "ms", "")
    if cpu < 0.7 * g:
        load = Path("/proc/loadavg").read_text().split()[0]
        res.note(
            f"the gate waited {g - cpu:,.0f} ms of {g:,.0f} ms for a CPU: the machine is busy (load average {load})"
        )
    res.figure(
        "gate: default metrics, 2 x runs",
        g,
        "ms",
        f"{verdict.n_baseline:,} vs {verdict.n_candidate:,} runs, verdict {verdict.verdict}",
    )
    res.figure("canary check (gate + ramp step recorded)", c, "ms", "same populations")
    res.figure("gate: first call in a fresh process", cold, "ms", "includes importing numpy and scipy.special")
    res.check("gate verdict on 2 x 100k runs", g, "ms", "< 2000 ms", g < 2000)
    res.check("canary verdict on 2 x 100k runs", c, "ms", "< 2000 ms", c < 2000)
    population = ["--baseline", f"release={RELEASES[0]}"]
    commands = {
        "glassbox gate": ["gate", *population, "--candidate", f"release={RELEASES[1]}", "--no-record"],
        "glassbox canary check": ["canary", "check", *population, "--canary", f"release={RELEASES[1]}"],
    }
    for label, argv in commands.items():
        wall, cpu = cli_ms(url, argv, repeats)
        res.figure(f"{label}: CPU time of the process", cpu, "ms", "start-up and imports included")
        res.check(f"{label} on 2 x 100k runs (a fresh process)", wall, "ms", "< 2000 ms", wall < 2000)


def cli_ms(url: str, argv: list[str], repeats: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of the CLI command ``argv`` on ``url``, each run a new process."""
    cmd = [sys.executable, "-c", "from glassbox.cli.app import main; main()", *argv, "--store", url, "--json"]
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        walls.append((time.perf_counter() - t0) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
        if done.returncode not in (0, 3):  # pass / promote, or hold (a repeated canary step)
            raise RuntimeError(f"{' '.join(argv[:2])} exited {done.returncode}: {done.stderr[-2000:]}")
    return sorted(walls)[len(walls) // 2], sorted(cpus)[len(cpus) // 2]


def bench_aa(res: Results, sims: int, n: int) -> None:
    import numpy as np

    from glassbox.evaluation.gate import MetricSpec, judge, parse_tolerance, population_from_values

    rng = np.random.default_rng(11)
    zero = parse_tolerance("+0")
    specs = [
        MetricSpec("error_rate", zero),
        MetricSpec("latency", zero),
        MetricSpec("cost", zero),
        MetricSpec("quality", parse_tolerance("-0")),
    ]
    flagged = {s.name: 0 for s in specs}
    any_fail = 0
    for _ in range(sims):
        pops = []
        for _side in range(2):
            pops.append(
                population_from_values(
                    durations=rng.lognormal(5.5, 0.6, n),
                    failed=int(rng.binomial(n, 0.05)),
                    finished=n,
                    costs=rng.lognormal(-6, 0.4, n),
                    quality=np.clip(rng.normal(0.8, 0.1, n), 0, 1),
                )
            )
        v = judge(pops[0], pops[1], specs, confidence=0.98)
        for m in v.metrics:
            flagged[m.name] += m.classification in ("High", "Low")
        any_fail += v.verdict == "fail"
    alpha = 0.02
    for name, count in flagged.items():
        rate = count / sims
        res.figure(
            f"A/A: {name} called different",
            rate * 100,
            "%",
            f"{sims} simulations, n={n} a side, alpha {alpha:.0%} (two-sided)",
        )
        res.check(f"A/A false-positive rate, {name}", rate * 100, "%", "<= 2 x alpha (4 %)", rate <= 2 * alpha)
    res.figure(
        "A/A: gate failed (any of 4 critical metrics, zero band)",
        any_fail / sims * 100,
        "%",
        "about 1 - 0.99^4 = 3.9 % expected: each metric fails in one direction only",
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--traces", type=int, default=100_000, help="runs per release")
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--sims", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--parts", default="regress,gate,aa", help="comma-separated: regress, gate, aa")
    args = ap.parse_args()
    parts = {p.strip() for p in args.parts.split(",")}
    res = Results("evaluation")
    if "regress" in parts:
        log("regress overhead…")
        bench_regress(res, args.cases, args.repeats)
    if "gate" in parts:
        log("gate and canary at scale…")
        bench_gate(res, args.store, args.traces, args.repeats)
    if "aa" in parts:
        log("A/A simulations…")
        bench_aa(res, args.sims, 500)
    res.emit()


if __name__ == "__main__":
    main()
