"""CLI commands of one feature (registered by ``glassbox.cli.app``)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
