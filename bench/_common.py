"""Shared helpers for the benchmarks: timing, medians, RSS, and the result protocol.

Every benchmark script runs in its own process (a clean interpreter, a clean RSS
baseline, a global OpenTelemetry provider that cannot leak into other cases) and
ends by printing one line ``BENCH-RESULT {json}`` that ``bench/run.py`` collects.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCH-RESULT "


def median(values: list[float]) -> float:
    return statistics.median(values)


def interleaved(cases: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Run every case once per repeat, in turn, so that machine noise hits all of them alike."""
    out: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            out[name].append(fn())
    return out


def rss_kb() -> int:
    """Resident set size of this process (VmRSS), in KiB."""
    return _status_kb("VmRSS")


def peak_rss_kb() -> int:
    """Peak resident set size of this process (VmHWM), in KiB."""
    return _status_kb("VmHWM")


def _status_kb(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


class Results:
    """Figures (measured values) and checks (targets) of one benchmark script."""

    def __init__(self, bench: str) -> None:
        self.bench = bench
        self.figures: list[dict[str, Any]] = []
        self.checks: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def figure(self, name: str, value: float, unit: str, note: str = "") -> None:
        self.figures.append({"name": name, "value": value, "unit": unit, "note": note})
        log(f"  {name}: {value:,.3f} {unit} {note}")

    def check(self, name: str, value: float, unit: str, target: str, ok: bool) -> None:
        self.checks.append({"name": name, "value": value, "unit": unit, "target": target, "ok": bool(ok)})
        log(f"  [{'PASS' if ok else 'FAIL'}] {name}: {value:,.2f}{unit} (target {target})")

    def note(self, text: str) -> None:
        self.notes.append(text)
        log(f"  note: {text}")

    def emit(self) -> None:
        payload = {"bench": self.bench, "figures": self.figures, "checks": self.checks, "notes": self.notes}
        sys.stdout.write(RESULT_PREFIX + json.dumps(payload) + "\n")
        sys.stdout.flush()


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the result line."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` calls of ``fn``."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out
