"""Budgets: warn when a run's spend passes a threshold, halt it before the next stage at the maximum.

A per-trace ``Budget`` (default from ``gb.configure(budget=...)``, or ``gb.trace(..., budget=...)``)
and a per-project daily budget (``daily_budget_usd``) that holds across processes: its total is
read from the store by the writer thread, so the check on the hot path is two additions.

Spend is summed exactly: each call's cost (a float from the pricer) is taken at its shortest
decimal form and added as a ``Decimal``, so $0.70 + $0.10 + $0.10 + $0.10 is $1.00, not
$0.9999999999999999. A run halts once its spend is AT or past the maximum (``spent >= max``);
the call that reaches it completes, and a ``budget.exceeded`` event and alert are recorded right
then (also for a run that calls only ``gb.llm()`` and starts no further stage); the next
``gb.stage()`` raises ``BudgetExceeded``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from glassbox.errors import GlassboxError
from glassbox.ids import new_record_id
from glassbox.model import Alert, Event

if TYPE_CHECKING:
    from glassbox.recorder import LiveTrace

log = logging.getLogger("glassbox")


class BudgetExceeded(GlassboxError):
    """Raised on purpose, before the next stage, once a budget's maximum is spent."""

    def __init__(self, spent: float, limit: float, scope: str) -> None:
        self.spent = spent
        self.limit = limit
        self.scope = scope
        super().__init__(f"{scope} budget exceeded: spent ${spent:.4f} of ${limit:.4f}")

    def __reduce__(self) -> Any:  # picklable across process pools
        return (type(self), (self.spent, self.limit, self.scope))


class Budget:
    """Spending limits in US dollars: a warning threshold and a hard maximum (either optional)."""

    __slots__ = ("max_usd", "warn_usd")

    def __init__(self, warn_usd: float | None = None, max_usd: float | None = None) -> None:
        for name, value in (("warn_usd", warn_usd), ("max_usd", max_usd)):
            if value is not None and (not isinstance(value, (int, float)) or value < 0 or math.isnan(value)):
                raise ValueError(f"Budget {name} must be a non-negative number of dollars, not {value!r}")
        if warn_usd is not None and max_usd is not None and warn_usd > max_usd:
            raise ValueError(f"Budget warn_usd ({warn_usd}) is above max_usd ({max_usd})")
        self.warn_usd = None if warn_usd is None else float(warn_usd)
        self.max_usd = None if max_usd is None else float(max_usd)

    def __repr__(self) -> str:
        return f"Budget(warn_usd={self.warn_usd}, max_usd={self.max_usd})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Budget) and (self.warn_usd, self.max_usd) == (other.warn_usd, other.max_usd)

    def __hash__(self) -> int:
        return hash((self.warn_usd, self.max_usd))


NO_LIMIT = Budget()  # marks a trace for checking when only the daily budget applies

_ZERO = Decimal(0)
# LiveTrace._budget_warned holds these flags (it started as a bool: False is none of them)
_WARNED, _TRACE_MAX, _DAILY_MAX = 1, 2, 4


def exact(usd: float | Decimal | None) -> Decimal:
    """A dollar amount as an exact Decimal: a float at its shortest decimal form (0.1 -> Decimal('0.1'))."""
    if usd is None:
        return _ZERO
    if isinstance(usd, Decimal):
        return usd
    return Decimal(repr(float(usd)))


class DailySpend:
    """Today's spend for one project: the store's total plus what this process has not written yet."""

    def __init__(self, project: str, limit_usd: float, store: Any = None) -> None:
        self.project = project
        self.limit_usd = limit_usd
        self.store = store
        self.stored = 0.0  # spend already in the store today (all processes)
        self.unwritten = _ZERO  # spend recorded here since the last refresh (exact)
        self.day = _utc_day()
        self.refreshed_at = 0.0
        self._lock = threading.Lock()

    def total(self) -> Decimal:
        return exact(self.stored) + self.unwritten

    def add(self, usd: float | Decimal) -> None:
        with self._lock:
            self.unwritten += exact(usd)

    def written(self, usd: float | Decimal) -> None:
        """Spend of traces the writer just stored: it now counts through the store's total."""
        if self.store is not None and usd:
            with self._lock:
                self.unwritten = max(_ZERO, self.unwritten - exact(usd))

    def refresh(self) -> None:
        """Re-read today's total from the store (on the writer thread, never the app's)."""
        day = _utc_day()
        if self.store is None:
            if day != self.day:
                with self._lock:
                    self.day, self.unwritten = day, _ZERO
            return
        stored = self.store.spend_since(self.project, day)
        with self._lock:
            self.stored, self.day, self.refreshed_at = stored, day, time.monotonic()


