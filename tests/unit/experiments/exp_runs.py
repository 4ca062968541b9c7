"""Synthetic experiment runs with a known effect (or none), for the experiments and CLI tests."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from runs_builder import make_run

from glassbox.experiments import registry


def seed_runs(
    store,
    name: str = "prompt",
    *,
    n: int = 400,
    success: tuple[float, float] = (0.8, 0.8),
    quality: tuple[float, float] = (0.7, 0.7),
    cost: tuple[float, float] = (0.01, 0.01),
    duration: tuple[float, float] = (200.0, 200.0),
    split: float = 0.5,
    seed: int = 1,
    variants: tuple[str, str] = ("control", "concise"),
    define: bool = True,
) -> list:
    """``n`` runs, one unit each, variant by ``split``; each metric drawn around its (control, treatment) value."""
    rng = np.random.default_rng(seed)
    if define:
        registry.save(store, "experiment", {"name": name, "variants": list(variants)}, actor="test")
    batch = []
    for i in range(n):
        b = int(rng.random() >= split)
        ok = rng.random() < success[b]
        q = float(np.clip(rng.normal(quality[b], 0.1), 0, 1))
        c = float(max(rng.normal(cost[b], cost[b] * 0.2), 1e-6))
        d = float(max(rng.normal(duration[b], 30.0), 1.0))
        t = make_run(
            seed * 100_000 + i,
            ago=timedelta(minutes=n - i),
            status="complete" if ok else "failed",
            duration_ms=d,
            stages=[("llm", d, "ok" if ok else "error")],
            cost=c,
            quality=q,
            project="default",
        )
        t.experiment, t.variant, t.user_id = name, variants[b], f"unit-{seed}-{i}"
        batch.append(t)
    store.write_traces(batch)
    return batch
