"""CLI of golden traces, release gates and canary checks (registered by ``evaluation_cmds``).

Exit codes: 0 pass / promote, 1 a breach / failed gate / rollback, 2 bad input or harness error,
3 inconclusive (not enough data; canary hold).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from glassbox.cli.errors import fail
from glassbox.cli.options import JsonOption, StoreOption, open_store

EXIT_FAILED, EXIT_HARNESS, EXIT_INCONCLUSIVE = 1, 2, 3

golden_app = typer.Typer(
    help="Golden traces: reference runs, and checks against them.", no_args_is_help=True, rich_markup_mode=None
)
canary_app = typer.Typer(
    help="Canary analysis: promote, hold or roll back along a ramp.", no_args_is_help=True, rich_markup_mode=None
)
ProjectOption = Annotated[str, typer.Option("--project", help="Project of the goldens / traces.")]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str, indent=2))


def _harness() -> Any:
    from glassbox.cli.evaluation_cmds import harness

    return harness()


# -- golden traces -----------------------------------------------------------------------------------
@golden_app.command("capture")
def golden_capture(
    trace_id: Annotated[str, typer.Argument(help="A stored trace id (or unique prefix).")],
    name: Annotated[str, typer.Option("--name", help="The golden's name.")],
    meta: Annotated[list[str] | None, typer.Option("--meta", help="key=value kept with the golden (repeat).")] = None,
    latency: Annotated[str | None, typer.Option("--latency", help="Latency tolerance (default +20%).")] = None,
    quality: Annotated[float | None, typer.Option("--quality", help="Quality tolerance (default -0.05).")] = None,
    similarity: Annotated[float | None, typer.Option("--similarity", help="Min output similarity 0-1 (0.8).")] = None,
    project: Annotated[
        str | None, typer.Option("--project", help="Project of the golden (default: the trace's).")
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Keep a stored trace as a golden (a snapshot of it)."""
    from glassbox.analysis.filters import parse_metadata
    from glassbox.evaluation import golden

    tolerances = {
        k: v for k, v in (("latency", latency), ("quality", quality), ("similarity", similarity)) if v is not None
    }
    with _harness():
        metadata = parse_metadata(meta) if meta else {}
        st = open_store(store, must_exist=True)
        try:
            g = golden.capture(st, trace_id, name, project=project, metadata=metadata, tolerances=tolerances)
        finally:
            st.close()
    if as_json:
        _json({k: v for k, v in g.to_dict().items() if k != "snapshot"})
    else:
        typer.echo(f"golden {g.name}: trace {g.trace_id} ({g.workflow or g.trace_name})")


@golden_app.command("template")
def golden_template(
    name: Annotated[str, typer.Argument(help="The golden's name.")],
    shape: Annotated[str, typer.Option("--shape", help="rag (retrieve -> rerank -> generate) or agent_loop.")],
    workflow: Annotated[str | None, typer.Option("--workflow", help="Check runs of this workflow.")] = None,
    project: ProjectOption = "default",
    store: StoreOption = None,
) -> None:
    """A template golden: a shape of stages runs must hold."""
    from glassbox.evaluation import golden

    with _harness():
        st = open_store(store, must_exist=False)
        try:
            golden.template(st, name, shape, workflow=workflow, project=project)
        finally:
            st.close()
    typer.echo(f"golden {name}: template {shape}" + (f" for workflow {workflow}" if workflow else ""))


