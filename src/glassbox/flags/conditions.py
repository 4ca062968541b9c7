"""Targeting conditions on unit attributes: GrowthBook's MongoDB-like condition language.

Supported: ``$eq $ne $in $nin $gt $gte $lt $lte $regex $exists $and $or $nor $not``, semver
``$veq $vne $vgt $vgte $vlt $vlte``, and also ``$elemMatch $size $all $type $inGroup $notInGroup``.
A field path may be dotted (``"father.age"``). Comparisons follow GrowthBook's SDKs: a missing
attribute compares as 0, a numeric string against a number compares as a number, an unknown
operator or invalid regex fails the condition (never raises).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

Condition = Mapping[str, Any]

OPERATORS = (
    "$eq",
    "$ne",
    "$in",
    "$nin",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$regex",
    "$exists",
    "$not",
    "$veq",
    "$vne",
    "$vgt",
    "$vgte",
    "$vlt",
    "$vlte",
    "$elemMatch",
    "$size",
    "$all",
    "$type",
    "$inGroup",
    "$notInGroup",
)
LOGICAL = ("$and", "$or", "$nor", "$not")
_SEMVER = ("$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte")


def eval_condition(
    attributes: Mapping[str, Any], condition: Condition, saved_groups: Mapping[str, list[Any]] | None = None
) -> bool:
    """Whether ``attributes`` satisfy ``condition`` (an empty condition always does)."""
    if "$or" in condition:
        return _any(attributes, condition["$or"], saved_groups)
    if "$nor" in condition:
        return not _any(attributes, condition["$nor"], saved_groups)
    if "$and" in condition:
        return all(eval_condition(attributes, c, saved_groups) for c in condition["$and"])
    if "$not" in condition:
        return not eval_condition(attributes, condition["$not"], saved_groups)
    for path, expected in condition.items():  # noqa: SIM110 - a loop is cheaper than all() over a generator here
        if not _eval_value(expected, _get_path(attributes, path), saved_groups):
            return False
    return True


def _any(attributes: Mapping[str, Any], conditions: list[Condition], groups: Any) -> bool:
    if not conditions:
        return True
    return any(eval_condition(attributes, c, groups) for c in conditions)


def _get_path(attributes: Any, path: str) -> Any:
    if "." not in path:  # the common case, without splitting
        return attributes.get(path) if isinstance(attributes, Mapping) else None
    current = attributes
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            return None
    return current


def _is_operator_object(value: Any) -> bool:
    if not isinstance(value, Mapping):
        return False
    for k in value:  # noqa: SIM110 - cheaper than all() over a generator on the hot path
        if not str(k).startswith("$"):
            return False
    return True


def _eval_value(expected: Any, actual: Any, groups: Any) -> bool:
    if _is_operator_object(expected):
        for op, arg in expected.items():  # noqa: SIM110
            if not _eval_operator(op, actual, arg, groups):
                return False
        return True
    return bool(expected == actual)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "unknown"


def _comparable(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    """JS-like operands: a missing value is 0, a numeric string meets a number as a number."""
    if actual is None:
        actual = 0
    num = (int, float)
    try:
        if isinstance(expected, num) and isinstance(actual, str):
            actual = float(actual)
        elif isinstance(actual, num) and isinstance(expected, str):
            expected = float(expected)
    except ValueError:
        return None
    return actual, expected


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


@lru_cache(maxsize=4096)
def padded_version(version: Any) -> str:
    """A semver string made comparable as text: ``v`` and build stripped, numbers left-padded, a release after its
    pre-releases (GrowthBook's ``paddedVersionString``)."""
    text = str(version) if isinstance(version, (int, float)) else version
    if not text or not isinstance(text, str):
        text = "0"
    text = re.sub(r"(^v|\+.*$)", "", text)
    parts = re.split(r"[-.]", text)
    if len(parts) == 3:
        parts.append("~")  # "~" sorts after every pre-release tag: 1.0.0 > 1.0.0-beta
    return "-".join(p.rjust(5, " ") if p.isdigit() and p.isascii() else p for p in parts)


def _is_in(actual: Any, options: list[Any]) -> bool:
    if isinstance(actual, list):
        return any(a in options for a in actual)
    return actual in options


def _eval_operator(op: str, actual: Any, arg: Any, groups: Any) -> bool:
    if op == "$in":
        return isinstance(arg, list) and _is_in(actual, arg)
    if op == "$eq":
        return bool(actual == arg)
    if op == "$ne":
        return bool(actual != arg)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        pair = _comparable(actual, arg)
        if pair is None:
            return False
        a, b = pair
        try:
            if op == "$gt":
                return bool(a > b)
            if op == "$gte":
                return bool(a >= b)
            if op == "$lt":
                return bool(a < b)
            return bool(a <= b)
        except TypeError:
            return False
    if op == "$regex":
        # A _Prepared operand was compiled with its condition (compile_condition); a raw one is compiled here.
        rx = arg.value if type(arg) is _Prepared else (_regex(arg) if isinstance(arg, str) else None)
        return rx is not None and isinstance(actual, str) and rx.search(actual) is not None
    if op == "$nin":
        return isinstance(arg, list) and not _is_in(actual, arg)
    if op == "$exists":
        return (actual is not None) if arg else (actual is None)
    if op == "$not":
        return not _eval_value(arg, actual, groups)
    if op in _SEMVER:
        a = padded_version(actual)
        b = arg.value if type(arg) is _Prepared else padded_version(arg)
        if op == "$veq":
            return a == b
        if op == "$vne":
            return a != b
        if op == "$vgt":
            return a > b
        if op == "$vgte":
            return a >= b
        if op == "$vlt":
            return a < b
        return a <= b
    if op == "$elemMatch":
        if not isinstance(actual, list):
            return False
        if _is_operator_object(arg):
            return any(_eval_value(arg, el, groups) for el in actual)
        return any(isinstance(el, Mapping) and eval_condition(el, arg, groups) for el in actual)
    if op == "$size":
        return isinstance(actual, list) and _eval_value(arg, len(actual), groups)
    if op == "$all":
        return (
            isinstance(actual, list)
            and isinstance(arg, list)
            and all(any(_eval_value(c, el, groups) for el in actual) for c in arg)
        )
    if op == "$type":
        return _type_name(actual) == arg
    if op in ("$inGroup", "$notInGroup"):
        members = (groups or {}).get(arg, [])
        return _is_in(actual, members) == (op == "$inGroup")
    return False  # an unknown operator fails closed


def check_condition(condition: Any, where: str = "condition") -> None:
    """Raise ValueError naming the first unknown operator in ``condition`` (for definitions, at save time)."""
    if isinstance(condition, Mapping):
        for key, value in condition.items():
            if str(key).startswith("$") and key not in OPERATORS and key not in LOGICAL:
                raise ValueError(f"{where}: unknown operator {key!r}; known: {', '.join(LOGICAL + OPERATORS)}")
            check_condition(value, where)
    elif isinstance(condition, list):
        for item in condition:
            check_condition(item, where)


class _Prepared:
    """An operand worked out when its condition was compiled: a ``$regex`` pattern's compiled form (None when
    invalid) or a semver operand's padded text. Only ``compile_condition``'s private copy holds these."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _prepare(condition: Any) -> Any:
    """A copy of ``condition`` whose ``$regex`` and semver operands are compiled now, not on first evaluation.

    It follows ``eval_condition``'s reading exactly (logical keys hold conditions, an operator object's operands
    are values or conditions as ``_eval_operator`` takes them) and leaves every other value, such as a literal
    table compared by equality, untouched."""
    if not isinstance(condition, Mapping):
        return condition
    out: dict[Any, Any] = {}
    for key, value in condition.items():
        if key in ("$or", "$nor", "$and"):
            out[key] = [_prepare(c) for c in value] if isinstance(value, list) else value
        elif key == "$not":
            out[key] = _prepare(value)
        else:
            out[key] = _prepare_value(value)
    return out


def _prepare_value(expected: Any) -> Any:
    if not _is_operator_object(expected):
        return expected  # compared by equality: left as it is
    out: dict[Any, Any] = {}
    for op, arg in expected.items():
        if op == "$regex" and isinstance(arg, str):
            out[op] = _Prepared(_regex(arg))
        elif op in _SEMVER:
            try:
                out[op] = _Prepared(padded_version(arg))
            except TypeError:  # an unhashable operand: evaluated (and failing) as before, at evaluation
                out[op] = arg
        elif op in ("$not", "$size"):
            out[op] = _prepare_value(arg)
        elif op == "$elemMatch":
            out[op] = _prepare_value(arg) if _is_operator_object(arg) else _prepare(arg)
        elif op == "$all" and isinstance(arg, list):
            out[op] = [_prepare_value(c) for c in arg]
        else:
            out[op] = arg
    return out


def _always(attributes: Mapping[str, Any]) -> bool:
    return True


def compile_condition(condition: Condition | None) -> Any:
    """A function ``attributes -> bool`` equal to ``eval_condition(attributes, condition)``, specialised for the
    common one-attribute forms (``{"plan": "pro"}``, ``{"plan": {"$in": [...]}}``) so a flag's rule costs a dict
    lookup on the hot path; anything else falls back to the general evaluator, on a copy whose regexes are compiled
    and semver operands padded here (at definition load), not on the first evaluation."""
    if not condition:
        return _always
    cond = _prepare(condition)

    def general(attributes: Mapping[str, Any]) -> bool:
        return eval_condition(attributes, cond)

    if any(not isinstance(path, str) or path.startswith("$") for path in cond):
        return general  # logical operators (or a "$" attribute name): the general evaluator's order of reading
    if len(cond) != 1:
        return _all_paths(cond)
    ((path, expected),) = cond.items()
    if "." in path:
        return _all_paths(cond)
    if isinstance(expected, (str, int, float)) and not isinstance(expected, bool):

        def equals(attributes: Mapping[str, Any]) -> bool:
            try:
                return bool(attributes.get(path) == expected)
            except AttributeError:  # not a mapping (cheaper than an isinstance check against the Mapping ABC)
                return False

        return equals
    if _is_operator_object(expected) and len(expected) == 1:
        ((op, arg),) = expected.items()
        if op == "$in" and isinstance(arg, list):
            options = list(arg)

            def member(attributes: Mapping[str, Any]) -> bool:
                try:
                    v = attributes.get(path)
                except AttributeError:
                    v = None
                if type(v) is list:
                    return any(x in options for x in v)
                return v in options

            return member
    return _all_paths(cond)


def _all_paths(cond: dict[str, Any]) -> Any:
    """``eval_condition`` for a prepared condition of attribute paths only (no logical operator), its per-path
    checks bound now: each attribute's value is checked as ``_eval_value`` would, without re-reading the condition's
    shape on every call."""
    checks = tuple((path, "." in path, _value_check(expected)) for path, expected in cond.items())

    def all_paths(attributes: Mapping[str, Any]) -> bool:
        for path, dotted, check in checks:
            if dotted:
                v = _get_path(attributes, path)
            else:
                try:
                    v = attributes.get(path)
                except AttributeError:  # not a mapping (cheaper than an isinstance check against the Mapping ABC)
                    v = None
            if not check(v):
                return False
        return True

    return all_paths


def _value_check(expected: Any) -> Any:
    """A function ``actual -> bool`` equal to ``_eval_value(expected, actual, None)`` (``expected`` prepared)."""
    if not _is_operator_object(expected):
        return lambda actual: bool(expected == actual)
    ops = tuple(expected.items())
    if len(ops) == 1:
        ((op, arg),) = ops
        return lambda actual: _eval_operator(op, actual, arg, None)

    def every(actual: Any) -> bool:
        for op, arg in ops:  # noqa: SIM110 - cheaper than all() over a generator on the hot path
            if not _eval_operator(op, actual, arg, None):
                return False
        return True

    return every
