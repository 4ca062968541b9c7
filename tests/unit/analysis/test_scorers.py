"""User scorers: run in the background before the sinks write, every return shape, failures recorded, never raised."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

import glassbox as gb
from glassbox.model import Score
from glassbox.scoring import ScoringStep, registered, unregister
from glassbox.store.store import Store
from glassbox.store.trail import read_trail

NAMES = (
    "faith",
    "gate",
    "dims",
    "full",
    "nothing",
    "broken",
    "async_judge",
    "where",
    "slow",
    "hangs",
    "bare_one",
    "quality",
    "async_broken",
    "slow_async",
    "blocked",
)


@pytest.fixture(autouse=True)
def _clean_registry():
    yield
    for name in NAMES:
        unregister(name)


def _scores(url, trace_id) -> dict[str, Score]:
    return {s.name: s for s in Store(url).get_trace(trace_id).scores if s.source != "heuristic"}


def test_user_scorers_of_every_shape(configured, tmp_path):
    threads: list[str] = []

    @gb.scorer("faith")
    def faith(trace):
        threads.append(threading.current_thread().name)
        return 0.75

    @gb.scorer("gate")
    def gate(trace):
        return "refund" in str(trace.output)

    @gb.scorer("dims", source="llm_judge")
    def dims(trace):
        return {"completeness": 0.5, "clarity": 1.0, "note": "ignored", "flag": True}

    @gb.scorer("full")
    def full(trace):
        return Score("", "full", 3.0, max=5.0, passed=True, comment="ok")

    @gb.scorer("nothing")
    def nothing(trace):
        return None

    @gb.scorer("async_judge")
    async def judge(trace):
        threads.append(threading.current_thread().name)
        await asyncio.sleep(0.01)
        return 0.9

    with gb.trace("q") as t:
        t.output = "refunds within 30 days"
    gb.flush()
    got = _scores(configured, t.trace_id)
    assert threads == ["glassbox-scorer", "glassbox-scorer"]  # never the app's thread
    assert (got["faith"].value, got["faith"].source, got["faith"].passed) == (0.75, "rule", None)
    assert (got["gate"].value, got["gate"].max, got["gate"].passed) == (1.0, 1.0, True)
    assert got["dims"].dimensions == {"completeness": 0.5, "clarity": 1.0} and got["dims"].value == 0.75
    assert got["dims"].source == "llm_judge"
    assert (got["full"].value, got["full"].max, got["full"].comment) == (3.0, 5.0, "ok")
    assert got["full"].source == "rule" and got["full"].id  # Score's default source gives way to the scorer's
    assert got["async_judge"].value == 0.9
    assert "nothing" not in got
    (trail_file,) = (tmp_path / "traces").glob("*.jsonl")  # the audit trail holds the same scores
    ((_, in_trail),) = read_trail(trail_file)
    assert {s.name for s in in_trail.scores if s.source != "heuristic"} == set(got)


def test_the_app_never_waits_for_a_scorer(configured):
    release = threading.Event()
    seen: dict[str, bool] = {}

    @gb.scorer("slow")
    def slow(trace):
        seen["app_went_on"] = release.wait(10)  # set by the app after its `with` returned
        return 1.0

    with gb.trace("q") as t:
        pass
    release.set()  # had the scorer run on the hot path, `with` would not have returned for 10 s
    gb.flush()
    assert seen == {"app_went_on": True} and _scores(configured, t.trace_id)["slow"].value == 1.0


def test_bare_decorator_and_reregistering_replaces():
    @gb.scorer
    def bare_one(trace):
        return 1

    assert [s.name for s in registered() if s.name == "bare_one"] == ["bare_one"]
    assert bare_one(None) == 1  # the function itself is returned, still callable

    @gb.scorer("bare_one")
    def again(trace):
        return 2

    (sc,) = [s for s in registered() if s.name == "bare_one"]
    assert sc.fn is again


def test_a_failing_scorer_is_recorded_and_the_trace_is_kept(configured, caplog):
    @gb.scorer("broken")
    def broken(trace):
        raise ValueError("judge model unavailable")

    @gb.scorer("where")
    def where(trace):
        return "not a score"

    @gb.scorer("async_broken")
    async def async_broken(trace):
        raise KeyError("missing")

    @gb.scorer("faith")
    def fine(trace):
        return 0.5

    with gb.trace("q") as t:
        t.output = "x"
    gb.flush()
    got = _scores(configured, t.trace_id)
    assert (got["broken"].passed, got["broken"].value) == (False, 0.0)
    assert got["broken"].comment == "scorer failed: ValueError: judge model unavailable"
    assert got["where"].passed is False and "expected a number, bool, dict or Score" in got["where"].comment
    assert got["async_broken"].passed is False and "KeyError" in got["async_broken"].comment
    assert got["faith"].value == 0.5  # the others still ran
    assert any("scorer 'broken' failed" in r.getMessage() for r in caplog.records)
    health = gb.health()
    assert health["sinks"]["database"]["errors"] == 0 and health["prepare_errors"] == 0


def test_a_failing_quality_scorer_fails_the_gate(configured):
    @gb.scorer("quality")
    def quality(trace):
        raise TimeoutError("judge timed out")

    with gb.trace("q") as t:
        pass
    gb.flush()
    stored = Store(configured).get_trace(t.trace_id)
    assert (stored.quality_score, stored.gate_passed) == (0.0, False)  # documented: no verdict is a failed gate
    assert "judge timed out" in stored.scores[-1].comment


def test_an_async_scorer_past_its_timeout(configured):
    gb.configure(store=configured, trail_dir=None, scorer_timeout=0.2, heuristics=False)

    @gb.scorer("slow_async")
    async def slow_async(trace):
        await asyncio.sleep(5)
        return 1.0

    @gb.scorer("faith")
    async def quick(trace):
        return 0.25

    with gb.trace("q") as t:
        pass
    gb.flush()
    got = _scores(configured, t.trace_id)
    assert got["slow_async"].passed is False and got["slow_async"].comment == (
        "scorer failed: TimeoutError: no result within 0.2 s"
    )
    assert got["faith"].value == 0.25  # the loop (and the thread) carry on


def test_a_hung_sync_scorer_costs_one_timeout_then_is_skipped_until_it_returns(configured):
    gb.configure(store=configured, trail_dir=None, scorer_timeout=0.2, heuristics=False)
    unblock = threading.Event()

    @gb.scorer("hangs")
    def hangs(trace):
        if trace.input == "first":
            unblock.wait(10)
        return 1.0

    @gb.scorer("faith")
    def fine(trace):
        return 0.5

    with gb.trace("first") as first:
        pass
    gb.flush()
    with gb.trace("second") as second:
        pass
    gb.flush()
    a, b = _scores(configured, first.trace_id), _scores(configured, second.trace_id)
    assert a["hangs"].comment == "scorer failed: TimeoutError: no result within 0.2 s" and a["faith"].value == 0.5
    assert (
        b["hangs"].passed is False and "has not returned" in b["hangs"].comment and first.trace_id in b["hangs"].comment
    )
    assert b["faith"].value == 0.5  # the other scorer runs on a fresh thread
    unblock.set()
    for _ in range(50):  # the hung call returns; the scorer is used again
        with gb.trace("third") as third:
            pass
        gb.flush()
        if "hangs" in (c := _scores(configured, third.trace_id)) and c["hangs"].passed is None:
            break
    assert c["hangs"].value == 1.0


def test_scoring_step_directly_orders_and_skips_stray_segments():
    step = ScoringStep(heuristics=True)
    t = gb.Trace("b" * 32, "t")
    t.root_span_id = "r" * 16
    t.scores.append(Score("s1", "quality", 0.5, at_ns=10**19))  # a score stamped in the future
    step(t)
    assert [s.name for s in t.scores][:2] == ["quality", "citation_count"]
    times = [s.at_ns for s in t.scores]
    assert times == sorted(times) and len(set(times)) == len(times)  # the store orders by time: keep it stable
    stray = gb.Trace("c" * 32, "t")  # root_span_id None: a late segment of a trace scored elsewhere
    step(stray)
    assert stray.scores == []
    step.close()


def test_scores_of_every_shape_round_trip_as_json(configured):
    @gb.scorer("dims")
    def dims(trace):
        return {"ünïcode": 0.5, 'a"quote': 1}

    with gb.trace("q") as t:
        pass
    gb.flush()
    got = _scores(configured, t.trace_id)["dims"]
    assert json.loads(json.dumps(got.to_dict()))["dimensions"] == {"ünïcode": 0.5, 'a"quote': 1.0}


def test_scorers_run_in_a_forked_child(configured):
    import os

    @gb.scorer("faith")
    def faith(trace):
        return float(os.getpid())

    with gb.trace("parent"):
        pass
    gb.flush()  # the parent's scorer thread exists now; the child must start its own
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            with gb.trace("child") as t:
                pass
            gb.flush(10)
            got = _scores(configured, t.trace_id)["faith"]
            code = 0 if got.value == float(os.getpid()) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
