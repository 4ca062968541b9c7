"""The ``glassbox`` command: demo, traces, show, import, db upgrade / db info."""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from glassbox.cli import render
from glassbox.cli.errors import EXIT_FAILURE, EXIT_USAGE, UsageProblem, one_line, reported, warn
from glassbox.cli.options import JsonOption, StoreOption, open_store, store_url
from glassbox.errors import StoreError

app = typer.Typer(
    name="glassbox",
    help="See why your AI pipeline did what it did: traces, decisions, costs and scores.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
db_app = typer.Typer(help="The store: migrations and facts.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")

MAX_SKIPS_SHOWN = 50
DEMO_ROWS = 25  # the demo's table shows at most this many runs


def _console() -> Console:
    # Created per command: the streams may have been swapped (tests, pipes).
    return Console(highlight=False, soft_wrap=False)


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str))


def _reason(exc: BaseException) -> str:
    """The driver's message of a database error (first line), without SQLAlchemy's wrapping."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _version(value: bool) -> None:
    if value:
        from glassbox import __version__

        typer.echo(f"glassbox {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """See why your AI pipeline did what it did: traces, decisions, costs and scores."""


# -- demo -----------------------------------------------------------------------------------
@app.command()
def demo(
    runs: Annotated[
        int, typer.Option("--runs", min=1, max=1000, help="How many pipeline runs to record (over the last 14 days).")
    ] = 36,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the example data (same seed, same runs).")] = 7,
    store: StoreOption = None,
    trail_dir: Annotated[
        str | None, typer.Option("--trail-dir", help="Folder of the JSONL audit trail (default: configured).")
    ] = None,
) -> None:
    """Record a seeded example pipeline, then show it.

    Record a seeded example pipeline with the real SDK, then show the runs and a scorecard."""
    from glassbox.demo import run_demo

    console = _console()
    with reported():
        quiet = logging.getLogger("glassbox")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # the demo prints its flags itself, below the runs
        try:
            with console.status("recording demo runs…"):
                result = run_demo(runs, seed, store=store, trail_dir=trail_dir)
        finally:
            quiet.setLevel(level)
        for problem in result.sink_errors:
            warn(f"some traces were not written to the {problem}")
        summaries = [render.summary_of(t) for t in reversed(result.traces)]
        title = f"demo: {runs} runs (seed {seed})" + (f", newest {DEMO_ROWS}" if runs > DEMO_ROWS else "")
        console.print(render.runs_table(summaries[:DEMO_ROWS], title=title, width=console.width))
        console.print()
        scored = [t for t in result.traces if t.status == "complete" and t.quality_score is not None]
        shown = scored[-1] if scored else result.traces[-1]
        console.print(
            Text("The newest complete run's scorecard (its quality gate, cost and evidence):", style="dim")
            if scored
            else Text("The newest run's scorecard:", style="dim")
        )
        console.print(render.scorecard(shown))
        console.print(Text(render.SCORECARD_LEGEND, style="dim"))
        where = " and ".join(x for x in (result.store, result.trail_dir and f"{result.trail_dir}/") if x) or (
            "nowhere: both the store and the trail are turned off"
        )
        failed = len(result.failed)
        if result.flags:
            console.print(Text(render.FLAGS_LEGEND, style="dim"))
        for flag in result.flags[:5]:
            console.print(
                Text.assemble(
                    ("[CALIBRATION] ", "bold yellow"), flag.message, (f"  (trace {flag.trace_id[:12]})", "dim")
                )
            )
        if len(result.flags) > 5:
            console.print(Text(f"… and {len(result.flags) - 5} more calibration alerts", style="dim"))
        console.print(
            Text(
                f"Recorded {len(result.traces)} runs ({failed} failed, {len(result.flags)} calibration "
                f"alert{'s' if len(result.flags) != 1 else ''}) into {where}."
            )
        )
        suffix = f" --store {shlex.quote(store)}" if store else ""
        pick = result.failed[0] if result.failed else shown
        why = "why a run failed" if result.failed else "one run in full"
        show_cmd = f"glassbox show {pick.trace_id[:12]} --verbose{suffix}"
        list_cmd = f"glassbox traces{suffix}"
        pad = max(len(show_cmd), len(list_cmd)) + 2
        console.print(Text.assemble("Next:  ", (list_cmd.ljust(pad), "bold"), "list the runs"))
        console.print(Text.assemble("       ", (show_cmd.ljust(pad), "bold"), why))
        if result.flags:
            console.print(
                Text.assemble(
                    "       ", (f"glassbox alerts{suffix}".ljust(pad), "bold"), "patterns the calibration rules spotted"
                )
            )
        _demo_sections(result, console, store or result.store)  # sections write beside the demo's runs
        serve_cmd = f"glassbox serve{suffix}"
        console.print(Text.assemble("Dashboard: ", (serve_cmd, "bold"), " then open http://127.0.0.1:7433/runs"))


# Each feature adds a short section to the demo's output: ``module:function(result, console, store)``.
DEMO_SECTIONS = (
    "glassbox.evaluation.demo:section",
    "glassbox.experiments.demo:section",
    "glassbox.monitoring.demo:section",
    "glassbox.monitoring.drift_demo:section",
    "glassbox.reports.demo:section",
)


def _demo_sections(result: Any, console: Console, store: str | None) -> None:
    import importlib

    from glassbox.extras import missing_extra

    for spec in DEMO_SECTIONS:
        module, _, func = spec.partition(":")
        try:
            section = getattr(importlib.import_module(module), func)
            section(result, console, store)
        except ImportError as exc:  # that feature's extra is not installed (or the feature is not in this build)
            polite = missing_extra(exc)
            if polite is not None:
                console.print(f"[dim]({module.rsplit('.', 1)[-1]} section skipped: {polite})[/dim]", highlight=False)
            elif not isinstance(exc, ModuleNotFoundError):
                warn(f"demo section {module} failed: {one_line(exc)}")
        except Exception as exc:  # noqa: BLE001 - one section failing must not hide the others
            warn(f"demo section {module} failed: {one_line(exc)}")


# -- show ---------------------------------------------------------------------------------------
@app.command()
def show(
    trace_id: Annotated[
        str, typer.Argument(metavar="TRACE_ID", help="Trace id, or a unique prefix of at least 4 characters.")
    ],
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Every stage, decision, score, piece of evidence and error.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole trace document (as in the trail).")] = False,
    store: StoreOption = None,
) -> None:
    """Show one trace: scorecard, breakdown or JSON.

    Show one trace: the compact scorecard, the verbose breakdown, or its JSON document."""
    with reported():
        with open_store(store, must_exist=True) as st:
            trace = st.get_trace(trace_id.strip().lower())
        if as_json:
            typer.echo(json.dumps(trace.to_dict()))
            return
        console = _console()
        console.print(render.detail(trace) if verbose else render.scorecard(trace))
        from glassbox.cli.nodes import node_table

        nodes = node_table(trace, limit=1000 if verbose else 25)
        if nodes is not None:
            console.print()
            console.print(nodes)


# -- import ---------------------------------------------------------------------------------------
@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Trail files (*.jsonl) or folders of them.")],
    store: StoreOption = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Traces per transaction.")] = 500,
) -> None:
    """Import audit-trail files into the store.

    Idempotent: traces are upserted by id, so importing a file twice changes nothing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from glassbox.store.importer import count_lines, import_trails
    from glassbox.store.trail import trail_files

    with reported():
        try:
            files = trail_files(paths)
        except FileNotFoundError as exc:
            raise UsageProblem(str(exc)) from None
        totals = {f: count_lines(f) for f in files}
        before = {}
        running = 0
        for f in files:
            before[f] = running
            running += totals[f]
        shown = 0

        def on_skip(message: str) -> None:
            nonlocal shown
            shown += 1
            if shown <= MAX_SKIPS_SHOWN:
                typer.echo(f"skipped {message}", err=True)

        err_console = Console(stderr=True, highlight=False)
        progress = Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("lines"),
            TimeRemainingColumn(),
            console=err_console,
            disable=not err_console.is_terminal,
            transient=True,
        )
        task = progress.add_task("import", total=running)
        with open_store(store, must_exist=False) as st, progress:
            report = import_trails(
                st,
                files,
                batch_size=batch_size,
                on_skip=on_skip,
                on_progress=lambda f, line: progress.update(task, completed=before[f] + line),
            )
        if shown > MAX_SKIPS_SHOWN:
            typer.echo(f"… and {shown - MAX_SKIPS_SHOWN} more skipped lines", err=True)
        n, m, k = report.imported, report.files, len(report.skipped)
        typer.echo(
            f"imported {n} trace{'s' if n != 1 else ''} from {m} file{'s' if m != 1 else ''} "
            f"({k} line{'s' if k != 1 else ''} skipped)"
        )
        if n == 0 and k > 0:
            raise typer.Exit(EXIT_FAILURE)


