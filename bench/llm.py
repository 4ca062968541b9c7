"""gb.llm() on an OpenAI response, priced; and what a budget check adds to gb.stage().

Cases, interleaved per repeat, median µs/op:

* ``llm``: ``gb.llm(resp)`` on a real ``openai`` ``ChatCompletion`` (cached prompt tokens),
  priced from genai-prices, recorded as a new ``kind="llm"`` stage (prices warm: the
  first call, which loads the price table, is not timed). 20 calls per trace.
* ``stage`` / ``stage+budget``: a plain stage enter+exit with 3 attributes, without and with
  a per-trace budget (the budget check runs before each stage starts). The difference is the
  budget check's cost.
* ``extract`` and ``price`` alone, to show where gb.llm's time goes.
* ``first call``: the first ``gb.llm(resp)`` of a fresh process (median of 5 processes),
  0.5 s after ``gb.configure()`` (the app doing other work meanwhile) and right after it. The
  price table loads on a background thread started by ``gb.configure()``, so after the delay
  the first call costs what any call does; right after configure the call records its tokens
  without waiting, and is priced once the table is loaded (before the trace is written).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from time import perf_counter_ns

from _common import Results, interleaved, log, median

import glassbox as gb

PER_TRACE = 20
TARGET_LLM_US = 20.0
TARGET_BUDGET_US = 0.5
TARGET_FIRST_MS = 5.0


def openai_response() -> object:
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_764_000_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
            "usage": {
                "prompt_tokens": 1200,
                "completion_tokens": 300,
                "total_tokens": 1500,
                "prompt_tokens_details": {"cached_tokens": 512},
            },
        }
    )


def run_llm(resp: object, n: int) -> float:
    outer = n // PER_TRACE
    t0 = perf_counter_ns()
    for _ in range(outer):
        with gb.trace("t"):
            for _ in range(PER_TRACE):
                gb.llm(resp)
    return (perf_counter_ns() - t0) / (outer * PER_TRACE) / 1000


def run_stages(n: int, budget: gb.Budget | None) -> float:
    outer = n // 100
    t0 = perf_counter_ns()
    for _ in range(outer):
        with gb.trace("t", budget=budget):
            for _ in range(100):
                with gb.stage("s") as s:
                    s.set(a=1, b="x", c=2.5)
    return (perf_counter_ns() - t0) / (outer * 100) / 1000


def run_fn(fn: Callable[[], object], n: int) -> float:
    t0 = perf_counter_ns()
    for _ in range(n):
        fn()
    return (perf_counter_ns() - t0) / n / 1000


_FIRST_CALL = """
import sys, time
from time import perf_counter_ns
import glassbox as gb
from openai.types.chat import ChatCompletion
resp = ChatCompletion.model_validate({body!r})
gb.configure(store=None, trail_dir=None)
time.sleep(float(sys.argv[1]))
with gb.trace("t"):
    t0 = perf_counter_ns()
    call = gb.llm(resp)
    t1 = perf_counter_ns()
assert call.cost_source == "priced", call
print((t1 - t0) / 1e6)
"""


def first_call_ms(delay_s: float, processes: int = 5) -> float:
    """The first gb.llm() of fresh processes, ``delay_s`` after gb.configure(): median ms."""
    import subprocess
    import sys

    body = openai_response().model_dump(mode="json")  # type: ignore[attr-defined]
    script = _FIRST_CALL.format(body=body)
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", script, str(delay_s)], check=True, capture_output=True, text=True
            ).stdout.strip()
        )
        for _ in range(processes)
    ]
    return median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--iterations", type=int, default=20_000)
    args = ap.parse_args()
    n, repeats = args.iterations, args.repeats
    res = Results("llm")
    log(f"gb.llm and budget checks: {repeats} repeats x {n:,} ops")

    from glassbox.cost.pricing import Pricer
    from glassbox.cost.usage import extract_usage

    resp = openai_response()
    gb.configure(store=None, trail_dir=None)
    with gb.trace("warm-up"):
        first = gb.llm(resp)
    if first is None or first.cost_source != "priced":
        raise SystemExit(f"gb.llm did not price the benchmark response: {first}")
    usage = extract_usage(resp)
    pricer = Pricer()
    pricer.price(usage)  # type: ignore[arg-type]
    budget = gb.Budget(warn_usd=1e9, max_usd=1e9)
    cases: dict[str, Callable[[], float]] = {
        "llm": lambda: run_llm(resp, n),
        "stage": lambda: run_stages(n * 5, None),
        "stage+budget": lambda: run_stages(n * 5, budget),
        "extract": lambda: run_fn(lambda: extract_usage(resp), n),
        "price": lambda: run_fn(lambda: pricer.price(usage), n),  # type: ignore[arg-type]
    }
    times = {name: median(v) for name, v in interleaved(cases, repeats).items()}
    for name, us in times.items():
        res.figure(name, us, "µs/op")
    res.check("gb.llm(resp) priced, per call", times["llm"], "µs", f"<= {TARGET_LLM_US}", times["llm"] <= TARGET_LLM_US)
    after = first_call_ms(0.5)
    res.figure("first call, 0.5 s after configure", after, "ms")
    res.figure("first call, right after configure", first_call_ms(0.0), "ms")
    res.check(
        "first gb.llm() after configure (price table loaded in the background)",
        after,
        "ms",
        f"<= {TARGET_FIRST_MS}",
        after <= TARGET_FIRST_MS,
    )
    added = times["stage+budget"] - times["stage"]
    res.check("budget check added to gb.stage()", added, "µs", f"<= {TARGET_BUDGET_US}", added <= TARGET_BUDGET_US)
    res.emit()


if __name__ == "__main__":
    main()
