"""W3C trace context: inject, extract, malformed headers."""

from __future__ import annotations

import pytest

import glassbox as gb
from glassbox.testing import capture

TID, SID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def test_inject_writes_traceparent_of_the_active_stage():
    with capture(), gb.trace("q") as t:
        assert gb.inject({}) == {"traceparent": f"00-{t.trace_id}-{t.span_id}-01"}
        with gb.stage("call") as s:
            headers = gb.inject({"x": "1"})
            assert headers["traceparent"] == f"00-{t.trace_id}-{s.span_id}-01" and headers["x"] == "1"


def test_inject_outside_a_trace_leaves_headers_alone():
    assert gb.inject({"a": "b"}) == {"a": "b"}


def test_extract_continues_the_remote_trace_with_its_parent_and_tracestate():
    headers = {"TraceParent": f"00-{TID}-{SID}-01", "tracestate": "vendor=abc"}
    with capture() as traces:
        with gb.extract(headers) as parent, gb.trace("downstream", workflow="svc-b") as t:
            assert parent.trace_id == TID
            assert gb.inject({})["tracestate"] == "vendor=abc"
        assert t.trace_id == TID
    (tr,) = traces
    assert tr.parent_span_id == SID and tr.root().parent_id == SID


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        f"00-{'0' * 32}-{SID}-01",
        f"00-{TID}-{'0' * 16}-01",
        f"ff-{TID}-{SID}-01",
        f"00-{TID[:-1]}-{SID}-01",
        f"00-{TID}-{SID}-zz",
        f"00-{TID}-{SID}-01-extra",
        "",
        None,
        5,
    ],
)
def test_malformed_traceparent_is_ignored_and_a_new_trace_starts(value):
    with capture() as traces:
        with gb.extract({"traceparent": value}) as parent, gb.trace("q") as t:
            assert parent is None
        assert t.trace_id != TID
    assert traces[0].parent_span_id is None


def test_extract_of_none_or_empty_headers():
    with gb.extract(None) as p1, gb.extract({}) as p2:
        assert p1 is None and p2 is None


def test_future_version_traceparent_is_accepted():
    with capture() as traces, gb.extract({"traceparent": f"01-{TID}-{SID}-01-future"}), gb.trace("q"):
        pass
    assert traces[0].trace_id == TID


def test_stage_under_a_bare_remote_parent_is_a_noop_until_a_trace_starts():
    with capture() as traces, gb.extract({"traceparent": f"00-{TID}-{SID}-01"}), gb.stage("s") as s:
        assert s is gb.NOOP_STAGE
    assert list(traces) == []