def _utc_day() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day)


def check(trace: LiveTrace, daily: DailySpend | None) -> None:
    """Raise BudgetExceeded if the trace or the project day is at its maximum; warn once past the threshold."""
    budget = trace.budget
    spent = exact(trace._spent)
    if budget is not None and budget.max_usd is not None and spent >= exact(budget.max_usd):
        _halt(trace, spent, budget.max_usd, "trace")
    if daily is not None:
        total = daily.total()
        if total >= exact(daily.limit_usd):
            _halt(trace, total, daily.limit_usd, "daily")


def after_cost(trace: LiveTrace, daily: DailySpend | None, usd: float | Decimal) -> None:
    """Account for a priced LLM call (a negative ``usd`` when a duplicate's count is taken back).

    Warns once per trace past the threshold; records the ``budget.exceeded`` event and alert
    as soon as the spend reaches a maximum (the halt itself comes at the next stage).
    """
    spent = trace._spent = exact(trace._spent) + exact(usd)
    if daily is not None:
        daily.add(usd)
    flags = int(trace._budget_warned)
    budget = trace.budget
    if budget is not None and budget.warn_usd is not None and not flags & _WARNED and spent >= exact(budget.warn_usd):
        flags |= _WARNED
        msg = f"trace {trace.trace_id} spent ${spent:.4f}, past its warning threshold ${budget.warn_usd:.4f}"
        log.warning("glassbox: budget warning: %s", msg)
        _mark(trace, "budget.warned", "budget_warn", "warning", msg, budget.warn_usd)
    if budget is not None and budget.max_usd is not None and not flags & _TRACE_MAX and spent >= exact(budget.max_usd):
        flags |= _TRACE_MAX
        _mark(
            trace,
            "budget.exceeded",
            "budget_trace_max",
            "critical",
            str(BudgetExceeded(float(spent), budget.max_usd, "trace")),
            budget.max_usd,
        )
    if daily is not None and not flags & _DAILY_MAX and daily.total() >= exact(daily.limit_usd):
        flags |= _DAILY_MAX
        _mark(
            trace,
            "budget.exceeded",
            "budget_daily_max",
            "critical",
            str(BudgetExceeded(float(daily.total()), daily.limit_usd, "daily")),
            daily.limit_usd,
        )
    trace._budget_warned = flags


def _halt(trace: LiveTrace, spent: Decimal, limit: float, scope: str) -> None:
    exc = BudgetExceeded(float(spent), limit, scope)
    if trace.status != "failed":
        trace.status = "failed"
        trace.error = {"type": "BudgetExceeded", "message": str(exc), "reason": "budget", "scope": scope}
        log.warning("glassbox: %s; halting trace %s", exc, trace.trace_id)
        flag = _TRACE_MAX if scope == "trace" else _DAILY_MAX
        if not int(trace._budget_warned) & flag:  # not yet recorded when the call crossed it
            trace._budget_warned = int(trace._budget_warned) | flag
            _mark(trace, "budget.exceeded", f"budget_{scope}_max", "critical", str(exc), limit)
    raise exc


def _mark(trace: LiveTrace, event: str, rule: str, severity: str, message: str, limit: float) -> None:
    now = time.time_ns()
    dims = {"spent_usd": round(float(trace._spent), 6), "limit_usd": limit}
    trace.events.append(Event(new_record_id(), event, dims, trace.root_span_id, now))
    trace.alerts.append(
        Alert(new_record_id(), "budget", rule, message, severity, dims, trace.trace_id, trace.project, now)
    )
