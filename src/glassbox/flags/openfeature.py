"""An OpenFeature provider over glassbox flags and experiments, and a hook that records exposures.

    from openfeature import api
    from glassbox.flags.openfeature import GlassboxProvider

    api.set_provider(GlassboxProvider())
    client = api.get_client()
    client.get_boolean_value("new-retriever", False, EvaluationContext("user-42", {"plan": "pro"}))

The targeting key is the unit id; the context's attributes feed conditions. Reasons follow the spec:
TARGETING_MATCH (a rule matched), SPLIT (a rollout or an experiment bucket), DEFAULT (no rule matched,
or outside the experiment), DISABLED (killed or stopped), ERROR (missing flag: FLAG_NOT_FOUND; value of
the wrong type: TYPE_MISMATCH). The provider's hook records each exposure (on the current trace and in
the exposures table), after the SDK has settled the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagEvaluationDetails, FlagResolutionDetails, Reason
from openfeature.hook import Hook, HookContext, HookHints
from openfeature.provider import AbstractProvider, Metadata

from glassbox.flags.client import NOT_FOUND, FlagClient, default_client
from glassbox.flags.evaluate import ERROR, SPLIT, TARGETING_MATCH, Resolution

_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "string": (str,),
    "integer": (int,),
    "float": (float, int),
    "object": (dict, list),
}


class ExposureHook(Hook):
    """Records an exposure after each successful evaluation that placed the unit (a match, a split)."""

    def __init__(self, provider: GlassboxProvider) -> None:
        self.provider = provider

    def after(self, hook_context: HookContext, details: FlagEvaluationDetails[Any], hints: HookHints) -> None:
        ctx = hook_context.evaluation_context
        unit = ctx.targeting_key if ctx is not None else None
        if unit is None or details.error_code is not None or details.reason not in (SPLIT, TARGETING_MATCH):
            return
        client = self.provider.client
        name = hook_context.flag_key
        kind = "flag" if name in client.flags() else "experiment"
        r = Resolution(details.value, details.variant, str(details.reason), in_experiment=kind == "experiment")
        client.expose(kind, name, r, str(unit), "openfeature")


class GlassboxProvider(AbstractProvider):
    """Resolves flags (and experiments, by name) locally from a glassbox FlagClient."""

    def __init__(self, client: FlagClient | None = None) -> None:
        super().__init__()
        self._client = client
        self._hook = ExposureHook(self)

    @property
    def client(self) -> FlagClient:
        return self._client if self._client is not None else default_client()

    def get_metadata(self) -> Metadata:
        return Metadata(name="glassbox")

    def get_provider_hooks(self) -> list[Hook]:
        return [self._hook]

    def _resolve(
        self, flag_key: str, default: Any, kind: str, ctx: EvaluationContext | None
    ) -> FlagResolutionDetails[Any]:
        unit = ctx.targeting_key if ctx is not None else None
        attrs: Mapping[str, Any] = dict(ctx.attributes) if ctx is not None else {}
        if unit is not None:
            attrs = {"id": unit, **attrs}
        try:
            r = self.client.resolve_flag(flag_key, unit, default, attrs)
        except Exception as exc:  # noqa: BLE001 - the SDK expects an ERROR resolution, not an exception
            return FlagResolutionDetails(default, ErrorCode.GENERAL, str(exc), Reason.ERROR)
        if r.error == NOT_FOUND:
            return FlagResolutionDetails(
                default, ErrorCode.FLAG_NOT_FOUND, f"no flag or experiment named {flag_key!r}", Reason.ERROR
            )
        if r.reason == ERROR:
            code = ErrorCode.TARGETING_KEY_MISSING if unit is None else ErrorCode.GENERAL
            return FlagResolutionDetails(default, code, r.error, Reason.ERROR)
        value = r.value
        ok = isinstance(value, _TYPES[kind]) and not (kind in ("integer", "float") and isinstance(value, bool))
        if not ok:
            message = f"{flag_key!r} is {type(value).__name__}, not {kind}"
            return FlagResolutionDetails(default, ErrorCode.TYPE_MISMATCH, message, Reason.ERROR)
        if kind == "float":
            value = float(value)
        meta: dict[str, bool | int | float | str] = {}
        if r.bucket is not None:
            meta["bucket"] = r.bucket
        return FlagResolutionDetails(value, None, None, Reason(r.reason), r.variant, meta)

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, "boolean", evaluation_context)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, "string", evaluation_context)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, "integer", evaluation_context)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, "float", evaluation_context)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[Any] | Mapping[str, Any],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[Any] | Mapping[str, Any]]:
        return self._resolve(flag_key, default_value, "object", evaluation_context)
