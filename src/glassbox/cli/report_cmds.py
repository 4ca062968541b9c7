"""``glassbox report cost|quality|weekly|experiment`` and ``glassbox reports`` (the reports written so far)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from glassbox.cli.errors import UsageProblem, reported
from glassbox.cli.options import JsonOption, StoreOption, open_store

KINDS = ("cost", "quality", "weekly", "experiment")


DaysOption = Annotated[float | None, typer.Option("--days", help="The last N days (default 7).", show_default=False)]
OutputOption = Annotated[
    str | None, typer.Option("--output", help="Write the file into this folder and print its path (default: print it).")
]
BaseUrlOption = Annotated[
    str, typer.Option("--base-url", help="Prefix of run links, e.g. http://127.0.0.1:7433 (default: relative links).")
]


def report(
    kind: Annotated[str, typer.Argument(metavar="KIND", help="cost, quality, weekly or experiment.")],
    days: DaysOption = None,
    since: Annotated[str | None, typer.Option("--since", help="Start: 2026-11-01, 2026-11-01T08:00 or 14d.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="End (default: now).")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Only this project's runs.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md (Markdown), html (self-contained) or json.")] = "md",
    output: OutputOption = None,
    experiment: Annotated[str | None, typer.Option("--experiment", help="The experiment (KIND experiment).")] = None,
    base_url: BaseUrlOption = "",
    store: StoreOption = None,
) -> None:
    """Write a cost, quality, weekly or experiment report.

    Figures with period-over-period deltas, and the recommendations the rules found.

    Every number comes from the query API (the same figures as `glassbox summary`, `costs`, the dashboard).
    """
    with reported():
        if kind not in KINDS:
            raise UsageProblem(f"report kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        if fmt not in ("md", "html", "json"):
            raise UsageProblem(f"--format: expected md, html or json, got {fmt!r}")
        if days is not None and (since is not None or until is not None):
            raise UsageProblem("give --days or --since/--until, not both")
        from glassbox.errors import QueryError

        with open_store(store, must_exist=True) as st:
            try:
                if kind == "experiment":
                    body, path = _experiment(st, experiment, fmt, output)
                else:
                    from glassbox.analysis.query import Query
                    from glassbox.reports import archive
                    from glassbox.reports.build import build
                    from glassbox.reports.period import period

                    rep = build(kind, Query(st), period(days, since, until), project=project)
                    if output is None:
                        body, path = archive.render(rep, fmt, base_url), None
                    else:
                        body, path = None, archive.write(rep, fmt, output, store=st, base_url=base_url)
            except QueryError as exc:
                raise UsageProblem(str(exc)) from None
        if path is not None:
            typer.echo(str(path))
        else:
            typer.echo(body, nl=not (body or "").endswith("\n"))


def _experiment(st: object, name: str | None, fmt: str, output: str | None) -> tuple[str | None, object]:
    if not name:
        raise UsageProblem("an experiment report needs --experiment NAME (see `glassbox exp list`)")
    try:
        from glassbox.experiments.report import experiment_report
    except ImportError as exc:
        raise UsageProblem(f"experiment reports are not available in this install: {exc}") from None
    body = experiment_report(st, name, fmt)  # type: ignore[arg-type]
    if output is None:
        return body, None
    from pathlib import Path

    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    path = folder / f"experiment_report_{safe}.{fmt}"
    path.write_text(body, encoding="utf-8")
    return None, path


def reports(
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind of report.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")] = 20,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """List the reports written so far.

    Written by `report --output` and by `glassbox serve`'s schedule."""
    from rich.console import Console
    from rich.table import Table

    from glassbox.reports.archive import listed

    with reported(), open_store(store, must_exist=True) as st:
        rows = listed(st, kind=kind, limit=limit)
        if as_json:
            typer.echo(json.dumps([r.to_dict() for r in rows]))
            return
        if not rows:
            typer.echo("no reports yet (glassbox report weekly --output reports/)")
            return
        table = Table("Id", "Kind", "Period", "Format", "Runs", "Path", show_edge=False)
        for r in rows:
            table.add_row(
                r.id[:12],
                r.kind,
                f"{r.since:%Y-%m-%d} to {r.until:%Y-%m-%d}",
                r.format,
                str((r.summary or {}).get("runs", "")),
                r.path,
            )
        Console(highlight=False).print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("report")(report)
    app.command("reports")(reports)
