"""A database that accepts connections and never answers (issue 18, item 10): the trail is written as if
nothing were wrong, and every database call gives up after its timeout."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from pgserver import wait_for

import glassbox as gb
from glassbox.store.trail import read_trail


class HungServer:
    """Accepts TCP connections on loopback, reads what it is sent, never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def trail_ids(folder) -> set[str]:
    return {t.trace_id for f in folder.glob("*.jsonl") for _, t in read_trail(f)}


def test_a_hung_database_does_not_hold_back_the_trail(tmp_path):
    hung = HungServer()
    try:
        gb.configure(
            store=f"postgresql+psycopg://x@127.0.0.1:{hung.port}/x?connect_timeout=2",
            trail_dir=str(tmp_path / "trail"),
            spool_dir=str(tmp_path / "spool"),
            flush_interval=0.05,
            batch_size=5,
        )
        ids = []
        behind = []
        for i in range(40):
            with gb.trace(i, name="q") as t:
                pass
            ids.append(t.trace_id)
            time.sleep(0.02)
            if i % 10 == 9:  # the trail keeps up while the database lane waits on the hung server
                assert wait_for(lambda n=i: len(trail_ids(tmp_path / "trail")) == n + 1, timeout=3)
                behind.append(len(ids) - len(trail_ids(tmp_path / "trail")))
        assert hung.accepted >= 1  # the database sink was really stuck on it
        h = gb.health()
        assert h["sinks"]["trail"]["written"] == 40 and behind == [0, 0, 0, 0]
        gb.shutdown(timeout=1.0)
        assert trail_ids(tmp_path / "trail") == set(ids)  # all 40 at exit
    finally:
        hung.close()


def test_connecting_to_a_hung_database_gives_up_after_its_timeout():
    from glassbox.errors import StoreError
    from glassbox.store.store import Store

    hung = HungServer()
    try:
        store = Store(f"postgresql+psycopg://x@127.0.0.1:{hung.port}/x?connect_timeout=1")
        t0 = time.monotonic()
        with pytest.raises(StoreError, match=r"(?i)timeout"):
            store.list_traces()
        assert time.monotonic() - t0 < 10 and hung.accepted >= 1
    finally:
        hung.close()


def test_every_statement_has_a_timeout(store):
    with store.ready().engine.connect() as conn:
        if store.dialect == "postgresql":
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "1min"
        else:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
