"""Scorers, run on each finished trace in the background writer; and the calibration-rule registry.

``@gb.scorer("name")`` registers a function (sync or async) that receives the finished
``Trace`` and returns a float, a bool (pass/fail), a dict of dimensions, a ``Score``, or
None (no score). The writer runs every scorer before the trace is stored, so the database
and the audit trail both hold the scores; the app's hot path never waits for them. A scorer
that raises, returns something else, or times out records a failed score (``passed=False``,
the reason in ``comment``) instead.

Scorers run on one daemon thread of their own ("glassbox-scorer"), async ones on that thread's
private event loop, so that a scorer that hangs costs the writer ``scorer_timeout`` seconds once,
not its life: while that call has not returned, the scorer is skipped (recorded as failed).

This module is SDK core: the writer thread imports it, and it imports no layer above.
"""

from __future__ import annotations

import inspect
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, overload

from glassbox.ids import new_record_id
from glassbox.model import Score, Trace
from glassbox.quality_signals import BOOLEAN, heuristic_signals

log = logging.getLogger("glassbox")

SCORER_TIMEOUT_S = 30.0
_IDLE_S = 10.0  # the scorer thread exits after this long without work (a new one starts on demand)


@dataclass(frozen=True)
class Scorer:
    name: str
    fn: Callable[[Trace], Any]
    source: str
    is_async: bool


@dataclass(frozen=True)
class Rule:
    """A user calibration rule: ``fn(trace, query)`` returns messages; each becomes a calibration alert."""

    name: str
    fn: Callable[..., Any]
    severity: str
    window_days: float | None  # None: the calibration window (settings)


_scorers: dict[str, Scorer] = {}
_rules: dict[str, Rule] = {}
_lock = threading.Lock()


@overload
def scorer(name: Callable[..., Any], *, source: str = "rule") -> Callable[..., Any]: ...
@overload
def scorer(name: str | None = None, *, source: str = "rule") -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...
def scorer(name: Any = None, *, source: str = "rule") -> Any:
    """Register a scorer run on every finished trace: ``@gb.scorer("faithfulness")`` (or bare ``@gb.scorer``).

    ``source`` is stored on its scores (``rule``, ``llm_judge``, …). Registering a name again
    replaces the earlier scorer, so reloading a module is harmless.
    """
    if callable(name):  # used bare: @gb.scorer
        return scorer(None, source=source)(name)

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        key = name or fn.__name__
        with _lock:
            _scorers[key] = Scorer(key, fn, source, inspect.iscoroutinefunction(fn))
        return fn

    return register


