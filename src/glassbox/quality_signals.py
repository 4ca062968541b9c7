"""Heuristic quality signals: cheap facts about a finished run, stored as scores.

``citation_count``, ``answer_length``, ``has_search``, ``has_citations``, ``has_structure`` and
``failure_occurred`` describe a run; they never judge it (they are not its quality). The writer
thread computes them before the sinks write, so the database and the audit trail both hold them.

This is SDK core, not ``analysis/``: the writer (which the app imports) calls it, and the SDK
core imports no layer above it. It needs only the model and ``re``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from glassbox.model import Trace

# Output text beyond this many characters is not scanned for citations or structure
# (answer_length still counts it all): the writer must not spend seconds on one huge output.
MAX_SCAN = 1_000_000

# `[1]`, `[12]`; markdown links to http(s); bare URLs; `(source: …)`.
_CITATION = re.compile(
    r"\[\d{1,3}\]|\[[^\]\n]{1,80}\]\(https?://[^)\s]+\)|https?://[^\s)\]>\"']+|\(source:[^)]{1,200}\)", re.IGNORECASE
)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+\S", re.MULTILINE)
_SECTION = re.compile(r"^\s{0,3}[A-Z][A-Za-z /&-]{1,40}:\s*$", re.MULTILINE)
_TEXT_KEYS = ("answer", "final_answer", "output", "text", "content", "result")
_CITATION_KEYS = ("citations", "sources", "references")
_SECTION_KEYS = ("sections", "outline")


def answer_text(output: Any) -> str:
    """The run's answer as text: a string as is, a dict's answer-like field, else its JSON."""
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        for key in _TEXT_KEYS:
            if isinstance(output.get(key), str):
                return output[key]
    from glassbox.jsonsafe import dumps_text

    return dumps_text(output)


def _listed(output: Any, keys: tuple[str, ...]) -> int | None:
    """Length of the first list under one of ``keys`` of a dict output (the pipeline's own citations)."""
    if isinstance(output, dict):
        for key in keys:
            value = output.get(key)
            if isinstance(value, (list, tuple)):
                return len(value)
    return None


def citation_count(trace: Trace, text: str) -> float:
    """Distinct citations: the output's own ``citations`` list if it has one, else markers in the text."""
    listed = _listed(trace.output, _CITATION_KEYS)
    return float(listed if listed is not None else len(set(_CITATION.findall(text[:MAX_SCAN]))))


def answer_length(trace: Trace, text: str) -> float:
    return float(len(text))


# Words of a stage name: snake, kebab, dotted and spaced names, and camelCase / PascalCase parts.
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_SEARCH_WORDS = frozenset({"search", "searches", "searched", "searching"})
SEARCH_KINDS = frozenset({"retrieval", "search"})


def is_search_stage(kind: str | None, name: str | None) -> bool:
    """A stage of a search kind, or one whose name has "search" as a whole word ("web_search", "vectorSearch",
    "search docs"; not "research")."""
    if kind in SEARCH_KINDS:
        return True
    return bool(name) and any(w.lower() in _SEARCH_WORDS for w in _WORD.findall(name or ""))


def has_search(trace: Trace, text: str) -> float:
    """A stage of kind ``retrieval`` (or ``search``), or a stage named with the word "search"."""
    return float(any(is_search_stage(s.kind, s.name) for s in trace.spans))


def has_citations(trace: Trace, text: str) -> float:
    return float(citation_count(trace, text) > 0)


def has_structure(trace: Trace, text: str) -> float:
    """Two headings, three list items, two labelled sections, or a non-empty ``sections`` list."""
    if _listed(trace.output, _SECTION_KEYS):
        return 1.0
    scan = text[:MAX_SCAN]
    return float(
        len(_HEADING.findall(scan)) >= 2 or len(_LIST_ITEM.findall(scan)) >= 3 or len(_SECTION.findall(scan)) >= 2
    )


def failure_occurred(trace: Trace, text: str) -> float:
    """The run failed, or any of its stages ended in error (even if the run recovered)."""
    return float(trace.status == "failed" or any(s.status == "error" for s in trace.spans))


# The signals, in order: each a small function of (trace, answer text) -> float.
SIGNALS: dict[str, Callable[[Trace, str], float]] = {
    f.__name__: f for f in (citation_count, answer_length, has_search, has_citations, has_structure, failure_occurred)
}
NAMES = tuple(SIGNALS)
BOOLEAN = frozenset({"has_search", "has_citations", "has_structure", "failure_occurred"})


def heuristic_signals(trace: Trace) -> dict[str, float]:
    """The heuristic signals of one finished trace, as numbers (booleans are 1.0 / 0.0)."""
    text = answer_text(trace.output)
    return {name: fn(trace, text) for name, fn in SIGNALS.items()}
