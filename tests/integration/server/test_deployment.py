"""The Dockerfile and compose file stay valid: they parse and run commands that exist."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from glassbox.cli.app import app

ROOT = Path(__file__).resolve().parents[3]


def test_compose_file_runs_glassbox_serve_against_postgres():
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    svc = doc["services"]["glassbox"]
    assert svc["command"][:2] == ["glassbox", "serve"]
    assert svc["environment"]["GLASSBOX_STORE"].startswith("postgresql+psycopg://")
    assert svc["depends_on"]["db"]["condition"] == "service_healthy"
    assert doc["services"]["db"]["image"].startswith("postgres:")
    help_text = CliRunner().invoke(app, ["serve", "--help"]).stdout
    options = {word for word in help_text.split() if word.startswith("--")}
    assert {"--host", "--port"} <= options
    assert all(not a.startswith("--") or a in options for a in svc["command"][2:])


def test_dockerfile_installs_the_package_and_serves_on_the_documented_port():
    lines = [x.strip() for x in (ROOT / "Dockerfile").read_text().splitlines() if x.strip() and not x.startswith("#")]
    assert lines[0].startswith("FROM python:3.11")
    assert any(x.startswith("RUN pip install '.[postgres]'") for x in lines)
    assert "EXPOSE 7433" in lines
    assert lines[-1] == 'CMD ["glassbox", "serve", "--host", "0.0.0.0", "--port", "7433"]'
    assert any(x.startswith("USER ") for x in lines)  # not root
