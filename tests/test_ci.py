"""`.ci/run` runs the README's second Quick start command verbatim, after the shape checks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_ci_runs_the_readme_test_command_after_ruff_mypy_and_lint_imports():
    """Lint, format check, types and layer contracts run first; the README's test command is the last line."""
    lines = [
        ln.strip()
        for ln in (ROOT / ".ci" / "run").read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    test_command = _quick_start_commands()[1]
    assert lines[-1] == test_command
    tools = ("ruff check", "ruff format --check", "mypy", "lint-imports")
    checks = [next(i for i, ln in enumerate(lines) if ln.startswith(tool)) for tool in tools]
    assert checks == sorted(checks) and checks[-1] < len(lines) - 1
