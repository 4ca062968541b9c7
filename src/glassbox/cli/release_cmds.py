"""CLI of golden traces, release gates and canary checks (registered by ``evaluation_cmds``)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``golden``, ``gate`` and ``canary`` to ``app``."""
