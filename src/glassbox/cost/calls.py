"""``gb.llm(response)``: record an LLM call — model, tokens, cost and its source — on the trace.

The response is read by ``cost.usage.extract_usage`` (every major SDK and its dict form),
counts missing from it are estimated from ``prompt``/``completion``, and the cost comes
from the runtime's cached ``Pricer``. The call lands on a ``kind="llm"`` stage: the current
one if it is an LLM stage still waiting for its usage, the stage named by ``stage=``, or a
new child stage. The cost counts against the trace's and the project's daily budget; a
budget passed here stops the *next* stage, never this call.
"""

from __future__ import annotations

import threading
from time import time_ns
from typing import TYPE_CHECKING, Any

from glassbox.cost.dedupe import DUPLICATE_OF, fold, make_loser
from glassbox.cost.pricing import PriceResult
from glassbox.cost.record import COST_SOURCE, Warnings, apply_usage, make_pricer, price_span, weakest_source
from glassbox.cost.tokens import estimate_usage
from glassbox.cost.usage import NO_USAGE, LLMUsage, extract_usage
from glassbox.jsonsafe import dumps_text
from glassbox.recorder import Stage, truncate

if TYPE_CHECKING:
    from glassbox.cost.pricing import Pricer
    from glassbox.model import Trace
    from glassbox.runtime import Runtime

# What a call recorded while the price table loads carries until it is priced.
PENDING = PriceResult(None, "pending")


# Set once a price-table load (the warm-up started at configure) has finished in this process:
# from then on gb.llm() prices on the spot, the table being in memory.
_TABLE_LOADED = threading.Event()
# Calls recorded while the table was loading, by trace id: priced before the trace is written. One
# table for the process: a trace that ends after gb.configure() replaced its runtime is written by
# the new one's writer.
_PENDING: dict[str, list[PendingPrice]] = {}


class PendingPrice:
    """A ``gb.llm()`` call recorded while the price table was still loading (the first calls after
    ``gb.configure()``): its model and tokens are on the stage already; the price follows once the
    table is loaded — when the writer prepares the trace, or when the app reads ``LLMCall.cost_usd``,
    whichever comes first. The cost is the one pricing on the spot would have given."""

    __slots__ = ("_ctx", "_lock", "_result", "rt", "span", "trace", "usage")

    def __init__(self, ctx: CostContext, rt: Runtime, trace: Any, span: Stage, usage: LLMUsage) -> None:
        self._ctx, self.rt, self.trace, self.span, self.usage = ctx, rt, trace, span, usage
        self._lock = threading.Lock()
        self._result: PriceResult | None = None

    def settle(self) -> PriceResult:
        """Price the call (waiting for the table load), once; later calls return the same result."""
        with self._lock:
            result = self._result
            if result is None:
                self._ctx.wait_for_table()
                result = self._result = self._ctx.price(self.usage)
                span, trace = self.span, self.trace
                # An instrumentor's span of the same call may have taken the count meanwhile (cost/dedupe.py).
                winner = (span.attributes or {}).get(DUPLICATE_OF)
                apply_usage(span, self.usage, result)
                trace.cost_source = weakest_source(trace.cost_source, result.source)
                if winner is not None:
                    make_loser(span, winner)
                elif result.cost_usd:
                    self.rt.add_cost(trace, result.cost_usd)
        return result


class LLMCall:
    """What ``gb.llm()`` recorded: the usage read, its price, and the stage that holds it.

    ``cost_usd``, ``cost_source`` and ``message`` come from the price; for a call recorded while
    the price table was loading, reading one of them waits for the load (``PendingPrice``).
    """

    __slots__ = ("_price", "stage", "usage")

    def __init__(self, usage: LLMUsage, price: PriceResult | PendingPrice, stage: Stage) -> None:
        self.usage, self._price, self.stage = usage, price, stage

    def _result(self) -> PriceResult:
        price = self._price
        if isinstance(price, PendingPrice):
            price = self._price = price.settle()
        return price

    @property
    def cost_usd(self) -> float | None:
        return self._result().cost_usd

    @property
    def cost_source(self) -> str:
        return self._result().source

    @property
    def message(self) -> str | None:
        return self._result().message

    def __repr__(self) -> str:
        return (
            f"LLMCall(usage={self.usage!r}, cost_usd={self.cost_usd!r}, cost_source={self.cost_source!r}, "
            f"stage={self.stage!r}, message={self.message!r})"
        )


