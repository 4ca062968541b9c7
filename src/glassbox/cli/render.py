"""Rich renderings: the runs table, the compact scorecard, the verbose breakdown, store info.

Trace content is model output and may be hostile, so every value taken from a trace
goes into a ``rich.text.Text`` (never through console markup): ``[bold]`` prints as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from glassbox.cli import formats as fmt
from glassbox.cli.otel_lines import otel_lines
from glassbox.model import GAP_RATIO, Score, Span, Trace, iso_from_ns, span_tree, walk

MAX_WIDTH = 96

STATUS_STYLES = {"complete": "green", "failed": "bold red", "incomplete": "yellow", "in_progress": "cyan"}


class _Rule:
    """``── Title ─────`` across the output (at most MAX_WIDTH), ASCII where the terminal needs it."""

    def __init__(self, title: str = "", char: str = "─") -> None:
        self.title = title
        self.char = char

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        char = self.char
        if options.ascii_only:
            char = "=" if char == "═" else "-"
        width = min(options.max_width, MAX_WIDTH)
        head = f"{char * 2} {self.title} " if self.title else ""
        yield Text(head + char * max(width - len(head), 4), style="dim" if not self.title else "bold")


def _status_text(status: str | None) -> Text:
    return Text(status or fmt.DASH, style=STATUS_STYLES.get(status or "", ""))


def _verdict_text(passed: bool | None) -> Text:
    word = fmt.verdict(passed)
    return Text(word, style="bold green" if passed else "bold red") if word else Text("")


def _quality_text(value: float | None, passed: bool | None) -> Text:
    if value is None:
        return Text(fmt.DASH, style="dim")
    text = Text(fmt.number(value))
    if passed is not None:
        text.append(" ")
        text.append_text(_verdict_text(passed))
    return text


def _pair(left: Text | str, right: Text | str, width: int = 30) -> Text:
    """Two ``label: value`` fields on one line, the second aligned at ``width`` cells."""
    left_t = left if isinstance(left, Text) else Text(left)
    pad = max(width - left_t.cell_len, 2)
    return Text.assemble(left_t, " " * pad, right)


def _field(label: str, value: Text | str, label_width: int = 11) -> Text:
    return Text.assemble((f"{label}:".ljust(label_width), "bold"), value)


# -- run summaries ------------------------------------------------------------------------
def summary_of(trace: Trace) -> dict[str, Any]:
    """A run summary with the keys of ``Store.list_traces`` rows, built from a trace object."""
    started = iso_from_ns(trace.start_ns) if trace.start_ns else None
    return {
        "trace_id": trace.trace_id,
        "project": trace.project,
        "name": trace.name,
        "workflow": trace.workflow,
        "intent": trace.intent,
        "domain": trace.domain,
        "status": trace.status,
        "started_at": started.replace("+00:00", "Z") if started else None,
        "duration_ms": trace.duration_ms,
        "tokens_in": trace.tokens_in,
        "tokens_out": trace.tokens_out,
        "cost_usd": trace.cost_usd,
        "quality_score": trace.quality_score,
        "gate_passed": trace.gate_passed,
        "flagged_for_review": bool(trace.flagged_for_review),
        "input": trace.input,
        "error": trace.error,
    }


def _run_columns(show_project: bool, id_width: int) -> list[tuple[str, int, dict[str, Any], Any]]:
    """(header, priority: lower is kept longer, column options, cell) for each column, in display order."""
    cols: list[tuple[str, int, dict[str, Any], Any]] = [
        ("Trace", 0, {"style": "cyan"}, lambda s: Text(str(s.get("trace_id") or "")[:id_width])),
        ("Started (UTC)", 6, {}, lambda s: Text(fmt.started(s.get("started_at"))[5:16])),
        ("Project", 8, {}, lambda s: Text(str(s.get("project") or ""))),
        ("Workflow", 2, {}, lambda s: Text(str(s.get("workflow") or s.get("name") or ""))),
        ("Intent", 5, {}, lambda s: Text(str(s.get("intent") or ""))),
        ("Domain", 7, {}, lambda s: Text(str(s.get("domain") or ""))),
        ("Status", 1, {}, lambda s: _status_text(s.get("status"))),
        ("Duration", 3, {"justify": "right"}, lambda s: Text(fmt.duration(s.get("duration_ms")))),
        ("Cost", 4, {"justify": "right"}, lambda s: Text(fmt.cost(s.get("cost_usd")))),
        ("Quality", 1, {}, lambda s: _quality_text(s.get("quality_score"), s.get("gate_passed"))),
    ]
    return [c for c in cols if show_project or c[0] != "Project"]


def runs_table(
    summaries: Sequence[dict[str, Any]], title: str | None = None, width: int = 80, id_width: int = 12
) -> Table:
    """The runs table, fitted to ``width``: columns least needed are left out on narrow terminals.

    Columns: trace id prefix (enough for ``glassbox show``), start, project (when several),
    workflow, intent, domain, status, duration, cost, quality, and the input in what room is left.
    """
    show_project = len({s.get("project") for s in summaries}) > 1
    cols = _run_columns(show_project, id_width)
    cells = [[cell(s) for *_, cell in cols] for s in summaries]
    natural = [max([len(h), *(row[i].cell_len for row in cells)]) + 3 for i, (h, *_) in enumerate(cols)]
    keep = set(range(len(cols)))
    input_min = 14
    for i in sorted(range(len(cols)), key=lambda i: -cols[i][1]):  # drop the least needed first
        if sum(natural[j] for j in keep) + input_min <= width or cols[i][1] == 0:
            break
        keep.discard(i)
    room = width - sum(natural[j] for j in keep)
    table = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1),
    )
    for i, (header, _, options, _) in enumerate(cols):
        if i in keep:
            table.add_column(header, no_wrap=True, **options)
    with_input = room >= 8
    if with_input:
        table.add_column("Input", no_wrap=True, overflow="ellipsis", max_width=min(room, 80))
    for s, row in zip(summaries, cells, strict=True):
        out = [row[i] for i in range(len(cols)) if i in keep]
        if with_input:
            out.append(Text(fmt.preview(s.get("input"), 200)))
        table.add_row(*out)
    return table


# -- the compact scorecard ----------------------------------------------------------------
def quality_score(trace: Trace) -> Score | None:
    """The score the trace's quality figure comes from (as ``Trace.quality_score`` picks it)."""
    return trace._quality()


