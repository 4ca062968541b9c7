"""How the CLI reports failure: one ``error: …`` line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

import typer

from glassbox.errors import GlassboxError

EXIT_FAILURE = 1  # not found, bad input, store or config problems
EXIT_USAGE = 2  # the command line itself is wrong (a missing path, a bad option value)


class UsageProblem(Exception):
    """The command line is wrong in a way the option parser cannot see (exit code 2)."""


def one_line(message: object) -> str:
    """The message with all whitespace (newlines included) collapsed."""
    return " ".join(str(message).split()) or "unknown error"


def fail(message: object, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(code)


def warn(message: object) -> None:
    typer.echo(f"warning: {one_line(message)}", err=True)


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Turn expected failures inside a command into one stderr line and an exit code."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except UsageProblem as exc:
        fail(exc, EXIT_USAGE)
    except ModuleNotFoundError as exc:  # an optional extra is not installed: say which one
        from glassbox.extras import missing_extra

        polite = missing_extra(exc)
        if polite is None:
            raise
        fail(polite, EXIT_USAGE)
    except GlassboxError as exc:  # TraceNotFound, StoreError, ConfigError, ImportFormatError
        fail(exc)
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        fail(f"store: {orig}")
    except BrokenPipeError:
        raise  # `glassbox export | head`: the reader left; main() exits quietly
    except OSError as exc:
        if exc.filename and exc.strerror:
            fail(f"{exc.filename}: {exc.strerror}")
        fail(exc)
