"""Scorers and heuristic quality signals, run on each finished trace in the background writer.

``@gb.scorer("name")`` registers a function (sync or async) that receives the finished
``Trace`` and returns a float, a bool (pass/fail), a dict of dimensions, a ``Score``, or
None (no score). The writer runs every scorer before the trace is stored, so the database
and the audit trail both hold the scores; the app's hot path never waits for them. A scorer
that raises records a failed score (``passed=False``, the error in ``comment``) instead.

The heuristic signals of seed 000 (citation count, answer length, has_search,
has_citations, has_structure, failure_occurred) are scores with source ``heuristic``.
This module is SDK core: the writer thread imports it, and it imports no layer above.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from glassbox.ids import new_record_id
from glassbox.model import Score, Trace

log = logging.getLogger("glassbox")

SCORER_TIMEOUT_S = 30.0
SIGNALS = ("citation_count", "answer_length", "has_search", "has_citations", "has_structure", "failure_occurred")


@dataclass(frozen=True)
class Scorer:
    name: str
    fn: Callable[[Trace], Any]
    source: str
    is_async: bool


_scorers: dict[str, Scorer] = {}
_lock = threading.Lock()


def scorer(name: str | None = None, *, source: str = "rule") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a scorer run on every finished trace: ``@gb.scorer("faithfulness")``.

    Registering a name again replaces the earlier scorer (so reloading a module is harmless).
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        key = name or fn.__name__
        is_async = inspect.iscoroutinefunction(fn)
        with _lock:
            _scorers[key] = Scorer(key, fn, source, is_async)
        return fn

    return register


def unregister(name: str) -> None:
    with _lock:
        _scorers.pop(name, None)
        _rules.pop(name, None)


_rules: dict[str, Callable[..., Any]] = {}


def calibration_rule(name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a calibration rule: ``fn(trace, query) -> str | list[str] | None``, run after each stored batch.

    Each message returned becomes a flag (log line, alert, review flag, alerts file), deduplicated
    per rule and message within the calibration window.
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        with _lock:
            _rules[name or fn.__name__] = fn
        return fn

    return register


def calibration_rules() -> list[tuple[str, Callable[..., Any]]]:
    with _lock:
        return list(_rules.items())


def registered() -> list[Scorer]:
    with _lock:
        return list(_scorers.values())


# -- heuristic signals (seed 000) ------------------------------------------------------------
_CITATION = re.compile(r"\[\d{1,3}\]|\[[^\]\n]{1,80}\]\(https?://[^)\s]+\)|https?://[^\s)\]>\"']+|\(source:[^)]{1,200}\)",
                       re.IGNORECASE)  # fmt: skip
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+\S", re.MULTILINE)
_SECTION = re.compile(r"^\s{0,3}[A-Z][A-Za-z /&-]{1,40}:\s*$", re.MULTILINE)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("answer", "output", "text", "content", "result"):
            if isinstance(value.get(key), str):
                return value[key]
    from glassbox.jsonsafe import dumps_text

    return dumps_text(value)


def heuristic_signals(trace: Trace) -> dict[str, float]:
    """Seed 000's signals for one finished trace, as numbers (booleans are 1.0 / 0.0)."""
    answer = _text(trace.output)
    citations = len(set(_CITATION.findall(answer)))
    structured = len(_HEADING.findall(answer)) >= 2 or len(_LIST_ITEM.findall(answer)) >= 3 or \
        len(_SECTION.findall(answer)) >= 2  # fmt: skip
    searched = any(s.kind == "retrieval" or "search" in s.name.lower() for s in trace.spans)
    failed = trace.status == "failed" or any(s.status == "error" for s in trace.spans)
    return {
        "citation_count": float(citations),
        "answer_length": float(len(answer)),
        "has_search": float(searched),
        "has_citations": float(citations > 0),
        "has_structure": float(structured),
        "failure_occurred": float(failed),
    }


# -- running scorers in the writer -------------------------------------------------------------
class ScoringStep:
    """The writer-thread step that adds heuristic signals and user scores to each finished trace."""

    def __init__(self, heuristics: bool = True, timeout: float = SCORER_TIMEOUT_S) -> None:
        self.heuristics = heuristics
        self.timeout = timeout
        self._loop: Any = None  # a private asyncio loop for async scorers, made on first use
        self.failures = 0

    def __call__(self, trace: Trace) -> None:
        if trace.root_span_id is None:  # a stray-span segment of a trace scored elsewhere
            return
        now = time.time_ns()
        added: list[Score] = []
        if self.heuristics:
            for name, value in heuristic_signals(trace).items():
                added.append(Score(new_record_id(), name, value, None, None, "heuristic", {}, None, None, now))
        for sc in registered():
            result = self._run(sc, trace)
            if result is not None:
                added.append(result)
        last = max((s.at_ns for s in trace.scores), default=0)
        for i, score in enumerate(added):  # distinct, increasing times: the store orders scores by time, then id
            score.at_ns = max(score.at_ns, last + 1 + i, now + i)
            trace.scores.append(score)

    def _run(self, sc: Scorer, trace: Trace) -> Score | None:
        try:
            if sc.is_async:
                import asyncio

                if self._loop is None or self._loop.is_closed():
                    self._loop = asyncio.new_event_loop()  # private to the writer thread
                raw = self._loop.run_until_complete(asyncio.wait_for(sc.fn(trace), self.timeout))
            else:
                raw = sc.fn(trace)
            return _as_score(sc, raw)
        except Exception as exc:  # noqa: BLE001 - a user's scorer must never lose the trace
            self.failures += 1
            log.warning("glassbox: scorer %r failed on trace %s: %s: %s", sc.name, trace.trace_id,
                        type(exc).__name__, exc)  # fmt: skip
            return Score(new_record_id(), sc.name, 0.0, None, False, sc.source, {},
                         f"scorer failed: {type(exc).__name__}: {exc}"[:1000], None, time.time_ns())  # fmt: skip

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.close()


def _as_score(sc: Scorer, raw: Any) -> Score | None:
    now = time.time_ns()
    if raw is None:
        return None
    if isinstance(raw, Score):
        if not raw.id:
            raw.id = new_record_id()
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
