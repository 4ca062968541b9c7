"""``glassbox drift check | pin | history``: distribution drift of run fields (see ``monitoring.drift``).

Exit codes of ``drift check``: 0 no drift (or not enough data), 1 drift found, 2 bad input or store problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from glassbox.cli.errors import UsageProblem, fail, one_line
from glassbox.cli.options import JsonOption, StoreOption, open_store

EXIT_DRIFT = 1
EXIT_USAGE = 2
_SEVERITY_STYLE = {"none": "green", "low": "yellow", "medium": "yellow", "high": "red", "critical": "bold red"}

Fields = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        "-f",
        help="Field to compare (repeatable): "
        "duration_ms, cost_usd, tokens_in, tokens_out, quality_score, "
        "score:NAME, confidence[:STAGE], workflow, intent, domain, status, "
        "release, decision[:STAGE], model. Default: confidence, "
        "quality_score, duration_ms, workflow.",
    ),
]
Project = Annotated[str | None, typer.Option("--project", help="Only this project's runs.")]
Workflow = Annotated[str | None, typer.Option("--workflow", help="Only this workflow's runs.")]
By = Annotated[str | None, typer.Option("--by", help="Also per segment: release (model version) or workflow.")]


@contextmanager
def _harness(store: str | None) -> Iterator[Any]:
    """Every failure that is not a finding exits 2 with one line (exit 1 is kept for "drift found")."""
    from sqlalchemy.exc import SQLAlchemyError

    from glassbox.errors import GlassboxError

    st = None
    try:
        st = open_store(store, must_exist=True)
        yield st
    except (GlassboxError, UsageProblem, ValueError) as exc:
        fail(exc, EXIT_USAGE)
    except SQLAlchemyError as exc:
        fail(f"store: {getattr(exc, 'orig', None) or exc}", EXIT_USAGE)
    except OSError as exc:
        fail(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else exc, EXIT_USAGE)
    finally:
        if st is not None:
            st.close()


def _print_report(report: Any) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=False)
    ref = report.reference
    ref_text = (
        f"baseline {ref['baseline']}"
        if "baseline" in ref
        else f"release {ref['release']}"
        if "release" in ref
        else f"{ref['since'][:16]} .. {ref['until'][:16]}"
    )
    console.print(
        Text.assemble(
            ("Drift check ", "bold"),
            report.check_id,
            "  current ",
            f"{report.current['since'][:16]} .. {report.current['until'][:16]}",
            "  reference ",
            ref_text,
        )
    )
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    for h in ("Field", "Segment", "Status", "Severity", "Method", "Score", "Ref/cur n"):
        table.add_column(h, justify="right" if h in ("Score", "Ref/cur n") else "left", no_wrap=True)
    for r in report.results:
        seg = f"{r.segment_by}={r.segment}" if r.segment_by else "all"
        status = (
            Text("too few", "dim")
            if r.status == "not_enough_data"
            else Text(r.status, "bold red" if r.drifted else "green")
        )
        table.add_row(
            Text(r.field),
            Text(seg),
            status,
            Text(r.severity, _SEVERITY_STYLE[r.severity]),
            r.method or "—",
            "—" if r.score is None else f"{r.score:.3g}",
            f"{r.n_reference}/{r.n_current}",
        )
    console.print(table)
    n = len(report.drifted)
    few = sum(1 for r in report.results if r.status == "not_enough_data")
    tail = f"; {few} too few to judge (--min-samples)" if few else ""
    console.print(
        Text((f"{n} drifted (worst: {report.worst})" if n else "no drift") + tail, "bold red" if n else "green")
    )


def check_cmd(
    field: Fields = None,
    current: Annotated[str, typer.Option("--current", help="Current window: a span back from now.")] = "24h",
    reference: Annotated[
        str, typer.Option("--reference", help="Reference window: the span before the current one.")
    ] = "7d",
    reference_release: Annotated[
        str | None,
        typer.Option("--reference-release", help="Compare with the runs of this release instead of a window."),
    ] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Compare with a pinned baseline (glassbox drift pin).")
    ] = None,
    by: By = None,
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            help="ks, wasserstein, psi, jensenshannon, chisquare or z "
            "(default: Evidently's choice for the sample sizes).",
        ),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="The method's threshold (p-value or distance).")
    ] = None,
    min_samples: Annotated[
        int, typer.Option("--min-samples", min=2, help="Fewer values on a side: not enough data.")
    ] = 30,
    project: Project = None,
    workflow: Workflow = None,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Store the results (the drift time series) and fire alerts.")
    ] = True,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Compare fields of the current window with a reference; exit 1 when any drifted, 0 otherwise."""
    from glassbox.monitoring import drift

    if reference_release and baseline:
        fail("give --reference-release or --baseline, not both", EXIT_USAGE)
    with _harness(store) as st:
        filters = {"workflow": workflow} if workflow else {}
        report = drift.check(
            st,
            tuple(field or drift.DEFAULT_FIELDS),
            current=current,
            reference=reference,
            reference_release=reference_release,
            baseline=baseline,
            by=by,
            method=method,
            threshold=threshold,
            min_samples=min_samples,
            project=project,
            save=save,
            alert=save,
            **filters,
        )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
    else:
        _print_report(report)
    raise typer.Exit(EXIT_DRIFT if report.drifted else 0)


def pin_cmd(
    name: Annotated[str, typer.Argument(help="Name of the baseline.")],
    field: Fields = None,
    since: Annotated[str | None, typer.Option("--since", help="Runs from (a date or a span back: 7d).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Runs before.")] = None,
    release: Annotated[str | None, typer.Option("--release", help="Only this release's runs.")] = None,
    by: By = None,
    project: Annotated[str, typer.Option("--project", help="The project the baseline belongs to.")] = "default",
    workflow: Workflow = None,
    store: StoreOption = None,
) -> None:
    """Pin the values of fields in the selected runs as a named baseline for later checks (--baseline NAME)."""
    from glassbox.monitoring import drift

    with _harness(store) as st:
        filters = {
            k: v for k, v in {"since": since, "until": until, "release": release, "workflow": workflow}.items() if v
        }
        counts = drift.pin_baseline(st, name, tuple(field or drift.DEFAULT_FIELDS), project=project, by=by, **filters)
    for f, n in counts.items():
        typer.echo(f"pinned {name}: {f} ({n} values)")


def history_cmd(
    field: Annotated[str | None, typer.Option("--field", "-f", help="Only this field.")] = None,
    project: Project = None,
    since: Annotated[str | None, typer.Option("--since", help="Results from (a date or a span back: 7d).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Stored drift results, newest first (the time series)."""
    from glassbox.monitoring import drift

    with _harness(store) as st:
        rows = drift.history(st, project=project, field=field, since=since, limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    if not rows:
        typer.echo("no drift results yet (run `glassbox drift check`, or let `glassbox serve` monitor)")
        return
    for r in rows:
        seg = f" {r['segment_by']}={r['segment']}" if r["segment_by"] else ""
        score = "—" if r["score"] is None else f"{r['score']:.4g}"
        typer.echo(
            one_line(f"{r['at'][:19]} {r['field']}{seg} {r['status']} {r['severity']} {r['method'] or ''} {score}")
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    drift_app = typer.Typer(
        help="Distribution drift: check, pin a baseline, history.\n\n"
        "Compare the distribution of any run field with a reference window or baseline.",
        no_args_is_help=True,
    )
    drift_app.command("check")(check_cmd)
    drift_app.command("pin")(pin_cmd)
    drift_app.command("history")(history_cmd)
    app.add_typer(drift_app, name="drift")
