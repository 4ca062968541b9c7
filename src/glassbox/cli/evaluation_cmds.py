"""CLI of the evaluation feature: datasets, regression runs, golden traces, release gates and canary checks.

Exit codes of the checking commands (``regress``, ``golden check``, ``gate``, ``canary check``):
0 passed / promote, 1 a check failed (a case, a breach, a gate, rollback), 2 the harness itself could
not run (bad input, unimportable target, unknown dataset, store problem), 3 inconclusive (not enough
data; canary: hold). ``dataset`` commands follow the CLI's usual codes (1 for an error).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from glassbox.cli.errors import UsageProblem, fail, one_line, reported
from glassbox.cli.options import JsonOption, StoreOption, open_store
from glassbox.errors import GlassboxError

EXIT_CHECK_FAILED = 1
EXIT_HARNESS = 2
EXIT_INCONCLUSIVE = 3

ProjectOption = Annotated[
    str | None, typer.Option("--project", help="Project of the datasets and runs (default: the configured project).")
]

dataset_app = typer.Typer(
    help="Regression datasets: push, list, export, add from traces.", no_args_is_help=True, rich_markup_mode=None
)
regress_app = typer.Typer(
    help="Run a target on every case of a dataset and check each.", invoke_without_command=True, rich_markup_mode=None
)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _project(project: str | None) -> str:
    """The --project given, else the configured one (glassbox.toml, GLASSBOX_PROJECT), else "default"."""
    if project:
        return project
    from glassbox.config import load_settings

    return load_settings().project


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str, indent=2))


@contextlib.contextmanager
def harness() -> Iterator[None]:
    """Errors of a checking command: one line and exit 2, so CI can tell them from a failed check (1)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (GlassboxError, UsageProblem) as exc:
        fail(exc, EXIT_HARNESS)
    except SQLAlchemyError as exc:
        fail(f"store: {getattr(exc, 'orig', None) or exc}", EXIT_HARNESS)
    except OSError as exc:
        fail(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else exc, EXIT_HARNESS)


