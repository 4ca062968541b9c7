"""Commands over the query API: traces, summary, compare, failures, latency, decisions, principles
(flags and review live in ``flags_cmds``). Each takes the same trace filters and ``--json``;
rendering only, the answers come from ``glassbox.analysis.query``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from glassbox.cli import formats as fmt
from glassbox.cli import render
from glassbox.cli.errors import UsageProblem, reported
from glassbox.cli.options import JsonOption, StoreOption, open_store, with_filters
from glassbox.errors import QueryError
from glassbox.model import GAP_RATIO


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str))


@contextmanager
def _query(store: str | None) -> Iterator[Any]:
    from glassbox.analysis.query import Query

    with open_store(store, must_exist=True) as st:
        try:
            yield Query(st)
        except QueryError as exc:
            raise UsageProblem(str(exc)) from None


def _table(*headers: str, right: tuple[str, ...] = ()) -> Table:
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    for h in headers:  # figures never wrap; names and messages do
        table.add_column(h, justify="right" if h in right else "left", no_wrap=h in right or h in ("Id", "Trace"))
    return table


def _pct(value: float | None) -> str:
    return fmt.DASH if value is None else f"{100 * value:.0f}%"


def _ms(value: float | None) -> str:
    return fmt.duration(value)


# -- traces -----------------------------------------------------------------------------------
@with_filters
def traces(
    filters: dict[str, Any],
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many runs.")] = 50,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Continue after a previous page (see --json).")] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """List runs, newest first, with every filter.

    List run summaries, newest first, with every filter of the query API."""
    with reported(), _query(store) as q:
        page = q.traces(limit=limit, cursor=cursor, **filters)
        if as_json:
            _json(page.items)
            if page.next_cursor:
                typer.echo(f"next page: --cursor {page.next_cursor}", err=True)
            return
        console = _console()
        if not page.items:
            console.print(Text("no traces match (try fewer filters, or `glassbox demo` to record some)"))
            return
        console.print(render.runs_table(page.items, width=console.width))
        more = f"; next page: --cursor {page.next_cursor}" if page.next_cursor else ""
        console.print(
            Text(
                f"{len(page.items)} run{'s' if len(page.items) != 1 else ''}; details: glassbox show "
                f"<trace> [--verbose]{more}",
                style="dim",
            )
        )


# -- summary ----------------------------------------------------------------------------------
@with_filters
def summary(filters: dict[str, Any], as_json: JsonOption = False, store: StoreOption = None) -> None:
    """Runs, success rate, latency, cost and quality.

    Runs, success rate, latency percentiles, cost and quality of the matching runs."""
    with reported(), _query(store) as q:
        s = q.summary(**filters)
        if as_json:
            _json(s)
            return
        console = _console()
        console.print(
            Text.assemble(
                ("Runs ", "bold"),
                f"{s['runs']:,}  ",
                ("complete ", "dim"),
                f"{s['complete']:,}  ",
                ("failed ", "dim"),
                f"{s['failed']:,}  ",
                ("success ", "dim"),
                _pct(s["success_rate"]),
            )
        )
        console.print(
            Text(
                f"Duration  avg {_ms(s['avg_duration_ms'])}  p50 {_ms(s['p50_duration_ms'])}  "
                f"p95 {_ms(s['p95_duration_ms'])}  p99 {_ms(s['p99_duration_ms'])}"
            )
        )
        console.print(
            Text(
                f"Cost      total {fmt.cost(s['total_cost_usd'])}  avg {fmt.cost(s['avg_cost_usd'])}  "
                f"tokens {s['tokens_in']:,} in / {s['tokens_out']:,} out"
            )
        )
        console.print(
            Text(
                f"Quality   avg {fmt.number(s['avg_quality'])}  pass rate {_pct(s['pass_rate'])}  "
                f"flagged {s['flagged']}"
            )
        )


# -- compare ----------------------------------------------------------------------------------
def compare(
    a: Annotated[str, typer.Argument(metavar="A", help="The first run (id or unique prefix).")],
    b: Annotated[str, typer.Argument(metavar="B", help="The run to compare it with.")],
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Two runs side by side: what changed from A to B.

    Two runs side by side: quality, cost and duration deltas (B minus A), stages, decisions, gaps."""
    with reported(), _query(store) as q:
        c = q.compare(a.strip().lower(), b.strip().lower())
        if as_json:
            _json(c)
            return
        console = _console()

        def signed(v: float | None, f: Callable[[float], str]) -> str:
            return fmt.DASH if v is None else ("+" if v > 0 else "-" if v < 0 else "±") + f(abs(v))

        console.print(
            Text.assemble(
                ("A ", "bold"),
                (c["a"]["trace_id"], "cyan"),
                f"  {c['a']['status']}  ",
                ("B ", "bold"),
                (c["b"]["trace_id"], "cyan"),
                f"  {c['b']['status']}",
            )
        )
        console.print(
            Text(
                f"quality {signed(c['quality_delta'], fmt.number)}   "
                f"cost {signed(c['cost_delta'], fmt.cost)}   "
                f"duration {signed(c['duration_delta_ms'], fmt.duration)}"
            )
        )
        if c["gaps_a_only"] or c["gaps_b_only"]:
            console.print(
                Text(
                    f"gaps only in A: {', '.join(c['gaps_a_only']) or '—'}   "
                    f"only in B: {', '.join(c['gaps_b_only']) or '—'}",
                    style="yellow",
                )
            )
        table = _table("Stage", "In", "A", "B", "Δ", "Status A→B", right=("A", "B", "Δ"))
        for s in c["stages"]:
            status = f"{s['a_status'] or '—'} → {s['b_status'] or '—'}"
            table.add_row(
                s["stage"],
                s["in"],
                _ms(s["a_ms"]),
                _ms(s["b_ms"]),
                signed(s["delta_ms"], fmt.duration),
                Text(status, style="bold red" if s["status_changed"] else ""),
            )
        console.print(table)
        for d in c["decisions_differ"]:
            console.print(
                Text(
                    f"decision at {d['stage'] or '(trace)'}: A {', '.join(d['a']) or '—'}  |  "
                    f"B {', '.join(d['b']) or '—'}"
                )
            )


