"""The OpenFeature provider through the real openfeature-sdk client: values, reasons, variants, exposures."""

from __future__ import annotations

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

import glassbox as gb
from glassbox.flags.client import FlagClient
from glassbox.flags.definitions import parse_experiment, parse_flag
from glassbox.flags.openfeature import GlassboxProvider


@pytest.fixture
def of_client():
    client = FlagClient(
        [
            parse_flag({"name": "beta", "default": False, "rules": [{"condition": {"plan": "pro"}, "value": True}]}),
            parse_flag({"name": "half", "default": False, "rollout": 0.5}),
            parse_flag({"name": "model", "default": "small", "killed": True, "value": "large"}),
            parse_flag({"name": "top_k", "default": 5, "rules": [{"condition": {"plan": "pro"}, "value": 10}]}),
            parse_flag({"name": "temperature", "default": 0.2}),
            parse_flag({"name": "limits", "default": {"tokens": 1000}}),
            parse_experiment({"name": "prompt", "variants": ["control", "concise"]}),
        ],
        toml_path=None,
    )
    api.set_provider(GlassboxProvider(client))
    yield api.get_client(), client
    api.clear_providers()


def test_metadata_and_typed_values(of_client) -> None:
    client, _ = of_client
    assert api.get_provider_metadata().name == "glassbox"
    pro = EvaluationContext("u1", {"plan": "pro"})
    d = client.get_boolean_details("beta", False, pro)
    assert (d.value, d.reason, d.variant) == (True, Reason.TARGETING_MATCH, "rule-0")
    d = client.get_boolean_details("beta", False, EvaluationContext("u1", {"plan": "free"}))
    assert (d.value, d.reason) == (False, Reason.DEFAULT)
    assert client.get_integer_details("top_k", 1, pro).value == 10
    assert client.get_float_details("temperature", 1.0, pro).value == 0.2
    assert client.get_object_details("limits", {}, pro).value == {"tokens": 1000}
    d = client.get_string_details("model", "x", pro)
    assert (d.value, d.reason) == ("small", Reason.DISABLED)


def test_split_reason_for_rollouts_and_experiments(of_client) -> None:
    client, _ = of_client
    reasons = {client.get_boolean_details("half", False, EvaluationContext(f"u{i}")).reason for i in range(50)}
    assert reasons == {Reason.SPLIT, Reason.DEFAULT}
    d = client.get_string_details("prompt", "control", EvaluationContext("u7"))
    assert d.reason == Reason.SPLIT and d.value in ("control", "concise") and d.variant == d.value


def test_errors(of_client) -> None:
    client, _ = of_client
    d = client.get_boolean_details("ghost", True, EvaluationContext("u1"))
    assert (d.value, d.reason, d.error_code) == (True, Reason.ERROR, ErrorCode.FLAG_NOT_FOUND)
    d = client.get_integer_details("beta", 3, EvaluationContext("u1"))
    assert (d.value, d.error_code) == (3, ErrorCode.TYPE_MISMATCH)
    d = client.get_string_details("prompt", "control", EvaluationContext(None))
    assert d.reason == Reason.ERROR and d.value == "control"


def test_hook_records_exposure_on_the_current_trace(of_client, tmp_path) -> None:
    client, _ = of_client
    gb.configure(project="test", store=None, trail_dir=str(tmp_path / "t"))
    try:
        with gb.trace("q", workflow="qa") as t:
            variant = client.get_string_value("prompt", "control", EvaluationContext("user-9"))
            client.get_boolean_value("beta", False, EvaluationContext("user-9", {"plan": "pro"}))
        assert (t.experiment, t.variant) == ("prompt", variant)
        assert t.metadata["experiments"] == {"prompt": variant}
        assert t.metadata["flags"] == {"beta": "rule-0"}
        assert t.user_id == "user-9"
    finally:
        gb.shutdown()
