"""Settings: ``gb.configure(...)`` > ``GLASSBOX_*`` env > ``glassbox.toml`` > ``[tool.glassbox]`` > defaults.

Loaded lazily (pydantic is not imported by ``import glassbox``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from glassbox.errors import ConfigError
from glassbox.model import GAP_RATIO

DEFAULT_STORE = "sqlite:///.glassbox/glassbox.db"
DEFAULT_TRAIL_DIR = ".glassbox/traces"
_OFF = {"", "none", "off", "false", "0", "null"}


# glassbox.toml tables whose keys are the ``<table>_*`` options (see Settings._section_tables).
SECTION_TABLES = ("calibration", "alerts", "reports", "drift")


class Settings(BaseSettings):
    """Every option of glassbox. Each is also ``GLASSBOX_<NAME>`` and a key in glassbox.toml."""

    model_config = SettingsConfigDict(
        env_prefix="GLASSBOX_",
        extra="ignore",
        toml_file="glassbox.toml",
        pyproject_toml_table_header=("tool", "glassbox"),
        validate_default=True,
    )

    project: str = Field("default", description="Project the traces belong to.")
    service: str | None = Field(None, description="Service name (OTel service.name); defaults to the project.")
    environment: str | None = Field(None, description="Deployment environment, e.g. prod or staging.")
    release: str | None = Field(None, description="Release / model version recorded on every trace.")
    store: str | None = Field(DEFAULT_STORE, description="SQLAlchemy URL of the store; None: no database sink.")
    trail_dir: str | None = Field(DEFAULT_TRAIL_DIR, description="Folder of the JSONL audit trail; None: off.")
    enabled: bool = Field(True, description="False: every call is a no-op.")
    sample_rate: float = Field(1.0, ge=0.0, le=1.0, description="Head sampling ratio, consistent across services.")
    keep_errors: bool = Field(False, description="Record sampled-out traces and keep them if they fail.")
    otlp_endpoint: str | None = Field(None, description="Also export every trace over OTLP/HTTP to this endpoint.")
    endpoint: str | None = Field(
        None, description="A glassbox server (http://host:7433): traces go there instead of a local store and trail."
    )
    api_key: str | None = Field(None, description="API key (write scope) for the glassbox server at `endpoint`.")
    spool_dir: str | None = Field(
        ".glassbox/spool",
        description="Remote mode: batches the server did not accept are kept here (trail format); "
        "at shutdown, what a sink could not write in time goes to <dir>/<sink>/ and is written at the next start.",
    )
    otlp_headers: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="Headers for the OTLP exporter (env: k1=v1,k2=v2)."
    )
    queue_size: int = Field(
        2048, ge=1, description="Traces the writer queue holds before its policy applies (memory bound)."
    )
    queue_policy: Literal["drop", "block"] = Field("drop", description="Full queue: drop (counted) or block.")
    batch_size: int = Field(500, ge=1, description="Traces written per transaction.")
    flush_interval: float = Field(0.5, gt=0, description="Seconds the writer waits to fill a batch.")
    max_attribute_length: int = Field(4096, ge=16, description="Longer string attributes are truncated.")
    max_text_length: int = Field(32_768, ge=16, description="Longer inputs, outputs and payload strings are truncated.")
    stray_timeout: float = Field(30.0, ge=0, description="Seconds to wait for spans that end after their trace.")
    budget_warn_usd: float | None = Field(None, ge=0, description="Per-trace spend that logs one warning.")
    budget_max_usd: float | None = Field(None, ge=0, description="Per-trace spend at which the next stage halts.")
    daily_budget_usd: float | None = Field(
        None, ge=0, description="Per-project spend per UTC day (all processes, via the store) that halts runs."
    )
    prices: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Price overrides per model (USD per million tokens: input_per_mtok, output_per_mtok, "
        "cache_read_per_mtok, cache_write_per_mtok); the glassbox.toml [prices] table.",
    )
    prices_file: str | None = Field(
        None, description='A TOML file of price overrides ([prices."model"] tables, same keys).'
    )
    capture_content: bool = Field(False, description="Store LLM prompts and completions given to gb.llm().")
    max_content_length: int = Field(8192, ge=16, description="Captured prompts/completions are truncated here.")
    redact: Any = Field(
        None, description="Hook applied to captured prompt/completion text: a callable or 'module:function'."
    )
    heuristics: bool = Field(
        True,
        description="Add the heuristic quality signals (citations, length, search, structure, failure) as scores "
        "to each trace.",
    )
    scorer_timeout: float = Field(
        30.0, gt=0, description="Seconds a scorer may take on one trace before it is recorded as failed."
    )
    calibration: bool = Field(
        True,
        description="Run the calibration rules after each stored batch (glassbox.toml: also a [calibration] "
        "table whose keys are the calibration_* options without the prefix, and `enabled`).",
    )
    calibration_window_days: float = Field(7.0, gt=0, description="Window of the calibration rules and dedup.")
    calibration_min_failures: int = Field(
        3, ge=1, description="Runs with a principle below threshold in the window before it raises an alert."
    )
    calibration_gap_ratio: float = Field(
        GAP_RATIO, ge=0, le=1, description="A score dimension below this share of its maximum is a failed principle."
    )
    calibration_thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per-dimension thresholds in the score's own units (override gap_ratio)."
    )
    calibration_disparity: float | None = Field(
        None,
        ge=0,
        description="Group average this far below overall (quality-score units) raises an alert on an intent, "
        "domain, workflow or release; None: a sixth of the quality score's max (0.5 on a 0-3 rubric).",
    )
    calibration_min_runs: int = Field(5, ge=1, description="Runs a group needs before disparity is judged.")
    calibration_gate_scope: Literal["workflow", "project"] = Field(
        "workflow", description="Gate regression compares with the previous run of the same workflow, or project."
    )
    calibration_alerts_file: str | None = Field(
        ".glassbox/calibration_alerts.md",
        description="Markdown file each calibration alert is appended to ({project} is replaced); off: none.",
    )
    capture_gpu: bool = Field(True, description="Record peak GPU memory per stage when torch with CUDA is loaded.")
    # Drift monitor of `glassbox serve` (docs/monitoring.md, "Drift").
    drift_interval: float = Field(
        3600.0, ge=0, description="Seconds between the server's drift checks (0: no background monitor)."
    )
    drift_fields: str = Field(
        "confidence,quality_score,duration_ms,workflow", description="Comma-separated fields the monitor compares."
    )
    drift_current: str = Field("24h", description="The monitor's current window (a span back from now).")
    drift_reference: str = Field("7d", description="The monitor's reference window, just before the current one.")
    drift_by: Literal["release", "workflow", "none"] = Field(
        "release", description="The monitor also compares per release (model version), per workflow, or none."
    )
    drift_min_samples: int = Field(30, ge=2, description="Fewer values on a side: not enough data (no alert).")
    # Alerts and monitoring (docs/monitoring.md); glassbox.toml: an [alerts] table of the alerts_* keys, [[slo]].
    alerts_webhooks: list[Any] = Field(
        default_factory=list, description="Webhook URLs (or tables: url, headers, min_severity, sources) alerts go to."
    )
    alerts_command: str | None = Field(None, description="A command run per alert, its JSON body on stdin.")
    alerts_retries: int = Field(4, ge=0, le=20, description="Retries (exponential backoff) before a dead letter.")
    alerts_rate_limit: int = Field(30, ge=1, description="Notifications a minute per receiver, at most.")
    alerts_repeat_interval: float = Field(
        3600.0, ge=0, description="Seconds before an alert still open notifies again (its count grows meanwhile)."
    )
    alerts_quiet_hours: str | None = Field(
        None, description="UTC period like 22:00-07:00 in which only critical alerts notify."
    )
    slo: list[dict[str, Any]] = Field(default_factory=list, description="SLO definitions ([[slo]] tables).")
    slo_check_interval: float = Field(
        60.0, ge=0, description="Seconds between the SLO checks `glassbox serve` runs (alerts fire from them); 0: off."
    )
    # Reports (docs/reports.md); glassbox.toml: a [reports] table of the reports_* keys.
    reports_schedule: str = Field(
        "weekly",
        description="How often `glassbox serve` writes the scheduled reports: weekly, daily, off, or a span like 12h.",
    )
    reports_kinds: list[str] = Field(default_factory=lambda: ["weekly"], description="Scheduled report kinds.")
    reports_formats: list[str] = Field(
        default_factory=lambda: ["html", "md"], description="Formats each scheduled report is written in."
    )
    reports_dir: str = Field(".glassbox/reports", description="Folder the scheduled reports are written to.")
    reports_keep_days: float = Field(90.0, gt=0, description="Reports older than this are deleted (files and list).")
    console: bool = Field(False, description="Print each finished trace as a tree on stderr (development).")
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Serve the app's Prometheus metrics on this port at configure."
    )

    @model_validator(mode="before")
    @classmethod
    def _section_tables(cls, data: Any) -> Any:
        """glassbox.toml's section tables: ``[reports] schedule = "daily"`` is ``reports_schedule = "daily"``.

        A plain ``<section>_<key>`` option (any source) wins over the table's key; ``[calibration] enabled``
        is the ``calibration`` switch itself.
        """
        if not isinstance(data, dict):
            return data
        for section in SECTION_TABLES:
            if not isinstance(data.get(section), dict):
                continue
            data = dict(data)
            table = dict(data.pop(section))
            if section in cls.model_fields:  # the section's own switch (calibration = true/false)
                data[section] = table.pop("enabled", True)
            prefix = section + "_"
            for key, value in table.items():
                if prefix + key not in cls.model_fields:
                    known = sorted(k.removeprefix(prefix) for k in cls.model_fields if k.startswith(prefix))
                    if section in cls.model_fields:
                        known.insert(0, "enabled")
                    raise ValueError(f"unknown key {key!r} in [{section}]; known: {', '.join(known)}")
                data.setdefault(prefix + key, value)
        return data

    @field_validator("alerts_quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str | None) -> str | None:
        import re

        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value or "00:00-00:00")
        if m is None or int(m[1]) > 23 or int(m[3]) > 23 or int(m[2]) > 59 or int(m[4]) > 59:
            raise ValueError(f"quiet hours must look like 22:00-07:00 (UTC), not {value!r}")
        return value

    @field_validator(
        "store", "trail_dir", "otlp_endpoint", "calibration_alerts_file", "endpoint", "spool_dir", mode="before"
    )
    @classmethod
    def _off_means_none(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in _OFF:
            return None
        return value

    @field_validator("store")
    @classmethod
    def _path_is_sqlite(cls, value: str | None) -> str | None:
        # store = ".glassbox/glassbox.db": a plain path is an SQLite file (as glassbox.store.database.as_url reads it)
        if not value or "://" in value or value.startswith("sqlite:"):
            return value
        return f"sqlite:///{value}"

    @field_validator("prices_file")
    @classmethod
    def _readable_prices(cls, value: str | None) -> str | None:
        if value:
            from glassbox.cost.pricing import load_overrides

            try:
                load_overrides(value)
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read price overrides {value!r}: {exc}") from None
        return value

    @field_validator("redact", mode="before")
    @classmethod
    def _import_hook(cls, value: Any) -> Any:
        if value is None or callable(value):
            return value
        if isinstance(value, str) and ":" in value:
            import importlib

            module, _, attr = value.partition(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise ValueError(f"cannot import redaction hook {value!r}: {exc}") from None
        raise ValueError("must be a callable or 'module:function'")

    @field_validator("otlp_headers", mode="before")
    @classmethod
    def _parse_headers(cls, value: Any) -> Any:
        if isinstance(value, str):  # OTEL-style "k1=v1,k2=v2"
            pairs = [p.split("=", 1) for p in value.split(",") if "=" in p]
            return {k.strip(): v.strip() for k, v in pairs}
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Both file sources read nothing when their file is absent; paths are relative to the cwd.
        toml = TomlConfigSettingsSource(settings_cls, toml_file=Path("glassbox.toml"))
        pyproject = PyprojectTomlConfigSettingsSource(settings_cls, Path("pyproject.toml"))
        check_keys(toml.toml_data, "glassbox.toml")
        check_keys(pyproject.toml_data, "pyproject.toml [tool.glassbox]")
        return (init_settings, env_settings, toml, pyproject)


# Tables of glassbox.toml that feature modules read themselves (not Settings fields).
FEATURE_TABLES = frozenset({"evaluation", "flag", "flags", "experiment", "experiments"})


def known_keys() -> set[str]:
    """Every top-level key a settings file may hold: each option, each ``[section]`` table of options, and the
    tables feature modules read themselves."""
    return set(Settings.model_fields) | set(SECTION_TABLES) | FEATURE_TABLES


def check_keys(data: dict[str, Any], where: str) -> None:
    """A typo'd key (``sampel_rate``) is an error naming the file, the key and the closest known key."""
    import difflib

    known = known_keys()
    for key in data:
        if key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else "; see docs/configuration.md for every option"
        raise ConfigError(f"{where}: unknown key {key!r}{hint}")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from every source; a bad value raises ConfigError naming the option."""
    budget = overrides.pop("budget", None)
    if budget is not None:  # gb.Budget(...) is sugar for the two plain settings
        overrides.setdefault("budget_warn_usd", budget.warn_usd)
        overrides.setdefault("budget_max_usd", budget.max_usd)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_origin(str(e['loc'][0]) if e['loc'] else '', overrides)}"
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid glassbox settings: {problems}") from None
    except (OSError, ValueError) as exc:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read glassbox settings: {exc}") from None


def _origin(key: str, overrides: dict[str, Any]) -> str:
    """Where a bad option came from, for the message: the configure() call, the env, or which file."""
    import os
    import tomllib

    if key in overrides:
        return "configure(): "
    env = f"GLASSBOX_{key.upper()}"
    if env in os.environ:
        return f"{env}: "
    for path, table in ((Path("glassbox.toml"), ()), (Path("pyproject.toml"), ("tool", "glassbox"))):
        try:
            data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for part in table:
            data = data.get(part, {}) if isinstance(data, dict) else {}
        section = key.split("_", 1)[0]
        if isinstance(data, dict) and (key in data or key.removeprefix(section + "_") in (data.get(section) or {})):
            return f"{path}{' [tool.glassbox]' if table else ''}: "
    return ""


def option_names() -> list[str]:
    return list(Settings.model_fields)


def section(settings: Settings | None, name: str) -> dict[str, Any]:
    """One settings section: its ``<name>_*`` options without the prefix (``section(s, "calibration")["window_days"]``).

    A section is declared once, as prefixed fields of ``Settings`` (each also ``GLASSBOX_<NAME>_<KEY>`` and, in
    glassbox.toml, a key of the ``[<name>]`` table); ``settings=None`` gives the defaults. Code that needs the
    options together (e.g. ``analysis.calibration.CalibrationSettings``) reads them from here.
    """
    prefix = name + "_"
    out: dict[str, Any] = {}
    for field, info in Settings.model_fields.items():
        if field.startswith(prefix):
            key = field.removeprefix(prefix)
            out[key] = getattr(settings, field) if settings is not None else info.get_default(call_default_factory=True)
    return out