class CostContext:
    """Per-runtime pricing state: the cached Pricer, content-capture options, warn-once memory."""

    def __init__(self, settings: Any) -> None:
        self._prices = dict(getattr(settings, "prices", None) or {})
        self._prices_file = getattr(settings, "prices_file", None)
        self._pricer: Pricer | None = None
        self.capture = bool(getattr(settings, "capture_content", False))
        self.content_limit = int(getattr(settings, "max_content_length", 8192))
        self.redact = getattr(settings, "redact", None)
        self.warnings = Warnings()
        self._lock = threading.Lock()
        # Traces that folded an instrumentor's LLM span: only their gb.llm() calls need the dedupe scan.
        self.foreign_traces: dict[str, None] = {}
        self.warming: threading.Thread | None = None  # the price-table load started at configure

    def saw_foreign(self, trace_id: str) -> None:
        traces = self.foreign_traces
        if trace_id not in traces:
            if len(traces) >= 10_000:  # bounded: the oldest traces have long ended
                traces.pop(next(iter(traces)), None)
            traces[trace_id] = None

    @property
    def pricer(self) -> Pricer:
        pricer = self._pricer
        if pricer is None:
            with self._lock:  # the background warm-up and the app's first call build one Pricer between them
                if self._pricer is None:
                    self._pricer = make_pricer(self._prices, self._prices_file)
                pricer = self._pricer
        return pricer

    def warm(self) -> None:
        """Load genai-prices, its table and the common lookups (a background thread, at configure)."""
        try:
            pricer = self.pricer
            pricer.warm()
            for provider, model in (("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5")):
                pricer.price(LLMUsage(provider=provider, request_model=model, input_tokens=1, output_tokens=1))
        except Exception:  # noqa: BLE001 - an optimisation only: the first real call reports any problem
            pass
        finally:
            _TABLE_LOADED.set()

    def table_loading(self) -> bool:
        """Whether pricing now would wait for the price table (its load at configure is still running)."""
        warming = self.warming
        return not _TABLE_LOADED.is_set() and warming is not None and warming.is_alive()

    def wait_for_table(self) -> None:
        warming = self.warming
        if warming is not None and warming is not threading.current_thread():
            warming.join()  # returns at once in a forked child: the thread did not come along

    def defer(self, rt: Runtime, trace: Any, span: Stage, usage: LLMUsage) -> PendingPrice:
        pending = PendingPrice(self, rt, trace, span, usage)
        _PENDING.setdefault(trace.trace_id, []).append(pending)
        return pending

    def price(self, usage: LLMUsage) -> PriceResult:
        result = self.pricer.price(usage)
        if result.source == "unknown":
            self.warnings.once(
                ("price", usage.provider, usage.model),
                "glassbox: cost unknown for model %r (provider %r): %s; the cost is left empty",
                usage.model,
                usage.provider,
                result.message,
            )
        return result

    def content(self, value: Any) -> str | None:
        """Prompt/completion text as stored: JSON-encoded, redacted by the hook, size-limited."""
        if value is None:
            return None
        text = value if isinstance(value, str) else dumps_text(value)
        if self.redact is not None:
            try:
                text = str(self.redact(text))
            except Exception as exc:  # noqa: BLE001 - a broken hook must not leak the raw text
                self.warnings.once(("redact", type(exc)), "glassbox: redaction hook failed (%s); content dropped", exc)
                return "[redaction failed]"
        return truncate(text, self.content_limit)


def warm_prices(rt: Runtime) -> threading.Thread:
    """Load the price table off the app's thread, so the first ``gb.llm()`` inside a stage does not
    pay for it (importing genai-prices and its table takes 100+ ms)."""
    ctx = cost_context(rt)
    thread = ctx.warming = threading.Thread(target=ctx.warm, name="glassbox-prices", daemon=True)
    thread.start()
    return thread


def settle_prices(trace: Trace) -> None:
    """Writer step, before any sink: price the trace's calls recorded while the table was loading."""
    if _PENDING:
        for pending in _PENDING.pop(trace.trace_id, ()):
            pending.settle()


def cost_context(rt: Runtime) -> CostContext:
    ctx = rt.costs
    if ctx is None:
        ctx = rt.costs = CostContext(rt.settings)
    return ctx


def read_usage(
    ctx: CostContext, response: Any, prompt: Any, completion: Any, model: str | None, provider: str | None
) -> LLMUsage:
    """The call's usage: read from the response, completed by estimates when counts are missing."""
    usage = extract_usage(response, provider=provider, model=model) if response is not None else None
    if usage is None:
        if response is not None:
            ctx.warnings.once(
                ("type", type(response)),
                "glassbox: gb.llm() cannot read usage from a %s; pass prompt=/completion= to estimate it",
                type(response).__qualname__,
            )
        usage = LLMUsage(
            provider=provider,
            request_model=model,
            operation="chat",
            problems=[f"unrecognised response type {type(response).__qualname__}"]
            if response is not None
            else [NO_USAGE],
        )
    if not usage.has_counts and usage.provider_cost_usd is None and (prompt is not None or completion is not None):
        if completion is None and response is not None:
            completion = completion_text(response)
        usage = estimate_usage(model, prompt, completion, provider=provider, base=usage)
    return usage


