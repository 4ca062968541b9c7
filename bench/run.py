"""Run glassbox's benchmarks, print figures and ratios against baselines measured in the same run.

    python bench/run.py [--quick] [--only NAME[,NAME…]] [--postgres URL] [--json FILE]

Benchmarks (each in its own process; see docs/benchmarks.md):

  hotpath   stage enter+exit with 3 attributes vs a bare `with` and an OTel SDK span;
            disabled and sampled-out glassbox vs the bare `with`
  bridge    the same with an OTel SDK TracerProvider set globally (glassbox's OTel bridge on)
  sqlite    writer throughput into SQLite vs plain sqlite3 executemany
  postgres  writer throughput into PostgreSQL (skipped if the default server is unreachable)
  merge     late segments merged into stored runs (one write each) in SQLite, at 1x and 10x the store size
  memory    RSS growth after recording 100,000 traces (20,000 with --quick), once flushed
  import    `import glassbox` vs `import opentelemetry.sdk.trace`; no heavy modules loaded
  llm       gb.llm(resp) on an OpenAI response, priced; the budget check's cost inside gb.stage()
  ingest    OTLP ingest into one glassbox serve process on SQLite (spans/s, server RSS)
  slo       each SLO's status over 30 days at 1M spans (store filled once in /tmp), target < 500 ms
  drift     a 5-field drift check at 1M spans (target < 5 s), the drift statistics at 100k values, gb.feedback,
            an app /health/full
  evaluation  regress overhead per case (target < 2 ms beyond the trace); gate and canary verdicts on 2 x 100k
            runs (1M spans, store filled once in /tmp; target < 2 s); A/A false-positive rates (near alpha)
  flags     flag evaluation and experiment assignment per call (target < 2 us for a unit seen before),
            gb.variant inside a trace
  experiments  1,000 simulated A/A tests (false positives near alpha), tests sized by stats.power (power near
            its target), peeking 20x: fixed-horizon vs the confidence sequence

Exits 1 if any target is missed (listed at the end), 2 if a benchmark itself failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _common import RESULT_PREFIX  # noqa: E402 - the bench folder is not a package

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NAMES = (
    "hotpath",
    "bridge",
    "sqlite",
    "postgres",
    "merge",
    "memory",
    "import",
    "llm",
    "ingest",
    "slo",
    "drift",
    "evaluation",
    "flags",
    "experiments",
)


def commands(name: str, quick: bool, pg_url: str) -> list[list[str]]:
    """The benchmark scripts (with arguments) that make up one named benchmark."""
    hot = (
        ["--repeats", "5", "--iterations", "50000", "--otel-iterations", "10000"]
        if quick
        else ["--repeats", "7", "--iterations", "100000", "--otel-iterations", "20000"]
    )
    writer = ["--traces", "2000", "--repeats", "2"] if quick else ["--traces", "5000", "--repeats", "3"]
    traces = "20000" if quick else "100000"
    return {
        "hotpath": [["hotpath.py", "--mode", "plain", *hot]],
        "bridge": [["hotpath.py", "--mode", "bridge", *hot]],
        "sqlite": [["writer.py", "--backend", "sqlite", *writer]],
        "postgres": [["writer.py", "--backend", "postgres", "--postgres", pg_url, *writer]],
        "merge": [["merge_bench.py", "--traces", "1000" if quick else "2000", "--merges", "200" if quick else "500"]],
        "memory": [
            ["memory.py", "--store", "none", "--traces", traces],
            ["memory.py", "--store", "sqlite", "--traces", traces],
        ],
        "import": [["importtime.py", "--repeats", "5" if quick else "11"]],
        "ingest": [["ingest_bench.py", "--batches", "60" if quick else "200"]],
        "slo": [
            [
                "slo_bench.py",
                "--store",
                "sqlite:////tmp/glassbox-bench-slo.db",
                "--traces",
                "20000" if quick else "100000",
            ]
        ],
        "drift": [
            [
                "drift_bench.py",
                "--store",
                "sqlite:////tmp/glassbox-bench-drift.db",
                "--traces",
                "20000" if quick else "100000",
            ]
        ],
        "evaluation": [
            [
                "evaluation_bench.py",
                "--store",
                "sqlite:////tmp/glassbox-bench-gate.db",
                "--traces",
                "20000" if quick else "100000",
                "--sims",
                "300" if quick else "1000",
            ]
        ],
        "llm": [["llm.py", "--repeats", "5" if quick else "7", "--iterations", "10000" if quick else "20000"]],
        "flags": [
            ["flags_bench.py", "--repeats", "5" if quick else "7", "--iterations", "30000" if quick else "100000"]
        ],
        "experiments": [["experiments_bench.py", "--tests", "300" if quick else "1000"]],
    }[name]


def postgres_reachable(url: str) -> str | None:
    """None if a connection can be made, else why not."""
    try:
        import psycopg
        from sqlalchemy.engine import make_url
    except ImportError as exc:
        return f"driver not installed ({exc.name})"
    try:
        u = make_url(url)
        with psycopg.connect(
            host=u.host or "127.0.0.1",
            port=u.port or 5432,
            user=u.username,
            password=u.password,
            dbname=u.database,
            connect_timeout=3,
        ):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run_script(argv: list[str]) -> dict[str, Any]:
    """Run one benchmark script in a fresh interpreter; its progress streams to our stderr."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / argv[0]), *argv[1:]], cwd=BENCH, stdout=subprocess.PIPE, text=True, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
            if proc.returncode == 0:
                return result
    raise RuntimeError(f"{' '.join(argv)} exited with status {proc.returncode} and no result")


