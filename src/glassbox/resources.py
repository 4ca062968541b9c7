"""Per-stage resource use where measurable (peak GPU memory), and the stage hook chain.

Nothing here runs unless torch with CUDA is already loaded by the app, or the app
has an OpenTelemetry SDK TracerProvider: otherwise stages carry no hooks at all.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import weakref
from typing import Any


class _Peak:
    """The running peak of one open stage."""

    __slots__ = ("__weakref__", "bytes")

    def __init__(self) -> None:
        self.bytes = 0


class GpuProbe:
    """Peak CUDA memory allocated during a stage, via torch's own counters.

    torch keeps one peak counter per process, and each stage resets it when it starts. So that an outer
    stage keeps the peak its inner stages saw, every reading of the counter (at each stage start, before the
    reset, and at each stage end) raises the running peak of every stage still open: a stage's peak is the
    maximum over its whole lifetime, its children's included. (Concurrent stages share the counter.)
    """

    def __init__(self, cuda: Any) -> None:
        self._cuda = cuda
        self._open: weakref.WeakSet[_Peak] = weakref.WeakSet()  # a stage dropped without ending lets go
        self._lock = threading.Lock()

    def _fold(self) -> None:
        peak = int(self._cuda.max_memory_allocated())
        for p in self._open:
            p.bytes = max(p.bytes, peak)

    def start(self) -> _Peak:
        p = _Peak()
        with self._lock:
            self._fold()
            self._cuda.reset_peak_memory_stats()
            self._open.add(p)
        return p

    def stop(self, peak: _Peak) -> int:
        with self._lock:
            self._fold()
            self._open.discard(peak)
        return peak.bytes


def gpu_probe() -> GpuProbe | None:
    """A probe if the app already imported torch and CUDA is available; never imports torch."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if torch.cuda.is_available():
            return GpuProbe(torch.cuda)
    except Exception:  # noqa: BLE001 - a broken CUDA setup means "not measurable"
        return None
    return None


class StageHooks:
    """Work done at stage start/end only when something needs it (OTel bridge, GPU probe)."""

    __slots__ = ("bridge", "gpu")

    def __init__(self, bridge: Any, gpu: GpuProbe | None) -> None:
        self.bridge = bridge
        self.gpu = gpu

    def on_start(self, stage: Any) -> Any:
        token = self.bridge.attach(stage) if self.bridge is not None else None
        gpu = None
        if self.gpu is not None:
            try:
                gpu = self.gpu.start()
            except Exception:  # noqa: BLE001
                gpu = None
        return (token, gpu)

    def on_end(self, stage: Any, state: Any) -> None:
        token, gpu = state if state is not None else (None, None)
        if gpu is not None:
            with contextlib.suppress(Exception):
                stage.peak_gpu_mem_bytes = self.gpu.stop(gpu)  # type: ignore[union-attr]
        if token is not None:
            self.bridge.detach(token)
