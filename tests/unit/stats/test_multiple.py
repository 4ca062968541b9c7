"""Holm and Benjamini-Hochberg against statsmodels' multipletests."""

from __future__ import annotations

import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from glassbox.stats.multiple import adjust, benjamini_hochberg, holm


@pytest.fixture(scope="module")
def no_full_collections():
    # statsmodels' multipletests runs gc.collect() on every call: ~1 s each on the heap of a whole
    # test session (88 s for this test). The reference figures do not depend on it.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gc, "collect", lambda *args: 0)
        yield


@settings(max_examples=40, deadline=None)
@given(ps=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12), alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_equal_to_statsmodels(no_full_collections, ps: list[float], alpha: float) -> None:
    for ours, method in ((holm, "holm"), (benjamini_hochberg, "fdr_bh")):
        reject, adjusted = ours(ps, alpha)
        sm_reject, sm_adj, _, _ = multipletests(ps, alpha=alpha, method=method)
        assert adjusted == pytest.approx(list(sm_adj), abs=1e-12)
        assert reject == list(sm_reject)


def test_worked_example() -> None:
    ps = [0.01, 0.04, 0.03, 0.005]
    assert holm(ps)[1] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert benjamini_hochberg(ps)[1] == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_unknown_method_and_bad_p() -> None:
    with pytest.raises(ValueError, match="holm, bh or none"):
        adjust([0.1], "bonferroni")
    with pytest.raises(ValueError, match="between 0 and 1"):
        holm([1.5])