# -- failures, latency, decisions, principles ----------------------------------------------------
@with_filters
def failures(
    filters: dict[str, Any],
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many stages.")] = 20,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """The stages that failed most, with their errors.

    The stages that failed most, with their error types and an example run."""
    with reported(), _query(store) as q:
        rows = q.failed_stages(limit=limit, **filters)
        if as_json:
            _json(rows)
            return
        if not rows:
            _console().print(Text("no failed stages among the matching runs"))
            return
        table = _table("Stage", "Failures", "Runs", "Rate", "Last", "Error types", right=("Failures", "Runs", "Rate"))
        for r in rows:
            kinds = ", ".join(f"{e['type']} x{e['count']} (e.g. {e['example_trace_id'][:12]})" for e in r["errors"])
            table.add_row(
                r["stage"],
                str(r["failures"]),
                str(r["runs"]),
                _pct(r["failure_rate"]),
                fmt.started(r["last_failed_at"])[:16],
                kinds,
            )
        _console().print(table)


@with_filters
def latency(
    filters: dict[str, Any],
    by: Annotated[str, typer.Option("--by", help="workflow, stage or model.")] = "workflow",
    percentiles: Annotated[str, typer.Option("--percentiles", help="Comma-separated, 0-100.")] = "50,95,99",
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Duration percentiles by workflow, stage or model.

    Duration percentiles per workflow, stage or model, slowest first."""
    with reported(), _query(store) as q:
        try:
            ps = [float(p) for p in percentiles.split(",") if p.strip()]
        except ValueError:
            raise UsageProblem(f"--percentiles: expected numbers like 50,95,99, got {percentiles!r}") from None
        rows = q.latency(by=by, percentiles=ps, **filters)
        if as_json:
            _json(rows)
            return
        if not rows:
            _console().print(Text("no durations among the matching runs"))
            return
        heads = [f"p{p:g}" for p in ps]
        table = _table(by.capitalize(), "Count", "Avg", *heads, "Max", right=("Count", "Avg", *heads, "Max"))
        for r in rows:
            table.add_row(
                str(r[by]), f"{r['count']:,}", _ms(r["avg_ms"]), *[_ms(r[f"p{p:g}_ms"]) for p in ps], _ms(r["max_ms"])
            )
        _console().print(table)


@with_filters
def decisions(
    filters: dict[str, Any],
    min_runs: Annotated[int, typer.Option("--min-runs", min=1, help="Only decisions taken in this many runs.")] = 1,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Which decisions precede failures and weak answers.

    Each decision with the failure and low-quality rates of the runs that took it vs the rest."""
    with reported(), _query(store) as q:
        rows = q.decisions(min_runs=min_runs, **filters)
        if as_json:
            _json(rows)
            return
        if not rows:
            _console().print(Text("no decisions among the matching runs"))
            return
        table = _table(
            "Decision",
            "Stage",
            "Runs",
            "Conf",
            "Failed",
            "vs rest",
            "Low quality",
            "vs rest",
            right=("Runs", "Conf", "Failed", "vs rest", "Low quality"),
        )
        for r in rows:
            worse = (r["low_quality_lift"] or 0) > 0.2 or (r["failure_lift"] or 0) > 0.2
            table.add_row(
                Text(r["what"], style="yellow" if worse else ""),
                r["stage"] or "",
                str(r["runs"]),
                fmt.number(r["avg_confidence"]),
                _pct(r["failure_rate"]),
                _pct(r["failure_rate_without"]),
                _pct(r["low_quality_rate"]),
                _pct(r["low_quality_rate_without"]),
            )
        _console().print(table)


@with_filters
def principles(
    filters: dict[str, Any],
    min_runs: Annotated[int, typer.Option("--min-runs", min=1, help="Only principles scored in this many runs.")] = 3,
    threshold: Annotated[
        float, typer.Option("--threshold", min=0, max=1, help="A dimension fails below this share of its maximum.")
    ] = GAP_RATIO,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Which score dimensions fail most.

    Which score dimensions fail most, overall and per intent and domain."""
    with reported(), _query(store) as q:
        p = q.principle_patterns(min_runs=min_runs, threshold=threshold, **filters)
        if as_json:
            _json(p)
            return
        console = _console()
        if not p["overall"]:
            console.print(Text(f"no score dimensions in {min_runs}+ matching runs"))
            return
        for title, key in (("Overall", None), ("By intent", "intent"), ("By domain", "domain")):
            rows = p["overall" if key is None else f"by_{key}"][:15]
            if not rows:
                continue
            heads = ([key.capitalize()] if key else []) + ["Principle", "Failed", "Runs", "Rate", "Avg"]
            table = _table(*heads, right=("Failed", "Runs", "Rate", "Avg"))
            table.title, table.title_justify = title, "left"
            for r in rows:
                table.add_row(
                    *([str(r[key])] if key else []),
                    r["principle"],
                    str(r["fail_count"]),
                    str(r["runs"]),
                    _pct(r["fail_rate"]),
                    fmt.number(r["avg"]),
                )
            console.print(table)


def register(app: typer.Typer) -> None:
    for fn in (traces, summary, compare, failures, latency, decisions, principles):
        app.command(fn.__name__)(fn)
