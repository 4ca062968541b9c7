"""Online evaluation: evaluators run on a sample of production traces, off the app's hot path.

Each online evaluator is registered as a scorer (``glassbox.scoring``): the background writer hands it
the finished trace on the scorer thread, before the trace is stored, so its score and a judge's
``llm`` stage (with its cost) are written with the trace. Sampling is deterministic per trace id,
so every process agrees on which traces are evaluated. Configure in glassbox.toml::

    [evaluation]
    online = { evaluator = "myapp.evals:judge", sample = 0.1 }
    # or several: online = [{ evaluator = "...", sample = 0.1 }, { evaluator = "...", sample = 1.0 }]

``evaluator`` names an Evaluator instance, or a callable returning one (called once), or a plain
``(case, trace) -> Score`` function. Online there is no case: reference-based evaluators return None.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from glassbox.errors import ConfigError

PREFIX = "online:"


def sampled(trace_id: str, rate: float, salt: str = "") -> bool:
    """Deterministic: the same trace id and rate give the same answer everywhere."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    return zlib.crc32(f"{salt}:{trace_id}".encode()) / 2**32 < rate


def _load(spec: Any) -> Any:
    if not isinstance(spec, str):
        return spec
    module, sep, attr = spec.partition(":")
    if not sep:
        raise ConfigError(f"evaluator {spec!r}: expected module:attribute")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"evaluator {spec!r}: {type(exc).__name__}: {exc}") from None
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "evaluate") and _takes_nothing(obj)):
        obj = obj()  # a class or a factory
    return obj


def load_evaluator(spec: Any) -> Any:
    """An evaluator from ``module:attribute`` (an instance, a class or a factory called once) or as given."""
    ev = _load(spec)
    if not (hasattr(ev, "evaluate") or callable(ev)):
        raise ConfigError(f"evaluator {spec!r} is not an evaluator (no evaluate method, not callable)")
    return ev


def _takes_nothing(fn: Any) -> bool:
    import inspect

    try:
        return not any(
            p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            for p in inspect.signature(fn).parameters.values()
        )
    except (TypeError, ValueError):
        return False


def enable(evaluator: Any, *, sample: float = 0.1, name: str | None = None) -> str:
    """Run ``evaluator`` on a ``sample`` share of finished traces; returns the scorer name (``online:<name>``)."""
    from glassbox.evaluation.evaluators import evaluate_one
    from glassbox.scoring import scorer

    if not 0.0 <= float(sample) <= 1.0:
        raise ConfigError(f"[evaluation] online sample must be between 0 and 1, got {sample!r}")
    ev = load_evaluator(evaluator)
    label = name or getattr(ev, "name", None) or getattr(ev, "__name__", "evaluator")
    key = f"{PREFIX}{label}"
    rate = float(sample)

    def run(trace: Any) -> Any:
        if not sampled(trace.trace_id, rate, label):
            return None
        score = evaluate_one(ev, None, trace)
        call = getattr(ev, "last_call", None)
        if call is not None:  # the judge's own LLM call becomes a stage of the judged trace, cost and all
            trace.spans.append(call)
            ev.last_call = None
        return score

    scorer(key, source=getattr(ev, "source", "rule"))(run)
    return key


def configure(table: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> list[str]:
    """Enable the ``[evaluation] online`` entries of the settings (one table or a list of them)."""
    if not table:
        return []
    items = [table] if isinstance(table, Mapping) else list(table)
    names = []
    for item in items:
        if not isinstance(item, Mapping) or "evaluator" not in item:
            raise ConfigError("[evaluation] online: each entry needs evaluator = 'module:attribute'")
        unknown = set(item) - {"evaluator", "sample", "name"}
        if unknown:
            raise ConfigError(
                f"[evaluation] online: unknown key {sorted(unknown)[0]!r}; known: evaluator, sample, name"
            )
        names.append(enable(item["evaluator"], sample=float(item.get("sample", 0.1)), name=item.get("name")))
    return names


def table_from_files(cwd: str | None = None) -> Any:
    """The ``online`` entry of glassbox.toml's ``[evaluation]`` table, else of pyproject's
    ``[tool.glassbox.evaluation]`` (None when neither has one)."""
    import tomllib
    from pathlib import Path

    base = Path(cwd or ".")
    for path, keys in (
        (base / "glassbox.toml", ("evaluation",)),
        (base / "pyproject.toml", ("tool", "glassbox", "evaluation")),
    ):
        if not path.is_file():
            continue
        try:
            doc: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        for key in keys:
            doc = doc.get(key) if isinstance(doc, dict) else None
        if isinstance(doc, dict) and doc.get("online"):
            return doc["online"]
    return None


def configure_from_files() -> list[str]:
    """Enable the online evaluators configured in glassbox.toml / pyproject.toml (called at configure time)."""
    return configure(table_from_files())
