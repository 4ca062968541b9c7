"""A/B experiment and feature flag end to end: define, assign with gb.variant, analyse from the traces.

Writes into ./.glassbox/experiments-example.db (a fresh file each run), prints the verdict, each metric
with its CI, the flag's rollout share, and a sample-size plan. Run: python examples/experiments.py
"""

from __future__ import annotations

import random
from pathlib import Path

import glassbox as gb
from glassbox.experiments import registry
from glassbox.experiments.analysis import analyze
from glassbox.experiments.report import headline
from glassbox.stats.power import sample_size_proportions
from glassbox.store.store import Store

DB = Path(".glassbox/experiments-example.db")
DB.parent.mkdir(exist_ok=True)
DB.unlink(missing_ok=True)
URL = f"sqlite:///{DB}"

store = Store(URL)
registry.save(
    store,
    "experiment",
    {
        "name": "answer-prompt",
        "variants": ["control", "grounded"],
        "metrics": ["avg_quality", "success_rate"],
        "guardrails": ["error_rate", "avg_duration_ms"],
    },
    actor="example",
)
registry.save(store, "flag", {"name": "rerank-v2", "default": False, "value": True, "rollout": 0.25}, actor="example")

gb.configure(store=URL, trail_dir=None, project="example")
rng = random.Random(42)
rerank_on = 0
for i in range(600):
    user = f"user-{i}"
    try:
        with gb.trace("What is our refund window?", workflow="support_qa", user_id=user):
            prompt = gb.variant("answer-prompt", user)
            rerank_on += gb.flag("rerank-v2", user, default=False)
            with gb.stage("generate", kind="llm"):
                if rng.random() < (0.05 if prompt == "grounded" else 0.08):
                    raise TimeoutError("the model timed out")
            gb.score("quality", min(1.0, max(0.0, rng.gauss(0.78 if prompt == "grounded" else 0.72, 0.1))))
    except TimeoutError:
        pass  # recorded as a failed run
gb.flush()
gb.shutdown()

result = analyze(store, "answer-prompt")
print(f"answer-prompt: {headline(result).replace('**', '')}")
print(
    "allocation:",
    ", ".join(f"{v['key']} {v['units']} users" for v in result.variants),
    f"(SRM p = {result.srm['p_value']:.2f})",
)
for r in result.results + result.guardrails:
    t = r.test
    print(
        f"  {'guardrail' if r.guardrail else 'metric   '} {r.label:<16} {r.value_control:.3f} -> "
        f"{r.value_variant:.3f}  CI [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]  p = {t['p_value']:.3g}  {r.direction}"
    )
print(f"rerank-v2 on for {rerank_on / 600:.0%} of users (rollout 25%)")
print(f"to detect 72% -> 75% success: {sample_size_proportions(0.72, 0.03):,.0f} users per variant")
store.close()
