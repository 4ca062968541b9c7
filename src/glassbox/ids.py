"""W3C / OpenTelemetry identifiers: 128-bit trace ids, 64-bit span ids, lowercase hex."""

from __future__ import annotations

import os
import random

# glassbox's own generator, seeded from the OS: an app that seeds the global `random` (common in evaluation
# code) must not repeat ids across processes and merge unrelated runs. Re-seeded in forked children, which
# would otherwise continue the parent's stream. getrandbits is ~10x cheaper than uuid4.
_rng = random.Random(os.urandom(32))
_bits = _rng.getrandbits


def _reseed() -> None:
    _rng.seed(os.urandom(32))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def new_trace_id() -> str:
    v = _bits(128)
    while not v:  # all-zero ids are invalid in W3C trace context
        v = _bits(128)
    return v.to_bytes(16, "big").hex()


def new_span_id() -> str:
    # to_bytes().hex() is about twice as fast as f"{v:016x}"; this runs once per stage.
    v = _bits(64)
    while not v:
        v = _bits(64)
    return v.to_bytes(8, "big").hex()


def new_record_id() -> str:
    """Id of a decision, event, score or feedback row (makes imports idempotent)."""
    return f"{_bits(64):016x}"


def is_valid_trace_id(value: str) -> bool:
    return len(value) == 32 and value != "0" * 32 and all(c in "0123456789abcdef" for c in value)


def is_valid_span_id(value: str) -> bool:
    return len(value) == 16 and value != "0" * 16 and all(c in "0123456789abcdef" for c in value)
