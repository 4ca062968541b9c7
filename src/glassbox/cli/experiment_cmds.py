"""``glassbox exp …`` (experiments: list, show, set, sync, analyze, report, power) and ``glassbox flag …``
(feature flags: list, show, set, kill). Rendering only: experiments.registry, .analysis and .report do the work.
(``glassbox flags``/``alerts`` are calibration alerts: a different command.)"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from glassbox.cli.errors import EXIT_FAILURE, UsageProblem, reported
from glassbox.cli.options import JsonOption, StoreOption, open_store
from glassbox.errors import QueryError

exp_app = typer.Typer(
    help="A/B experiments on traces: analyze, report, power.\n\n"
    "A/B experiments measured on traces: define, analyze, report, plan sample sizes.",
    no_args_is_help=True,
)
flag_app = typer.Typer(
    help="Feature flags: rules, rollouts, kill switch.\n\n"
    "Rules, percentage rollouts and a kill switch, evaluated locally by gb.flag.",
    no_args_is_help=True,
)

ProjectOption = Annotated[str, typer.Option("--project", help="Project the definitions belong to.")]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who makes the change (recorded in the history; default: your user name).")
]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str))


def _actor(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "cli"


def _value(text: str, option: str) -> Any:
    """A JSON value (true, 3, 0.5, "x", {...}); anything else is taken as a plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if text[:1] in "{[":
            raise UsageProblem(f"{option}: not valid JSON: {text!r}") from None
        return text


def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [x.strip() for x in text.split(",") if x.strip()]


def _store(store: str | None, must_exist: bool = True) -> Any:
    return open_store(store, must_exist=must_exist)


def _bad_input(exc: QueryError) -> UsageProblem:
    return UsageProblem(str(exc))


# -- experiments ---------------------------------------------------------------------------------
@exp_app.command("list")
def exp_list(as_json: JsonOption = False, project: ProjectOption = "default", store: StoreOption = None) -> None:
    """Defined experiments: status, variants and weights, version, last change."""
    from glassbox.experiments import registry

    with reported(), _store(store) as st:
        items = registry.list_definitions(st, "experiment", project=project)
        if as_json:
            _echo_json([i.to_dict() for i in items])
            return
        if not items:
            _console().print(
                Text(
                    "no experiments defined (glassbox exp set NAME --variants control,treatment, "
                    "or [[experiment]] in glassbox.toml + glassbox exp sync)"
                )
            )
            return
        table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
        for h in ("Experiment", "Status", "Variants", "Coverage", "Version", "Changed by", "At"):
            table.add_column(h)
        for i in items:
            d = i.definition
            status = "killed" if d.killed else d.status  # type: ignore[union-attr]
            variants = ", ".join(f"{v.key} {v.weight:.0%}" for v in d.variants)  # type: ignore[union-attr]
            table.add_row(
                d.name,
                status,
                variants,
                f"{d.coverage:.0%}",
                str(i.version),
                i.updated_by or "-",  # type: ignore[union-attr]
                i.updated_at.strftime("%Y-%m-%d %H:%M"),
            )
        _console().print(table)


def _show(kind: str, name: str, as_json: bool, project: str, store: str | None) -> None:
    from glassbox.experiments import registry

    with reported(), _store(store) as st:
        current = registry.get(st, kind, name, project=project)
        hist = registry.history(st, kind, name, project=project)
        if as_json:
            _echo_json({**current.to_dict(), "history": hist})
            return
        console = _console()
        console.print(Text(f"{kind} {name}  (version {current.version})", style="bold"))
        console.print(Text(json.dumps(current.definition.to_dict(), indent=2, default=str)))
        console.print(Text("history", style="bold"))
        for h in hist:
            console.print(Text(f"  v{h['version']}  {h['action']:<7} {h['actor'] or '-':<12} {h['at']}"))


@exp_app.command("show")
def exp_show(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    as_json: JsonOption = False,
    project: ProjectOption = "default",
    store: StoreOption = None,
) -> None:
    """One experiment's definition and its history (every change with who and when)."""
    _show("experiment", name, as_json, project, store)


