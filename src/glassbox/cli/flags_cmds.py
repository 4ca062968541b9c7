"""``glassbox review`` and the alert rendering of ``glassbox alerts`` (its old name ``flags``: monitoring_cmds)
(notes on a run, set or clear its flagged-for-review mark). Rendering only: the store's alert
helpers and ``Store.set_review`` do the work."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.text import Text

from glassbox.cli import formats as fmt
from glassbox.cli.errors import UsageProblem, reported
from glassbox.cli.options import JsonOption, StoreOption, open_store

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str))


def render_flags(items: list[Any]) -> Group:
    """Two lines a flag (it reads in a narrow terminal): id, time, severity, rule; then the message and its run."""
    lines: list[Text] = []
    for a in items:
        head = Text.assemble(
            (a.id, "dim" if a.acknowledged else "bold cyan"),
            "  ",
            fmt.started(a.to_dict().get("at"))[:16],
            "  ",
            (a.severity, _SEVERITY_STYLE.get(a.severity, "")),
            "  ",
            (a.rule, "bold"),
        )
        if a.count > 1:
            head.append(f"  x{a.count} since {fmt.started(a.to_dict().get('first_seen'))[:16]}", style="dim")
        if a.state != "firing" or a.acknowledged:
            head.append(f"  {a.state if a.state != 'firing' else 'acknowledged'}", style="dim")
        if a.source != "calibration":
            head.append(f"  [{a.source}]", style="dim")
        body = Text("    ")
        body.append(fmt.preview(" ".join(a.message.split()), 500))  # model output may be hostile: plain Text
        where = [f"run {a.trace_id[:12]}"] if a.trace_id else []
        where += [f"project {a.project}"] if a.project else []
        if where:
            body.append(f"  ({', '.join(where)})", style="dim")
        lines += [head, body]
    return Group(*lines)


def review(
    trace_id: Annotated[str, typer.Argument(metavar="TRACE_ID", help="The run (id or unique prefix).")],
    notes: Annotated[str | None, typer.Option("--notes", help="Review notes to store on the run.")] = None,
    unflag: Annotated[bool, typer.Option("--unflag", help="Clear the run's flagged-for-review mark.")] = False,
    flag: Annotated[bool, typer.Option("--flag", help="Flag the run for review.")] = False,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Record review notes on a run and its review mark.

    Record review notes on a run and set or clear its flagged-for-review mark."""
    with reported():
        if flag and unflag:
            raise UsageProblem("--flag and --unflag contradict each other")
        if notes is None and not flag and not unflag:
            raise UsageProblem("nothing to do: give --notes, --flag or --unflag")
        with open_store(store, must_exist=True) as st:
            full_id = st.get_trace(trace_id.strip().lower()).trace_id
            st.set_review(full_id, flagged=True if flag else (False if unflag else None), notes=notes)
            t = st.get_trace(full_id)
        result = {"trace_id": t.trace_id, "flagged_for_review": t.flagged_for_review, "review_notes": t.review_notes}
        if as_json:
            _echo_json(result)
            return
        state = "flagged for review" if t.flagged_for_review else "not flagged"
        typer.echo(
            f"{t.trace_id}: {state}" + (f"; notes: {' '.join(t.review_notes.split())}" if t.review_notes else "")
        )


def register(app: typer.Typer) -> None:
    # `glassbox flags` is now `glassbox alerts` (monitoring_cmds registers both names).
    app.command("review")(review)