# -- datasets --------------------------------------------------------------------------------------
@dataset_app.command("push")
def dataset_push(
    path: Annotated[Path, typer.Argument(help="A .jsonl (or .csv) file of cases.")],
    name: Annotated[str, typer.Option("--name", help="Dataset name (versions are content hashes).")],
    description: Annotated[str | None, typer.Option("--description")] = None,
    project: ProjectOption = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a JSONL/CSV file and store it as a dataset version.

    Every line is checked; unchanged content adds nothing (versions are content hashes).
    """
    from glassbox.evaluation import datasets

    with reported():
        cases = datasets.load_file(path)
        st = open_store(store, must_exist=False)
        try:
            ds, created = datasets.push(
                st, cases, name, project=_project(project), description=description, source=str(path)
            )
        finally:
            st.close()
    info = {**ds.info(), "created": created}
    if as_json:
        _print_json(info)
        return
    what = "stored as" if created else "unchanged: already"
    typer.echo(f"dataset {ds.name}: {len(ds)} cases {what} version {ds.version}")


@dataset_app.command("list")
def dataset_list(
    project: Annotated[str | None, typer.Option("--project")] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every dataset version, newest first per name."""
    from glassbox.evaluation import datasets

    with reported():
        st = open_store(store, must_exist=True)
        try:
            rows = datasets.list_datasets(st, project=project)
        finally:
            st.close()
    if as_json:
        _print_json(rows)
        return
    table = Table("name", "version", "cases", "project", "source", "created")
    for r in rows:
        table.add_row(r["name"], r["version"], str(r["cases"]), r["project"], r["source"] or "", r["created_at"])
    _console().print(table if rows else "no datasets (glassbox dataset push FILE --name NAME)")


@dataset_app.command("export")
def dataset_export(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    version: Annotated[str | None, typer.Option("--version", help="A version (prefix); default the newest.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    project: ProjectOption = None,
    store: StoreOption = None,
) -> None:
    """Write a dataset as JSONL (one sorted-key case a line)."""
    from glassbox.evaluation import datasets
    from glassbox.evaluation.reports import write

    with reported():
        st = open_store(store, must_exist=True)
        try:
            ds = datasets.get(st, name, version, project=_project(project))
        finally:
            st.close()
        text = datasets.to_jsonl(ds.cases)
        if output is None:
            typer.echo(text, nl=False)
        else:
            write(output, text)
            typer.echo(f"wrote {len(ds)} cases of {ds.name}@{ds.version} to {output}", err=True)


@dataset_app.command("add")
def dataset_add(
    name: Annotated[str, typer.Argument(help="Dataset name (created if absent).")],
    from_trace: Annotated[str, typer.Option("--from-trace", help="A stored trace id (or unique prefix).")],
    case_id: Annotated[str | None, typer.Option("--case-id", help="Id of the new case.")] = None,
    project: ProjectOption = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a case made from a stored trace (a new version).

    The case expects what the run did: its input, output, workflow and output fields.
    """
    from glassbox.evaluation import datasets

    with reported():
        st = open_store(store, must_exist=True)
        try:
            ds = datasets.add_from_trace(st, name, from_trace, project=_project(project), case_id=case_id)
        finally:
            st.close()
    if as_json:
        _print_json(ds.info())
        return
    typer.echo(f"dataset {ds.name}: {len(ds)} cases, version {ds.version} (added {ds.cases[-1].id})")


# -- regression runs -------------------------------------------------------------------------------
@regress_app.callback()
def regress(
    ctx: typer.Context,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="A stored dataset name, or a .jsonl/.csv file.")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="module:callable called with each case's input.")
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="Dataset version (prefix); default newest.")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, help="Cases run at once.")] = 4,
    report: Annotated[Path | None, typer.Option("--report", help="Write the JSON report here.")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    max_latency_ms: Annotated[float | None, typer.Option("--max-latency-ms", help="Ceiling for every case.")] = None,
    max_cost_usd: Annotated[float | None, typer.Option("--max-cost-usd", help="Ceiling for every case.")] = None,
    release: Annotated[str | None, typer.Option("--release", help="Release recorded on the case traces.")] = None,
    evaluator: Annotated[
        list[str] | None,
        typer.Option(
            "--evaluator", help="module:attribute of an evaluator (an instance, a class or a factory); repeat for more."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    project: ProjectOption = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a target on every case of a dataset and check each.

    Exit 1 if any case fails, 2 if the harness cannot run (bad input, unimportable target).
    """
    if ctx.invoked_subcommand is not None:
        return
    if not dataset or not target:
        fail("regress needs --dataset and --target (or a subcommand: compare, list, show)", EXIT_HARNESS)
    from glassbox.evaluation import datasets, regress
    from glassbox.evaluation import reports as rep

    with harness():
        regress.resolve_target(target)  # fail before touching the store
        from glassbox.evaluation.online import load_evaluator

        evaluators = [load_evaluator(spec) for spec in evaluator or []]
        st = open_store(store, must_exist=False)
        try:
            if Path(dataset).suffix.lower() in (".jsonl", ".json", ".csv") and Path(dataset).is_file():
                ds = datasets.Dataset(Path(dataset).stem, datasets.load_file(dataset), source=dataset)
            else:
                ds = datasets.get(st, dataset, version, project=_project(project))
            run = regress.run_regression(
                st,
                ds,
                target,
                concurrency=concurrency,
                evaluators=evaluators,
                max_latency_ms=max_latency_ms,
                max_cost_usd=max_cost_usd,
                project=_project(project),
                release=release,
                progress=progress and not as_json,
            )
        finally:
            st.close()
        if report is not None:
            rep.write(report, rep.json_report(run))
        if junit is not None:
            rep.write(junit, rep.junit_xml(run))
    if as_json:
        _print_json(run.to_dict())
    else:
        print_run(_console(), run)
    raise typer.Exit(0 if run.ok else EXIT_CHECK_FAILED)


def print_run(console: Console, run: Any, *, only_failures: bool = False) -> None:
    table = Table("case", "result", "workflow", "ms", "cost $", "why", title=f"regress {run.run_id}")
    for r in run.results:
        if only_failures and r.passed:
            continue
        status = "[red]error[/]" if r.error else ("[green]pass[/]" if r.passed else "[red]fail[/]")
        why = r.error or "; ".join(a.message or a.name for a in r.failures)
        table.add_row(
            r.case_id,
            status,
            r.workflow or "",
            f"{r.duration_ms:.1f}" if r.duration_ms else "",
            f"{r.cost_usd:.4f}" if r.cost_usd else "",
            one_line(why)[:120] if why else "",
        )
    console.print(table)
    s = run.summary()
    console.print(
        f"{run.dataset_name}@{run.dataset_version} via {run.target}: "
        f"{s['passed']} passed, {s['failed']} failed, {s['errors']} errors "
        f"(run {run.run_id})",
        markup=False,
    )


@regress_app.command("compare")
def regress_compare(
    run_a: Annotated[str, typer.Argument(help="The earlier run id.")],
    run_b: Annotated[str, typer.Argument(help="The later run id.")],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """What got better or worse from RUN_A to RUN_B.

    Case by case; exit 1 if any case regressed.
    """
    from glassbox.evaluation import regress

    with harness():
        st = open_store(store, must_exist=True)
        try:
            diff = regress.compare_runs(regress.load_run(st, run_a), regress.load_run(st, run_b))
        finally:
            st.close()
    if as_json:
        _print_json(diff)
    else:
        table = Table("case", "change", "a", "b", "Δ ms", "new failures", title=f"{diff['a']} → {diff['b']}")
        for c in diff["cases"]:
            colour = {"regressed": "red", "fixed": "green"}.get(c["change"], "")
            change = f"[{colour}]{c['change']}[/]" if colour else c["change"]
            dm = c.get("duration_delta_ms")
            table.add_row(
                c["case_id"],
                change,
                (c["a"] or {}).get("status", "—"),
                (c["b"] or {}).get("status", "—"),
                f"{dm:+.1f}" if dm is not None else "",
                ", ".join(c.get("new_failures") or []),
            )
        console = _console()
        console.print(table)
        n = diff["counts"]
        console.print(
            f"{n['fixed']} fixed, {n['regressed']} regressed, {n['still_failing']} still failing, "
            f"{n['still_passing']} still passing, {n['added']} added, {n['removed']} removed"
        )
    raise typer.Exit(EXIT_CHECK_FAILED if diff["counts"]["regressed"] else 0)


@regress_app.command("list")
def regress_list(
    dataset: Annotated[str | None, typer.Option("--dataset")] = None,
    project: Annotated[str | None, typer.Option("--project")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 20,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stored regression runs, newest first."""
    from glassbox.evaluation import regress

    with harness():
        st = open_store(store, must_exist=True)
        try:
            rows = regress.list_runs(st, project=project, dataset=dataset, limit=limit)
        finally:
            st.close()
    if as_json:
        _print_json(rows)
        return
    table = Table("run", "dataset", "version", "status", "passed", "failed", "errors", "started")
    for r in rows:
        table.add_row(
            r["run_id"],
            r["dataset"] or "",
            r["version"] or "",
            r["status"],
            str(r["passed"]),
            str(r["failed"]),
            str(r["errors"]),
            r["started_at"] or "",
        )
    _console().print(table)


@regress_app.command("show")
def regress_show(
    run_id: Annotated[str, typer.Argument()], store: StoreOption = None, as_json: JsonOption = False
) -> None:
    """One stored run, case by case."""
    from glassbox.evaluation import regress

    with harness():
        st = open_store(store, must_exist=True)
        try:
            run = regress.load_run(st, run_id)
        finally:
            st.close()
    if as_json:
        _print_json(run.to_dict())
    else:
        print_run(_console(), run)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(regress_app, name="regress")
    from glassbox.cli import release_cmds

    release_cmds.register(app)
