"""The few distribution functions the two-sample tests and quantile intervals need, from ``scipy.special``.

``import scipy.stats`` costs about 1.5 s of CPU (it loads scipy.optimize, scipy.spatial, scipy.sparse and
every distribution); ``scipy.special`` holds the functions scipy.stats itself calls for these, so each
one here returns exactly what the scipy.stats method named in its docstring returns, at a third of the
import. A gate run from the CLI is a fresh process: this import is most of its start-up.
"""

from __future__ import annotations

from typing import Any


def _special() -> Any:
    from scipy import special

    return special


def norm_sf(x: float) -> float:
    """``scipy.stats.norm.sf(x)``."""
    return float(_special().ndtr(-x))


def norm_ppf(q: float) -> float:
    """``scipy.stats.norm.ppf(q)``, q in (0, 1)."""
    return float(_special().ndtri(q))


def t_sf(x: float, df: float) -> float:
    """``scipy.stats.t.sf(x, df)``, df > 0."""
    return float(_special().stdtr(df, -x))


def t_ppf(q: float, df: float) -> float:
    """``scipy.stats.t.ppf(q, df)``, q in (0, 1), df > 0."""
    return float(_special().stdtrit(df, q))


def binom_ppf(q: float, n: int, p: float) -> float:
    """``scipy.stats.binom.ppf(q, n, p)``, q in (0, 1), n >= 0, p in [0, 1]."""
    from scipy.special import _ufuncs

    # scipy >= 1.15 keeps binom's quantile (Boost's) with the special functions; older ones in scipy.stats
    ppf = getattr(_ufuncs, "_binom_ppf", None)
    if ppf is None:
        from scipy import stats

        return float(stats.binom.ppf(q, n, p))
    return float(ppf(q, n, p))
