"""The install shape: base vs extras in pyproject.toml, and polite errors naming the extra (glassbox.extras)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from glassbox.cli.errors import EXIT_USAGE, reported
from glassbox.extras import EXTRAS, MissingExtra, check_installed, missing_extra, require

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# import name -> distribution name, where they differ
DIST = {
    "openfeature": "openfeature-sdk",
    "vaderSentiment": "vadersentiment",
    "multipart": "python-multipart",
    "python_multipart": "python-multipart",
    "psycopg_binary": "psycopg",
    "fastapi_offline": "fastapi-offline",
}


def _dist(requirement: str) -> str:
    return re.split(r"[\[<>=~!; ]", requirement, maxsplit=1)[0].lower()


def _extra(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """The distributions an extra installs, following glassbox[other] references."""
    out: set[str] = set()
    for req in PROJECT["optional-dependencies"][name]:
        m = re.fullmatch(r"glassbox\[(.+)\]", req)
        if m:
            for sub in m.group(1).split(","):
                if sub not in seen:
                    out |= _extra(sub, seen | {name})
        else:
            out.add(_dist(req))
    return out


def test_every_optional_library_is_installed_by_the_extra_its_errors_name():
    base = {_dist(r) for r in PROJECT["dependencies"]}
    for module, extra in EXTRAS.items():
        dist = DIST.get(module, module).lower()
        if module in ("starlette", "psycopg_binary"):
            continue  # arrive with fastapi / psycopg[binary]
        assert dist in _extra(extra), (module, extra)
        assert dist not in base, f"{dist} is in the base install but glassbox.extras says it needs [{extra}]"


def test_all_installs_every_extra_and_the_tests_install_all():
    extras = set(PROJECT["optional-dependencies"]) - {"all", "test"}
    assert _extra("all") == set().union(*(_extra(e) for e in extras))
    assert _extra("all") <= _extra("test")


def test_require_and_check_installed_name_the_extra():
    with pytest.raises(MissingExtra, match=r"pip install 'glassbox\[stats\]'"):
        require("glassbox_no_such_module", extra="stats", purpose="a test")
    with pytest.raises(ModuleNotFoundError):  # still an ImportError for code that catches those
        check_installed(("glassbox_no_such_module",), "stats")
    assert require("json").dumps([]) == "[]"


def test_a_cli_command_missing_an_extra_says_which_one(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)  # as if scipy were not installed
    app = typer.Typer()

    @app.command()
    def stat() -> None:
        with reported():
            import scipy  # noqa: F401

    result = CliRunner().invoke(app, [])
    assert result.exit_code == EXIT_USAGE
    assert "pip install 'glassbox[stats]'" in result.stderr and "Traceback" not in result.output
    assert missing_extra(ModuleNotFoundError("x", name="not_an_extra")) is None


def test_glassbox_stats_without_scipy_is_a_polite_error():
    code = (
        "import sys; sys.modules['scipy'] = None\n"
        "try:\n    import glassbox.stats.twosample\nexcept ImportError as exc:\n    print(exc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "scipy is needed" in out and "glassbox[stats]" in out