def calibration_rule(
    name: str | None = None, *, severity: str = "warning", window_days: float | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a calibration rule: ``fn(trace, query) -> str | list[str] | None``, run after each stored batch.

    ``query`` is a ``gb.query()`` over the store (history). Each message returned becomes a calibration alert
    (log line, stored alert, the run flagged for review, alerts file), at most once per rule and message within
    ``window_days`` (default: the calibration window). A message may also be a dict with
    ``message`` and ``subject`` (the dedup key) and ``severity``.
    """
    if callable(name):  # used bare
        return calibration_rule(None, severity=severity, window_days=window_days)(name)

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        key = name or fn.__name__
        with _lock:
            _rules[key] = Rule(key, fn, severity, window_days)
        return fn

    return register


def unregister(name: str) -> None:
    """Remove the scorer and the calibration rule of that name (if any)."""
    with _lock:
        _scorers.pop(name, None)
        _rules.pop(name, None)


def calibration_rules() -> list[Rule]:
    with _lock:
        return list(_rules.values())


def registered() -> list[Scorer]:
    with _lock:
        return list(_scorers.values())


# -- the scorer thread ------------------------------------------------------------------------
class _Worker(threading.Thread):
    """Runs scorer calls one at a time; async ones on its own event loop."""

    def __init__(self) -> None:
        super().__init__(name="glassbox-scorer", daemon=True)
        self.jobs: queue.SimpleQueue[tuple[Scorer, Trace, Future[Any], float] | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.retired = False  # it hung, idled out or was closed: it takes no more jobs

    def offer(self, job: tuple[Scorer, Trace, Future[Any], float]) -> bool:
        with self.lock:
            if self.retired:
                return False
            self.jobs.put(job)
            return True

    def retire(self) -> None:
        with self.lock:
            self.retired = True
            self.jobs.put(None)  # wakes it if idle

    def run(self) -> None:
        loop = None
        try:
            while True:
                try:
                    job = self.jobs.get(timeout=_IDLE_S)
                except queue.Empty:
                    with self.lock:
                        if self.jobs.empty():
                            self.retired = True
                            return
                    continue
                if job is None:
                    return
                sc, trace, fut, timeout = job
                if self.retired:  # closed with calls still queued: they fail fast rather than wait out a timeout
                    fut.set_exception(RuntimeError("the scorer thread was closed"))
                    continue
                try:
                    if sc.is_async:
                        import asyncio

                        loop = loop or asyncio.new_event_loop()
                        result = loop.run_until_complete(asyncio.wait_for(sc.fn(trace), timeout))
                    else:
                        result = sc.fn(trace)
                except BaseException as exc:  # noqa: BLE001 - even SystemExit from a scorer is its failure
                    fut.set_exception(exc)
                else:
                    fut.set_result(result)
                if self.retired:
                    return
        finally:
            if loop is not None:
                loop.close()


# -- running scorers in the writer -------------------------------------------------------------
class ScoringStep:
    """The writer-thread step that adds heuristic signals and user scores to each finished trace."""

    def __init__(self, heuristics: bool = True, timeout: float = SCORER_TIMEOUT_S) -> None:
        self.heuristics = heuristics
        self.timeout = timeout
        self.failures = 0
        self._worker: _Worker | None = None
        self._hung: dict[str, tuple[Future[Any], str]] = {}  # scorer -> (its unfinished call, trace id)
        self._signal_errors = 0
        self._pid = os.getpid()

    def __call__(self, trace: Trace) -> None:
        if trace.root_span_id is None:  # a stray-span segment of a trace scored elsewhere
            return
        now = time.time_ns()
        added: list[Score] = []
        if self.heuristics:
            added += self._signals(trace, now)
        for sc in registered():
            result = self._run(sc, trace)
            if result is not None:
                added.append(result)
        last = max((s.at_ns for s in trace.scores), default=0)
        for i, score in enumerate(added):  # distinct, increasing times: the store orders scores by time, then id
            score.at_ns = max(score.at_ns, last + 1 + i, now + i)
            trace.scores.append(score)

    def _signals(self, trace: Trace, now: int) -> list[Score]:
        try:
            values = heuristic_signals(trace)
        except Exception as exc:  # noqa: BLE001 - signals are extras: never cost the trace or the user's scorers
            self._signal_errors += 1
            if self._signal_errors == 1:
                log.warning("glassbox: heuristic signals failed on trace %s: %r (logged once)", trace.trace_id, exc)
            return []
        return [
            Score(
                new_record_id(), name, value, 1.0 if name in BOOLEAN else None, None, "heuristic", {}, None, None, now
            )
            for name, value in values.items()
        ]

    def _run(self, sc: Scorer, trace: Trace) -> Score | None:
        if os.getpid() != self._pid:  # a forked child: the parent's scorer thread (and its hung calls) are not ours
            self._pid, self._worker, self._hung = os.getpid(), None, {}
        hung = self._hung.get(sc.name)
        if hung is not None:
            if not hung[0].done():
                return self._failed(
                    sc,
                    trace,
                    f"scorer skipped: its call on trace {hung[1]} has not returned within {self.timeout:g} s",
                    warn=False,
                )
            del self._hung[sc.name]
        fut: Future[Any] = Future()
        try:
            self._submit((sc, trace, fut, self.timeout))
            try:
                raw = fut.result(self.timeout + (1.0 if sc.is_async else 0.0))  # async: its own wait_for first
            except TimeoutError:
                if fut.done():
                    raise  # the scorer's own timeout (an async scorer's wait_for): an ordinary failure
                self._hung[sc.name] = (fut, trace.trace_id)
                worker, self._worker = self._worker, None
                if worker is not None:
                    with worker.lock:
                        worker.retired = True  # stuck in this call; later calls get a new thread
                raise TimeoutError(f"no result within {self.timeout:g} s") from None
            return _as_score(sc, raw)
        except Exception as exc:  # noqa: BLE001 - a user's scorer must never lose the trace
            why = str(exc) or (f"no result within {self.timeout:g} s" if isinstance(exc, TimeoutError) else "")
            return self._failed(sc, trace, f"scorer failed: {type(exc).__name__}: {why}")

    def _submit(self, job: tuple[Scorer, Trace, Future[Any], float]) -> None:
        worker = self._worker
        if worker is None or not worker.is_alive() or not worker.offer(job):  # none yet, idled out, or gone
            worker = self._worker = _Worker()
            worker.start()
            worker.offer(job)

    def _failed(self, sc: Scorer, trace: Trace, reason: str, warn: bool = True) -> Score:
        self.failures += 1
        if warn:
            log.warning("glassbox: scorer %r failed on trace %s: %s", sc.name, trace.trace_id, reason)
        return Score(new_record_id(), sc.name, 0.0, None, False, sc.source, {}, reason[:1000], None, time.time_ns())

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.retire()


def _as_score(sc: Scorer, raw: Any) -> Score | None:
    now = time.time_ns()
    if raw is None:
        return None
    if isinstance(raw, Score):
        raw.id = raw.id or new_record_id()
        raw.name = raw.name or sc.name
        raw.source = sc.source if raw.source == "sdk" else raw.source  # "sdk" is Score's default, not a choice
        raw.at_ns = raw.at_ns or now
        return raw
    if isinstance(raw, bool):
        return Score(new_record_id(), sc.name, 1.0 if raw else 0.0, 1.0, raw, sc.source, {}, None, None, now)
    if isinstance(raw, (int, float)):
        return Score(new_record_id(), sc.name, float(raw), None, None, sc.source, {}, None, None, now)
    if isinstance(raw, dict):
        dims = {str(k): float(v) for k, v in raw.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if not dims:
            raise TypeError(f"scorer {sc.name!r} returned a dict without numeric dimensions")
        value = sum(dims.values()) / len(dims)
        return Score(new_record_id(), sc.name, value, None, None, sc.source, dims, None, None, now)
    raise TypeError(f"scorer {sc.name!r} returned {type(raw).__name__}; expected a number, bool, dict or Score")
