"""`--help` reads whole: every command has a one-line summary that fits an 80-column terminal (no "..."),
and every command's own `--help` shows its full description."""

from __future__ import annotations

import click
import pytest
import typer
from typer.testing import CliRunner

from glassbox.cli.app import app

SUMMARY_MAX = 60  # what an 80-column terminal leaves for a summary beside the longest command name


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        out.append(((*prefix, name), cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*prefix, name))
    return out


COMMANDS = _commands(typer.main.get_command(app))  # type: ignore[arg-type]


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_a_summary_that_fits(path, cmd):
    summary = cmd.get_short_help_str(limit=SUMMARY_MAX)
    assert summary and not summary.endswith("..."), f"glassbox {' '.join(path)}: {cmd.help!r}"
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    head = res.output.split("Options")[0].split("Arguments:")[0]
    description = [line for line in head.splitlines() if not line.startswith("Usage:")]
    assert "..." not in "\n".join(description)  # the full description, not cut (click's usage line has its own)


def test_the_top_level_help_cuts_nothing():
    res = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"})
    assert res.exit_code == 0
    assert "..." not in "\n".join(line for line in res.output.splitlines() if not line.startswith("Usage:"))


TOP = sorted({path[0] for path, _ in COMMANDS})


@pytest.mark.parametrize("name", TOP)
def test_a_process_builds_only_the_command_it_runs_and_it_is_the_same_command(name):
    from glassbox.cli.app import _narrowed

    narrow = typer.main.get_command(_narrowed([name, "--help"]))
    assert list(narrow.commands) == [name]  # type: ignore[attr-defined]
    runner = CliRunner()
    whole, alone = (runner.invoke(a, [name, "--help"], env={"COLUMNS": "80"}) for a in (app, _narrowed([name])))
    assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output)


@pytest.mark.parametrize("argv", [[], ["--help"], ["--version"], ["trcaes"]])
def test_no_command_an_option_or_a_typo_gets_the_whole_app(argv):
    from glassbox.cli.app import _narrowed

    assert _narrowed(argv) is app
