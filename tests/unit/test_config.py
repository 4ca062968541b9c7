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
    (tmp_path / "pyproject.toml").write_text(
        '[tool.glassbox]\nproject = "py"\nservice = "py-svc"\nenvironment = "py-env"\nrelease = "py-rel"\n'
    )
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


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"sample_rate": 2}, "sample_rate"),
        ({"queue_policy": "maybe"}, "queue_policy"),
        ({"queue_size": 0}, "queue_size"),
        ({"enabled": "perhaps"}, "enabled"),
    ],
)
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


def test_a_plain_path_is_an_sqlite_store_everywhere(tmp_path):
    from typer.testing import CliRunner

    from glassbox.cli.app import app
    from glassbox.config import load_settings
    from glassbox.store.store import Store

    assert load_settings(store=".glassbox/glassbox.db").store == "sqlite:///.glassbox/glassbox.db"
    assert Store(str(tmp_path / "a.db")).url == f"sqlite:///{tmp_path}/a.db"
    gb.configure(store="plain/path.db", trail_dir=None)
    with gb.trace("q"):
        pass
    gb.flush()
    gb.shutdown()
    assert (tmp_path / "plain" / "path.db").is_file()  # the test runs in tmp_path
    res = CliRunner().invoke(app, ["traces", "--store", "plain/path.db", "--json"])
    assert res.exit_code == 0, res.output
    assert '"q"' in res.output or "q" in res.output


def test_a_missing_store_driver_names_the_extra_to_install(monkeypatch):
    import builtins

    from glassbox.errors import StoreError
    from glassbox.store.database import make_engine

    real = builtins.__import__

    def no_psycopg(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name.split(".")[0] == "psycopg":
            raise ModuleNotFoundError("No module named 'psycopg'", name="psycopg")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(StoreError) as err:
        make_engine("postgresql+psycopg://u@127.0.0.1:1/db")
    assert "pip install 'glassbox[postgres]'" in str(err.value)
    assert "No module named" not in str(err.value)


def test_a_typo_in_glassbox_toml_is_an_error_with_a_did_you_mean(tmp_path):
    (tmp_path / "glassbox.toml").write_text("sampel_rate = 0.5\n")
    with pytest.raises(ConfigError, match=r"glassbox.toml: unknown key 'sampel_rate'; did you mean 'sample_rate'\?"):
        load_settings()
    (tmp_path / "glassbox.toml").write_text(
        '[calibration]\nwindow_days = 3\n[reports]\nschedule = "daily"\n[evaluation]\nonline = []\n'
    )  # tables are known keys
    assert load_settings().reports_schedule == "daily"
    (tmp_path / "glassbox.toml").unlink()
    (tmp_path / "pyproject.toml").write_text('[tool.glassbox]\nprojet = "x"\n[tool.other]\nanything = 1\n')
    with pytest.raises(ConfigError, match=r"pyproject.toml \[tool.glassbox\]: unknown key 'projet'; did you mean"):
        load_settings()


def test_every_bad_value_names_where_it_came_from(tmp_path, monkeypatch):
    (tmp_path / "glassbox.toml").write_text("sample_rate = 5\n")
    monkeypatch.setenv("GLASSBOX_QUEUE_SIZE", "0")
    with pytest.raises(ConfigError) as err:
        load_settings(batch_size=0)
    msg = str(err.value)
    assert "glassbox.toml: sample_rate" in msg and "GLASSBOX_QUEUE_SIZE: queue_size" in msg
    assert "configure(): batch_size" in msg


def test_every_section_table_reads_as_its_options_and_other_tables_are_refused(tmp_path):
    (tmp_path / "glassbox.toml").write_text("[drift]\ninterval = 7200\n[alerts]\nretries = 2\n")
    s = load_settings()
    assert s.drift_interval == 7200 and s.alerts_retries == 2
    (tmp_path / "glassbox.toml").write_text("[budget]\nmax_usd = 1\n")  # not a table: budget_max_usd is flat
    with pytest.raises(ConfigError, match=r"unknown key 'budget'"):
        load_settings()
    (tmp_path / "glassbox.toml").write_text("[drift]\nintervall = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'intervall' in \[drift\]"):
        load_settings()
