"""The JSONL audit trail: one line per finished trace, in daily files, append-only.

Each line is the whole trace document (``Trace.to_dict``, with ``schema_version``).
Written with one ``write`` call per batch in append mode; a write the disk cut short is taken back,
and a torn last line left by a crash is cut off when the file is next opened, so every line is a
whole trace. ``glassbox import`` reports (file:line: reason) any line it cannot read.
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
    """Writer sink appending each trace to ``<dir>/YYYY-MM-DD.jsonl`` (UTC day the trace started).

    A line is on disk whole or not at all: a batch is one ``write``; if the disk fills part-way, what
    this write added is cut off again (the batch fails, counted, and the next batch starts on a clean
    line). A torn last line left by a crash is cut off the first time this process opens the file.
    """

    name = "trail"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._write = os.write  # tests put a fault-injecting write here (a full disk)
        self._checked: set[Path] = set()
        self.torn_tails = 0

    def write(self, traces: Sequence[Trace]) -> None:
        by_day: dict[str, list[bytes]] = {}
        for t in traces:
            day = datetime.fromtimestamp(_filed_ns(t) / 1e9, tz=UTC).strftime("%Y-%m-%d")
            by_day.setdefault(day, []).append(dumps_line(t))
        self.directory.mkdir(parents=True, exist_ok=True)
        for day, lines in by_day.items():
            self._append(self.directory / f"{day}.jsonl", b"".join(lines))

    def _append(self, path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if path not in self._checked:
                self._cut_torn_tail(fd, path)
                self._checked.add(path)
            start = os.fstat(fd).st_size
            done = 0
            try:
                view = memoryview(data)
                while done < len(data):
                    n = self._write(fd, view[done:])
                    if n <= 0:
                        raise OSError(f"short write to {path}")
                    done += n
            except BaseException:
                # Part of the batch reached the file: take it back, so no torn line is left for the next one.
                if done and os.fstat(fd).st_size == start + done:
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)

    def _cut_torn_tail(self, fd: int, path: Path) -> None:
        size = os.fstat(fd).st_size
        if not size or os.pread(fd, 1, size - 1) == b"\n":
            return
        back = min(size, 1 << 20)
        tail = os.pread(fd, back, size - back)
        nl = tail.rfind(b"\n")
        keep = size - back + nl + 1 if nl >= 0 else (0 if back == size else size)
        if keep != size:
            os.ftruncate(fd, keep)
            self.torn_tails += 1
            import logging

            logging.getLogger("glassbox").warning("glassbox: cut a torn last line (%d bytes) off %s", size - keep, path)

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


def _filed_ns(t: Trace) -> int:
    """The time a trail line is filed under: the run's start, or for an annotation of a finished run (no
    start of its own) when its feedback was given, so it sits beside that day's lines and ``gc`` keeps it
    as long as that day instead of deleting it with "1970-01-01.jsonl" at the first cutoff."""
    if t.start_ns or not t.feedback:
        return t.start_ns
    return max((fb.at_ns or 0) for fb in t.feedback)