def gaps(score: Score | None) -> list[str]:
    """Dimensions of the score below ``GAP_RATIO`` of its maximum."""
    if score is None:
        return []
    limit = GAP_RATIO * (score.max if score.max else 1.0)
    return [name for name, value in score.dimensions.items() if value < limit]


def evidence_figure(trace: Trace) -> str:
    """``28->18`` (collected -> passed, summed over evidence), else a count of evidence records."""
    collected = passed = 0
    seen = False
    for e in trace.events:
        c, p = e.payload.get("collected"), e.payload.get("passed")
        if isinstance(c, (int, float)) and not isinstance(c, bool):
            collected += int(c)
            seen = True
        if isinstance(p, (int, float)) and not isinstance(p, bool):
            passed += int(p)
    if seen:
        return f"{collected}->{passed}"
    n = len(trace.events)
    return f"{n} record{'s' if n != 1 else ''}" if n else "none"


# Said once, under the demo's scorecard and alerts: what the compact figures mean.
SCORECARD_LEGEND = (
    "Evidence 20->3: the run's stages collected 20 items (passages, chunks, standards) and 3 passed their filters. "
    "Gaps: quality dimensions that scored below their threshold."
)
FLAGS_LEGEND = (
    "Calibration alerts are patterns across runs: a principle is a quality dimension (relevance, grounding…); "
    "'below threshold N times' means it kept failing over the window, not just once."
)


