"""Corrections across several metrics: Holm (family-wise error) and Benjamini-Hochberg (false discovery rate).

Same adjusted p-values and decisions as statsmodels' ``multipletests(method="holm" | "fdr_bh")``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["adjust", "benjamini_hochberg", "holm"]


def _check(pvalues: Sequence[float]) -> list[float]:
    ps = [float(p) for p in pvalues]
    for p in ps:
        if math.isnan(p) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must be between 0 and 1, got {p!r}")
    return ps


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> tuple[list[bool], list[float]]:
    """Holm's step-down adjusted p-values, in the input order, and which are rejected at ``alpha``."""
    ps = _check(pvalues)
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return [a <= alpha for a in adjusted], adjusted


def benjamini_hochberg(pvalues: Sequence[float], alpha: float = 0.05) -> tuple[list[bool], list[float]]:
    """Benjamini-Hochberg step-up adjusted p-values (q-values), in the input order, and which are rejected."""
    ps = _check(pvalues)
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i], reverse=True)
    adjusted = [0.0] * m
    running = 1.0
    for k, i in enumerate(order):
        rank = m - k  # 1-based rank in ascending order
        running = min(running, ps[i] * m / rank)
        adjusted[i] = min(running, 1.0)
    return [a <= alpha for a in adjusted], adjusted


def adjust(pvalues: Sequence[float], method: str = "holm", alpha: float = 0.05) -> tuple[list[bool], list[float]]:
    """``holm``, ``bh`` or ``none`` (each p-value against alpha as is)."""
    if method == "holm":
        return holm(pvalues, alpha)
    if method == "bh":
        return benjamini_hochberg(pvalues, alpha)
    if method == "none":
        ps = _check(pvalues)
        return [p <= alpha for p in ps], ps
    raise ValueError(f"correction must be holm, bh or none, got {method!r}")
