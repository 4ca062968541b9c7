"""Settings: precedence of sources, validation errors, turning sinks off."""

from __future__ import annotations

import pytest

import glassbox as gb
from glassbox.config import load_settings
from glassbox.errors import ConfigError


def test_defaults():
    s = load_settings()
    assert s.project == "default" and s.store == "sqlite:///.glassbox/glassbox.db"
    assert s.trail_dir == ".glassbox/traces" and s.enabled and s.sample_rate == 1.0


def test_precedence_kwargs_then_env_then_glassbox_toml_then_pyproject(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.glassbox]\nproject = "py"\nservice = "py-svc"\n'
                                            'environment = "py-env"\nrelease = "py-rel"\n')
    assert load_settings().project == "py"
    (tmp_path / "glassbox.toml").write_text('project = "toml"\nservice = "toml-svc"\nenvironment = "toml-env"\n')
    monkeypatch.setenv("GLASSBOX_SERVICE", "env-svc")
    monkeypatch.setenv("GLASSBOX_PROJECT", "env")
    s = load_settings(project="kw")
    assert (s.project, s.service, s.environment, s.release) == ("kw", "env-svc", "toml-env", "py-rel")


@pytest.mark.parametrize("off", ["", "none", "off", "None"])
def test_store_and_trail_can_be_turned_off_from_env(monkeypatch, off):
    monkeypatch.setenv("GLASSBOX_TRAIL_DIR", off)
    monkeypatch.setenv("GLASSBOX_STORE", off)
    s = load_settings()
    assert s.trail_dir is None and s.store is None


def test_otlp_headers_from_env(monkeypatch):
    monkeypatch.setenv("GLASSBOX_OTLP_HEADERS", "api-key=abc, x-tenant = t1")
    assert load_settings().otlp_headers == {"api-key": "abc", "x-tenant": "t1"}


@pytest.mark.parametrize(("opts", "message"), [
    ({"sample_rate": 2}, "sample_rate"), ({"queue_policy": "maybe"}, "queue_policy"),
    ({"queue_size": 0}, "queue_size"), ({"enabled": "perhaps"}, "enabled"),
])  # fmt: skip
def test_invalid_values_raise_config_error_naming_the_option(opts, message):
    with pytest.raises(ConfigError, match=message):
        gb.configure(**opts)


def test_malformed_toml_is_a_config_error(tmp_path):
    (tmp_path / "glassbox.toml").write_text("project = [unclosed")
    with pytest.raises(ConfigError, match="cannot read glassbox settings"):
        load_settings()


def test_broken_config_at_first_use_disables_tracing_without_raising(tmp_path, caplog):
    (tmp_path / "glassbox.toml").write_text("sample_rate = 7")
    with caplog.at_level("WARNING", logger="glassbox"), gb.trace("q") as t, gb.stage("s"):
        gb.decision("d")
    assert t is gb.NOOP_TRACE
    assert "tracing disabled" in caplog.text


def test_environment_and_release_land_on_traces(tmp_path):
    from glassbox.testing import capture

    with capture(environment="staging", release="2026.11.2", service="api") as traces, gb.trace("q"):
        pass
    tr = traces[0]
    assert (tr.environment, tr.release, tr.service, tr.spans[0].service) == ("staging", "2026.11.2", "api", "api")
