"""Canary analysis: a gate between the baseline and the canary, turned into promote / hold / rollback,
along a ramp plan (5 -> 25 -> 50 -> 100 % by default) whose every step is recorded in the store.

- pass -> **promote** (to the next ramp step; at the last step the rollout is complete);
- marginal or not enough data -> **hold** (stay at this step and check again later);
- fail -> **rollback** (the ramp starts over at its first step next time), and a ``canary`` alert.

Verdict hooks: a webhook (JSON POST, retried with backoff) and/or a command (the decision as JSON on
its stdin, ``GLASSBOX_DECISION`` in its environment).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from glassbox.errors import GlassboxError
from glassbox.evaluation.gate import DEFAULT_SPECS, GateError, MetricSpec, Verdict, list_verdicts, record_verdict

if TYPE_CHECKING:
    from glassbox.store.store import Store

log = logging.getLogger("glassbox")

RAMP = (5.0, 25.0, 50.0, 100.0)
DECISIONS = {"pass": "promote", "marginal": "hold", "not_enough_data": "hold", "fail": "rollback"}


@dataclass
class CanaryDecision:
    decision: str  # promote, hold, rollback
    verdict: Verdict
    name: str
    step: int
    percent: float
    next_percent: float | None  # where a promote goes (None: the rollout is complete, or no move)
    ramp: tuple[float, ...]
    hooks: list[dict[str, Any]] = field(default_factory=list)  # what each hook answered

    @property
    def complete(self) -> bool:
        return self.decision == "promote" and self.next_percent is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "name": self.name,
            "step": self.step,
            "percent": self.percent,
            "next_percent": self.next_percent,
            "complete": self.complete,
            "ramp": list(self.ramp),
            "verdict": self.verdict.to_dict(),
            "hooks": self.hooks,
        }


def parse_ramp(text: str | Sequence[float]) -> tuple[float, ...]:
    """``"5,25,50,100"`` -> (5, 25, 50, 100): increasing shares ending at 100."""
    try:
        steps = tuple(float(x) for x in (text.split(",") if isinstance(text, str) else text) if str(x).strip())
    except ValueError:
        raise GateError(f"--ramp: expected percentages like 5,25,50,100, got {text!r}") from None
    if not steps or any(b <= a for a, b in itertools.pairwise(steps)) or steps[0] <= 0 or steps[-1] != 100:
        raise GateError(f"--ramp: expected increasing percentages ending at 100, got {text!r}")
    return steps


def current_step(store: Store, name: str, ramp: Sequence[float]) -> int:
    """The ramp step the canary is at, from its recorded history (0 when new or after a rollback)."""
    last = list_verdicts(store, kind="canary", name=name, limit=1)
    if not last:
        return 0
    row = last[0]
    step = int(row["step"] or 0)
    if row["verdict"] == "rollback":
        return 0
    if row["verdict"] == "promote":
        return min(step + 1, len(ramp) - 1) if step + 1 < len(ramp) else len(ramp) - 1
    return min(step, len(ramp) - 1)


def check(
    store: Store,
    baseline: str | Mapping[str, Any],
    canary: str | Mapping[str, Any],
    *,
    name: str | None = None,
    ramp: Sequence[float] = RAMP,
    step: int | None = None,
    specs: Sequence[MetricSpec] = DEFAULT_SPECS,
    project: str | None = None,
    webhook: str | None = None,
    command: str | None = None,
    alert: bool = True,
    **judge_options: Any,
) -> CanaryDecision:
    """Judge ``canary`` against ``baseline``, decide, record the step, run the hooks, alert on rollback."""
    from glassbox.evaluation.gate import run_gate

    ramp = parse_ramp(ramp) if isinstance(ramp, str) else tuple(ramp)
    label = name or f"{_label(baseline)}->{_label(canary)}"
    at = current_step(store, label, ramp) if step is None else step
    if not 0 <= at < len(ramp):
        raise GateError(f"--step: expected 0..{len(ramp) - 1} for a ramp of {len(ramp)} steps, got {at}")
    v = run_gate(store, baseline, canary, specs, project=project, record=False, **judge_options)
    decision = DECISIONS[v.verdict]
    nxt = ramp[at + 1] if decision == "promote" and at + 1 < len(ramp) else None
    record_verdict(store, v, kind="canary", name=label, project=project, step=at, percent=ramp[at], verdict=decision)
    out = CanaryDecision(decision, v, label, at, ramp[at], nxt, ramp)
    if alert:
        _alert(store, out, project)
    doc = out.to_dict()
    if webhook:
        out.hooks.append(post_webhook(webhook, doc))
    if command:
        out.hooks.append(run_command(command, doc))
    return out


def _label(spec: str | Mapping[str, Any]) -> str:
    if isinstance(spec, Mapping):
        return ",".join(f"{k}={v}" for k, v in spec.items())
    return str(spec)


def _alert(store: Store, d: CanaryDecision, project: str | None) -> None:
    """A critical ``canary`` alert on rollback (resolved by a later promote), through the alerts contract."""
    key = f"canary:{project or 'default'}:{d.name}"
    reasons = "; ".join(d.verdict.reasons[:3])
    try:
        from glassbox.monitoring import alerts
    except ImportError:  # the monitoring feature is not there: the stored alerts table still is
        alerts = None  # type: ignore[assignment]
    try:
        if d.decision == "rollback":
            message = f"canary {d.name} at {d.percent:g}%: rollback ({reasons})"
            if alerts is not None:
                alerts.fire(
                    store,
                    source="canary",
                    rule=d.name,
                    severity="critical",
                    message=message,
                    key=key,
                    dims={"step": d.step, "percent": d.percent},
                    project=project,
                )
            else:
                from glassbox.ids import new_record_id
                from glassbox.model import Alert
                from glassbox.store.alerts import add_alerts

                add_alerts(
                    store,
                    [
                        Alert(
                            new_record_id(),
                            "canary",
                            d.name,
                            message,
                            "critical",
                            {"step": d.step},
                            None,
                            project,
                            time.time_ns(),
                            key=key,
                        )
                    ],
                )
        elif d.decision == "promote" and alerts is not None:
            alerts.resolve(store, key)
    except Exception as exc:  # noqa: BLE001 - the decision stands even if the alert cannot be recorded
        log.warning("glassbox: canary alert not recorded: %s", exc)


def post_webhook(
    url: str, doc: dict[str, Any], *, attempts: int = 3, timeout: float = 5.0, backoff: float = 0.5
) -> dict[str, Any]:
    """POST ``doc`` as JSON; retried on connection errors and 5xx/429 with exponential backoff."""
    if not url.startswith(("http://", "https://")):
        raise GlassboxError(f"--webhook: expected an http(s) URL, got {url!r}")
    body = json.dumps(doc, default=str).encode()
    last = ""
    for i in range(attempts):
        req = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "glassbox-canary"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return {"hook": "webhook", "ok": True, "status": resp.status, "attempts": i + 1}
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                return {"hook": "webhook", "ok": False, "status": exc.code, "attempts": i + 1, "error": last}
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if i + 1 < attempts:
            time.sleep(backoff * (2**i))
    return {"hook": "webhook", "ok": False, "attempts": attempts, "error": last}


def run_command(command: str, doc: dict[str, Any], *, timeout: float = 120.0) -> dict[str, Any]:
    """Run ``command`` (no shell) with the decision as JSON on stdin and in GLASSBOX_DECISION / _NAME."""
    argv = shlex.split(command)
    if not argv:
        raise GlassboxError("--on-verdict: empty command")
    env = {
        **os.environ,
        "GLASSBOX_DECISION": str(doc["decision"]),
        "GLASSBOX_CANARY": str(doc["name"]),
        "GLASSBOX_PERCENT": f"{doc['percent']:g}",
    }
    try:
        done = subprocess.run(
            argv,
            input=json.dumps(doc, default=str),
            text=True,
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"hook": "command", "ok": False, "error": str(exc)}
    return {
        "hook": "command",
        "ok": done.returncode == 0,
        "returncode": done.returncode,
        "stdout": done.stdout[-2000:],
        "stderr": done.stderr[-2000:],
    }
