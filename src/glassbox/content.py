"""Prompt and completion text on spans glassbox did not record itself: kept only as the content settings say.

Instrumentors (OpenInference, OpenLLMetry, the OTel GenAI conventions) write the text of LLM calls
into span attributes. The same two settings that govern ``gb.llm()`` govern them, on every span that
reaches glassbox (folded in-process or received over OTLP): with ``capture_content=False`` these
attributes are dropped; with it on, each value goes through the ``redact`` hook and is cut at
``max_content_length``. ``CONTENT_KEYS`` lists them; a key matches itself and everything under it
(``llm.input_messages`` covers ``llm.input_messages.0.message.content``).
"""

from __future__ import annotations

import logging
from typing import Any

# Attribute names (and prefixes) that hold prompt or completion text, by convention.
PROMPT_KEYS = (
    "input.value",
    "llm.input_messages",
    "llm.prompts",
    "llm.prompt_template.template",
    "llm.prompt_template.variables",  # OpenInference
    "gen_ai.input.messages",
    "gen_ai.system_instructions",  # OTel GenAI (current)
    "gen_ai.prompt",  # OTel GenAI (deprecated), OpenLLMetry's gen_ai.prompt.N.*
    "traceloop.entity.input",  # OpenLLMetry workflows and tasks
)
COMPLETION_KEYS = (
    "output.value",
    "llm.output_messages",
    "gen_ai.output.messages",
    "gen_ai.completion",
    "traceloop.entity.output",
)
CONTENT_KEYS = PROMPT_KEYS + COMPLETION_KEYS
_EXACT = frozenset(CONTENT_KEYS)
_PREFIXES = tuple(k + "." for k in CONTENT_KEYS)

log = logging.getLogger("glassbox")


def is_content_key(key: str) -> bool:
    return key in _EXACT or key.startswith(_PREFIXES)


class ContentPolicy:
    """Drop or redact content attributes; built from settings (``capture_content``, ``redact``, the limit)."""

    def __init__(self, capture: bool = False, redact: Any = None, limit: int = 8192) -> None:
        self.capture = capture
        self.redact = redact
        self.limit = limit
        self._warned: set[type] = set()

    @classmethod
    def from_settings(cls, settings: Any) -> ContentPolicy:
        return cls(
            bool(getattr(settings, "capture_content", False)),
            getattr(settings, "redact", None),
            int(getattr(settings, "max_content_length", 8192)),
        )

    def text(self, value: Any) -> Any:
        """One content value as stored: through the hook, cut at the limit (lists element by element)."""
        if isinstance(value, list):
            return [self.text(v) for v in value]
        if not isinstance(value, str):
            if isinstance(value, (int, float, bool)) or value is None:
                return value
            from glassbox.jsonsafe import dumps_text

            value = dumps_text(value)
        if self.redact is not None:
            try:
                value = str(self.redact(value))
            except Exception as exc:  # noqa: BLE001 - a broken hook must not leak the raw text
                if type(exc) not in self._warned:
                    self._warned.add(type(exc))
                    log.warning("glassbox: redaction hook failed (%s); content dropped", exc)
                return "[redaction failed]"
        return value if len(value) <= self.limit else value[: self.limit] + "…"

    def attributes(self, attrs: dict[str, Any] | None) -> dict[str, Any] | None:
        """``attrs`` with content dropped (capture off) or redacted; the same dict when it holds none."""
        if not attrs or not any(is_content_key(k) for k in attrs):
            return attrs
        if not self.capture:
            return {k: v for k, v in attrs.items() if not is_content_key(k)}
        return {k: self.text(v) if is_content_key(k) else v for k, v in attrs.items()}

    def apply(self, span: Any) -> None:
        """A foreign span's attributes, in place."""
        span.attributes = self.attributes(span.attributes)


_BY_SETTINGS: dict[int, tuple[Any, ContentPolicy]] = {}


def policy_for(settings: Any) -> ContentPolicy:
    """The runtime's policy (one per settings object; settings do not change once built)."""
    got = _BY_SETTINGS.get(id(settings))
    if got is None or got[0] is not settings:
        if len(_BY_SETTINGS) > 64:  # reconfigured many times (tests): forget the old ones
            _BY_SETTINGS.clear()
        got = _BY_SETTINGS[id(settings)] = (settings, ContentPolicy.from_settings(settings))
    return got[1]
