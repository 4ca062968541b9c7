"""Budgets: warn once past the threshold, halt before the next stage, daily limit across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import glassbox as gb
from glassbox.testing import capture


def _spend(usd: float) -> None:
    t = gb.current_trace()
    t._runtime.add_cost(t, usd)


def test_budget_rejects_nonsense():
    with pytest.raises(ValueError, match="non-negative"):
        gb.Budget(max_usd=-1)
    with pytest.raises(ValueError, match="above max_usd"):
        gb.Budget(warn_usd=5, max_usd=1)


def test_warn_once_then_halt_before_the_next_stage(caplog):
    with capture(budget=None) as traces, caplog.at_level("WARNING", logger="glassbox"):
        with pytest.raises(gb.BudgetExceeded) as exc:
            with gb.trace("q", budget=gb.Budget(warn_usd=1.0, max_usd=2.0)):
                with gb.stage("a"):
                    _spend(1.5)
                    _spend(0.1)  # still one warning
                with gb.stage("b"):
                    _spend(0.5)  # now at the max: the call itself is not interrupted
                with gb.stage("never"):
                    pytest.fail("a stage started past the budget")
    assert (exc.value.spent, exc.value.limit, exc.value.scope) == (pytest.approx(2.1), 2.0, "trace")
    tr = traces[0]
    assert tr.status == "failed" and tr.error["reason"] == "budget" and tr.error["scope"] == "trace"
    assert [s.name for s in tr.spans] == ["trace", "a", "b"]
    names = [e.name for e in tr.events]
    assert names.count("budget.warned") == 1 and names.count("budget.exceeded") == 1
    assert [(a.source, a.rule, a.severity) for a in tr.alerts] == [
        ("budget", "budget_warn", "warning"),
        ("budget", "budget_trace_max", "critical"),
    ]
    assert caplog.text.count("budget warning") == 1


def test_default_budget_from_configure_and_per_trace_override():
    with capture() as traces:
        gb._runtime.current().default_budget = gb.Budget(max_usd=1.0)
        with pytest.raises(gb.BudgetExceeded), gb.trace("default"):
            _spend(1.0)
            gb.check_budget()
        with gb.trace("override", budget=gb.Budget(max_usd=10.0)):
            _spend(5.0)
            with gb.stage("fine"):
                pass
    assert [t.status for t in traces] == ["failed", "complete"]


def test_configure_accepts_a_budget_object(tmp_path):
    s = gb.configure(store=None, trail_dir=None, budget=gb.Budget(warn_usd=0.5, max_usd=3))
    assert (s.budget_warn_usd, s.budget_max_usd) == (0.5, 3.0)
    with gb.trace("q") as t:
        assert t.budget == gb.Budget(0.5, 3.0)


def test_no_budget_means_no_checks_on_the_hot_path():
    with capture(), gb.trace("q") as t:
        assert t.budget is None


def test_daily_budget_holds_across_processes(tmp_path):
    db = f"sqlite:///{tmp_path}/gb.db"
    script = textwrap.dedent(f"""
        import glassbox as gb
        gb.configure(project="p", store="{db}", trail_dir=None, daily_budget_usd=10.0)
        with gb.trace("other process") as t:
            t._runtime.add_cost(t, 6.0)
            with gb.stage("llm") as s:
                s.cost_usd = 6.0
        gb.flush()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    gb.configure(project="p", store=db, trail_dir=None, daily_budget_usd=10.0, flush_interval=0.05)
    with gb.trace("here") as t:
        _spend(3.0)
        with gb.stage("ok"):
            pass  # 6 + 3 < 10
        _spend(1.5)
        with pytest.raises(gb.BudgetExceeded) as exc, gb.stage("over"):
            pass
    assert exc.value.scope == "daily" and exc.value.spent == pytest.approx(10.5)
    assert t.status == "failed"


def test_budget_exceeded_is_the_one_exception_that_reaches_user_code():
    with capture(), pytest.raises(gb.BudgetExceeded), gb.trace("q", budget=gb.Budget(max_usd=0)):
        gb.stage("first")
    assert issubclass(gb.BudgetExceeded, gb.GlassboxError)
