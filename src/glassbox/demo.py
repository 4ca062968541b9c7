"""A seeded example pipeline, traced with the real SDK: what ``glassbox demo`` runs.

Three workflows (``search_qa``, ``summarize``, ``lesson_plan``) over several intents and
domains, with decisions (alternatives and confidence), evidence, LLM stages priced from
real provider response types (``glassbox.demo_responses``), a scored quality gate, and
now and then a failing stage. Everything is drawn from one ``random.Random(seed)``, so
the same seed gives the same runs; no network.

The runs are spread over the last ``SPAN_DAYS`` days (oldest first), so the dashboard's charts have
days to show; the last third run a new release (``NEW_RELEASE``) whose ``lesson_plan`` answers are
weaker, a regression the calibration rules and a release gate catch. Latencies are simulated
with short sleeps, scaled so the whole demo stays well under a few seconds whatever ``runs`` is.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import glassbox as gb
from glassbox.demo_responses import provider_response
from glassbox.model import Trace

PROJECT = "demo"
RELEASE = "demo-2026.11"
NEW_RELEASE = "demo-2026.12"  # the last third of the runs: lesson plans got worse
REGRESSED_WORKFLOW = "lesson_plan"
REGRESSION = 0.2  # how much lower the new release's lesson_plan quality dimensions are
SPAN_DAYS = 14
DEFAULT_RUNS = 36
DEFAULT_SEED = 7
FAIL_RATE = 0.15
GATE_THRESHOLD = 0.7
SLEEP_BUDGET_S = 1.0  # the most the demo sleeps in total, however many runs
MAX_SCALE = 0.01  # one simulated second sleeps at most 10 ms
_SIMULATED_RUN_S = 4.0  # a run's simulated latency, roughly, for scaling the sleeps

# The models the demo's pipelines choose between (each priced from genai-prices).
PICKABLE = ("gpt-4o-mini", "gpt-4o", "claude-haiku-4-5", "gemini-2.5-flash")

WORKFLOWS: dict[str, list[tuple[str, str, str]]] = {
    "search_qa": [
        ("How do I rotate an API key without downtime?", "troubleshoot", "devops"),
        ("What is the refund window for annual plans?", "lookup", "billing"),
        ("Compare HSA and FSA contribution limits for 2026", "compare", "healthcare"),
        ("Why does my invoice show two prorated charges?", "explain", "billing"),
        ("Which regions support point-in-time restore?", "lookup", "devops"),
    ],
    "summarize": [
        ("Summarize the Q3 incident postmortem for the on-call team", "condense", "devops"),
        ("Explain this discharge note to the patient in plain language", "simplify", "healthcare"),
        ("TL;DR of the updated data processing agreement", "condense", "legal"),
    ],
    "lesson_plan": [
        ("45-minute lesson on photosynthesis for grade 7", "plan", "edtech"),
        ("Intro to fractions with manipulatives, grade 4", "plan", "edtech"),
        ("Two-session unit on persuasive writing for grade 10", "plan", "edtech"),
    ],
}
_INTENTS = sorted({intent for items in WORKFLOWS.values() for _, intent, _ in items})


class DemoFailure(Exception):
    """A simulated failure of a pipeline stage."""


class RetrievalTimeout(DemoFailure):
    """The vector index did not answer in time."""


class RateLimited(DemoFailure):
    """The model provider refused the call (HTTP 429)."""


class OutlineRejected(DemoFailure):
    """The generated lesson outline failed validation."""


@dataclass
class DemoRun:
    """What the demo did: the finished traces and where they were written."""

    traces: list[Trace]
    store: str | None
    trail_dir: str | None
    sink_errors: list[str] = field(default_factory=list)
    flags: list[Any] = field(default_factory=list)  # calibration alerts the runs raised (glassbox.model.Alert)

    @property
    def failed(self) -> list[Trace]:
        return [t for t in self.traces if t.status == "failed"]


class _Pace:
    """Turns simulated milliseconds into a short, proportional sleep."""

    def __init__(self, runs: int, pace: float) -> None:
        self.scale = max(pace, 0.0) * min(MAX_SCALE, SLEEP_BUDGET_S / (max(runs, 1) * _SIMULATED_RUN_S))

    def work(self, simulated_ms: float) -> None:
        if self.scale > 0:
            time.sleep(simulated_ms / 1000 * self.scale)


def _options(rng: random.Random, names: list[str], low: float = 0.3, high: float = 0.95) -> dict[str, float]:
    """Scores for each option, best first."""
    scored = {n: round(rng.uniform(low, high), 2) for n in names}
    return dict(sorted(scored.items(), key=lambda kv: -kv[1]))


@gb.traced(name="llm.chat", kind="llm")
def _chat(model: str, purpose: str, prompt_tokens: int, rng: random.Random, pace: _Pace, fail: bool = False) -> str:
    """A simulated call: the provider's real response type goes through ``gb.llm()``, which prices it."""
    out_tokens = rng.randint(80, 700)
    pace.work(rng.uniform(600, 3500))
    st = gb.current_stage()
    st.set(purpose=purpose, **{"gen_ai.request.model": model})
    if fail:
        st.model = model
        raise RateLimited(f"429 from {model}: rate limit reached for requests per minute, retry after 20s")
    cached = rng.choice((0, 0, prompt_tokens // 2))  # a warm prompt cache now and then
    text = f"{purpose} ({out_tokens} tokens)"
    gb.llm(provider_response(model, prompt_tokens, out_tokens, cached, text), prompt=purpose)
    return text


@gb.traced(name="rerank", kind="tool")
def _rerank(candidates: int, rng: random.Random, pace: _Pace) -> int:
    pace.work(rng.uniform(40, 180))
    kept = max(1, min(candidates, rng.randint(4, 10)))
    gb.evidence("reranked", collected=candidates, passed=kept, model="cross-encoder-mini")
    return kept


@gb.traced(name="draft_activity", capture_input=True)
def _draft_activity(title: str, minutes: int, rng: random.Random, pace: _Pace) -> str:
    pace.work(rng.uniform(100, 500))
    return f"{title} ({minutes} min)"


def _intake(intent: str, domain: str, rng: random.Random, pace: _Pace) -> None:
    with gb.stage("intake"):
        pace.work(rng.uniform(30, 150))
        others = rng.sample([i for i in _INTENTS if i != intent], 2)
        conf = round(rng.uniform(0.62, 0.97), 2)
        alts = {
            intent: conf,
            others[0]: round(conf * rng.uniform(0.3, 0.8), 2),
            others[1]: round(conf * rng.uniform(0.1, 0.5), 2),
        }
        gb.decision(
            f"intent={intent}",
            why=f"keywords and phrasing match {intent!r} requests in {domain}",
            confidence=conf,
            alternatives=alts,
            inputs={"classifier": "intent-small-v3", "domain": domain},
        )


def _pick_model(rng: random.Random, long_input: bool) -> str:
    opts = _options(rng, list(PICKABLE))
    model = "gpt-4o" if long_input and rng.random() < 0.5 else next(iter(opts))
    why = (
        "long context and a high bar for faithfulness"
        if model == "gpt-4o"
        else "best quality per dollar on the offline eval for this intent"
    )
    gb.decision(
        f"model={model}", why=why, confidence=opts.get(model), alternatives=opts, inputs={"long_input": long_input}
    )
    return model


def _search_qa(domain: str, rng: random.Random, pace: _Pace, fail: bool) -> str:
    fail_stage = rng.choice(["retrieval", "synthesis"]) if fail else None
    with gb.stage("retrieval", kind="retrieval") as st:
        opts = _options(rng, ["hybrid", "dense", "bm25"])
        source = next(iter(opts))
        top_k = rng.choice([8, 12, 20])
        gb.decision(
            f"search the {source} index",
            why=f"{source} scored best on {domain} queries last week",
            confidence=opts[source],
            alternatives=opts,
            inputs={"top_k": top_k, "domain": domain},
        )
        st.set(top_k=top_k, index=f"{domain}-docs")
        pace.work(rng.uniform(150, 900))
        if fail_stage == "retrieval":
            raise RetrievalTimeout(f"vector index shard {rng.randint(1, 8)} did not answer within 2.0s")
        collected = rng.randint(18, 60)
        passed = rng.randint(collected // 3, collected - 2)
        gb.evidence(
            "retrieved", collected=collected, passed=passed, by_source={source: passed, "faq": collected - passed}
        )
        kept = _rerank(passed, rng, pace)
    with gb.stage("synthesis"):
        model = _pick_model(rng, long_input=kept > 7)
        answer = _chat(
            model, "answer with citations", rng.randint(900, 3200), rng, pace, fail=fail_stage == "synthesis"
        )
    refs = " ".join(f"[{n}]" for n in range(1, min(kept, 4) + 1))  # so the heuristic signals have citations to count
    return f"Answer citing {kept} passages: {answer} {refs}"


def _summarize(domain: str, rng: random.Random, pace: _Pace, fail: bool) -> str:
    with gb.stage("chunking"):
        opts = _options(rng, ["by_heading", "semantic", "fixed_800_tokens"])
        strategy = next(iter(opts))
        chunks = rng.randint(3, 9)
        gb.decision(
            f"chunk {strategy}",
            why=f"{domain} documents have reliable section structure"
            if strategy == "by_heading"
            else "headings are sparse in this document",
            confidence=opts[strategy],
            alternatives=opts,
            inputs={"chars": rng.randint(8_000, 60_000)},
        )
        kept = rng.randint(max(2, chunks - 3), chunks)
        gb.evidence("chunks", collected=chunks, passed=kept, dropped_as_boilerplate=chunks - kept)
        pace.work(rng.uniform(20, 120))
    with gb.stage("map"):
        for n in range(min(kept, 3)):
            _chat("gpt-4o-mini", f"summarize chunk {n + 1}", rng.randint(600, 1400), rng, pace)
    with gb.stage("reduce"):
        model = _pick_model(rng, long_input=kept > 5)
        summary = _chat(model, "merge chunk summaries", rng.randint(800, 2400), rng, pace, fail=fail)
    return f"Summary of {kept} sections: {summary}"


def _lesson_plan(domain: str, rng: random.Random, pace: _Pace, fail: bool) -> str:
    with gb.stage("curriculum", kind="retrieval"):
        opts = _options(rng, ["state_standards", "ngss", "district_scope_and_sequence"])
        source = next(iter(opts))
        gb.decision(
            f"align to {source}",
            why="the request names a grade level; standards give the objectives",
            confidence=opts[source],
            alternatives=opts,
        )
        collected = rng.randint(6, 20)
        gb.evidence("standards_matched", collected=collected, passed=rng.randint(2, min(collected, 6)))
        pace.work(rng.uniform(100, 400))
    with gb.stage("outline"):
        opts = _options(rng, ["5E", "gradual_release", "direct_instruction"], 0.4)
        structure = next(iter(opts))
        gb.decision(
            f"structure={structure}",
            why="inquiry-friendly topic with a hands-on component"
            if structure == "5E"
            else "new skill that benefits from modelling first",
            confidence=opts[structure],
            alternatives=opts,
        )
        _chat("claude-haiku-4-5", "draft outline", rng.randint(500, 1500), rng, pace)
        if fail:
            raise OutlineRejected("outline had 0 assessable objectives after validation")
    with gb.stage("activities"):
        titles = ["warm-up", "guided practice", "group work", "exit ticket"]
        planned = [_draft_activity(title, rng.choice([5, 10, 15]), rng, pace) for title in titles[: rng.randint(2, 4)]]
    activities = "\n".join(f"- {a}" for a in planned)  # a structured plan: has_structure counts its sections
    return f"{structure} lesson plan aligned to {source}\n\n## Objectives\nfrom {source}\n\n## Activities\n{activities}"


_PIPELINES = {"search_qa": _search_qa, "summarize": _summarize, "lesson_plan": _lesson_plan}


def _quality_gate(workflow: str, rng: random.Random, pace: _Pace, regressed: bool = False) -> None:
    with gb.stage("quality_gate"):
        pace.work(rng.uniform(80, 400))
        dims = {name: round(rng.uniform(0.45, 1.0), 2) for name in ("relevance", "grounding", "completeness")}
        dims["clarity"] = round(rng.uniform(0.6, 1.0), 2)
        if rng.random() < 0.25:  # now and then one dimension is clearly weak
            dims[rng.choice(list(dims))] = round(rng.uniform(0.2, 0.5), 2)
        if regressed:  # the new release's lesson plans are less grounded and complete
            dims = {k: round(max(0.0, v - REGRESSION), 2) if k != "clarity" else v for k, v in dims.items()}
        value = round(sum(dims.values()) / len(dims), 2)
        passed = value >= GATE_THRESHOLD
        weakest = min(dims, key=lambda k: dims[k])
        verdict = "ship" if passed else "send to review"
        gb.decision(
            verdict,
            why=f"quality {value:.2f} vs threshold {GATE_THRESHOLD:.2f}; weakest: {weakest}",
            confidence=round(min(0.99, 0.5 + abs(value - GATE_THRESHOLD) * 2), 2),
            alternatives={
                "ship": value,
                "send to review": round(2 * GATE_THRESHOLD - value, 2),
                "retry": round((1 - value) * 0.8, 2),
            },
        )
        gb.score(
            "quality",
            value,
            max=1.0,
            passed=passed,
            dimensions=dims,
            source="rule",
            comment=f"{workflow} rubric v2; weakest dimension {weakest}",
        )


def run_demo(
    runs: int = DEFAULT_RUNS,
    seed: int = DEFAULT_SEED,
    *,
    store: str | None = None,
    trail_dir: str | None = None,
    pace: float = 1.0,
    span_days: float = SPAN_DAYS,
) -> DemoRun:
    """Configure glassbox, record ``runs`` seeded pipeline runs, flush, shut down, return the traces.

    ``store`` and ``trail_dir`` default to the configured ones (``.glassbox/`` in the cwd unless
    GLASSBOX_* settings say otherwise); ``pace=0`` skips the simulated latency; ``span_days``: how far back the
    runs are spread (0: all now). Raises
    StoreError/ConfigError when glassbox cannot be configured on that store.
    """
    rng = random.Random(seed)
    options: dict[str, Any] = {
        "project": PROJECT,
        "enabled": True,
        "sample_rate": 1.0,
        "otlp_endpoint": None,
        "budget_warn_usd": None,
        "budget_max_usd": None,
        "daily_budget_usd": None,
    }
    if store is not None:
        options["store"] = store
    if trail_dir is not None:
        options["trail_dir"] = trail_dir
    settings = gb.configure(**options)
    result = DemoRun([], settings.store, settings.trail_dir)
    try:
        if settings.store:  # the demo's whole point is the store: one that cannot open is an error, not a warning
            from glassbox.store.store import Store

            with Store(settings.store) as probe:
                probe.ready()
        # Now and then a stage fails: about FAIL_RATE of the runs, at least one when there are two or more.
        failing = set(rng.sample(range(1, runs), max(1, round(runs * FAIL_RATE)))) if runs >= 2 else set()
        pacer = _Pace(runs, pace)
        names = list(WORKFLOWS)
        now = time.time_ns()
        for i in range(runs):
            workflow = names[i % len(names)] if i < len(names) else rng.choice(names)
            question, intent, domain = rng.choice(WORKFLOWS[workflow])
            new = runs >= 3 and i >= runs - runs // 3
            with _recorded_at(now - _age_ns(i, runs, rng, span_days)):
                result.traces.append(
                    _one_run(
                        i,
                        seed,
                        workflow,
                        question,
                        intent,
                        domain,
                        rng,
                        pacer,
                        i in failing,
                        release=NEW_RELEASE if new else RELEASE,
                    )
                )
        gb.flush(30)  # returns after the writer stored every run and ran the calibration rules on them
        result.flags = _calibration_flags({t.trace_id for t in result.traces})
        health = gb.health()
        for name, stats in (health.get("sinks") or {}).items():
            if stats.get("errors"):
                result.sink_errors.append(f"{name}: {stats.get('last_error')}")
    finally:
        gb.shutdown()
    return result


def _calibration_flags(trace_ids: set[str]) -> list[Any]:
    """The calibration alerts raised on this demo's runs (none when there is no database)."""
    from glassbox import runtime

    rt = runtime.current()
    engine = getattr(rt, "calibration", None)
    if engine is None:
        return []
    from glassbox.store.alerts import list_alerts

    try:
        found = list_alerts(engine.store, source="calibration", project=PROJECT, limit=1000)
    except Exception:  # noqa: BLE001 - the demo still shows its runs
        return []
    return [a for a in found if a.trace_id in trace_ids]


def _age_ns(i: int, runs: int, rng: random.Random, span_days: float = SPAN_DAYS) -> int:
    """How long ago run ``i`` of ``runs`` happened: evenly over ``span_days``, oldest first, within its day."""
    jitter = rng.uniform(0, 3_600)  # drawn even when unused, so a seed gives the same runs whatever span_days is
    if runs < 2 or span_days <= 0:
        return 0
    days = span_days * (runs - 1 - i) / (runs - 1)
    return int((days * 86_400 + jitter) * 1e9) if i < runs - 1 else 0


@contextlib.contextmanager
def _recorded_at(at_ns: int) -> Iterator[None]:
    """Record as if it were ``at_ns``: the SDK's clock reads are shifted by the same amount (demo only)."""
    from glassbox import recorder
    from glassbox.cost import calls

    shift = time.time_ns() - at_ns
    clocks = [(m, m.time_ns) for m in (recorder, calls)]
    for module, real in clocks:
        module.time_ns = lambda real=real: real() - shift  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, real in clocks:
            module.time_ns = real  # type: ignore[attr-defined]


def _one_run(
    i: int,
    seed: int,
    workflow: str,
    question: str,
    intent: str,
    domain: str,
    rng: random.Random,
    pace: _Pace,
    fail: bool,
    release: str = RELEASE,
) -> Trace:
    user = f"user-{rng.randint(1, 40):03d}"
    try:
        with gb.trace(
            question,
            workflow=workflow,
            intent=intent,
            domain=domain,
            user_id=user,
            session_id=f"sess-{seed}-{i // 3}",
            tags=["demo", workflow],
            release=release,
            environment="demo",
            metadata={"seed": seed, "run": i},
        ) as t:
            _intake(intent, domain, rng, pace)
            output = _PIPELINES[workflow](domain, rng, pace, fail)
            _quality_gate(workflow, rng, pace, regressed=release == NEW_RELEASE and workflow == REGRESSED_WORKFLOW)
            t.output = output
    except DemoFailure:
        pass  # recorded: the trace ends `failed` with the stage's error; the demo goes on
    return t  # type: ignore[return-value]  # a LiveTrace: tracing is forced on above