def scorecard(trace: Trace) -> Group:
    """The compact scorecard: quality gate, cost, evidence and gaps in a few lines."""
    q = quality_score(trace)
    quality = Text.assemble("Quality: ", fmt.score(q.value, q.max) if q else "n/a")
    if q is not None and q.passed is not None:
        quality.append("  ")
        quality.append_text(_verdict_text(q.passed))
    lines: list[Any] = [
        _Rule("Trace Summary"),
        _pair(quality, f"Duration: {fmt.duration(trace.duration_ms)}"),
        _pair(_cost_text(trace), f"Evidence: {evidence_figure(trace)}"),
    ]
    gap_names = gaps(q)
    if gap_names:
        lines.append(Text.assemble("Gaps: ", (", ".join(gap_names), "yellow")))
    if trace.status != "complete":
        status = Text.assemble("Status: ", _status_text(trace.status))
        if trace.error:
            status.append(" — ")
            status.append(fmt.error_line(trace.error))
        lines.append(status)
    if trace.feedback:
        lines.append(_feedback_summary(trace))
    lines.append(Text.assemble("Trace: ", (trace.trace_id, "cyan")))
    lines.append(_Rule())
    return Group(*lines)


def _feedback_summary(trace: Trace) -> Text:
    """``Feedback: 3 (2 positive, 1 negative) · avg rating 0.75``: ratings on 0..1 whatever their scale."""
    labels = [f.label for f in trace.feedback if f.label]
    counts = ", ".join(f"{labels.count(k)} {k}" for k in ("positive", "neutral", "negative") if labels.count(k))
    text = Text(f"Feedback: {len(trace.feedback)}" + (f" ({counts})" if counts else ""))
    norms = [f.normalized for f in trace.feedback if f.normalized is not None]
    if norms:
        text.append(f" · avg rating {sum(norms) / len(norms):.2f}")
    return text


def _cost_text(trace: Trace) -> Text:
    text = Text(f"Cost: {fmt.cost(trace.cost_usd)}")
    if trace.cost_usd is not None and trace.cost_source:
        text.append(f" ({trace.cost_source})", style="dim")
    return text


# -- the verbose breakdown ----------------------------------------------------------------
def _stage_tree(trace: Trace) -> Iterator[tuple[int, Span]]:
    """Spans other than the root, depth-first in start order, with their depth below the root."""
    for node in walk(span_tree(trace, include_root=False)):
        yield node.depth, node.span


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _stage_lines(trace: Trace) -> list[Text]:
    per_span: dict[str | None, int] = {}
    for d in trace.decisions:
        per_span[d.span_id] = per_span.get(d.span_id, 0) + 1
    lines = []
    for depth, s in _stage_tree(trace):
        name = Text("  " + "  " * depth)
        name.append(s.name)
        if s.kind not in ("stage", "trace"):
            name.append(f" ({s.kind})", style="dim")
        n = per_span.get(s.span_id, 0)
        line = Text.assemble(_ljust(name, 30), fmt.duration(s.duration_ms).rjust(8))
        extras: list[tuple[str, str]] = []
        if n:
            extras.append((f"({_plural(n, 'decision')})", ""))
        if s.model:
            extras.append((s.model, "magenta"))
        if s.tokens_in is not None or s.tokens_out is not None:
            extras.append((fmt.tokens(s.tokens_in, s.tokens_out), "dim"))
        if s.cost_usd is not None:
            extras.append((fmt.cost(s.cost_usd), "dim"))
        if s.status == "error":
            extras.append(("ERROR", "bold red"))
        for text, style in extras:
            line.append("  ")
            line.append(text, style=style)
        lines.append(line)
    return lines


def _ljust(text: Text, width: int) -> Text:
    out = text.copy()
    if out.cell_len < width:
        out.append(" " * (width - out.cell_len))
    else:
        out.append(" ")
    return out


def _ranked(alternatives: Iterable[tuple[str, float | None]]) -> list[tuple[str, float | None]]:
    return sorted(alternatives, key=lambda a: (a[1] is None, -(a[1] or 0.0)))


def _decision_lines(trace: Trace) -> list[Text]:
    lines: list[Text] = []
    for i, d in enumerate(trace.decisions, 1):
        head = Text(f"  {i}. ")
        head.append(f"[{d.stage or '?'}] ", style="dim")
        head.append(d.what, style="bold")
        if d.confidence is not None:
            head.append(f"  confidence {d.confidence:.2f}", style="cyan")
        lines.append(head)
        if d.why:
            lines.append(Text.assemble("     why: ", fmt.preview(d.why, 300)))
        if d.alternatives:
            alt = Text("     alternatives: ")
            for rank, (option, sc) in enumerate(_ranked(d.alternatives), 1):
                if rank > 1:
                    alt.append("  ")
                alt.append(f"{rank}) ")
                alt.append(option)
                if sc is not None:
                    alt.append(f" ({sc:.2f})", style="dim")
            lines.append(alt)
        if d.inputs:
            lines.append(Text.assemble("     inputs: ", (fmt.preview(d.inputs, 200), "dim")))
    return lines