@exp_app.command("set")
def exp_set(
    name: Annotated[str, typer.Argument(help="Experiment name (also its bucketing seed).")],
    variants: Annotated[str | None, typer.Option("--variants", help="Comma-separated keys, control first.")] = None,
    weights: Annotated[str | None, typer.Option("--weights", help="Comma-separated weights summing to 1.")] = None,
    coverage: Annotated[float | None, typer.Option("--coverage", help="Share of units in the experiment.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="running or stopped.")] = None,
    metrics: Annotated[str | None, typer.Option("--metrics", help="Primary metrics, comma-separated.")] = None,
    guardrails: Annotated[str | None, typer.Option("--guardrails", help="Guardrail metrics, comma-separated.")] = None,
    correction: Annotated[str | None, typer.Option("--correction", help="holm, bh or none.")] = None,
    spec: Annotated[
        str | None, typer.Option("--spec", help="The whole definition as JSON (other options override its fields).")
    ] = None,
    by: ByOption = None,
    project: ProjectOption = "default",
    store: StoreOption = None,
) -> None:
    """Create or change an experiment (a new version; unchanged fields keep their values)."""
    from glassbox.experiments import registry

    with reported(), _store(store, must_exist=False) as st:
        raw: dict[str, Any] = {}
        try:
            raw = registry.get(st, "experiment", name, project=project).definition.to_dict()
        except registry.ExperimentNotFound:
            raw = {"name": name}
        if spec is not None:
            loaded = _value(spec, "--spec")
            if not isinstance(loaded, dict):
                raise UsageProblem("--spec: expected a JSON object")
            raw.update(loaded)
        raw["name"] = name
        if variants is not None:
            raw["variants"] = _csv(variants)
            if weights is None:
                raw.pop("weights", None)
        if weights is not None:
            try:
                raw["weights"] = [float(w) for w in _csv(weights) or []]
            except ValueError:
                raise UsageProblem(f"--weights: expected numbers, got {weights!r}") from None
        for key, value in (("coverage", coverage), ("status", status), ("correction", correction)):
            if value is not None:
                raw[key] = value
        for key, value in (("metrics", metrics), ("guardrails", guardrails)):
            if value is not None:
                raw[key] = _csv(value)
        if (
            isinstance(raw.get("variants"), list)
            and raw["variants"]
            and isinstance(raw["variants"][0], dict)
            and "weights" in raw
        ):
            raw["variants"] = [v["key"] for v in raw["variants"]]
        try:
            saved = registry.save(st, "experiment", raw, actor=_actor(by), project=project)
        except QueryError as exc:
            raise _bad_input(exc) from None
        _console().print(Text(f"experiment {name}: version {saved.version}"))


@exp_app.command("sync")
def exp_sync(
    file: Annotated[Path, typer.Option("--file", help="The config file to import.")] = Path("glassbox.toml"),
    by: ByOption = None,
    project: ProjectOption = "default",
    store: StoreOption = None,
) -> None:
    """Store the [[flag]] and [[experiment]] tables of glassbox.toml (each change versioned)."""
    from glassbox.experiments import registry

    with reported():
        if not file.is_file():
            raise UsageProblem(f"{file}: no such file")
        with _store(store, must_exist=False) as st:
            try:
                saved = registry.sync_toml(st, file, actor=by or f"{file.name}", project=project)
            except QueryError as exc:
                raise _bad_input(exc) from None
        for s in saved:
            _console().print(Text(f"{s.definition.kind} {s.definition.name}: version {s.version}"))
        if not saved:
            _console().print(Text(f"{file}: no [[flag]] or [[experiment]] tables"))


def _g(x: Any) -> str:
    return "-" if x is None else f"{x:.3g}"


def _cli_row(r: Any) -> list[str]:
    t = r.test or {}
    if not t:
        return [r.label, r.variant, _g(r.value_control), _g(r.value_variant), "-", "-", "-", r.note or "-"]
    rel = (r.relative or {}).get("estimate")
    ci = f"[{_g(t.get('ci_low'))}, {_g(t.get('ci_high'))}]"
    result = {"better": "better", "worse": "WORSE", "none": "n.s."}[r.direction]
    p = r.adjusted_p if r.adjusted_p is not None else t.get("p_value")
    return [
        r.label,
        r.variant,
        _g(r.value_control),
        _g(r.value_variant),
        ci,
        "-" if rel is None else f"{rel:+.1%}",
        f"{p:.2g}" if p is not None else "-",
        result,
    ]


def _print_analysis(a: Any) -> None:
    from glassbox.experiments.report import headline

    console = _console()
    style = {"ship": "bold green", "keep_control": "bold yellow", "blocked": "bold red", "invalid": "bold red"}
    console.print(
        Text(f"{a.experiment}: {headline(a).replace('**', '')}", style=style.get(a.verdict["decision"], "bold"))
    )
    for reason in a.verdict.get("reasons", []):
        console.print(Text(f"  - {reason}"))
    alloc = "  ".join(
        f"{v['key']} {v['units']} units" + (f" ({v['share']:.1%})" if v["share"] is not None else "")
        for v in a.variants
    )
    srm = a.srm
    console.print(Text(f"allocation: {alloc}"))
    console.print(
        Text(
            f"sample ratio check: {'MISMATCH' if srm['alarm'] else 'ok'} (SRM p = {srm['p_value']:.3g})",
            style="bold red" if srm["alarm"] else None,
        )
    )
    several = len(a.variants) > 2  # one treatment: its name goes in the title, not in a column
    control = a.variants[0]["key"]
    for title, rows in (("metrics", a.results), ("guardrails", a.guardrails)):
        if not rows:
            continue
        heading = title if several else f"{title}: {rows[0].variant} vs {control}"
        table = Table(
            title=heading,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            header_style="bold",
            pad_edge=False,
            show_edge=False,
        )
        cols = [
            "metric",
            *(["variant"] if several else []),
            "control",
            "variant",
            "diff 95% CI",
            "rel",
            "adj. p" if title == "metrics" else "p",
            "result",
        ]
        for i, c in enumerate(cols):
            text_col = i == 0 or (several and i == 1) or c == "result"
            table.add_column(
                c, justify="left" if text_col else "right", no_wrap=i > 0, min_width=12 if i == 0 else None
            )
        for r in rows:
            cells = _cli_row(r)
            if not several:
                cells = [cells[0], *cells[2:]]
            table.add_row(*cells, style={"better": "green", "worse": "red"}.get(r.direction))
        console.print(table)
    s = a.settings
    console.print(
        Text(
            f"{'sequential (always valid)' if s['sequential'] else 'fixed-horizon'} tests, "
            f"alpha {s['alpha']:g}, {s['correction']} correction" + (", CUPED" if s["cuped"] else ""),
            style="dim",
        )
    )


@exp_app.command("analyze")
def exp_analyze(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    sequential: Annotated[bool, typer.Option("--sequential", help="Always-valid intervals (safe to peek).")] = False,
    cuped: Annotated[bool, typer.Option("--cuped", help="Adjust means by each unit's pre-period value.")] = False,
    correction: Annotated[str | None, typer.Option("--correction", help="holm, bh or none.")] = None,
    alpha: Annotated[float | None, typer.Option("--alpha", help="Significance level (default 0.05).")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only runs since (2026-11-01, 7d).")] = None,
    as_json: JsonOption = False,
    project: ProjectOption = "default",
    store: StoreOption = None,
) -> None:
    """Analyze an experiment from its runs. Exits 1 when the sample ratio check fails (the results are invalid)."""
    from glassbox.experiments.analysis import analyze

    with reported(), _store(store) as st:
        if correction is not None and correction not in ("holm", "bh", "none"):
            raise UsageProblem(f"--correction: expected holm, bh or none, got {correction!r}")
        if alpha is not None and not 0 < alpha < 0.5:
            raise UsageProblem(f"--alpha: expected a number in (0, 0.5), got {alpha!r}")
        try:
            a = analyze(
                st,
                name,
                project=project,
                sequential=sequential,
                cuped=cuped,
                correction=correction,
                alpha=alpha,
                since=since,
            )
        except QueryError as exc:
            raise _bad_input(exc) from None
        if as_json:
            from glassbox.experiments.report import to_json

            typer.echo(to_json(a), nl=False)
        else:
            _print_analysis(a)
    if a.srm["alarm"]:
        raise typer.Exit(EXIT_FAILURE)


@exp_app.command("report")
def exp_report(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    fmt: Annotated[str, typer.Option("--format", help="markdown, html or json.")] = "markdown",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    sequential: Annotated[bool, typer.Option("--sequential", help="Always-valid intervals.")] = False,
    cuped: Annotated[bool, typer.Option("--cuped", help="CUPED-adjusted means.")] = False,
    project: ProjectOption = "default",
    store: StoreOption = None,
) -> None:
    """The experiment's report (recommendation, confidence, metrics, guardrails) as Markdown, HTML or JSON."""
    from glassbox.experiments.report import FORMATS, experiment_report

    with reported():
        if fmt not in FORMATS:
            raise UsageProblem(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
        with _store(store) as st:
            try:
                text = experiment_report(st, name, fmt, project=project, sequential=sequential, cuped=cuped)
            except QueryError as exc:
                raise _bad_input(exc) from None
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text)
            _console().print(Text(f"wrote {output}"))


@exp_app.command("power")
def exp_power(
    mde: Annotated[float, typer.Option("--mde", help="Minimum detectable effect (absolute; see --relative).")],
    baseline_rate: Annotated[
        float | None, typer.Option("--baseline-rate", help="Control's rate (0-1), for a rate metric.")
    ] = None,
    sd: Annotated[float | None, typer.Option("--sd", help="Standard deviation, for a mean metric.")] = None,
    relative: Annotated[bool, typer.Option("--relative", help="--mde is relative to the baseline rate.")] = False,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    power: Annotated[float, typer.Option("--power", help="Wanted power.")] = 0.8,
    ratio: Annotated[float, typer.Option("--ratio", help="Treatment units per control unit.")] = 1.0,
    as_json: JsonOption = False,
) -> None:
    """Units needed per variant to detect --mde (rates: --baseline-rate; means: --sd), two-sided."""
    import math

    from glassbox.stats.power import sample_size_means, sample_size_proportions

    with reported():
        if (baseline_rate is None) == (sd is None):
            raise UsageProblem("give --baseline-rate (a rate metric) or --sd (a mean metric), not both")
        try:
            if baseline_rate is not None:
                n = sample_size_proportions(baseline_rate, mde, alpha, power, ratio, relative=relative)
                what = f"rate {baseline_rate:g} -> {baseline_rate * (1 + mde) if relative else baseline_rate + mde:g}"
            else:
                if relative:
                    raise UsageProblem("--relative applies to --baseline-rate only")
                n = sample_size_means(mde, sd, alpha, power, ratio)  # type: ignore[arg-type]
                what = f"mean difference {mde:g} (sd {sd:g})"
        except ValueError as exc:
            raise UsageProblem(str(exc)) from None
        n_a = math.ceil(n - 1e-9)
        n_b = math.ceil(n * ratio - 1e-9)
        if as_json:
            _echo_json(
                {
                    "control": n_a,
                    "treatment": n_b,
                    "total": n_a + n_b,
                    "exact": n,
                    "alpha": alpha,
                    "power": power,
                    "ratio": ratio,
                }
            )
            return
        _console().print(
            Text(
                f"{what}: {n_a:,} control + {n_b:,} treatment = {n_a + n_b:,} units "
                f"(alpha {alpha:g}, power {power:.0%}, two-sided)"
            )
        )


# -- flags ---------------------------------------------------------------------------------------
@flag_app.command("list")
def flag_list(as_json: JsonOption = False, project: ProjectOption = "default", store: StoreOption = None) -> None:
    """Defined flags: default, rules, rollout, kill switch, version."""
    from glassbox.experiments import registry

    with reported(), _store(store) as st:
        items = registry.list_definitions(st, "flag", project=project)
        if as_json:
            _echo_json([i.to_dict() for i in items])
            return
        if not items:
            _console().print(
                Text("no flags defined (glassbox flag set NAME --default false --value true --rollout 0.1)")
            )
            return
        table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
        for h in ("Flag", "State", "Default", "Rules", "Version", "Changed by"):
            table.add_column(h)
        for i in items:
            d = i.definition
            rules = (
                "; ".join(
                    (f"{json.dumps(r.condition)} " if r.condition else "")
                    + f"-> {json.dumps(r.value)}"
                    + (f" for {r.rollout:.0%}" if r.rollout is not None else "")
                    for r in d.rules  # type: ignore[union-attr]
                )
                or "-"
            )
            table.add_row(
                d.name,
                "KILLED" if d.killed else "on",
                json.dumps(d.default),
                rules,  # type: ignore[union-attr]
                str(i.version),
                i.updated_by or "-",
            )
        _console().print(table)


@flag_app.command("show")
def flag_show(
    name: Annotated[str, typer.Argument(help="Flag name.")],
    as_json: JsonOption = False,
    project: ProjectOption = "default",
    store: StoreOption = None,
) -> None:
    """One flag's definition and its history (every change with who and when)."""
    _show("flag", name, as_json, project, store)


@flag_app.command("set")
def flag_set(
    name: Annotated[str, typer.Argument(help="Flag name.")],
    default: Annotated[str | None, typer.Option("--default", help="Value when no rule applies (JSON).")] = None,
    value: Annotated[str | None, typer.Option("--value", help="Value for units the rule covers (JSON).")] = None,
    rollout: Annotated[float | None, typer.Option("--rollout", help="Share of units (0-1) that get --value.")] = None,
    condition: Annotated[
        str | None, typer.Option("--condition", help='Targeting condition (JSON), e.g. \'{"plan": "pro"}\'.')
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="What the flag is for.")] = None,
    by: ByOption = None,
    project: ProjectOption = "default",
    store: StoreOption = None,
) -> None:
    """Create or change a flag; --value/--rollout/--condition replace its rule (a new version each change)."""
    from glassbox.experiments import registry

    with reported(), _store(store, must_exist=False) as st:
        try:
            raw = registry.get(st, "flag", name, project=project).definition.to_dict()
        except registry.FlagNotFound:
            raw = {"name": name}
        if default is not None:
            raw["default"] = _value(default, "--default")
        if value is not None or rollout is not None or condition is not None:
            old = (raw.get("rules") or [{}])[0]
            rule: dict[str, Any] = {
                "value": _value(value, "--value")
                if value is not None
                else old.get("value", True if isinstance(raw.get("default", False), bool) else raw.get("default"))
            }
            cond = _value(condition, "--condition") if condition is not None else old.get("condition")
            if cond is not None:
                if not isinstance(cond, dict):
                    raise UsageProblem("--condition: expected a JSON object of attribute conditions")
                rule["condition"] = cond
            r = rollout if rollout is not None else old.get("rollout")
            if r is not None:
                rule["rollout"] = r
            raw["rules"] = [rule]
        if description is not None:
            raw["description"] = description
        try:
            saved = registry.save(st, "flag", raw, actor=_actor(by), project=project)
        except QueryError as exc:
            raise _bad_input(exc) from None
        _console().print(Text(f"flag {name}: version {saved.version}"))


@flag_app.command("kill")
def flag_kill(
    name: Annotated[str, typer.Argument(help="Flag (or experiment) name.")],
    revive: Annotated[bool, typer.Option("--revive", help="Turn the kill switch off again.")] = False,
    experiment: Annotated[
        bool, typer.Option("--experiment", help="Kill an experiment (everyone gets control).")
    ] = False,
    by: ByOption = None,
    project: ProjectOption = "default",
    store: StoreOption = None,
) -> None:
    """Kill switch: a killed flag serves its default everywhere (apps pick it up on their next refresh)."""
    from glassbox.experiments import registry

    kind = "experiment" if experiment else "flag"
    with reported(), _store(store) as st:
        saved = registry.set_killed(st, kind, name, not revive, actor=_actor(by), project=project)
        state = "revived" if revive else "killed"
        _console().print(Text(f"{kind} {name}: {state} (version {saved.version})"))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(exp_app, name="exp")
    app.add_typer(flag_app, name="flag")
