"""Monitoring: an SLO with burn-rate alerts, a Python alert callback, JSON logs with trace and correlation ids.

Records 45 good `checkout` runs, then 15 that time out, checks an availability SLO
(the page alert fires and reaches the callback), and logs a line inside a run with its ids.

    python examples/monitoring.py
"""

from __future__ import annotations

import glassbox as gb
from glassbox.monitoring import notifiers
from glassbox.monitoring.slo import SLO, check
from glassbox.store.store import Store

STORE = "sqlite:///.glassbox/monitoring-example.db"
gb.configure(store=STORE, trail_dir=None, project="shop")
log = gb.logger("checkout")
pages = []


@gb.on_alert(source="slo", min_severity="critical")
def page_oncall(alert):
    pages.append(alert)


for i in range(60):
    failing = i >= 45  # the payment provider starts timing out
    with gb.correlation(f"req-{i}"):
        try:
            with gb.trace("checkout", workflow="checkout"):
                with gb.stage("pay"):
                    if failing:
                        log.warning("payment provider slow", attempt=1)
                        raise TimeoutError("payment provider timed out")
        except TimeoutError:
            pass
gb.flush()

store = Store(STORE)
slo = SLO("checkout_availability", "availability", 0.99, project="shop", workflow="checkout")
(status,) = check(store, [slo])  # fires the burn-rate alerts (and would resolve them once it recovers)
notifiers.delivery().flush()
print(f"{slo.name}: SLI {status.sli:.1%} over {status.events} runs, error budget left {status.budget_remaining:.0%}")
print(
    f"burn rate over the last hour: {status.burn_rates['1h']:.1f}x; firing: "
    f"{', '.join(f'{a.severity} {a.long}/{a.short}' for a in status.firing)}"
)
print(f"paged {len(pages)} time(s): {pages[0].message if pages else '-'}")
gb.shutdown()
