"""Rebuild a store from the audit trail: read JSONL trail files, write their traces in batches.

Idempotent (the store upserts by id), so importing the same files twice changes nothing.
A malformed line is reported as ``file:line: reason`` and skipped; it never stops the import.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from glassbox.errors import ImportFormatError, StoreError
from glassbox.model import Trace
from glassbox.store.store import Store
from glassbox.store.trail import read_trail, trail_files

DEFAULT_BATCH = 500


@dataclass
class ImportReport:
    """What an import did: files read, traces written, lines skipped (each ``file:line: reason``)."""

    files: int = 0
    imported: int = 0
    skipped: list[str] = field(default_factory=list)


def count_lines(path: Path) -> int:
    """Lines in a file (a last line without a newline counts), read in 1 MiB chunks."""
    n = 0
    last = b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def import_trails(
    store: Store,
    paths: Sequence[str | os.PathLike[str]],
    *,
    batch_size: int = DEFAULT_BATCH,
    on_skip: Callable[[str], None] | None = None,
    on_progress: Callable[[Path, int], None] | None = None,
) -> ImportReport:
    """Import every trace of the trail files and folders in ``paths`` into ``store``.

    ``on_skip(message)`` is called for each skipped line; ``on_progress(file, line)`` after each
    batch and at the end of each file. Raises FileNotFoundError for a path that does not exist
    (before writing anything) and StoreError when the store cannot be written.
    """
    files = trail_files(paths)
    report = ImportReport(files=len(files))
    batch: list[tuple[Trace, str]] = []

    def skip(message: str) -> None:
        report.skipped.append(message)
        if on_skip is not None:
            on_skip(message)

    def flush() -> None:
        if batch:
            report.imported += _write(store, batch, skip)
            batch.clear()

    for path in files:
        last = reported = 0
        for line, item in read_trail(path):
            last = line
            if isinstance(item, ImportFormatError):
                skip(str(item))
                continue
            if not isinstance(item.trace_id, str) or not item.trace_id:
                skip(f"{path}:{line}: trace_id must be a non-empty string")
                continue
            batch.append((item, f"{path}:{line}"))
            if len(batch) >= batch_size:
                flush()
                if on_progress is not None:
                    on_progress(path, line)
                    reported = line
        flush()
        if on_progress is not None and last != reported:
            on_progress(path, last)
    return report


def _is_data_error(exc: Exception) -> bool:
    """A problem with the rows themselves (worth isolating), not with reaching the store."""
    if isinstance(exc, StoreError):
        return bool(getattr(exc, "data_error", False))
    # The driver rejects a value before SQL runs (e.g. an integer SQLite cannot hold).
    return isinstance(exc, (OverflowError, ValueError, TypeError))


def _write(store: Store, batch: list[tuple[Trace, str]], skip: Callable[[str], None]) -> int:
    """Write a batch in one transaction; if one trace's data is bad, write one by one and skip it."""
    try:
        store.write_traces([t for t, _ in batch])
        return len(batch)
    except (StoreError, OverflowError, ValueError, TypeError) as exc:
        if not _is_data_error(exc):
            raise  # the store is down or unwritable: retrying each trace would only fail the same way
    written = 0
    for trace, where in batch:
        try:
            store.write_traces([trace])
            written += 1
        except (StoreError, OverflowError, ValueError, TypeError) as exc:
            if not _is_data_error(exc):
                raise
            skip(f"{where}: not written: {' '.join(str(exc).split())}")
    return written