# -- db -------------------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(store: StoreOption = None) -> None:
    """Apply the store's migrations up to the newest revision."""
    from sqlalchemy.exc import SQLAlchemyError

    from glassbox.store import database
    from glassbox.store.store import Store

    with reported():
        url = store_url(store)
        with Store(url, migrate=False) as st:
            try:
                before = database.current_revision(st.engine)
                after = database.upgrade(st.engine)
            except SQLAlchemyError as exc:
                raise StoreError(f"cannot upgrade {database.safe_url(url)}: {one_line(_reason(exc))}") from None
        safe = database.safe_url(url)
        if before == after:
            typer.echo(f"{safe} is up to date (revision {after})")
        else:
            typer.echo(f"upgraded {safe} from revision {before or 'none'} to {after}")


@db_app.command("info")
def db_info(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Show the store's URL, backend, migration revision and row counts."""
    from sqlalchemy.exc import SQLAlchemyError

    from glassbox.store.database import safe_url

    with reported():
        with open_store(store, must_exist=True, migrate=False) as st:  # looking must not migrate
            try:
                info = st.info()
            except SQLAlchemyError as exc:
                raise StoreError(f"cannot read {safe_url(st.url)}: {one_line(_reason(exc))}") from None
        if as_json:
            _print_json(info)
        else:
            _console().print(render.info_table(info))


def _register() -> None:
    """Commands that live in their own modules."""
    from glassbox.cli import data_cmds, flags_cmds, query_cmds, server_cmds
    from glassbox.cli.costs_cmd import costs

    query_cmds.register(app)
    flags_cmds.register(app)
    data_cmds.register(app)
    server_cmds.register(app)
    app.command()(costs)
    # The wave's features: one module each, registering its own commands (see docs/architecture.md).
    import importlib

    for name in FEATURE_CLI:
        importlib.import_module(f"glassbox.cli.{name}").register(app)


FEATURE_CLI = ("evaluation_cmds", "experiment_cmds", "monitoring_cmds", "drift_cmds", "report_cmds")


_register()


def _narrowed(argv: list[str]) -> typer.Typer:
    """The app with only the command ``argv`` names, when it names one.

    Typer turns every command into a Click command on each start (about 7 ms each, 0.5 s for all);
    a process runs one, so ``glassbox gate`` builds ``gate`` alone. Anything else (no command, an
    option first, a typo that wants "did you mean") gets the whole app.
    """
    from typer.main import get_command_name

    if not argv or argv[0].startswith("-"):
        return app
    commands = [c for c in app.registered_commands if (c.name or get_command_name(c.callback.__name__)) == argv[0]]
    groups = [g for g in app.registered_groups if (g.name or g.typer_instance.info.name) == argv[0]]
    if not commands and not groups:
        return app
    narrow = typer.Typer()
    narrow.__dict__.update(vars(app))  # same settings, info and root callback
    narrow.registered_commands, narrow.registered_groups = commands, groups
    return narrow


def main() -> None:
    """Console-script entry point."""
    try:
        _narrowed(sys.argv[1:])(prog_name="glassbox")
    except ModuleNotFoundError as exc:  # a command outside `reported()` needs an extra that is not installed
        from glassbox.extras import missing_extra

        polite = missing_extra(exc)
        if polite is None:
            raise
        typer.echo(f"error: {polite}", err=True)
        sys.exit(EXIT_USAGE)
    except BrokenPipeError:  # `glassbox traces --json | head`: the reader left, nothing to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        sys.exit(EXIT_FAILURE)


__all__ = ["app", "main"]
