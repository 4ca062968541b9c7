"""fork() while other threads record (issue 18, item 8): no child hangs on a lock it inherited, and every
child's traces are written."""

from __future__ import annotations

import os
import threading
import time
import warnings

import pytest

import glassbox as gb
from glassbox.store.store import Store

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _child(out_dir: str, i: int) -> None:
    code = 1
    import faulthandler

    stack = open(os.path.join(out_dir, f"{i}.stack"), "w")  # noqa: SIM115 - where a hung child says where it is
    faulthandler.dump_traceback_later(12, file=stack)
    try:
        ids = []
        for j in range(5):
            with gb.trace(f"child {i}.{j}", name="child") as t, gb.stage("work"):
                gb.decision("go", why="child", confidence=0.5)
            ids.append(t.trace_id)
        if gb.flush(15):
            with open(os.path.join(out_dir, f"{i}.ids"), "w") as fh:
                fh.write("\n".join(ids))
            code = 0
        else:
            with open(os.path.join(out_dir, f"{i}.health"), "w") as fh:
                fh.write(repr(gb.health()))
    finally:
        os._exit(code)


def _wait(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


@pytest.mark.postgres
@pytest.mark.parametrize("when", ["at start-up", "while running"])
def test_fork_while_threads_record(pg_url, tmp_path, when):
    """PostgreSQL, as forking servers (gunicorn, Celery prefork) use: SQLite's own locks do not survive a fork
    taken while another thread writes (its docs: no connection across fork), see docs/storage.md."""
    db = pg_url
    gb.configure(store=db, trail_dir=str(tmp_path / "trail"), flush_interval=0.01, batch_size=50)
    stop = threading.Event()

    def record() -> None:
        while not stop.is_set():
            with gb.trace("parent", name="parent"), gb.stage("s") as s:
                s.set(k="v")
                gb.decision("d", why="parent")
            time.sleep(0.002)

    threads = [threading.Thread(target=record, daemon=True) for _ in range(3)]
    for th in threads:
        th.start()
    if when == "while running":
        time.sleep(0.3)
    results = []
    try:
        for i in range(6):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: exactly what we test
                pid = os.fork()
            if pid == 0:
                _child(str(tmp_path), i)
            results.append(_wait(pid, 20))
    finally:
        stop.set()
        for th in threads:
            th.join(5)
    assert results == [0] * 6, f"children: {results} (None = hung and killed)"
    gb.flush(10)
    store = Store(db)
    for i in range(6):
        for tid in (tmp_path / f"{i}.ids").read_text().split():
            assert store.get_trace(tid).name == "child"
    store.close()
