"""Deterministic bucketing compatible with GrowthBook's SDKs (hash v1 and v2, bucket ranges, namespaces).

A unit's bucket is a pure function of (seed, unit id): the same unit lands in the same variant in
every process, on every restart, in every GrowthBook SDK. Checked against GrowthBook's cross-SDK
vectors (tests/fixtures/growthbook_cases.json).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MASK = 0xFFFFFFFF

Range = tuple[float, float]


def fnv1a32(text: str, h: int = _FNV_OFFSET) -> int:
    """32-bit FNV-1a over the string's code points (as GrowthBook's Python SDK; equal to the JS SDK's for BMP text).

    ``h`` is the state to start from: the state after a prefix, so ``fnv1a32(b, fnv1a32(a)) == fnv1a32(a + b)``."""
    # Iterating bytes is ~2x faster than ord() per character; for ASCII the values are the same. The prime and the
    # mask are literals (a constant load is cheaper than a global one, and this loop is most of a new unit's cost).
    for c in text.encode() if text.isascii() else map(ord, text):
        h = ((h ^ c) * 0x01000193) & 0xFFFFFFFF
    return h


def seed_state(seed: str) -> int:
    """The FNV-1a state after ``seed``: what a definition keeps so that v2 bucketing hashes only the unit id."""
    return fnv1a32(seed)


_seed_state = lru_cache(maxsize=4096)(seed_state)  # for bucket(seed, ...), which callers give a seed string


@lru_cache(maxsize=65536)
def bucket_v2(state: int, value: str) -> float:
    """v2 bucket of ``value`` for the seed whose FNV state is ``state`` (``seed_state(seed)``): the evaluation path,
    with the seed hashed once per definition instead of on a flag's first evaluation. Memoised per (state, unit)."""
    h = state
    for c in value.encode() if value.isascii() else map(ord, value):
        h = ((h ^ c) * 0x01000193) & 0xFFFFFFFF
    x = _FNV_OFFSET
    for c in str(h).encode():
        x = ((x ^ c) * 0x01000193) & 0xFFFFFFFF
    return (x % 10000) / 10000


def bucket(seed: str, value: str, version: int = 2) -> float | None:
    """The unit's position in [0, 1): v1 ``fnv(value+seed) % 1000 / 1000``; v2 ``fnv(str(fnv(seed+value))) % 10000
    / 10000`` (v2 fixes v1's correlation between experiments with similar seeds). None for an unknown version."""
    if version == 2:
        # fnv(seed + value), resuming from the seed's cached state: only the unit id is hashed per call.
        return bucket_v2(_seed_state(seed), value)
    if version == 1:
        return bucket_v1(seed, value)
    return None


@lru_cache(maxsize=65536)
def bucket_v1(seed: str, value: str) -> float:
    """v1 bucket (``fnv(value + seed) % 1000 / 1000``): the seed comes last, so there is no state to resume from."""
    return (fnv1a32(value + seed) % 1000) / 1000


def equal_weights(n: int) -> list[float]:
    return [] if n < 1 else [1.0 / n] * n


def bucket_ranges(n: int, coverage: float = 1.0, weights: Sequence[float] | None = None) -> list[Range]:
    """Each variant's [start, end) slice of [0, 1): its weight, shrunk to ``coverage`` (clamped to [0, 1]).

    Weights that do not match ``n`` or do not sum to 1 (±0.01) fall back to equal weights, as in GrowthBook.
    """
    coverage = min(max(float(coverage), 0.0), 1.0)
    w = list(weights) if weights is not None else []
    if len(w) != n or not 0.99 <= sum(w) <= 1.01:
        w = equal_weights(n)
    out: list[Range] = []
    cumulative = 0.0
    for weight in w:
        start = cumulative
        cumulative += weight
        out.append((start, start + coverage * weight))
    return out


def choose_variation(n: float, ranges: Sequence[Sequence[float]]) -> int:
    """The index of the range holding ``n`` (start inclusive, end exclusive), -1 when none does."""
    for i, (lo, hi) in enumerate(ranges):
        if lo <= n < hi:
            return i
    return -1


def in_namespace(unit_id: str, namespace: Sequence[object]) -> bool:
    """Whether the unit is in the slice ``[name, start, end)``: exclusive experiments share a name, split the range."""
    name, lo, hi = namespace[0], float(namespace[1]), float(namespace[2])  # type: ignore[arg-type]
    return lo <= bucket_v1("__" + str(name), unit_id) < hi
