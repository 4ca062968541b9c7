"""``glassbox export`` (JSONL, CSV, Parquet; the router-training dataset) and ``glassbox gc`` (retention)."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from glassbox.cli.errors import UsageProblem, reported
from glassbox.cli.options import JsonOption, StoreOption, open_store
from glassbox.cli.query_cmds import with_filters
from glassbox.errors import QueryError

FORMATS = ("jsonl", "csv", "parquet")
DATASETS = ("runs", "router", "feedback")
PAGE = 500
RUN_COLUMNS = (
    "trace_id",
    "project",
    "workflow",
    "intent",
    "domain",
    "status",
    "started_at",
    "duration_ms",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "cost_source",
    "quality_score",
    "gate_passed",
    "flagged_for_review",
    "tags",
    "input",
)
ROUTER_COLUMNS = (
    "question",
    "workflow",
    "intent",
    "domain",
    "status",
    "quality",
    "passed",
    "cost_usd",
    "latency_ms",
    "trace_id",
    "started_at",
)
FEEDBACK_COLUMNS = (
    "trace_id",
    "workflow",
    "release",
    "input",
    "output",
    "rating",
    "sentiment",
    "label",
    "signals",
    "comments",
    "started_at",
)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _flat(item: dict[str, Any], dataset: str) -> dict[str, Any]:
    if dataset == "router":  # what a router learns from: question -> workflow, and how it went
        return {
            "question": _text(item.get("input")),
            "workflow": item.get("workflow"),
            "intent": item.get("intent"),
            "domain": item.get("domain"),
            "status": item.get("status"),
            "quality": item.get("quality_score"),
            "passed": item.get("gate_passed"),
            "cost_usd": item.get("cost_usd"),
            "latency_ms": item.get("duration_ms"),
            "trace_id": item["trace_id"],
            "started_at": item.get("started_at"),
        }
    row = {k: item.get(k) for k in RUN_COLUMNS}
    row["tags"] = ",".join(map(str, item.get("tags") or []))
    row["input"] = _text(row["input"])
    return row


def _pages(q: Any, filters: dict[str, Any], limit: int | None) -> Iterator[list[dict[str, Any]]]:
    cursor, sent = None, 0
    while True:
        size = PAGE if limit is None else min(PAGE, limit - sent)
        if size <= 0:
            return
        page = q.traces(limit=size, cursor=cursor, **filters)
        if page.items:
            sent += len(page.items)
            yield page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def _progress(total: int | None) -> Progress:
    err = Console(stderr=True)
    return Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )


@with_filters
def export(
    filters: dict[str, Any],
    fmt: Annotated[
        str, typer.Option("--format", help="jsonl (whole traces), csv or parquet (one row per run).")
    ] = "jsonl",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here (default: stdout; parquet needs --out).")
    ] = None,
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="runs, router (question, workflow chosen, quality, "
            "cost, latency: the router-training export) or feedback "
            "(input, output, rating, sentiment, signals of each run "
            "with feedback: the retraining export).",
        ),
    ] = "runs",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many runs.")] = None,
    balance: Annotated[
        bool,
        typer.Option(
            "--balance",
            help="feedback: as many positive as negative runs (a seeded sample of the larger side; neutral left out).",
        ),
    ] = False,
    label: Annotated[
        str | None, typer.Option("--label", help="feedback: only positive, negative or neutral runs.")
    ] = None,
    store: StoreOption = None,
) -> None:
    """Export the matching runs to a file, streaming.

    Export the matching runs, newest first, streaming (constant memory whatever the store's size)."""
    from glassbox.analysis.query import Query

    with reported():
        if fmt not in FORMATS:
            raise UsageProblem(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
        if dataset not in DATASETS:
            raise UsageProblem(f"--dataset: expected one of {', '.join(DATASETS)}, got {dataset!r}")
        if fmt == "parquet" and out is None:
            raise UsageProblem("--format parquet writes a binary file: give --out PATH")
        if dataset != "feedback" and (balance or label):
            raise UsageProblem("--balance and --label apply to --dataset feedback")
        if dataset == "feedback" and fmt == "parquet":
            raise UsageProblem("--dataset feedback: --format jsonl or csv")
        if out is not None and out.parent and not out.parent.is_dir():
            raise UsageProblem(f"--out: folder {str(out.parent)!r} does not exist")
        tmp = out.with_name(out.name + ".partial") if out is not None else None
        with open_store(store, must_exist=True) as st:
            try:
                q = Query(st)
                try:
                    total = min(q.summary(**filters)["runs"], limit or sys.maxsize)
                except QueryError as exc:
                    raise UsageProblem(str(exc)) from None
                if dataset == "feedback":
                    written = _write_feedback(st, filters, limit, fmt, tmp, balance, label)
                else:
                    with _progress(total) as bar:
                        task = bar.add_task("export", total=total)
                        written = _write(q, st, filters, limit, fmt, dataset, tmp, lambda n: bar.advance(task, n))
                if tmp is not None and out is not None:
                    tmp.replace(out)  # all or nothing: a failed export leaves no half file behind
            except BaseException:
                if tmp is not None:
                    tmp.unlink(missing_ok=True)
                raise
        if out is not None:
            typer.echo(f"exported {written} run{'s' if written != 1 else ''} to {out}", err=True)


def _write(
    q: Any, st: Any, filters: dict[str, Any], limit: int | None, fmt: str, dataset: str, path: Path | None, advance: Any
) -> int:
    count = 0
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        try:
            for items in _pages(q, filters, limit):
                table = pa.Table.from_pylist([_flat(i, dataset) for i in items], schema=_schema(dataset))
                if writer is None:
                    writer = pq.ParquetWriter(str(path), table.schema)
                writer.write_table(table)  # one row group per page: memory stays flat
                count += len(items)
                advance(len(items))
            if writer is None:
                writer = pq.ParquetWriter(str(path), _schema(dataset))
        finally:
            if writer is not None:
                writer.close()
        return count
    stream = path.open("w", encoding="utf-8", newline="") if path is not None else sys.stdout
    try:
        header_done = False
        for items in _pages(q, filters, limit):
            if fmt == "jsonl":
                buf = io.StringIO()
                for item in items:
                    doc = st.get_trace(item["trace_id"]).to_dict() if dataset == "runs" else _flat(item, dataset)
                    buf.write(json.dumps(doc, default=str) + "\n")
                stream.write(buf.getvalue())
            else:
                columns = ROUTER_COLUMNS if dataset == "router" else RUN_COLUMNS
                w = csv.DictWriter(stream, fieldnames=columns)
                if not header_done:
                    w.writeheader()
                    header_done = True
                w.writerows(_flat(i, dataset) for i in items)
            count += len(items)
            advance(len(items))
        if fmt == "csv" and not header_done:
            csv.DictWriter(stream, fieldnames=ROUTER_COLUMNS if dataset == "router" else RUN_COLUMNS).writeheader()
    finally:
        if path is not None:
            stream.close()
        else:
            stream.flush()
    return count


def _write_feedback(
    st: Any, filters: dict[str, Any], limit: int | None, fmt: str, path: Path | None, balance: bool, label: str | None
) -> int:
    """The retraining export: one row per run with feedback (analysis.feedback.dataset_rows)."""
    from glassbox.analysis.feedback import dataset_rows

    try:
        rows = dataset_rows(st, label=label, balance=balance, limit=limit, **filters)
    except QueryError as exc:
        raise UsageProblem(str(exc)) from None
    stream = path.open("w", encoding="utf-8", newline="") if path is not None else sys.stdout
    try:
        if fmt == "jsonl":
            stream.write("".join(json.dumps(r, default=str) + "\n" for r in rows))
        else:
            w = csv.DictWriter(stream, fieldnames=FEEDBACK_COLUMNS)
            w.writeheader()
            for r in rows:
                w.writerow(
                    {
                        **{k: r.get(k) for k in FEEDBACK_COLUMNS},
                        "input": _text(r["input"]),
                        "output": _text(r["output"]),
                        "signals": ",".join(r["signals"]),
                        "comments": " | ".join(r["comments"]),
                    }
                )
    finally:
        if path is not None:
            stream.close()
        else:
            stream.flush()
    return len(rows)


def _schema(dataset: str) -> Any:
    import pyarrow as pa

    if dataset == "router":
        return pa.schema(
            [
                ("question", pa.string()),
                ("workflow", pa.string()),
                ("intent", pa.string()),
                ("domain", pa.string()),
                ("status", pa.string()),
                ("quality", pa.float64()),
                ("passed", pa.bool_()),
                ("cost_usd", pa.float64()),
                ("latency_ms", pa.float64()),
                ("trace_id", pa.string()),
                ("started_at", pa.string()),
            ]
        )
    return pa.schema(
        [
            ("trace_id", pa.string()),
            ("project", pa.string()),
            ("workflow", pa.string()),
            ("intent", pa.string()),
            ("domain", pa.string()),
            ("status", pa.string()),
            ("started_at", pa.string()),
            ("duration_ms", pa.float64()),
            ("tokens_in", pa.int64()),
            ("tokens_out", pa.int64()),
            ("cost_usd", pa.float64()),
            ("cost_source", pa.string()),
            ("quality_score", pa.float64()),
            ("gate_passed", pa.bool_()),
            ("flagged_for_review", pa.bool_()),
            ("tags", pa.string()),
            ("input", pa.string()),
        ]
    )


def gc(
    older_than: Annotated[str, typer.Option("--older-than", help="Age to keep: 30d, 12h, 2w (or a date).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
    trail_dir: Annotated[str | None, typer.Option("--trail-dir", help="Trail folder (default: configured).")] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Delete old runs, drift results and trail files (retention).

    Delete runs older than the cutoff from the database (with all their rows), drift results and resolved
    alerts of no run older than it, and old daily trail files."""
    from glassbox.analysis.filters import parse_time
    from glassbox.config import load_settings
    from glassbox.store import retention

    with reported():
        value = older_than.strip()
        m = re.match(r"^(\d+(?:\.\d+)?)\s*[a-z]+$", value.lower())
        if m and float(m.group(1)) <= 0:
            raise UsageProblem(f"--older-than: an age of zero would delete every run; got {older_than!r}")
        try:
            cutoff = parse_time(value, "--older-than")
        except QueryError as exc:
            raise UsageProblem(str(exc)) from None
        folder = trail_dir if trail_dir is not None else load_settings().trail_dir
        with open_store(store, must_exist=True) as st:
            counts = retention.count_older(st, cutoff)
            files = retention.old_trail_files(folder, cutoff) if folder else []
            plan = retention.summary(counts, files)
            plan.update(cutoff=cutoff.isoformat() + "Z", dry_run=dry_run, deleted=False)
            if dry_run or (not any(counts.values()) and not files):
                _report(plan, as_json)
                return
            if not yes:
                if not sys.stdin.isatty():
                    raise UsageProblem("refusing to delete without --yes (not a terminal); try --dry-run first")
                typer.confirm(
                    f"delete {counts['traces']} runs, {counts['drift_results']} drift results and "
                    f"{len(files)} trail files?",
                    abort=True,
                )
            err = Console(stderr=True)
            with Progress(
                TextColumn("deleting"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("runs"),
                console=err,
                disable=not err.is_terminal or as_json,
                transient=True,
            ) as bar:
                task = bar.add_task("gc", total=counts["traces"])
                plan["rows"] = retention.delete_older(st, cutoff, progress=lambda n: bar.advance(task, n))
            for path, _ in files:
                path.unlink(missing_ok=True)
            plan["deleted"] = True
        _report(plan, as_json)


def _report(plan: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(plan))
        return
    verb = "would delete" if not plan["deleted"] else "deleted"
    rows = plan["rows"]
    typer.echo(
        f"{verb} {rows['traces']} runs ({rows['spans']} spans, {rows['decisions']} decisions, "
        f"{rows['scores']} scores) started before {plan['cutoff']}, {rows['drift_results']} drift results and "
        f"{rows['alerts']} alerts, and {len(plan['trail_files'])} trail files "
        f"({plan['trail_bytes']:,} bytes)"
    )


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("gc")(gc)