def completion_text(response: Any) -> str | None:
    """The text of a response from the common SDKs (for capture and estimates); None if not found."""
    try:
        choices = getattr(response, "choices", None)
        if choices:
            first = choices[0]
            message = getattr(first, "message", None)
            return getattr(message, "content", None) if message is not None else getattr(first, "text", None)
        text = getattr(response, "output_text", None)  # OpenAI Responses API
        if isinstance(text, str):
            return text
        content = getattr(response, "content", None)  # Anthropic Message, LangChain AIMessage
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(getattr(b, "text", "") or "" for b in content) or None
        text = getattr(response, "text", None)  # google-genai
        return text if isinstance(text, str) else None
    except Exception:  # noqa: BLE001 - a property that raises (e.g. a blocked Gemini answer) means no text
        return None


def target_stage(cur: Stage, stage: Any, usage: LLMUsage, duration_ms: float | None) -> Stage:
    """The stage the call is recorded on (see the module docstring); a new one is already ended."""
    if isinstance(stage, Stage):
        return stage
    trace = cur._trace
    if stage is None and cur.kind == "llm" and cur is not trace._root and COST_SOURCE not in (cur.attributes or ()):
        return cur
    if isinstance(stage, str):
        node: Stage | None = cur
        while node is not None:  # the current stage or one of its ancestors
            if node.name == stage:
                return node
            node = next((s for s in trace.spans if s.span_id == node.parent_id), None)  # type: ignore[assignment]
    now = time_ns()
    new = Stage(trace, cur.span_id, stage if isinstance(stage, str) else (usage.model or "llm"), "llm")
    new.start_ns = now - int(duration_ms * 1e6) if duration_ms else now
    new.end_ns = now
    new.status = "ok"
    trace.spans.append(new)
    return new


def record(
    rt: Runtime,
    cur: Stage,
    response: Any,
    *,
    stage: Any,
    prompt: Any,
    completion: Any,
    model: str | None,
    provider: str | None,
    duration_ms: float | None,
) -> LLMCall:
    ctx = cost_context(rt)
    usage = read_usage(ctx, response, prompt, completion, model, provider)
    trace = cur._trace
    if ctx.table_loading() and trace.budget is None and trace.trace_id not in ctx.foreign_traces:
        # The first calls after configure do not wait for the price table: tokens now, the price
        # once it is loaded (before the trace is written). A budget needs the cost before the next
        # stage starts, and the dedupe scan needs it now: those calls wait.
        target = target_stage(cur, stage, usage, duration_ms)
        apply_usage(target, usage, PENDING)
        _capture(ctx, target, response, prompt, completion)
        return LLMCall(usage, ctx.defer(rt, trace, target, usage), target)
    price = ctx.price(usage)
    target = target_stage(cur, stage, usage, duration_ms)
    apply_usage(target, usage, price)
    _capture(ctx, target, response, prompt, completion)
    trace.cost_source = weakest_source(trace.cost_source, price.source)
    counted = price.cost_usd
    if trace.trace_id in ctx.foreign_traces:  # an instrumentor may already have described this call
        spans = trace.spans
        counted = fold(target, spans, {s.span_id: s for s in spans})
    if counted:
        rt.add_cost(trace, counted)
    return LLMCall(usage, price, target)


def _capture(ctx: CostContext, target: Stage, response: Any, prompt: Any, completion: Any) -> None:
    """Prompt and completion onto the call's stage, when ``capture_content`` is on."""
    if ctx.capture:
        if completion is None and response is not None:
            completion = completion_text(response)
        captured = {"gen_ai.prompt": ctx.content(prompt), "gen_ai.completion": ctx.content(completion)}
        kept = {k: v for k, v in captured.items() if v is not None}
        if target.attributes is None:  # apply_usage sets attributes today; a stage without any must not raise
            target.attributes = kept
        else:
            target.attributes.update(kept)


def price_foreign(rt: Runtime, trace: Any, span: Any) -> None:
    """Price an LLM span an OTel instrumentor (OpenLLMetry, OpenInference) produced inside the trace.

    A span describing a call the trace already holds (the anthropic SDK's own span beside an
    instrumentor's, or a ``gb.llm()`` record) counts once: see ``glassbox.cost.dedupe``.
    """
    ctx = cost_context(rt)
    source = price_span(span, ctx.pricer, ctx.warnings)
    if source is None:
        return
    trace.cost_source = weakest_source(trace.cost_source, source)
    ctx.saw_foreign(trace.trace_id)
    spans = trace.spans
    delta = fold(span, spans, {s.span_id: s for s in spans})
    if delta:
        rt.add_cost(trace, delta)
