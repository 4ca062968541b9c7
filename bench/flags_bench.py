"""Flag evaluation cost: one gb.flag / gb.variant-style evaluation, target < 2 us.

Cases: a percentage-rollout flag with a targeting condition (rule match + hash), an experiment
assignment (hash, bucket ranges), the FlagClient paths an app calls (lookup + evaluation + exposure
bookkeeping) and gb.variant inside a trace (marks the trace). "cold" uses a new unit id every call
(no memoised hash), "warm" repeats 1,000 unit ids (the hash memo answers). "first evaluation" runs
each of many definitions, loaded beforehand (not timed), once: what the first gb.flag of a flag pays
(its unit hash included) beyond a later one, e.g. regexes and semver operands of its conditions.
"""

from __future__ import annotations

import argparse
import time

from _common import Results, interleaved, log


def per_call_us(fn, units: list[str], iterations: int) -> float:
    n = len(units)
    t0 = time.perf_counter()
    for i in range(iterations):
        fn(units[i % n])
    return (time.perf_counter() - t0) / iterations * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--iterations", type=int, default=100_000)
    args = ap.parse_args()
    import glassbox as gb
    from glassbox.flags.client import FlagClient, set_default_client
    from glassbox.flags.definitions import parse_experiment, parse_flag
    from glassbox.flags.evaluate import assign_variant, evaluate_flag
    from glassbox.flags.hashing import bucket_v2

    flag = parse_flag(
        {
            "name": "new-retriever",
            "default": False,
            "rules": [{"condition": {"plan": {"$in": ["pro", "team"]}}, "value": True, "rollout": 0.3}],
        }
    )
    exp = parse_experiment({"name": "prompt-style", "variants": ["control", "concise", "verbose"]})
    client = FlagClient([flag, exp], toml_path=None, record_exposures=False)
    attrs = {"plan": "pro", "country": "NO"}
    res = Results("flags")
    n = args.iterations
    cold = [f"user-{i:08d}" for i in range(n * (2 * args.repeats + 1))]
    warm = [f"user-{i:08d}" for i in range(1000)]
    offset = [0]

    def cold_units() -> list[str]:
        offset[0] += n
        bucket_v2.cache_clear()
        return cold[offset[0] - n : offset[0]]

    # First evaluations: fresh definitions per repeat (parsed here, untimed: that is definition load), each
    # evaluated once with a unit the other flags have seen; the rule with a regex and a semver operand shows
    # what compiling conditions at load time saves.
    n_defs = min(n, 20_000)
    rx_attrs = {"plan": "pro", "email": "ann@corp.example", "app_version": "2.3.1"}
    batch = [0]

    def rules(kind: str, i: int) -> list[dict[str, object]]:
        if kind == "regex":
            cond = {"email": {"$regex": f"@corp{i}?\\.example$"}, "app_version": {"$vgte": f"2.{i}.0"}}
            return [{"condition": cond, "value": True, "rollout": 0.5}]
        return [{"condition": {"plan": {"$in": ["pro", "team"]}}, "value": True, "rollout": 0.3}]

    def fresh(kind: str) -> list[object]:
        batch[0] += 1
        b = batch[0]
        if kind == "experiment":
            return [parse_experiment({"name": f"e{b}-{i}", "variants": ["a", "b", "c"]}) for i in range(n_defs)]
        return [parse_flag({"name": f"f{b}-{i}", "default": False, "rules": rules(kind, i)}) for i in range(n_defs)]

    def first_us(defs: list, fn) -> float:
        t0 = time.perf_counter()
        for d in defs:
            fn(d)
        return (time.perf_counter() - t0) / len(defs) * 1e6

    def first_case(kind: str, fn):
        return lambda: first_us(fresh(kind), fn)

    log(f"flag evaluation: {args.repeats} repeats x {n} calls")
    # The very first evaluation in the process (bytecode not yet specialised, caches cold): one call, a note.
    one = parse_flag({"name": "first-ever", "default": False, "rules": [{"value": True, "rollout": 0.5}]})
    t0 = time.perf_counter()
    evaluate_flag(one, "user-first", attrs)
    first_ever = (time.perf_counter() - t0) * 1e6
    cases = {
        "evaluate_flag cold": lambda: per_call_us(lambda u: evaluate_flag(flag, u, attrs), cold_units(), n),
        "evaluate_flag warm": lambda: per_call_us(lambda u: evaluate_flag(flag, u, attrs), warm, n),
        "assign_variant cold": lambda: per_call_us(lambda u: assign_variant(exp, u), cold_units(), n),
        "assign_variant warm": lambda: per_call_us(lambda u: assign_variant(exp, u), warm, n),
        "client.flag warm": lambda: per_call_us(lambda u: client.flag("new-retriever", u, False, attrs), warm, n),
        "client.variant warm": lambda: per_call_us(lambda u: client.variant("prompt-style", u), warm, n),
    }
    cases["evaluate_flag first of a flag"] = first_case("flag", lambda f: evaluate_flag(f, "user-1", attrs))
    cases["evaluate_flag first, regex+semver rule"] = first_case(
        "regex", lambda f: evaluate_flag(f, "user-1", rx_attrs)
    )
    cases["assign_variant first of an experiment"] = first_case("experiment", lambda e: assign_variant(e, "user-1"))
    cases["baseline: empty Python call"] = lambda: per_call_us(lambda u: None, warm, n)
    times = interleaved(cases, args.repeats)
    # Best of the repeats: on a shared machine the minimum is the figure least inflated by other load.
    for name, values in times.items():
        res.figure(name, min(values), "us", "best of repeats, per call")
    # gb.variant inside a trace: facade + client + marking the current trace.
    set_default_client(client)
    gb.configure(store=None, trail_dir=None, otlp_endpoint=None)
    inside: list[float] = []
    with gb.trace("bench"):
        for _ in range(args.repeats):
            inside.append(per_call_us(lambda u: gb.variant("prompt-style", u), warm, n))
    gb.shutdown()
    set_default_client(None)
    res.figure("gb.variant in a trace warm", min(inside), "us", "best of repeats, per call")
    best = {name: min(values) for name, values in times.items()}
    warm_eval = max(best["evaluate_flag warm"], best["assign_variant warm"])
    res.check("flag evaluation, warm (unit seen before)", warm_eval, " us", "< 2 us", warm_eval < 2.0)
    first_flag = max(
        best["evaluate_flag first of a flag"],
        best["evaluate_flag first, regex+semver rule"],
        best["assign_variant first of an experiment"],
    )
    res.check("flag evaluation, first of a flag", first_flag, " us", "< 2 us", first_flag < 2.0)
    cold_eval = max(best["evaluate_flag cold"], best["assign_variant cold"])
    res.check("flag evaluation, first of a unit (new unit id)", cold_eval, " us", "< 2 us", cold_eval < 2.0)
    res.note(
        "a flag's first evaluation and a new unit's both hash the unit id (two FNV-1a passes in pure Python, "
        "~1 us per 10 characters); everything else a first evaluation used to pay (the seed's hash, regex "
        "compiles, semver padding, the exposure writer thread) happens when definitions load"
    )
    res.note(f"the very first evaluation in this process (one call, unspecialised bytecode): {first_ever:.1f} us")
    res.emit()


if __name__ == "__main__":
    main()