@golden_app.command("check")
def golden_check(
    since: Annotated[str, typer.Option("--since", help="Runs started since (1h, 24h, 2026-11-01).")] = "1h",
    name: Annotated[list[str] | None, typer.Option("--name", help="Only these goldens (repeat).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Runs checked per golden.")] = 50,
    project: Annotated[str | None, typer.Option("--project")] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare recent runs with their goldens (exit 1 on a breach)."""
    from glassbox.evaluation import golden

    with _harness():
        st = open_store(store, must_exist=True)
        try:
            diffs = golden.check(st, since=since, project=project, names=name or (), limit=limit)
        finally:
            st.close()
    breaches = [d for d in diffs if not d.ok]
    if as_json:
        _json({"checked": len(diffs), "breaches": len(breaches), "diffs": [d.to_dict() for d in diffs]})
    else:
        console = _console()
        for d in breaches:
            console.print(str(d), markup=False)
        console.print(f"{len(diffs)} runs checked against their goldens: {len(breaches)} with breaches")
    raise typer.Exit(EXIT_FAILED if breaches else 0)


@golden_app.command("list")
def golden_list(
    project: Annotated[str | None, typer.Option("--project")] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every golden."""
    from glassbox.evaluation import golden

    with _harness():
        st = open_store(store, must_exist=True)
        try:
            items = golden.list_goldens(st, project=project)
        finally:
            st.close()
    rows = [{k: v for k, v in g.to_dict().items() if k != "snapshot"} for g in items]
    if as_json:
        _json(rows)
        return
    table = Table("name", "project", "trace", "workflow / name", "template", "captured")
    for r in rows:
        table.add_row(
            r["name"],
            r["project"],
            r["trace_id"] or "",
            r["workflow"] or r["trace_name"] or "",
            r["template"] or "",
            r["captured_at"] or "",
        )
    _console().print(table)


@golden_app.command("export")
def golden_export(
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    project: Annotated[str | None, typer.Option("--project")] = None,
    store: StoreOption = None,
) -> None:
    """Every golden as JSONL (with its snapshot), to stdout or a file."""
    from glassbox.evaluation import golden
    from glassbox.evaluation.reports import write

    with _harness():
        st = open_store(store, must_exist=True)
        try:
            text = golden.export_jsonl(golden.list_goldens(st, project=project))
        finally:
            st.close()
        if output is None:
            typer.echo(text, nl=False)
        else:
            write(output, text)


@golden_app.command("import")
def golden_import(
    path: Annotated[Path, typer.Argument(help="A JSONL file from golden export.")], store: StoreOption = None
) -> None:
    """Store the goldens of a JSONL export.

    Goldens of the same name are replaced; a bad line stores nothing.
    """
    from glassbox.evaluation import golden

    with _harness():
        text = path.read_text(encoding="utf-8")
        st = open_store(store, must_exist=False)
        try:
            done = golden.import_jsonl(st, text, source=str(path))
        finally:
            st.close()
    typer.echo(f"imported {len(done)} golden{'s' if len(done) != 1 else ''}")


# -- gates and canaries --------------------------------------------------------------------------
def _specs(options: dict[str, str | None], *, defaults: bool) -> list[Any]:
    from glassbox.evaluation.gate import DEFAULT_SPECS, MetricSpec, parse_tolerance

    names = {
        "error_rate": "--max-error-rate",
        "latency": "--max-latency",
        "latency_p50": "--max-p50",
        "latency_p95": "--max-p95",
        "latency_p99": "--max-p99",
        "cost": "--max-cost",
        "quality": "--min-quality",
    }
    given = {k: parse_tolerance(v, names[k]) for k, v in options.items() if v is not None}
    if not given:
        return list(DEFAULT_SPECS) if defaults else []
    if defaults:  # canary: the defaults, with the tolerances given replaced
        out = [
            MetricSpec(s.name, given.pop(s.name, s.tolerance), s.critical, s.weight, s.required) for s in DEFAULT_SPECS
        ]
        return out + [MetricSpec(k, t) for k, t in given.items()]
    return [MetricSpec(k, t) for k, t in given.items()]


MaxErr = Annotated[str | None, typer.Option("--max-error-rate", help="Allowed rise of the error rate: +1pp, +50%.")]
MaxLat = Annotated[
    str | None, typer.Option("--max-latency", help="Allowed latency shift (Hodges-Lehmann): +20%, +150ms.")
]
MaxP50 = Annotated[str | None, typer.Option("--max-p50", help="Allowed rise of p50 latency: +20%, +100ms.")]
MaxP95 = Annotated[str | None, typer.Option("--max-p95", help="Allowed rise of p95 latency: +20%, +100ms.")]
MaxP99 = Annotated[str | None, typer.Option("--max-p99", help="Allowed rise of p99 latency.")]
MaxCost = Annotated[str | None, typer.Option("--max-cost", help="Allowed cost shift per run: +10%, +0.002.")]
MinQual = Annotated[str | None, typer.Option("--min-quality", help="Allowed change of mean quality: -0.05.")]
MinSamples = Annotated[int, typer.Option("--min-samples", min=2, help="Runs each side needs per metric.")]
Confidence = Annotated[float, typer.Option("--confidence", min=0.5, max=0.9999, help="Confidence of the tests.")]


def print_verdict(console: Console, v: Any, title: str) -> None:
    table = Table("metric", "class", "baseline", "candidate", "change", "CI", "tolerance", "n", title=title)
    for m in v.metrics:
        colour = "red" if m.failed else ("yellow" if m.classification == "NoData" else "green")
        rel = f" ({m.relative_change:+.1%})" if m.relative_change is not None else ""
        ci = f"[{m.ci_low:.4g}, {m.ci_high:.4g}]" if m.ci_low is not None else ""
        table.add_row(
            m.name,
            f"[{colour}]{m.classification}[/]",
            _fig(m.baseline),
            _fig(m.candidate),
            (f"{m.change:+.4g}{rel}" if m.change is not None else ""),
            ci,
            m.tolerance,
            f"{m.n_baseline}/{m.n_candidate}",
        )
    console.print(table)
    score = f" (score {v.score:.0f})" if v.score is not None else ""
    console.print(f"verdict: {v.verdict}{score}", markup=False)
    for r in v.reasons:
        console.print(f"  - {r}", markup=False)


def _fig(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}"


def gate(
    baseline: Annotated[
        str,
        typer.Option(
            "--baseline", help="Baseline traces: release=2026.11, variant=a, tag=x, since=7d (comma-separated)."
        ),
    ],
    candidate: Annotated[str, typer.Option("--candidate", help="Candidate traces (same forms).")],
    max_error_rate: MaxErr = None,
    max_latency: MaxLat = None,
    max_p50: MaxP50 = None,
    max_p95: MaxP95 = None,
    max_p99: MaxP99 = None,
    max_cost: MaxCost = None,
    min_quality: MinQual = None,
    min_samples: MinSamples = 30,
    confidence: Confidence = 0.98,
    project: Annotated[str | None, typer.Option("--project")] = None,
    record: Annotated[bool, typer.Option("--record/--no-record", help="Keep the verdict in the store.")] = True,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Judge a candidate population against a baseline.

    Exit 0 pass, 1 fail or marginal, 2 bad input, 3 not enough data.
    """
    from glassbox.evaluation.gate import run_gate

    with _harness():
        given = {
            "error_rate": max_error_rate,
            "latency": max_latency,
            "latency_p50": max_p50,
            "latency_p95": max_p95,
            "latency_p99": max_p99,
            "cost": max_cost,
            "quality": min_quality,
        }
        # no threshold given: the default gate; otherwise exactly the metrics asked for
        specs = _specs(given, defaults=not any(v is not None for v in given.values()))
        st = open_store(store, must_exist=True)
        try:
            v = run_gate(
                st,
                baseline,
                candidate,
                specs,
                project=project,
                record=record,
                confidence=confidence,
                min_samples=min_samples,
            )
        finally:
            st.close()
    if as_json:
        _json(v.to_dict())
    else:
        print_verdict(_console(), v, f"gate {baseline} -> {candidate}")
    raise typer.Exit({"pass": 0, "marginal": EXIT_FAILED, "fail": EXIT_FAILED}.get(v.verdict, EXIT_INCONCLUSIVE))


@canary_app.command("check")
def canary_check(
    baseline: Annotated[str, typer.Option("--baseline", help="Baseline: a release (v1) or selectors.")],
    canary: Annotated[str, typer.Option("--canary", help="Canary: a release (v2) or selectors.")],
    name: Annotated[str | None, typer.Option("--name", help="The rollout's name (default baseline->canary).")] = None,
    ramp: Annotated[str, typer.Option("--ramp", help="Traffic steps in percent.")] = "5,25,50,100",
    step: Annotated[int | None, typer.Option("--step", help="Judge this ramp step (default: from history).")] = None,
    webhook: Annotated[str | None, typer.Option("--webhook", help="POST the decision as JSON here.")] = None,
    on_verdict: Annotated[str | None, typer.Option("--on-verdict", help="Run this command with the decision.")] = None,
    max_error_rate: MaxErr = None,
    max_latency: MaxLat = None,
    max_p95: MaxP95 = None,
    max_cost: MaxCost = None,
    min_quality: MinQual = None,
    min_samples: MinSamples = 30,
    confidence: Confidence = 0.98,
    project: Annotated[str | None, typer.Option("--project")] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Promote, hold or roll back a canary, with reasons.

    Exit 0 promote, 1 rollback, 3 hold, 2 bad input or a failed hook.
    """
    from glassbox.evaluation import canary as can

    with _harness():
        specs = _specs(
            {
                "error_rate": max_error_rate,
                "latency": max_latency,
                "latency_p95": max_p95,
                "cost": max_cost,
                "quality": min_quality,
            },
            defaults=True,
        )
        st = open_store(store, must_exist=True)
        try:
            d = can.check(
                st,
                baseline,
                canary,
                name=name,
                ramp=can.parse_ramp(ramp),
                step=step,
                specs=specs,
                project=project,
                webhook=webhook,
                command=on_verdict,
                confidence=confidence,
                min_samples=min_samples,
            )
        finally:
            st.close()
    if as_json:
        _json(d.to_dict())
    else:
        console = _console()
        print_verdict(console, d.verdict, f"canary {d.name} at {d.percent:g}%")
        move = {
            "promote": f"go to {d.next_percent:g}%" if d.next_percent else "rollout complete (100%)",
            "hold": f"stay at {d.percent:g}% and check again",
            "rollback": "roll back to the baseline",
        }
        console.print(f"decision: {d.decision.upper()}: {move[d.decision]}", markup=False)
        for h in d.hooks:
            console.print(
                f"  hook {h['hook']}: {'ok' if h['ok'] else 'FAILED ' + str(h.get('error', ''))}", markup=False
            )
    if any(not h["ok"] for h in d.hooks):
        fail("a verdict hook failed (the decision is recorded)", EXIT_HARNESS)
    raise typer.Exit({"promote": 0, "rollback": EXIT_FAILED}.get(d.decision, EXIT_INCONCLUSIVE))


def register(app: typer.Typer) -> None:
    """Add ``golden``, ``gate`` and ``canary`` to ``app``."""
    app.add_typer(golden_app, name="golden")
    app.command("gate")(gate)
    app.add_typer(canary_app, name="canary")