def fmt(value: float, unit: str) -> str:
    unit = unit.strip()
    if unit == "spans/s":
        return f"{value:,.0f} spans/s"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "loaded":
        return f"{value:.0f} loaded"
    if unit == "µs":
        return f"{value:.3f} µs"
    return f"{value:,.1f} {unit}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats and traces (about a minute)")
    ap.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these benchmarks (repeatable or comma-separated): {', '.join(NAMES)}",
    )
    ap.add_argument(
        "--postgres",
        metavar="URL",
        help=f"PostgreSQL scratch database (default {DEFAULT_PG} "
        "if reachable); the benchmark creates and drops its own schemas in it",
    )
    ap.add_argument("--json", metavar="FILE", help="also write every result to this JSON file")
    args = ap.parse_args()

    selected = [n.strip() for item in args.only for n in item.split(",") if n.strip()] or list(NAMES)
    unknown = [n for n in selected if n not in NAMES]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    pg_url = args.postgres or DEFAULT_PG

    results: list[dict[str, Any]] = []
    skipped: list[str] = []
    broken: list[str] = []
    started = time.monotonic()
    for name in (n for n in NAMES if n in selected):
        if name == "postgres":
            why = postgres_reachable(pg_url)
            if why is not None:
                msg = f"postgres: {pg_url} not reachable ({why})"
                if args.postgres:  # asked for explicitly: that is a failure, not a skip
                    broken.append(msg)
                else:
                    skipped.append(msg)
                continue
        for argv in commands(name, args.quick, pg_url):
            t0 = time.monotonic()
            try:
                result = run_script(argv)
            except RuntimeError as exc:
                broken.append(f"{name}: {exc}")
                continue
            result["seconds"] = round(time.monotonic() - t0, 1)
            results.append(result)
    elapsed = time.monotonic() - started

    fig_rows = [[r["bench"], f["name"], fmt(f["value"], f["unit"]), f["note"]] for r in results for f in r["figures"]]
    checks = [c for r in results for c in r["checks"]]
    check_rows = [[c["name"], fmt(c["value"], c["unit"]), c["target"], "PASS" if c["ok"] else "FAIL"] for c in checks]
    print()
    print(
        f"glassbox benchmarks ({'quick' if args.quick else 'full'} run, {elapsed:.0f} s, Python "
        f"{sys.version.split()[0]})"
    )
    print()
    if fig_rows:
        print(table(["bench", "measure", "value", "note"], fig_rows))
        print()
    if check_rows:
        print(table(["target", "measured", "required", "result"], check_rows))
        print()
    for r in results:
        for n in r["notes"]:
            print(f"note ({r['bench']}): {n}")
    for s in skipped:
        print(f"skipped {s}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"quick": args.quick, "seconds": elapsed, "results": results, "skipped": skipped, "broken": broken},
                indent=2,
            )
        )
    failed = [c for c in checks if not c["ok"]]
    for b in broken:
        print(f"BROKEN {b}")
    for c in failed:
        print(f"MISSED {c['name']}: {fmt(c['value'], c['unit'])}, required {c['target']}")
    if broken:
        return 2
    if failed:
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
