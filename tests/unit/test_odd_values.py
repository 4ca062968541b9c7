"""Any value a user passes, through every public call: never raises, never hangs, costs only itself
(issue 18, items 4-6). The trace round-trips through the store and the trail."""

from __future__ import annotations

import math
import threading
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glassbox as gb
from glassbox import runtime
from glassbox.jsonsafe import CYCLE, jsonable
from glassbox.store.store import Store
from glassbox.store.trail import read_trail

leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.binary(max_size=10)
    | st.sampled_from([float("nan"), float("inf"), -float("inf"), 2**64, -(2**70), object()])
)
values = st.recursive(
    leaves,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.tuples(kids, kids)
        | st.dictionaries(st.text(max_size=5) | st.integers(), kids, max_size=4)
    ),
    max_leaves=12,
)


def cyclic() -> dict:
    d: dict = {"name": "loop"}
    d["a"] = d
    d["b"] = d  # referenced twice: a naive walk is exponential
    d["list"] = [d, [d]]
    return d


def test_a_cyclic_or_very_deep_value_is_encoded_in_bounded_time():
    d = cyclic()
    out = jsonable(d)
    assert out["a"] == CYCLE and out["list"][0] == CYCLE
    deep: list = []
    cur = deep
    for _ in range(100_000):
        nxt: list = []
        cur.append(nxt)
        cur = nxt
    wide = {"x": [list(range(100)) for _ in range(100)]}
    shared = [1]
    for _ in range(60):  # a DAG with 2^60 paths
        shared = [shared, shared]
    for v in (deep, wide, shared):
        done = threading.Event()
        threading.Thread(target=lambda v=v, done=done: (jsonable(v), done.set()), daemon=True).start()
        assert done.wait(20)


def test_a_self_referencing_value_never_hangs_stage_set_or_the_writer(tmp_path):
    gb.configure(store=f"sqlite:///{tmp_path}/gb.db", trail_dir=str(tmp_path / "trail"), flush_interval=0.05)
    done = threading.Event()

    def record() -> None:
        with gb.trace(cyclic(), name="loop") as t, gb.stage("s") as s:
            s.set(value=cyclic())
            t.output = cyclic()
            gb.decision("d", inputs=cyclic(), alternatives=[cyclic()])
            gb.evidence("e", cyclic())
        done.set()

    threading.Thread(target=record, daemon=True).start()
    assert done.wait(20)
    with gb.trace("after") as later:
        pass
    assert gb.flush(20)
    store = Store(f"sqlite:///{tmp_path}/gb.db")
    assert store.get_trace(later.trace_id).status == "complete"
    assert store.counts()["traces"] == 2
    store.close()


_state: dict = {}


def _configured(tmp_path_factory) -> tuple[Store, object]:
    if runtime.current() is None or "store" not in _state:
        base = tmp_path_factory.mktemp("odd")
        gb.configure(
            store=f"sqlite:///{base}/gb.db", trail_dir=str(base / "trail"), flush_interval=0.02, heuristics=False
        )
        _state["store"] = Store(f"sqlite:///{base}/gb.db")
        _state["trail"] = base / "trail"
    return _state["store"], _state["trail"]


def _trail_doc(folder, trace_id: str):
    for f in folder.glob("*.jsonl"):
        for _, t in read_trail(f):
            if not isinstance(t, Exception) and t.trace_id == trace_id:
                return t
    return None


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(v=values, w=values, n=st.one_of(values, st.floats(allow_nan=True)))
def test_any_value_in_every_public_call_round_trips_through_store_and_trail(tmp_path_factory, v, w, n):
    store, trail = _configured(tmp_path_factory)
    with gb.trace(v, name="odd", metadata={"m": v, 1: w}, tags=["t", v]) as t:
        t.set(attr=v, other=n)
        with gb.stage("s") as s:
            s.set(value=w)
            s.decision(v, why=w, confidence=n, alternatives=v, inputs=w)
            gb.decision("plain", why=n, alternatives=[("a", n), "b", v], confidence=n)
            gb.evidence("e", v)
            s.evidence(w, w, extra=n)
            s.score("inner", n, max=n, passed=v, dimensions=v, comment=w)
            s.model_load(v)
        gb.score("quality", n, dimensions={"x": n, "y": v}, comment=v)
        t.score("again", 0.5, dimensions={"k": n}, comment=w)
        gb.feedback(t, rating=n, comment=w)
        t.output = w
    assert gb.flush(20)
    stored = store.get_trace(t.trace_id)  # raises TraceNotFound if the trace was lost from the database
    traced = _trail_doc(trail, t.trace_id)
    assert traced is not None, "lost from the trail"
    for got in (stored, traced):
        assert len(got.spans) == 2 and len(got.decisions) == 2
        assert {s.name for s in got.scores} >= {"again"}
        assert all(s.value is not None and math.isfinite(s.value) for s in got.scores)
    assert gb.health()["sinks"]["database"]["errors"] == 0 and gb.health()["sinks"]["trail"]["errors"] == 0


def test_stage_and_trace_methods_never_raise_into_user_code(tmp_path):
    gb.configure(store=f"sqlite:///{tmp_path}/gb.db", trail_dir=None, flush_interval=0.05)
    with gb.trace("q") as t, gb.stage("s") as s:
        assert t.decision() is None  # missing arguments: counted as an internal error, not raised
        assert s.score("x", "not a number") is None
        assert t.score("x", object()) is None
        assert t.evidence() is None
        s.set(**{"k": object(), "big": 2**70})
        s.model_load("many")
    assert gb.health()["internal_errors"] >= 2
    time.sleep(0)


def test_configure_during_a_trace_carries_it_over(tmp_path):
    gb.configure(store=f"sqlite:///{tmp_path}/old.db", trail_dir=None, flush_interval=0.02)
    with gb.trace("spans configure", name="long") as t:
        with gb.stage("before"):
            pass
        gb.configure(store=f"sqlite:///{tmp_path}/new.db", trail_dir=None, flush_interval=0.02)
        with gb.stage("after"):
            pass
    assert gb.flush(10)
    store = Store(f"sqlite:///{tmp_path}/new.db")
    got = store.get_trace(t.trace_id)
    assert {s.name for s in got.spans} == {"long", "before", "after"} and got.status == "complete"
    store.close()
