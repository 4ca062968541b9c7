"""CLI of monitoring: ``glassbox alerts`` (``flags`` is its old name, kept as an alias) and ``glassbox slo``.

Exit codes: ``slo check`` exits 1 when an SLO alert fires (0 otherwise), 2 for a bad definition or
store problem; ``alerts`` commands use the CLI's usual codes (1: not found / store problem).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from glassbox.cli.errors import UsageProblem, fail, reported
from glassbox.cli.options import JsonOption, StoreOption, open_store
from glassbox.errors import GlassboxError

EXIT_ALERT_FIRING = 1
EXIT_BAD_INPUT = 2

alerts_app = typer.Typer(
    help="Open alerts of every source: list, acknowledge, resolve.\n\n"
    "Open alerts (SLO, budget, calibration, drift, canary), newest first; acknowledge, "
    "resolve, test the receivers.",
    invoke_without_command=True,
    rich_markup_mode=None,
)
slo_app = typer.Typer(
    help="Service level objectives: status, check, init, rules.\n\n"
    "Status, check (exit 1 when an alert fires), init (default RAG SLOs), Prometheus rules.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str))


# -- alerts ------------------------------------------------------------------------------------------
@alerts_app.callback()
def alerts_list(
    ctx: typer.Context,
    ack: Annotated[
        str | None, typer.Option("--ack", metavar="ID", help="Acknowledge this alert (id or unique prefix, 4+ chars).")
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Include acknowledged and resolved alerts.")] = False,
    state: Annotated[
        str | None,
        typer.Option("--state", help="firing (default), acknowledged, resolved, or open (firing + acknowledged)."),
    ] = None,
    source: Annotated[str, typer.Option("--source", help="slo, budget, calibration, drift, canary… or 'any'.")] = "any",
    severity: Annotated[str | None, typer.Option("--severity", help="critical, warning or info.")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Only this project's alerts.")] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule's alerts.")] = None,
    trace_id: Annotated[str | None, typer.Option("--trace", help="Only the alerts on this run (full id).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Every firing alert of any source, newest first; --all adds acknowledged and resolved; --ack ID acknowledges."""
    if ctx.invoked_subcommand is not None:
        return
    from glassbox.cli.flags_cmds import render_flags
    from glassbox.monitoring.alerts import acknowledge
    from glassbox.store.alerts import list_alerts

    with reported():
        st = open_store(store, must_exist=True)
        try:
            if ack is not None:
                alert = acknowledge(st, ack.strip().lower())
                if as_json:
                    _echo_json(alert.to_dict())
                else:
                    typer.echo(f"acknowledged {alert.id}: {' '.join(alert.message.split())}")
                return
            wanted = state or (None if show_all else "firing")
            items = list_alerts(
                st,
                source=None if source == "any" else source,
                project=project,
                rule=rule,
                trace_id=trace_id,
                state=wanted,
                severity=severity,
                limit=limit,
            )
        finally:
            st.close()
        if as_json:
            _echo_json([a.to_dict() for a in items])
            return
        console = _console()
        if not items:
            console.print(Text("no alerts" if show_all or state else "no open alerts"))
            return
        console.print(render_flags(items))
        if wanted == "firing":
            console.print(
                Text("acknowledge one: glassbox alerts ack ID; resolve: glassbox alerts resolve ID", style="dim")
            )


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(metavar="ID", help="Alert id or unique prefix (4+).")],
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Acknowledge an alert: it stays open, repeats are counted but notify no one."""
    from glassbox.monitoring.alerts import acknowledge

    with reported():
        st = open_store(store, must_exist=True)
        try:
            alert = acknowledge(st, alert_id.strip().lower())
        finally:
            st.close()
        if as_json:
            _echo_json(alert.to_dict())
        else:
            typer.echo(f"acknowledged {alert.id}: {' '.join(alert.message.split())}")


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: Annotated[str, typer.Argument(metavar="ID", help="Alert id or unique prefix (4+).")],
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Resolve an alert (receivers get a "resolved" event); firing again opens a new one."""
    from glassbox.monitoring.alerts import resolve
    from glassbox.store.alerts import get_alert

    with reported():
        st = open_store(store, must_exist=True)
        try:
            found = get_alert(st, alert_id.strip().lower())
            done = resolve(st, found.key) if found.state != "resolved" and found.key else found
            _flush_delivery()
        finally:
            st.close()
        done = done or found
        if as_json:
            _echo_json(done.to_dict())
        else:
            typer.echo(f"resolved {done.id}: {' '.join(done.message.split())}")


