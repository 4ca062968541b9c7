"""The JSONL audit trail: one line per finished trace, in daily files, append-only.

Each line is the whole trace document (``Trace.to_dict``, with ``schema_version``).
Written with one ``write`` call per batch in append mode, so a killed process
leaves at most one torn last line, which ``glassbox import`` reports and skips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from glassbox.errors import ImportFormatError
from glassbox.model import Trace


def dumps_line(trace: Trace) -> bytes:
    return orjson.dumps(trace.to_dict(), option=orjson.OPT_NON_STR_KEYS) + b"\n"


class TrailSink:
    """Writer sink appending each trace to ``<dir>/YYYY-MM-DD.jsonl`` (UTC day the trace started)."""

    name = "trail"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def write(self, traces: Sequence[Trace]) -> None:
        by_day: dict[str, list[bytes]] = {}
        for t in traces:
            day = datetime.fromtimestamp(t.start_ns / 1e9, tz=UTC).strftime("%Y-%m-%d")
            by_day.setdefault(day, []).append(dumps_line(t))
        self.directory.mkdir(parents=True, exist_ok=True)
        for day, lines in by_day.items():
            path = self.directory / f"{day}.jsonl"
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                data = b"".join(lines)
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
            finally:
                os.close(fd)

    def close(self) -> None:
        return None


def trail_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand folders into their ``*.jsonl`` files, sorted; keep files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.glob("*.jsonl")))
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"no such trail file or folder: {p}")
    return out


def read_trail(path: Path) -> Iterator[tuple[int, Trace | ImportFormatError]]:
    """(line number, trace or the error that line raised) for every non-empty line."""
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                doc: Any = orjson.loads(raw)
                if not isinstance(doc, dict) or "trace_id" not in doc:
                    raise ValueError("not a trace document (no trace_id)")
                yield n, Trace.from_dict(doc)
            except (ValueError, KeyError, TypeError) as exc:
                yield n, ImportFormatError(f"{path}:{n}: {exc}")
