"""Head sampling: consistent by trace id, no-op when sampled out, keep_errors keeps failures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import glassbox as gb
from glassbox.config import load_settings
from glassbox.runtime import Runtime
from glassbox.testing import capture


def test_sample_rate_zero_makes_stages_noops_and_writes_nothing():
    with capture(sample_rate=0.0) as traces:
        with gb.trace("q") as t, gb.stage("s") as s:
            gb.decision("x")
            assert s is gb.NOOP_STAGE
            assert t.trace_id is not None  # ids still exist so the choice propagates
            headers = gb.inject({})
            assert headers["traceparent"].endswith("-00")
    assert list(traces) == []


def test_keep_errors_keeps_failed_sampled_out_traces_only():
    with capture(sample_rate=0.0, keep_errors=True) as traces:
        with gb.trace("ok"), gb.stage("s"):
            pass
        with pytest.raises(RuntimeError), gb.trace("bad"), gb.stage("s"):
            raise RuntimeError("x")
    assert [t.input for t in traces] == ["bad"]
    assert traces[0].status == "failed"


@given(st.integers(min_value=1, max_value=(1 << 128) - 1), st.floats(min_value=0.0, max_value=1.0))
def test_sampling_decision_is_a_pure_function_of_trace_id_and_rate(tid, rate):
    trace_id = f"{tid:032x}"
    a = Runtime(load_settings(store=None, trail_dir=None, sample_rate=rate), None)
    b = Runtime(load_settings(store=None, trail_dir=None, sample_rate=rate), None)
    assert a.sampled(trace_id) == b.sampled(trace_id)  # two services agree
    assert a.sampled(trace_id) == ((tid & ((1 << 64) - 1)) < int(rate * (1 << 64)))


def test_sample_rate_keeps_about_the_right_share():
    with capture(sample_rate=0.25) as traces:
        for i in range(2000):
            with gb.trace(str(i)):
                pass
    traces.flush()
    assert 400 < len(traces) < 600


def test_remote_parent_sampled_flag_wins_over_local_rate():
    with capture(sample_rate=1.0) as traces:
        with gb.extract({"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-00"}), gb.trace("q"):
            pass
        with gb.extract({"traceparent": f"00-{'ef' * 16}-{'cd' * 8}-01"}), gb.trace("q2"):
            pass
    assert [t.trace_id for t in traces] == ["ef" * 16]
