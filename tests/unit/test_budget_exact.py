"""Budgets and totals sum costs exactly; a run halts AT its maximum; crossing it is recorded even
when no stage follows (a run that only calls gb.llm())."""

from __future__ import annotations

from typing import Any

import pytest

import glassbox as gb
from glassbox.model import Span, Trace
from glassbox.testing import capture

# $0.10 per input token: 7 tokens cost $0.70, 1 token $0.10 (as floats: 0.7 + 0.1 + 0.1 + 0.1 < 1.0)
PRICES = {"acme-1": {"input_per_mtok": 100_000, "output_per_mtok": 0}}


def usage(tokens: int) -> dict[str, Any]:
    return {"model": "acme-1", "usage": {"prompt_tokens": tokens, "completion_tokens": 0}}


def test_seventy_and_three_tens_reach_one_dollar_and_halt_the_fifth_stage() -> None:
    assert 0.7 + 0.1 + 0.1 + 0.1 < 1.0  # what a float sum would have let through
    ran = []
    with capture(prices=PRICES, heuristics=False) as got, pytest.raises(gb.BudgetExceeded) as exc:
        with gb.trace("agent", budget=gb.Budget(max_usd=1.00)):
            for i, tokens in enumerate((7, 1, 1, 1, 1)):
                with gb.stage(f"step{i}", kind="llm"):
                    ran.append(i)
                    gb.llm(usage(tokens))
    assert ran == [0, 1, 2, 3]
    assert exc.value.spent == 1.0 and exc.value.limit == 1.0
    (t,) = got
    assert t.cost_usd == 1.0
    assert [e.name for e in t.events].count("budget.exceeded") == 1


def test_crossing_the_max_with_only_gb_llm_records_the_event_and_alert() -> None:
    with capture(prices=PRICES, heuristics=False) as got:
        with gb.trace("llm only", budget=gb.Budget(warn_usd=0.5, max_usd=1.0)):
            for tokens in (7, 1, 1, 1):
                gb.llm(usage(tokens))
    (t,) = got
    assert [e.name for e in t.events] == ["budget.warned", "budget.exceeded"]
    assert [(a.rule, a.severity) for a in t.alerts] == [("budget_warn", "warning"), ("budget_trace_max", "critical")]
    exceeded = next(e for e in t.events if e.name == "budget.exceeded")
    assert exceeded.payload == {"spent_usd": 1.0, "limit_usd": 1.0}
    assert t.status == "complete"  # nothing was halted: no stage came after the call


def test_below_the_max_records_nothing() -> None:
    with capture(prices=PRICES, heuristics=False) as got:
        with gb.trace("under", budget=gb.Budget(max_usd=1.0)):
            for tokens in (7, 1, 1):
                gb.llm(usage(tokens))
            with gb.stage("still runs"):
                pass
    assert got[0].events == [] and got[0].status == "complete"


def test_daily_budget_sums_exactly() -> None:
    with capture(prices=PRICES, heuristics=False, daily_budget_usd=1.0) as got:
        for tokens in (7, 1, 1, 1):
            with gb.trace("run"):
                gb.llm(usage(tokens))
        with pytest.raises(gb.BudgetExceeded) as exc, gb.trace("over"), gb.stage("s"):
            pass
    assert exc.value.scope == "daily"
    assert [a.rule for a in got[3].alerts] == ["budget_daily_max"]  # the run whose call reached it


def test_trace_totals_are_exact() -> None:
    t = Trace("a" * 32, "t")
    for i, usd in enumerate((0.7, 0.1, 0.1, 0.1)):
        s = Span(t.trace_id, f"{i + 1:016x}", None, "s", "llm", i)
        s.cost_usd = usd
        t.spans.append(s)
    assert t.cost_usd == 1.0
