"""``glassbox costs``: what the runs of the last days cost, by model, workflow, stage or day."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from glassbox.cli import formats as fmt
from glassbox.cli.errors import UsageProblem, reported
from glassbox.cli.options import JsonOption, StoreOption, open_store

if TYPE_CHECKING:
    from glassbox.analysis.costs import CostReport

_COUNT_LABEL = {"model": "Calls", "stage": "Calls", "workflow": "Runs", "day": "Runs"}


def _pct(share: float | None) -> str:
    return fmt.DASH if share is None else f"{100 * share:.1f}%"


def render_report(r: CostReport) -> Group:
    head = Text.assemble(
        ("Costs ", "bold"),
        f"{r.since:%Y-%m-%d %H:%M} → {r.until:%Y-%m-%d %H:%M} UTC",
        f" · project {r.project}" if r.project else "",
    )
    lines = [
        head,
        Text(
            f"Total {fmt.cost(r.cost_usd)} over {r.runs} runs · avg {fmt.cost(r.avg_cost_per_run)} · "
            f"min {fmt.cost(r.min_run_cost)} · max {fmt.cost(r.max_run_cost)} · "
            f"tokens {r.tokens_in:,} in / {r.tokens_out:,} out"
        ),
    ]
    if r.sources:
        lines.append(Text("Sources: " + ", ".join(f"{k} {v}" for k, v in sorted(r.sources.items())), style="dim"))
    if r.unpriced_calls:
        lines.append(
            Text(
                f"{r.unpriced_calls} LLM calls had no price and are not in the totals (+N? below; "
                "add a [prices] override for their model)",
                style="yellow",
            )
        )
    if r.trend_pct is not None:
        arrow = "up" if r.trend_pct > 0 else "down" if r.trend_pct < 0 else "flat"
        lines.append(
            Text(
                f"Trend: average cost per run {arrow} {abs(r.trend_pct):.1f}% (second half of the window vs the first)"
            )
        )
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(r.by.capitalize(), overflow="ellipsis", no_wrap=True)
    for name in (_COUNT_LABEL[r.by], "Cost", "Share", "Avg", "Min-max", "Tokens in/out"):
        table.add_column(name, justify="right", no_wrap=True)  # figures never wrap: a long key is cut instead
    for g in r.groups:
        cost = Text(fmt.cost(g.cost_usd) if g.avg_cost_usd is not None else fmt.DASH)
        if g.unpriced:
            cost.append(f" +{g.unpriced}?", style="yellow")  # calls with tokens but no price
        spread = fmt.DASH if g.min_cost_usd is None else f"{fmt.cost(g.min_cost_usd)}-{fmt.cost(g.max_cost_usd)}"
        table.add_row(
            g.key or fmt.DASH,
            f"{g.count:,}",
            cost,
            _pct(g.share),
            fmt.cost(g.avg_cost_usd),
            spread,
            f"{g.tokens_in:,}/{g.tokens_out:,}",
        )
    return Group(*lines, Text(""), table)


def costs(
    days: Annotated[float, typer.Option("--days", help="The window: runs started in the last N days (UTC).")] = 7,
    by: Annotated[str, typer.Option("--by", help="Group by model, workflow, stage or day.")] = "model",
    project: Annotated[str | None, typer.Option("--project", help="Only this project.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many groups.")] = 50,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """What LLM calls cost: totals, groups and the trend.

    Totals, averages, min/max and the trend of what LLM calls cost."""
    from glassbox.analysis.costs import GROUPINGS, cost_report

    with reported():
        if by not in GROUPINGS:
            raise UsageProblem(f"--by: expected one of {', '.join(GROUPINGS)}, got {by!r}")
        if not days > 0:
            raise UsageProblem(f"--days: expected a positive number of days, got {days:g}")
        with open_store(store, must_exist=True) as st:
            report = cost_report(st, days=days, by=by, project=project, limit=limit)
        if as_json:
            typer.echo(json.dumps(report.to_dict()))
            return
        console = Console(highlight=False, soft_wrap=False)
        if not report.runs:
            console.print(Text(f"no runs in the last {days:g} days (try --days 30, or `glassbox demo`)"))
            return
        console.print(render_report(report))
