"""A full disk and a crash mid-write never leave a torn line that glues onto the next trace (issue 18, item 9)."""

from __future__ import annotations

import errno
import os
import time

import pytest

from glassbox.model import Trace
from glassbox.store.importer import import_trails
from glassbox.store.store import Store
from glassbox.store.trail import TrailSink, read_trail


def _trace(i: int) -> Trace:
    t = Trace(f"{i + 1:032x}", f"trace {i}", time.time_ns())
    t.root_span_id = f"{i + 1:016x}"
    t.output = "x" * 300
    return t


class FullDisk:
    """os.write that writes ``room`` bytes in all, then fails with ENOSPC (the disk filled mid-batch)."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, fd: int, data) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = os.write(fd, bytes(data[: self.room]))
        self.room -= n
        return n


def test_a_full_disk_mid_batch_leaves_no_torn_line(tmp_path):
    sink = TrailSink(tmp_path)
    sink.write([_trace(0)])
    sink._write = FullDisk(room=500)  # the next batch is ~800 bytes: it gets cut part-way
    with pytest.raises(OSError, match="No space left"):
        sink.write([_trace(1), _trace(2)])
    sink._write = os.write  # space again
    sink.write([_trace(3)])
    (path,) = tmp_path.glob("*.jsonl")
    items = [item for _, item in read_trail(path)]
    assert [t.trace_id for t in items] == [_trace(0).trace_id, _trace(3).trace_id]  # whole lines only


def test_a_torn_tail_from_a_crash_is_cut_on_next_open_and_import_reports_bad_lines(tmp_path, store_url):
    sink = TrailSink(tmp_path)
    sink.write([_trace(0)])
    (path,) = tmp_path.glob("*.jsonl")
    with path.open("ab") as fh:
        fh.write(b'{"trace_id": "torn by kill -9 mid-wri')  # a crash mid-line
    fresh = TrailSink(tmp_path)  # the next process
    fresh.write([_trace(1)])
    assert fresh.torn_tails == 1
    assert [t.trace_id for _, t in read_trail(path)] == [_trace(0).trace_id, _trace(1).trace_id]
    with path.open("ab") as fh:
        fh.write(b"not json at all\n")
    store = Store(store_url)
    report = import_trails(store, [tmp_path])
    assert report.imported == 2 and len(report.skipped) == 1 and f"{path}:3:" in report.skipped[0]
    store.close()
