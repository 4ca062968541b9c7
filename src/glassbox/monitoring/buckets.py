"""Histogram bucket boundaries: the OpenTelemetry GenAI semantic conventions' advice, and score scales.

``gen_ai.client.operation.duration`` (seconds) and ``gen_ai.client.token.usage`` (tokens) advise
these explicit boundaries; prometheus_client's defaults stop at 10 s, short of many LLM calls.
An SLO latency threshold must be one of ``DURATION_BUCKETS_S`` so that Prometheus rules read the
exact SLI from the ``le`` bucket (``glassbox slo rules``).
"""

from __future__ import annotations

DURATION_BUCKETS_S = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)


def score_buckets(scale_max: float) -> tuple[float, ...]:
    """Tenths of a score's scale (0-1 -> 0.1 … 1.0; 0-3 -> 0.3 … 3.0; 1-5 -> 0.5 … 5.0), rounded to 6 places."""
    top = float(scale_max) if scale_max and scale_max > 0 else 1.0
    return tuple(round(top * i / 10, 6) for i in range(1, 11))


def prom_le(value: float) -> str:
    """A boundary as prometheus_client writes it in the ``le`` label (``5.12``, ``1.0``, ``1024.0``)."""
    from prometheus_client.utils import floatToGoString

    return floatToGoString(value)
