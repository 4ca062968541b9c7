"""Peak GPU memory per stage, with a fake torch.cuda that keeps its counters as torch does."""

from __future__ import annotations

import sys
import types

import pytest

import glassbox as gb
from glassbox.testing import capture


class FakeCuda:
    """torch.cuda's allocation counters: one process-wide peak, reset to the current allocation."""

    def __init__(self) -> None:
        self.allocated = 0
        self.peak = 0

    def is_available(self) -> bool:
        return True

    def alloc(self, n: int) -> None:
        self.allocated += n
        self.peak = max(self.peak, self.allocated)

    def free(self, n: int) -> None:
        self.allocated -= n

    def max_memory_allocated(self) -> int:
        return self.peak

    def reset_peak_memory_stats(self) -> None:
        self.peak = self.allocated


@pytest.fixture
def cuda(monkeypatch) -> FakeCuda:
    fake = FakeCuda()
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=fake))
    return fake


def peaks(trace) -> dict[str, int | None]:
    return {s.name: s.peak_gpu_mem_bytes for s in trace.spans}


def test_a_parent_keeps_its_peak_when_a_child_stage_resets_the_counter(cuda):
    with capture(capture_gpu=True) as got:
        with gb.trace("run"):
            with gb.stage("outer"):
                cuda.alloc(8_000)  # the outer stage's big moment
                cuda.free(7_900)
                with gb.stage("inner"):  # resets torch's peak counter at its start
                    cuda.alloc(50)
                    cuda.free(50)
    got.flush()
    p = peaks(got[0])
    assert p["outer"] == 8_000
    assert p["inner"] == 150


def test_a_childs_peak_counts_for_every_enclosing_stage(cuda):
    with capture(capture_gpu=True) as got:
        with gb.trace("run"), gb.stage("a"):
            cuda.alloc(100)
            with gb.stage("b"):
                with gb.stage("c"):
                    cuda.alloc(5_000)
                    cuda.free(5_000)
                cuda.alloc(10)
            with gb.stage("d"):
                cuda.alloc(20)
    p = peaks(got[0])
    assert p["c"] == 5_100
    assert p["b"] == 5_100
    assert p["d"] == 130
    assert p["a"] == 5_100
