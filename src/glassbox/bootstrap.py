"""Builds a Runtime from settings: the writer and its sinks (store, trail, OTLP)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from glassbox.config import Settings, load_settings
from glassbox.jsonsafe import jsonable
from glassbox.model import Trace
from glassbox.runtime import Runtime
from glassbox.writer import PerTrace, Sink, Step, Writer

log = logging.getLogger("glassbox")


def make_preparer(limit: int, attr_limit: int, scoring: Any = None) -> Any:
    """Writer-thread step: scorers run, user values become JSON-safe, huge strings truncated with a marker."""

    def prepare(t: Trace) -> None:
        if scoring is not None:
            scoring(t)  # sees the app's own output objects, before they become JSON
        json_safe(t)

    json_safe = make_json_safe(limit, attr_limit)
    return prepare


def make_json_safe(limit: int, attr_limit: int) -> Any:
    """Per trace: every user value becomes JSON-safe data (bounded in depth and size)."""

    def json_safe(t: Trace) -> None:
        t.input = jsonable(t.input, limit)
        t.output = jsonable(t.output, limit)
        t.metadata = jsonable(t.metadata, attr_limit)
        for s in t.spans:
            if s.input is not None:
                s.input = jsonable(s.input, limit)
            if s.output is not None:
                s.output = jsonable(s.output, limit)
        for d in t.decisions:
            if d.inputs:
                d.inputs = jsonable(d.inputs, attr_limit)
        for e in t.events:
            if e.payload:
                e.payload = jsonable(e.payload, limit)

    return json_safe


class SpoolingSink:
    """Remote mode: batches the server did not take (down, refusing, unreachable) go to a local spool.

    The spool is in the audit-trail format, so ``glassbox import .glassbox/spool --store …``
    recovers them; the failure is still raised so ``gb.health()`` reports it.
    """

    def __init__(self, primary: Any, spool: Any) -> None:
        self.primary, self.spool = primary, spool
        self.name = primary.name
        self.spooled = 0

    def write(self, traces: Any) -> None:
        try:
            self.primary.write(traces)
        except Exception:
            self.spool.write(traces)
            self.spooled += len(traces)
            raise

    def close(self) -> None:
        self.primary.close()


def build_sinks(settings: Settings) -> list[Sink]:
    sinks: list[Sink] = []
    if settings.endpoint:  # remote mode: the server stores; a local store or trail only if asked for explicitly
        from glassbox.otel import OTLPSink
        from glassbox.store.trail import TrailSink

        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        server = OTLPSink(settings.endpoint, headers, compression=True, name="server")
        sinks.append(SpoolingSink(server, TrailSink(settings.spool_dir)) if settings.spool_dir else server)
        explicit = settings.model_fields_set
        store = settings.store if "store" in explicit else None
        trail = settings.trail_dir if "trail_dir" in explicit else None
        settings = settings.model_copy(update={"store": store, "trail_dir": trail})
    if settings.store:
        sinks.append(_sink("database", lambda: _database_sink(settings.store)))
    if settings.trail_dir:
        from glassbox.store.trail import TrailSink

        sinks.append(_sink("trail", lambda: TrailSink(settings.trail_dir)))
    if settings.otlp_endpoint:
        from glassbox.otel import OTLPSink

        sinks.append(_sink("otlp", lambda: OTLPSink(settings.otlp_endpoint, settings.otlp_headers)))
    if settings.console:  # GLASSBOX_CONSOLE=1: each finished trace as a tree on stderr
        from glassbox.monitoring.console import ConsoleSink

        sinks.append(ConsoleSink())
    return sinks


def _database_sink(url: str) -> Sink:
    from glassbox.store.store import DatabaseSink, Store

    return DatabaseSink(Store(url))


def _sink(name: str, build: Any) -> Sink:
    """A sink, or, when it cannot be built now (an SQLite folder that cannot be created, a missing driver),
    one that says why on every write and tries again now and then: each sink fails on its own, so the
    others (the audit trail above all) still work and ``gb.health()`` names the problem."""
    try:
        return build()  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001 - any failure to build one sink must not stop tracing
        log.warning("glassbox: the %s sink is unavailable (%s); tracing continues without it", name, exc)
        return UnavailableSink(name, build, exc)


class UnavailableSink:
    """Stands for a sink that could not be built; rebuilt on a write at most every ``retry_after`` seconds."""

    def __init__(self, name: str, build: Any, error: BaseException, retry_after: float = 30.0) -> None:
        self.name = name
        self._build = build
        self.retry_after = retry_after
        self.inner: Any = None
        self.problem = f"{name} unavailable: {error}"
        self._next_try = time.monotonic() + retry_after

    @property
    def store(self) -> Any:
        return getattr(self.inner, "store", None)

    def write(self, traces: Any) -> None:
        if self.inner is None and time.monotonic() >= self._next_try:
            try:
                self.inner = self._build()
            except Exception as exc:  # noqa: BLE001
                self.problem = f"{self.name} unavailable: {exc}"
                self._next_try = time.monotonic() + self.retry_after
        if self.inner is None:
            raise ConnectionError(self.problem)
        self.inner.write(traces)

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()

    def after_fork(self) -> None:
        if self.inner is not None and hasattr(self.inner, "after_fork"):
            self.inner.after_fork()


def build_runtime(settings: Settings, extra_sinks: list[Sink] | None = None) -> Runtime:
    if "opentelemetry.trace" in sys.modules:
        # Imported now rather than by the first traced call on some app thread: a fork while that thread is
        # inside the import would leave the child waiting forever on the module's import lock.
        import glassbox.otel  # noqa: F401
    writer = None
    rt_box: list[Runtime] = []
    if settings.enabled:
        sinks = build_sinks(settings) + list(extra_sinks or [])
        writer = Writer(
            sinks,
            max_queue=settings.queue_size,
            policy=settings.queue_policy,
            batch_size=settings.batch_size,
            interval=settings.flush_interval,
            tick=lambda: rt_box[0].tick() if rt_box else None,
            spool=_spool(settings),
        )
        # The writer's explicit step list: prepare in order, then every sink on its own lane, then after steps.
        from glassbox.cost.calls import settle_prices

        on_error = writer._prepare_failed
        writer.prepare_steps = [
            PerTrace("prices", settle_prices, on_error),  # gb.llm() calls made while the price table loaded
            PerTrace("scoring", _scoring(settings), on_error),  # sees the app's own objects, before JSON
            PerTrace("json-safe", make_json_safe(settings.max_text_length, settings.max_attribute_length), on_error),
        ]
        writer.after_steps = [Step("after-batch", lambda batch: rt_box[0].after_batch(batch) if rt_box else None)]
        for sink in sinks:  # health says why a sink is down before any trace has been written
            stats = getattr(writer, "stats", {}).get(sink.name)
            if isinstance(sink, UnavailableSink) and stats is not None:
                stats.last_error, stats.last_error_at = sink.problem, time.time()
    rt = Runtime(settings, writer)
    if settings.daily_budget_usd is not None:
        from glassbox.budget import DailySpend

        db = next((s for s in (writer.sinks if writer else []) if s.name == "database"), None)
        rt.daily = DailySpend(rt.project, settings.daily_budget_usd, getattr(db, "store", None))
        try:
            rt.daily.refresh()  # once at start-up, so a fresh process knows what others spent today
        except Exception as exc:  # noqa: BLE001 - a dead store must not stop the app; the trail still works
            log.warning("glassbox: could not read today's spend for the daily budget: %s", exc)
    db = next((s for s in (writer.sinks if writer else []) if s.name == "database"), None)
    if settings.calibration and db is not None and getattr(db, "store", None) is not None:
        # The composition root may reach up: the SDK core itself never imports the analysis layer.
        from glassbox.analysis.calibration import CalibrationEngine, CalibrationSettings

        rt.calibration = CalibrationEngine(db.store, CalibrationSettings.from_settings(settings))
    if settings.enabled:
        _online_evaluation()
    rt.deliver_alerts = _deliver_alerts
    if settings.metrics_port and writer is not None:  # GLASSBOX_METRICS_PORT: gb.start_metrics_server at configure
        from glassbox.monitoring.metrics import start_metrics_server

        start_metrics_server(rt, settings.metrics_port)
    if settings.enabled:
        from glassbox.cost.calls import warm_prices

        warm_prices(rt)  # the price table loads in the background, not in the app's first gb.llm()
    rt_box.append(rt)
    return rt


def _deliver_alerts(alerts: Any) -> None:
    """Budget alerts raised on stored runs go to the alert receivers ([alerts] settings, gb.on_alert)."""
    from glassbox.monitoring.notifiers import submit_raised

    submit_raised(alerts)


def _online_evaluation() -> None:
    """[evaluation] online = {evaluator = …, sample = …}: evaluators registered as sampled scorers."""
    try:
        from glassbox.evaluation.online import configure_from_files

        configure_from_files()
    except Exception as exc:  # noqa: BLE001 - a bad evaluator setting must not stop the app from tracing
        log.warning("glassbox: online evaluation not enabled: %s", exc)


def _scoring(settings: Settings) -> Any:
    from glassbox.scoring import ScoringStep

    return ScoringStep(heuristics=settings.heuristics, timeout=settings.scorer_timeout)


def _spool(settings: Settings) -> Any:
    """Where the writer leaves, at shutdown, what its sinks could not write in time (reloaded at next start)."""
    if not settings.spool_dir:
        return None
    from glassbox.store.spool import SpoolDir

    return SpoolDir(settings.spool_dir)


def default_runtime() -> Runtime:
    return build_runtime(load_settings())
