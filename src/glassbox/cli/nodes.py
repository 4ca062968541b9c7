"""The per-node performance and cost breakdown of one run, for ``glassbox show``."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from glassbox.analysis.nodes import node_rows
from glassbox.cli import formats as fmt
from glassbox.model import Span, Trace


def _tokens(span_row: dict[str, Any]) -> str:
    tin, tout = span_row["tokens_in"], span_row["tokens_out"]
    if tin is None and tout is None:
        return fmt.DASH
    return f"{'?' if tin is None else f'{tin:,}'} / {'?' if tout is None else f'{tout:,}'}"


def node_table(trace: Trace, limit: int = 25) -> Group | None:
    """The table, and the run's total cost with where it came from; None for a run with no stages."""
    rows = node_rows(trace)
    if not rows:
        return None
    table = Table(
        title="Performance & cost by node (slowest first)",
        title_justify="left",
        box=None,
        header_style="bold",
        pad_edge=False,
    )
    for name, justify in (
        ("Node", "left"),
        ("Duration", "right"),
        ("% of run", "right"),
        ("Model", "left"),
        ("Tokens in / out", "right"),
        ("Cost", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=name != "Node", overflow="fold")  # type: ignore[arg-type]
    for r in rows[:limit]:
        node = Text(r["node"])
        if r["kind"] not in ("stage", "trace"):
            node.append(f" ({r['kind']})", style="dim")
        if r["status"] == "error":
            node.append(" ERROR", style="bold red")
        cost = Text(fmt.cost(r["cost_usd"]) if r["cost_usd"] is not None else fmt.DASH)
        if r["cost_source"] and r["cost_source"] != "priced":
            cost.append(f" ({r['cost_source']})", style="yellow" if r["cost_source"] == "unknown" else "dim")
        pct = f"{r['percent']:.1f}%" if r["percent"] is not None else fmt.DASH
        table.add_row(node, fmt.duration(r["duration_ms"]), pct, r["model"] or "", _tokens(r), cost)
    parts: list[Any] = [table]
    if len(rows) > limit:
        parts.append(Text(f"… and {len(rows) - limit} more nodes (--json for all)", style="dim"))
    parts.append(total_line(trace))
    return Group(*parts)


def total_line(trace: Trace) -> Text:
    """``Total: $0.0123 (priced) · 3,200 in / 410 out tokens · 2 LLM calls``, with a note on unknowns."""
    llm: list[Span] = [s for s in trace.spans if s.kind in ("llm", "embedding") or s.tokens_in is not None]
    text = Text("Total: ")
    text.append(fmt.cost(trace.cost_usd) if trace.cost_usd is not None else "n/a", style="bold")
    if trace.cost_source:
        text.append(f" ({trace.cost_source})", style="yellow" if trace.cost_source == "unknown" else "dim")
    text.append(
        f" · {fmt.tokens(trace.tokens_in, trace.tokens_out)} tokens · {len(llm)} LLM call{'' if len(llm) == 1 else 's'}"
    )
    unknown = sum(1 for s in llm if (s.attributes or {}).get("glassbox.cost.source") == "unknown")
    if unknown:
        text.append(f"  ({unknown} without a price: the total leaves them out)", style="yellow")
    return text