@alerts_app.command("test-fire")
def alerts_send_test(
    severity: Annotated[str, typer.Option("--severity", help="critical, warning or info.")] = "warning",
    message: Annotated[str | None, typer.Option("--message", help="The test alert's text.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Send a test alert to every configured receiver ([alerts] in glassbox.toml); nothing is stored.

    Exits 1 when a receiver could not be reached (after its retries).
    """
    from glassbox.monitoring import notifiers
    from glassbox.monitoring.alerts import send_test

    with reported():
        d = notifiers.delivery()
        before = d.health()
        alert = send_test(severity, message)
        d.flush(timeout=120)
        after = d.health()
    sent = [
        {
            "receiver": a["name"],
            "delivered": a["delivered"] - b["delivered"],
            "failed": a["dead_letters"] - b["dead_letters"],
            "last_error": a["last_error"],
        }
        for a, b in zip(after["notifiers"], before["notifiers"], strict=True)
        if a["name"] != "callbacks"
    ]
    if as_json:
        _echo_json({"alert": alert.to_dict(), "receivers": sent})
    else:
        if not sent:
            typer.echo("no receivers configured: add [alerts] webhooks = [...] or command = ... to glassbox.toml")
        for r in sent:
            typer.echo(f"{r['receiver']}: " + ("delivered" if r["delivered"] else f"FAILED ({r['last_error']})"))
    if any(r["failed"] for r in sent):
        raise typer.Exit(EXIT_ALERT_FIRING)


def _flush_delivery() -> None:
    import sys

    mod = sys.modules.get("glassbox.monitoring.notifiers")
    if mod is not None and mod._delivery is not None:
        mod._delivery.flush(timeout=30)


# -- slo -------------------------------------------------------------------------------------------
def _slos(names: list[str] | None) -> list[Any]:
    from glassbox.monitoring.slo import load

    slos = load()
    if not slos:
        raise UsageProblem("no SLOs defined: add [[slo]] tables to glassbox.toml (`glassbox slo init` writes a start)")
    if names:
        known = {s.name: s for s in slos}
        missing = [n for n in names if n not in known]
        if missing:
            raise UsageProblem(f"no SLO named {missing[0]!r}; defined: {', '.join(known)}")
        slos = [known[n] for n in names]
    return slos


def _pct(v: float | None, digits: int = 3) -> str:
    return "—" if v is None else f"{100 * v:.{digits}f}%"


def _rate(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}x"


def _duration(s: float | None) -> str:
    if s is None:
        return "not burning"
    if s <= 0:
        return "exhausted"
    return f"{s / 86400:.1f} d" if s >= 86400 else f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min"


def render_status(statuses: list[Any]) -> Table:
    t = Table(title="SLOs", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("SLO", "SLI", "target", "runs", "budget", "empty in", "burn 1h", "alert"):
        t.add_column(col, justify="right" if col not in ("SLO", "alert") else "left", no_wrap=True)
    for st in statuses:
        firing = st.firing
        worst = "page" if any(a.severity == "page" for a in firing) else "ticket" if firing else ""
        alert = Text(worst or "ok", style="bold red" if worst == "page" else "yellow" if worst else "green")
        t.add_row(
            st.slo.name,
            _pct(st.sli, 2),
            _pct(st.slo.objective, 2),
            str(st.events),
            _pct(st.budget_remaining, 0),
            _duration(st.time_to_exhaustion_s),
            _rate(st.burn_rates.get("1h")),
            alert,
        )
    return t


def render_burn_table(st: Any) -> Table:
    t = Table(
        title=f"{st.slo.name}: burn rates (SRE Workbook windows)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col in ("severity", "long", "rate", "short", "rate", "threshold", "firing"):
        t.add_column(col)
    for a in st.alerts:
        t.add_row(
            a.severity,
            a.long,
            _rate(a.long_rate),
            a.short,
            _rate(a.short_rate),
            f"{a.factor:g}x",
            Text("yes", style="bold red") if a.firing else "no",
        )
    return t


SloNames = Annotated[list[str] | None, typer.Argument(metavar="[NAME]...", help="Only these SLOs.", show_default=False)]


@slo_app.command("status")
def slo_status(
    names: SloNames = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Burn rates of each SLO.")] = False,
) -> None:
    """SLI, error budget left, time to exhaustion and burn rates of each SLO (fires no alert)."""
    from glassbox.monitoring.slo import check

    with reported():
        slos = _slos(names)
        st = open_store(store, must_exist=True)
        try:
            statuses = check(st, slos, alert=False)
        finally:
            st.close()
    _show(statuses, as_json, verbose)


@slo_app.command("check")
def slo_check(
    names: SloNames = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
    no_alerts: Annotated[bool, typer.Option("--no-alerts", help="Do not fire or resolve alerts.")] = False,
) -> None:
    """Check every SLO, fire (and resolve) its burn-rate alerts; exit 1 when one is firing."""
    from glassbox.monitoring.slo import check

    with reported():
        try:
            slos = _slos(names)
        except (UsageProblem, GlassboxError) as exc:  # a bad definition is not a failed check
            fail(exc, EXIT_BAD_INPUT)
        st = open_store(store, must_exist=True)
        try:
            statuses = check(st, slos, alert=not no_alerts)
            _flush_delivery()
        finally:
            st.close()
    _show(statuses, as_json, verbose=True)
    if any(s.firing for s in statuses):
        raise typer.Exit(EXIT_ALERT_FIRING)


def _show(statuses: list[Any], as_json: bool, verbose: bool) -> None:
    if as_json:
        _echo_json([s.to_dict() for s in statuses])
        return
    console = _console()
    console.print(render_status(statuses))
    if verbose:
        for s in statuses:
            if s.firing or len(statuses) == 1:
                console.print(render_burn_table(s))


@slo_app.command("init")
def slo_init(
    path: Annotated[Path, typer.Option("--file", help="The settings file to add them to.")] = Path("glassbox.toml"),
    force: Annotated[bool, typer.Option("--force", help="Add them even if the file already has [[slo]].")] = False,
) -> None:
    """Append default RAG SLOs (availability, latency, quality, error rate) to glassbox.toml."""
    from glassbox.monitoring.slo_rules import toml_for

    with reported():
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if "[[slo]]" in text and not force:
            raise UsageProblem(f"{path} already defines [[slo]]; edit it, or pass --force to add the defaults")
        from glassbox.monitoring.slo import default_rag_slos

        block = toml_for(default_rag_slos())
        with path.open("a", encoding="utf-8") as f:
            f.write(("\n" if text and not text.endswith("\n\n") else "") + block)
    typer.echo(f"added 4 SLOs to {path}: availability, latency, quality, error_rate (see `glassbox slo status`)")


@slo_app.command("rules")
def slo_rules(
    out: Annotated[Path, typer.Option("--out", help="Folder for the rule and test files.")] = Path("prometheus"),
    names: SloNames = None,
) -> None:
    """Write Prometheus recording and alerting rules (Sloth naming) and their promtool unit tests."""
    from glassbox.monitoring.slo_rules import write_rules

    with reported():
        slos = _slos(names)
        written, skipped = write_rules(slos, out)
    for p in written:
        typer.echo(f"wrote {p}")
    for name, why in skipped:
        typer.echo(f"skipped SLO {name}: {why}", err=True)
    typer.echo(f"check them: promtool check rules {written[0]} && promtool test rules {written[1]}")


def register(app: typer.Typer) -> None:
    """Add ``alerts`` (and its old name ``flags``) and ``slo`` to ``app``."""
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(alerts_app, name="flags", help="Old name of `glassbox alerts` (same options and commands).")
    app.add_typer(slo_app, name="slo")
