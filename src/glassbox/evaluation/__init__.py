"""Datasets, regression runs, evaluators, golden traces, release gates and canary analysis.

``gb.evaluation`` is this package. Every call takes ``store=`` (a URL or a Store; default: the
configured store)::

    import glassbox as gb

    ds = gb.evaluation.push_dataset("cases.jsonl", "support-v3")
    run = gb.evaluation.run_regression("support-v3", "myapp.pipeline:answer", concurrency=4)
    verdict = gb.evaluation.run_gate("release=2026.11", "release=2026.12", max_error_rate="+1pp", max_p95="+20%")

Submodules: ``datasets``, ``regress``, ``evaluators``, ``golden``, ``gate``, ``canary``, ``online``.
Names are loaded on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    # the store-defaulting calls
    "push_dataset": "api",
    "dataset": "api",
    "run_regression": "api",
    "compare_runs": "api",
    "capture_golden": "api",
    "check_goldens": "api",
    "compare_golden": "api",
    "run_gate": "api",
    "check_canary": "api",
    "open_store": "api",
    # types and evaluators
    "Case": "datasets",
    "Dataset": "datasets",
    "DatasetError": "datasets",
    "DatasetNotFound": "datasets",
    "RegressionRun": "regress",
    "CaseResult": "regress",
    "TargetError": "regress",
    "RunNotFound": "regress",
    "Golden": "golden",
    "GoldenDiff": "golden",
    "GoldenNotFound": "golden",
    "Verdict": "gate",
    "MetricSpec": "gate",
    "GateError": "gate",
    "CanaryDecision": "canary",
    "Evaluator": "evaluators",
    "ExactMatch": "evaluators",
    "Contains": "evaluators",
    "RegexMatch": "evaluators",
    "JsonSchemaValid": "evaluators",
    "NumericTolerance": "evaluators",
    "StringSimilarity": "evaluators",
    "EmbeddingSimilarity": "evaluators",
    "LLMJudge": "evaluators",
}
_SUBMODULES = ("api", "canary", "datasets", "demo", "evaluators", "gate", "golden", "online", "regress", "reports")

__all__ = list(_NAMES)  # the lazy names are the public ones


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(f"glassbox.evaluation.{_NAMES[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"glassbox.evaluation.{name}")
    raise AttributeError(f"module 'glassbox.evaluation' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*_NAMES, *_SUBMODULES])
