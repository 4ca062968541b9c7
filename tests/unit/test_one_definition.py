"""One definition per idea (issue 17): the gap ratio and the calibration settings are declared once."""

from __future__ import annotations

import inspect

import typer
from fastapi.testclient import TestClient

from glassbox.analysis.calibration import CalibrationSettings
from glassbox.analysis.query import Query
from glassbox.cli.app import app
from glassbox.config import Settings, load_settings, section
from glassbox.model import GAP_RATIO
from glassbox.server.app import create_app


def test_every_default_gap_ratio_is_the_models(tmp_path):
    assert Settings.model_fields["calibration_gap_ratio"].default == GAP_RATIO
    assert CalibrationSettings().gap_ratio == GAP_RATIO
    assert inspect.signature(Query.principle_patterns).parameters["threshold"].default == GAP_RATIO
    cli = typer.main.get_command(app).commands["principles"]  # type: ignore[attr-defined]
    assert next(p.default for p in cli.params if p.name == "threshold") == GAP_RATIO
    with TestClient(create_app(f"sqlite:///{tmp_path}/g.db", jobs=False)) as client:
        params = client.get("/openapi.json").json()["paths"]["/api/v1/principles"]["get"]["parameters"]
    assert next(p["schema"]["default"] for p in params if p["name"] == "threshold") == GAP_RATIO


def test_calibration_settings_are_the_calibration_section_of_the_settings():
    assert {f for f in Settings.model_fields if f.startswith("calibration_")} == {
        f"calibration_{k}" for k in CalibrationSettings.__dataclass_fields__
    }
    assert CalibrationSettings() == CalibrationSettings(**section(None, "calibration"))
    s = load_settings(calibration={"window_days": 3, "thresholds": {"grounding": 0.5}}, calibration_min_runs=9)
    got = CalibrationSettings.from_settings(s)
    assert (got.window_days, got.thresholds, got.min_runs) == (3.0, {"grounding": 0.5}, 9)
    got.thresholds["x"] = 1.0  # the engine's copy: the settings are not changed through it
    assert s.calibration_thresholds == {"grounding": 0.5}


def test_the_rest_group_by_choices_are_the_query_apis_dimensions():
    from fastapi.testclient import TestClient

    from glassbox.analysis.query import GROUP_DIMS
    from glassbox.server.app import create_app

    schema = TestClient(create_app("sqlite:///:memory:")).get("/openapi.json").json()
    for path in ("/api/v1/group", "/api/v1/quality"):
        (by,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "by"]
        choices = by["schema"].get("enum") or next(a["enum"] for a in by["schema"]["anyOf"] if "enum" in a)
        assert tuple(choices) == GROUP_DIMS, path
