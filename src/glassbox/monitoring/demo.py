"""``glassbox demo``'s SLO section: an availability SLO that burns its error budget, and the page it sends.

It writes its own runs to project ``demo-slo`` (the demo's other figures stay as they are): three days of
a healthy ``checkout`` workflow, then a last hour where a third of the runs fail. One SLO check fires the
multi-window burn-rate page alert, delivered to a webhook receiver started here on 127.0.0.1 (what a
Slack or PagerDuty hook would get).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROJECT = "demo-slo"
MINUTE_NS = 60 * 10**9


def _runs() -> list[Any]:
    from glassbox.ids import new_span_id, new_trace_id
    from glassbox.model import Span, Trace

    now = time.time_ns()
    out = []
    # every 15 minutes for 3 days, then every minute for the last hour (a third of those failing)
    starts = [(now - m * MINUTE_NS, False) for m in range(61, 3 * 24 * 60, 15)]
    starts += [(now - m * MINUTE_NS, m % 3 == 0) for m in range(1, 61)]
    for start, failed in starts:
        t = Trace(new_trace_id(), "checkout", start)
        t.project, t.workflow, t.status = PROJECT, "checkout", "failed" if failed else "complete"
        t.end_ns = start + (2_400 if failed else 180) * 10**6
        root = Span(t.trace_id, new_span_id(), None, "checkout", "trace", start)
        root.end_ns, root.status = t.end_ns, "error" if failed else "ok"
        if failed:
            root.error = {"type": "UpstreamTimeout", "message": "payment provider timed out", "stack": ""}
            t.error = {"type": "UpstreamTimeout", "message": "payment provider timed out"}
        t.root_span_id, t.spans = root.span_id, [root]
        out.append(t)
    return out


class _Receiver:
    """A local webhook receiver: what a chat or paging service would be sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        got = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                got.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/oncall"
        threading.Thread(target=self.server.serve_forever, name="glassbox-demo-webhook", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def section(result: Any, console: Any, store: str | None) -> None:
    """Print one SLO's status and the burn-rate alert a local webhook received."""
    from rich.text import Text

    from glassbox.monitoring import notifiers
    from glassbox.monitoring.slo import SLO, check
    from glassbox.store.store import Store

    url = store or getattr(result, "store", None)
    if not url:
        return
    st = Store(url)
    receiver = _Receiver()
    delivery = notifiers.Delivery([notifiers.WebhookNotifier(receiver.url)], backoff=0.05)
    previous = notifiers.set_delivery(delivery)
    try:
        st.write_traces(_runs())
        slo = SLO(
            "checkout_availability",
            "availability",
            0.995,
            project=PROJECT,
            workflow="checkout",
            description="Checkout runs that do not fail",
        )
        (status,) = check(st, [slo])
        delivery.flush(timeout=10)
    finally:
        delivery.close(timeout=5)
        notifiers.set_delivery(previous)
        receiver.close()
        st.close()
    console.print()
    console.print(Text("SLO and alerts", style="bold"))
    left = "—" if status.budget_remaining is None else f"{100 * status.budget_remaining:.0f}%"
    rate = status.burn_rates.get("1h")
    console.print(
        Text(
            f"  {slo.name}: {100 * (status.sli or 0):.2f}% of {status.events} runs good over 30 d "
            f"(objective {100 * slo.objective:.1f}%), error budget left {left}, "
            f"burning {rate or 0:.1f}x over the last hour"
        )
    )
    firing = [f"{a.severity} {a.long}/{a.short} > {a.factor:g}x" for a in status.firing]
    console.print(
        Text(f"  burn-rate alert firing: {', '.join(firing) or 'none'}", style="bold red" if firing else "green")
    )
    if receiver.bodies:
        body = receiver.bodies[0]
        console.print(Text(f"  delivered to webhook {receiver.url}: {body['text']}"))
    else:
        console.print(Text("  (the local webhook received nothing)", style="yellow"))
    console.print(
        Text("  see: glassbox slo status --verbose, glassbox alerts, /slo and /alerts in glassbox serve", style="dim")
    )
