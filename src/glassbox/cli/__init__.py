"""The ``glassbox`` command line (Typer + Rich): ``glassbox.cli.app:app``, entry point ``main``.

Nothing here is imported by ``import glassbox``; the CLI is the only place Typer and Rich load.
"""
