"""``glassbox demo``'s experiment section: two prompt variants over a small seeded pipeline, analysed.

Each simulated user is assigned with ``gb.variant`` (deterministic, exposure on the trace); the concise
prompt answers a little better and fails a little less. The section prints the verdict and each metric.
"""

from __future__ import annotations

import random
from typing import Any

import glassbox as gb

EXPERIMENT = "demo-prompt-style"
VARIANTS = ["control", "concise"]
RUNS = 400
SEED = 7


def _pipeline(question: str, style: str, rng: random.Random) -> None:
    """retrieve -> generate -> quality score; the concise prompt scores ~0.05 higher and fails less often."""
    with gb.stage("retrieve", kind="retrieval"):
        gb.decision("use hybrid search", why="question mentions a product", confidence=round(rng.uniform(0.6, 0.9), 2))
    with gb.stage("generate", kind="llm", attributes={"prompt_style": style}):
        if rng.random() < (0.06 if style == "concise" else 0.10):
            raise TimeoutError("model timed out")
    base = 0.74 if style == "concise" else 0.69
    gb.score("quality", min(1.0, max(0.0, rng.gauss(base, 0.12))), max=1.0)


def record(store: str, runs: int = RUNS, seed: int = SEED) -> None:
    """Define the experiment and record ``runs`` seeded runs into ``store`` (one simulated user each)."""
    from glassbox.experiments import registry
    from glassbox.store.store import Store

    st = Store(store)
    try:
        registry.save(
            st,
            "experiment",
            {
                "name": EXPERIMENT,
                "variants": VARIANTS,
                "metrics": ["avg_quality", "success_rate"],
                "guardrails": ["error_rate"],
                "description": "Does a concise answer prompt beat the current one?",
            },
            actor="glassbox demo",
        )
    finally:
        st.close()
    rng = random.Random(seed)
    gb.configure(project="demo", store=store, trail_dir=None, sample_rate=1.0, otlp_endpoint=None, calibration=False)
    from glassbox.flags.client import default_client

    try:
        for i in range(runs):
            user = f"demo-user-{seed}-{i}"
            try:
                with gb.trace("How do I reset my password?", workflow="support_qa", user_id=user):
                    style = gb.variant(EXPERIMENT, user) or "control"  # marks this run with its variant
                    _pipeline("How do I reset my password?", style, rng)
            except TimeoutError:
                pass  # a failed run: recorded as such, the demo goes on
        default_client().exposures.flush()
        gb.flush(30)
    finally:
        gb.shutdown()


def section(result: Any, console: Any, store: str | None) -> None:
    store = store or getattr(result, "store", None)  # `glassbox demo` without --store: the store it recorded into
    if not store:
        return
    from glassbox.experiments.analysis import analyze
    from glassbox.experiments.report import headline
    from glassbox.store.store import Store

    record(store)
    st = Store(store)
    try:
        a = analyze(st, EXPERIMENT)
    finally:
        st.close()
    units = ", ".join(f"{v['key']} {v['units']}" for v in a.variants)
    console.print(
        f"[bold]Experiment[/]  {EXPERIMENT} ({units} users; SRM p = {a.srm['p_value']:.2f}): "
        f"{headline(a).replace('**', '')}",
        markup=True,
        highlight=False,
    )
    for r in a.results + a.guardrails:
        t = r.test
        if t is None:
            continue
        kind = "guardrail" if r.guardrail else "metric"
        rel = f" ({r.relative['estimate']:+.1%})" if r.relative and r.relative.get("estimate") is not None else ""
        console.print(
            f"            {kind} {r.label}: {r.value_control:.3g} -> {r.value_variant:.3g}{rel}, "
            f"95% CI [{t['ci_low']:.3g}, {t['ci_high']:.3g}], p = {t['p_value']:.2g} "
            f"{'(' + r.direction + ')' if r.direction != 'none' else '(n.s.)'}",
            markup=False,
            highlight=False,
        )
    console.print(
        f"            glassbox exp analyze {EXPERIMENT}   ·   glassbox exp report {EXPERIMENT} --format html",
        markup=False,
        highlight=False,
    )