def _payload_text(payload: dict[str, Any]) -> str:
    parts = []
    for k, v in payload.items():
        value = v if isinstance(v, (int, float, bool)) else fmt.preview(v, 60)
        parts.append(f"{k}={value}")
    return fmt.preview(" ".join(parts), 200)


def _evidence_lines(trace: Trace) -> list[Text]:
    names = {s.span_id: s.name for s in trace.spans}
    lines = []
    for e in trace.events:
        line = Text("  ")
        line.append(f"[{names.get(e.span_id, '?')}] ", style="dim")
        line.append(e.name, style="bold")
        if e.payload:
            line.append(": ")
            line.append(_payload_text(e.payload))
        lines.append(line)
    return lines


def _error_lines(trace: Trace) -> list[Text]:
    """Each distinct error once, on the innermost stage that raised it (enclosing stages re-raise it)."""
    innermost: dict[tuple[Any, Any], Span] = {}
    for s in trace.spans:
        if s.error:
            key = (s.error.get("type"), s.error.get("message"))
            if key not in innermost or s.start_ns >= innermost[key].start_ns:
                innermost[key] = s
    lines = [
        Text.assemble("  ", (s.name, "bold"), ": ", (fmt.error_line({**s.error, "stage": None}), "red"))
        for s in sorted(innermost.values(), key=lambda x: (x.start_ns, x.span_id))
        if s.error
    ]
    err = trace.error
    if err and (err.get("type"), err.get("message")) not in innermost:
        where = str(err.get("stage") or trace.name or "trace")
        lines.append(Text.assemble("  ", (where, "bold"), ": ", (fmt.error_line({**err, "stage": None}), "red")))
    return lines


def _quality_lines(trace: Trace) -> list[Text]:
    q = quality_score(trace)
    if q is None:
        return [Text("  no score recorded", style="dim")]
    head = Text(f"Score: {fmt.score(q.value, q.max)}")
    if q.passed is not None:
        head.append("  ")
        head.append_text(_verdict_text(q.passed))
    head.append(f"  ({q.name}, {q.source})", style="dim")
    lines = [head]
    if q.dimensions:
        lines.append(Text("Dimensions:"))
        gap_names = set(gaps(q))
        width = max(len(k) for k in q.dimensions) + 1
        for name, value in q.dimensions.items():
            line = Text(f"  {(name + ':').ljust(width)} {fmt.number(value)}")
            if name in gap_names:
                line.append(" <gap", style="yellow")
            lines.append(line)
    if q.comment:
        lines.append(Text.assemble("Comment: ", fmt.preview(q.comment, 300)))
    from glassbox.quality_signals import NAMES as SIGNALS

    signals = [s for s in trace.scores if s.source == "heuristic" and s.name in SIGNALS]
    others = [s for s in trace.scores if s is not q and s not in signals]
    for s in others:
        if s.dimensions:  # every multi-dimensional score, by dimension
            dims = ", ".join(f"{k} {fmt.number(v)}" for k, v in s.dimensions.items())
            lines.append(Text(f"  {s.name} dimensions: {dims}", style="dim"))
    if signals:
        lines.append(Text("Signals: " + ", ".join(f"{s.name} {s.value:g}" for s in signals), style="dim"))
    if others:
        lines.append(Text("Other scores:"))
        for s in others:
            line = Text(f"  {s.name}: {fmt.score(s.value, s.max)}")
            if s.passed is not None:
                line.append(" ")
                line.append_text(_verdict_text(s.passed))
            line.append(f"  ({s.source})", style="dim")
            lines.append(line)
    return lines


