"""Per-stage resource use where measurable (peak GPU memory), and the stage hook chain.

Nothing here runs unless torch with CUDA is already loaded by the app, or the app
has an OpenTelemetry SDK TracerProvider: otherwise stages carry no hooks at all.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any


class GpuProbe:
    """Peak CUDA memory allocated during a stage, via torch's own counters."""

    def __init__(self, cuda: Any) -> None:
        self._cuda = cuda

    def start(self) -> int:
        before = self._cuda.max_memory_allocated()
        self._cuda.reset_peak_memory_stats()
        return before

    def stop(self, before: int) -> int:
        return int(self._cuda.max_memory_allocated())


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
