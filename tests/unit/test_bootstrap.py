"""Each sink fails on its own at start-up: an SQLite path that cannot be created leaves the trail working."""

from __future__ import annotations

import json

import pytest

import glassbox as gb
from glassbox.bootstrap import UnavailableSink


def test_an_uncreatable_sqlite_path_still_writes_the_trail_and_health_says_why(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    gb.configure(
        project="p",
        store=f"sqlite:///{blocker}/sub/glassbox.db",
        trail_dir=str(tmp_path / "traces"),
        flush_interval=0.05,
    )
    before = gb.health()
    assert before["enabled"] is True
    assert "cannot create the folder" in before["sinks"]["database"]["last_error"]
    with gb.trace("still traced") as t, gb.stage("step"):
        pass
    assert gb.flush(10) is not None
    lines = [json.loads(line) for f in (tmp_path / "traces").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert [d["trace_id"] for d in lines] == [t.trace_id]
    health = gb.health()
    assert health["sinks"]["trail"]["written"] == 1 and health["sinks"]["trail"]["errors"] == 0
    assert health["sinks"]["database"]["errors"] >= 1
    assert "database unavailable" in health["sinks"]["database"]["last_error"]


def test_the_unavailable_sink_is_built_again_once_the_problem_is_gone():
    written: list = []

    class Fine:
        name = "database"

        def write(self, traces):
            written.extend(traces)

        def close(self):
            pass

    attempts = {"n": 0}

    def build():
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise OSError("disk not mounted yet")
        return Fine()

    sink = UnavailableSink("database", build, OSError("first try"), retry_after=0.0)
    with pytest.raises(ConnectionError, match="disk not mounted yet"):
        sink.write(["t1"])
    sink.write(["t2"])
    assert written == ["t2"] and attempts["n"] == 2