def _flag_lines(trace: Trace) -> list[Text]:
    """The run's alerts (calibration and any other source) and its review state."""
    lines = []
    for a in trace.alerts:
        line = Text.assemble((f"  [{a.source}] ", "bold yellow"), (a.rule, "yellow"), "  ")
        line.append(fmt.preview(a.message, 300))
        line.append(f"  ({a.id}{', acknowledged' if a.acknowledged else ''})", style="dim")
        lines.append(line)
    if trace.flagged_for_review or trace.review_notes:
        review = Text("  review: ")
        review.append("flagged" if trace.flagged_for_review else "not flagged", style="bold")
        if trace.review_notes:
            review.append(" — ")
            review.append(fmt.preview(trace.review_notes, 300))
        lines.append(review)
    return lines


def _feedback_lines(trace: Trace) -> list[Text]:
    lines = []
    for f in trace.feedback:
        line = Text(f"  {f.kind}")
        if f.rating is not None:
            line.append(
                f"  rating {f.rating:g}"
                + (f" on {f.scale}" if f.scale and f.scale != "thumbs" else "")
                + (" (thumbs)" if f.scale == "thumbs" else "")
            )
        if f.signal:
            line.append(f"  signal {f.signal}")
        if f.label:
            style = {"positive": "green", "negative": "red"}.get(f.label, "dim")
            line.append(f"  {f.label}", style)
            if f.sentiment is not None:
                line.append(f" {f.sentiment:+.2f}", "dim")
        if f.comment:
            line.append("  ")
            line.append(fmt.preview(f.comment, 120))
        if f.user_id:
            line.append(f"  user {f.user_id}", "dim")
        lines.append(line)
    return lines


def detail(trace: Trace) -> Group:
    """The verbose breakdown: header, quality, stages, decisions, evidence, errors."""
    started = fmt.started(iso_from_ns(trace.start_ns)) if trace.start_ns else fmt.DASH
    header = [
        _Rule("Trace Detail", "═"),
        _field("Trace ID", Text(trace.trace_id, style="cyan")),
        _pair(_field("Project", trace.project or fmt.DASH), Text(f"Workflow: {trace.workflow or trace.name or '—'}")),
        _field("Input", fmt.preview(trace.input, 300) or fmt.DASH),
        _pair(_field("Intent", trace.intent or fmt.DASH), Text(f"Domain: {trace.domain or '—'}")),
        _pair(_field("Status", _status_text(trace.status)), Text(f"Duration: {fmt.duration(trace.duration_ms)}")),
        _field("Started", f"{started} UTC"),
        _pair(_field("Tokens", fmt.tokens(trace.tokens_in, trace.tokens_out)), _cost_text(trace)),
    ]
    if trace.output is not None:
        header.append(_field("Output", fmt.preview(trace.output, 300)))
    if trace.tags:
        header.append(_field("Tags", ", ".join(map(str, trace.tags))))
    if trace.experiment:
        header.append(_field("Experiment", f"{trace.experiment} / {trace.variant or '—'}"))
    sections: list[Any] = [*header, Text(""), _Rule("Quality"), *_quality_lines(trace)]
    for title, lines in (
        ("Stages", _stage_lines(trace)),
        ("Decisions", _decision_lines(trace)),
        ("Evidence", _evidence_lines(trace)),
        ("Errors", _error_lines(trace)),
        ("Feedback", _feedback_lines(trace)),
        ("Alerts & review", _flag_lines(trace)),
        ("OpenTelemetry", otel_lines(trace)),
    ):
        if lines:
            sections += [Text(""), _Rule(title), *lines]
    sections.append(_Rule(char="═"))
    return Group(*sections)


# -- store info -----------------------------------------------------------------------------
def info_table(info: dict[str, Any]) -> Group:
    """``glassbox db info``: URL, backend, revision, journal mode, row counts."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rev = info.get("revision")
    state = "up to date" if info.get("up_to_date") else f"behind head {info.get('head')} (run: glassbox db upgrade)"
    table.add_row("Store", Text(str(info.get("url"))))
    table.add_row("Backend", Text(str(info.get("backend"))))
    table.add_row("Revision", Text(f"{rev or 'none'} ({state})"))
    if "journal_mode" in info:
        table.add_row("Journal", Text(str(info["journal_mode"])))
    parts: list[Any] = [table]
    rows = info.get("rows")
    if rows:
        counts = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        counts.add_column("Table")
        counts.add_column("Rows", justify="right")
        for name, n in rows.items():
            counts.add_row(name, f"{n:,}")
        parts.append(counts)
    return Group(*parts)
