"""Alert delivery: the ``Notifier`` seam (one method), webhooks, commands, Python callbacks, and the
``Delivery`` that runs them off the caller's thread.

Every notifier has its own worker thread and bounded queue, so a slow webhook delays no other
notifier and never the caller (ingest, the app, the SLO job): ``submit`` only appends. A failed
delivery is retried with exponential backoff; after the last attempt it is a *dead letter*
(counted in ``gb.health()`` and ``/health/full``). Before anything is queued, the policy applies:

* **repeats**: an alert that is already open notifies again only after ``repeat_interval`` seconds
  (its count still grows in the store); acknowledged alerts notify no one;
* **rate limit**: at most ``rate_limit`` notifications a minute per notifier (the rest are counted);
* **quiet hours**: ``"22:00-07:00"`` (UTC): only ``critical`` alerts notify in that period.

The webhook body (schema ``glassbox.alert.v1``, documented in docs/monitoring.md)::

    {"schema": "glassbox.alert.v1", "event": "firing" | "resolved" | "test",
     "text": "<one line for Slack-compatible receivers>", "alert": {id, key, source, rule, severity,
     state, message, dims, trace_id, project, first_seen, last_seen, count, ...}}

This module is light (no SQLAlchemy): ``gb.on_alert`` imports it in the app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from glassbox.model import Alert

log = logging.getLogger("glassbox")

SCHEMA = "glassbox.alert.v1"
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
_ICON = {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}


class Notifier(Protocol):
    """Where an alert goes. ``notify`` raises when delivery failed (it is then retried)."""

    def notify(self, alert: Alert) -> None: ...


def slack_text(alert: Alert, event: str = "firing") -> str:
    """One line a person reads in Slack (or any chat that takes a ``text`` field)."""
    head = "[RESOLVED] " if event == "resolved" else "[TEST] " if event == "test" else ""
    times = f" (x{alert.count})" if alert.count > 1 else ""
    where = f" project {alert.project}" if alert.project else ""
    run = f" run {alert.trace_id[:12]}" if alert.trace_id else ""
    return (
        f"{_ICON.get(alert.severity, '')} {head}{alert.severity.upper()} {alert.source}/{alert.rule}{times}: "
        f"{' '.join(alert.message.split())}{where}{run}"
    ).strip()


def payload(alert: Alert, event: str = "firing") -> dict[str, Any]:
    """The JSON body every webhook and command receives."""
    return {"schema": SCHEMA, "event": event, "text": slack_text(alert, event), "alert": alert.to_dict()}


class Event:
    """An alert on its way out: what happened to it (``firing``, ``resolved``, ``test``)."""

    __slots__ = ("alert", "event")

    def __init__(self, alert: Alert, event: str) -> None:
        self.alert, self.event = alert, event


class WebhookNotifier:
    """POST the JSON body to a URL; non-2xx answers and network errors raise (and are retried)."""

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
        min_severity: str = "info",
        sources: Sequence[str] | None = None,
    ) -> None:
        self.url, self.headers, self.timeout = url, dict(headers or {}), timeout
        self.min_severity, self.sources = min_severity, tuple(sources or ())
        self.name = f"webhook {url.split('?', maxsplit=1)[0]}"
        self._client: Any = None

    def notify(self, alert: Alert) -> None:
        self.send(payload(alert, getattr(alert, "_event", "firing")))

    def send(self, body: dict[str, Any]) -> None:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)
        resp = self._client.post(self.url, json=body, headers=self.headers)
        if resp.status_code >= 300:
            raise RuntimeError(f"{self.url} answered {resp.status_code}")


class CommandNotifier:
    """Run a command with the JSON body on stdin (and ``GLASSBOX_ALERT_*`` in its environment)."""

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        timeout: float = 30.0,
        min_severity: str = "info",
        sources: Sequence[str] | None = None,
    ) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv:
            raise ValueError("an alert command cannot be empty")
        self.timeout, self.min_severity, self.sources = timeout, min_severity, tuple(sources or ())
        self.name = f"command {self.argv[0]}"

    def notify(self, alert: Alert) -> None:
        event = getattr(alert, "_event", "firing")
        env = {
            **os.environ,
            "GLASSBOX_ALERT_EVENT": event,
            "GLASSBOX_ALERT_SEVERITY": alert.severity,
            "GLASSBOX_ALERT_SOURCE": alert.source,
            "GLASSBOX_ALERT_RULE": alert.rule,
            "GLASSBOX_ALERT_TEXT": slack_text(alert, event),
        }
        proc = subprocess.run(
            self.argv,
            input=json.dumps(payload(alert, event), default=str),
            text=True,
            env=env,
            capture_output=True,
            timeout=self.timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{self.argv[0]} exited {proc.returncode}: {proc.stderr.strip()[-200:]}")


# -- Python callbacks (gb.on_alert) ----------------------------------------------------------
_callbacks: list[tuple[Callable[[Alert], Any], tuple[str, ...], str]] = []


def on_alert(
    fn: Callable[[Alert], Any] | None = None, *, source: str | Sequence[str] | None = None, min_severity: str = "info"
) -> Any:
    """Call ``fn(alert)`` for every alert this process fires (off the caller's thread); usable as a decorator.

    ``source``: only alerts of these sources (``"slo"``, ``["budget", "calibration"]``…).
    The alert has an extra attribute ``event``: ``firing``, ``resolved`` or ``test``.
    """
    if min_severity not in SEVERITY_RANK:
        raise ValueError(f"min_severity must be one of {', '.join(SEVERITY_RANK)}")
    sources = (source,) if isinstance(source, str) else tuple(source or ())

    def register(f: Callable[[Alert], Any]) -> Callable[[Alert], Any]:
        _callbacks.append((f, sources, min_severity))
        return f

    return register(fn) if fn is not None else register


def remove_callbacks() -> None:
    """Forget every ``on_alert`` callback (tests)."""
    _callbacks.clear()


class CallbackNotifier:
    """Every registered ``on_alert`` callback, each on its own filters; one failing does not stop the others."""

    name = "callbacks"
    min_severity = "info"
    sources: tuple[str, ...] = ()

    def notify(self, alert: Alert) -> None:
        problem = None
        for fn, sources, min_sev in list(_callbacks):
            too_low = SEVERITY_RANK.get(alert.severity, 0) < SEVERITY_RANK[min_sev]
            if (sources and alert.source not in sources) or too_low:
                continue
            try:
                fn(alert)
            except Exception as exc:  # noqa: BLE001 - a user's callback failing is reported, never raised
                problem = problem or exc
        if problem is not None:
            raise problem


# -- policy and workers ----------------------------------------------------------------------
def parse_quiet_hours(spec: str | None) -> tuple[int, int] | None:
    """``"22:00-07:00"`` -> minutes of the UTC day (start, end); None for none."""
    if not spec:
        return None
    try:
        a, b = spec.split("-")
        minutes = [int(h) * 60 + int(m) for h, m in (x.strip().split(":") for x in (a, b))]
    except ValueError:
        raise ValueError(f"quiet hours must look like 22:00-07:00 (UTC), not {spec!r}") from None
    if not all(0 <= m < 1440 for m in minutes):
        raise ValueError(f"quiet hours out of range: {spec!r}")
    return minutes[0], minutes[1]


def in_quiet_hours(window: tuple[int, int] | None, now: datetime | None = None) -> bool:
    if window is None:
        return False
    t = now or datetime.now(UTC)
    m = t.hour * 60 + t.minute
    start, end = window
    return start <= m < end if start <= end else (m >= start or m < end)


class _Worker:
    """One notifier's queue and thread: retries with backoff, counts what it delivered and what it lost."""

    def __init__(self, notifier: Any, delivery: Delivery) -> None:
        self.notifier, self.d = notifier, delivery
        self.name = getattr(notifier, "name", type(notifier).__name__)
        self.queue: deque[Event] = deque()
        self.cond = threading.Condition()
        self.sent: deque[float] = deque()  # monotonic times of the last minute's notifications
        self.delivered = self.dead_letters = self.retries = self.dropped = self.rate_limited = 0
        self.busy = False
        self.last_error: str | None = None
        self.thread = threading.Thread(target=self._run, name=f"glassbox-alerts-{self.name}", daemon=True)
        self.thread.start()

    def wants(self, alert: Alert) -> bool:
        sources = getattr(self.notifier, "sources", ())
        min_sev = getattr(self.notifier, "min_severity", "info")
        return (not sources or alert.source in sources) and SEVERITY_RANK.get(alert.severity, 0) >= SEVERITY_RANK.get(
            min_sev, 0
        )

    def offer(self, ev: Event) -> None:
        now = time.monotonic()
        with self.cond:
            while self.sent and now - self.sent[0] > 60.0:
                self.sent.popleft()
            if ev.event != "test" and len(self.sent) >= self.d.rate_limit:
                self.rate_limited += 1
                return
            if len(self.queue) >= self.d.queue_size:
                self.dropped += 1
                return
            self.sent.append(now)
            self.queue.append(ev)
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.d.closed:
                    self.cond.wait(0.5)
                if not self.queue and self.d.closed:
                    return
                ev = self.queue.popleft()
                self.busy = True
            try:
                self._deliver(ev)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()

    def _deliver(self, ev: Event) -> None:
        alert = _with_event(ev.alert, ev.event)
        delay = self.d.backoff
        for attempt in range(self.d.retries + 1):
            try:
                self.notifier.notify(alert)
                self.delivered += 1
                return
            except Exception as exc:  # noqa: BLE001 - a receiver failing is counted and retried, never raised
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                if attempt == self.d.retries or self.d.closed:
                    break
                self.retries += 1
                time.sleep(delay)
                delay = min(delay * 2, self.d.max_backoff)
        self.dead_letters += 1
        log.warning(
            "glassbox: alert %s not delivered to %s after %d attempts: %s",
            ev.alert.id,
            self.name,
            self.d.retries + 1,
            self.last_error,
        )

    def idle(self) -> bool:
        return not self.queue and not self.busy

    def health(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "delivered": self.delivered,
            "dead_letters": self.dead_letters,
            "retries": self.retries,
            "dropped": self.dropped,
            "rate_limited": self.rate_limited,
            "queued": len(self.queue),
            "last_error": self.last_error,
        }


def _with_event(alert: Alert, event: str) -> Alert:
    """A copy of the alert that knows its event (``alert.event``), for callbacks and bodies."""
    copy = _EventAlert.__new__(_EventAlert)
    for slot in Alert.__slots__:
        setattr(copy, slot, getattr(alert, slot))
    copy._event = event
    return copy


class _EventAlert(Alert):
    __slots__ = ("_event",)

    @property
    def event(self) -> str:
        return self._event


class Delivery:
    """Runs notifiers off the caller's thread with the repeat, rate-limit and quiet-hours policy."""

    def __init__(
        self,
        notifiers: Iterable[Any] = (),
        *,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        rate_limit: int = 30,
        repeat_interval: float = 3600.0,
        quiet_hours: str | None = None,
        queue_size: int = 1000,
    ) -> None:
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.rate_limit, self.repeat_interval, self.queue_size = rate_limit, repeat_interval, queue_size
        self.quiet = parse_quiet_hours(quiet_hours)
        self.closed = False
        self.suppressed = self.quieted = 0
        self._last: dict[str, float] = {}  # dedup key -> monotonic time it last notified
        self._lock = threading.Lock()
        self.workers = [_Worker(n, self) for n in notifiers]

    def submit(self, alert: Alert, event: str = "firing", *, now: datetime | None = None) -> bool:
        """Queue the alert for every notifier that wants it; False when the policy held it back. Never blocks."""
        if self.closed or not self.workers:
            return False
        key = alert.key or f"{alert.source}:{alert.rule}"
        if event == "firing":
            if alert.state == "acknowledged":
                self.suppressed += 1
                return False
            with self._lock:
                last = self._last.get(key)
                if last is not None and time.monotonic() - last < self.repeat_interval:
                    self.suppressed += 1
                    return False
                self._last[key] = time.monotonic()
            if alert.severity != "critical" and in_quiet_hours(self.quiet, now):
                self.quieted += 1
                return False
        elif event == "resolved":
            with self._lock:
                self._last.pop(key, None)
        ev = Event(alert, event)
        for w in self.workers:
            if event == "test" or w.wants(alert):
                w.offer(ev)
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued notification was delivered or given up (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        for w in self.workers:
            with w.cond:
                while not w.idle():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    w.cond.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self.closed = True
        for w in self.workers:
            with w.cond:
                w.cond.notify_all()

    def health(self) -> dict[str, Any]:
        per = [w.health() for w in self.workers]
        return {
            "notifiers": per,
            "dead_letters": sum(w["dead_letters"] for w in per),
            "delivered": sum(w["delivered"] for w in per),
            "suppressed_repeats": self.suppressed,
            "quiet_hours_held": self.quieted,
            "rate_limited": sum(w["rate_limited"] for w in per),
        }


def notifiers_from_settings(settings: Any) -> list[Any]:
    """Webhooks (a URL, or a table with url/headers/min_severity/sources), a command, and the callbacks."""
    out: list[Any] = []
    for hook in settings.alerts_webhooks:
        if isinstance(hook, str):
            out.append(WebhookNotifier(hook))
        else:
            spec = dict(hook)
            out.append(WebhookNotifier(str(spec.pop("url")), **spec))
    if settings.alerts_command:
        out.append(CommandNotifier(settings.alerts_command))
    out.append(CallbackNotifier())
    return out


_delivery: Delivery | None = None
_delivery_lock = threading.Lock()


def delivery() -> Delivery:
    """The process's delivery, built from settings (``[alerts]`` in glassbox.toml) on first use."""
    global _delivery
    d = _delivery
    if d is not None:
        return d
    with _delivery_lock:
        if _delivery is None:
            from glassbox.config import load_settings

            s = load_settings()
            _delivery = Delivery(
                notifiers_from_settings(s),
                retries=s.alerts_retries,
                rate_limit=s.alerts_rate_limit,
                repeat_interval=s.alerts_repeat_interval,
                quiet_hours=s.alerts_quiet_hours,
            )
        return _delivery


def set_delivery(d: Delivery | None) -> Delivery | None:
    """Replace the process's delivery (``gb.configure`` and tests); returns the old one (not closed)."""
    global _delivery
    with _delivery_lock:
        old, _delivery = _delivery, d
    return old


def health() -> dict[str, Any] | None:
    """The delivery's counters, or None when nothing was delivered yet in this process."""
    d = _delivery
    return None if d is None else d.health()


def submit_raised(alerts: Iterable[Alert]) -> None:
    """Deliver alerts the SDK raised on runs (budget), after their batch was stored; never raises."""
    with contextlib.suppress(Exception):
        d = delivery()
        for a in alerts:
            if a.key is None:
                a.key = f"{a.source}:{a.rule}" + (f":project={a.project}" if a.project else "")
            d.submit(a, "firing")
