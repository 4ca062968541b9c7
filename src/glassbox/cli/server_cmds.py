"""``glassbox serve`` and ``glassbox keys create|list|revoke``."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from glassbox.cli.errors import UsageProblem, reported
from glassbox.cli.options import JsonOption, StoreOption, open_store

keys_app = typer.Typer(
    help="API keys for glassbox serve.\n\nEach key belongs to one project and has scope read, write or metrics.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
DEFAULT_PORT = 7433


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_Workers = Annotated[
    int,
    typer.Option(
        "--workers",
        min=1,
        max=64,
        help="Server processes, each with its own ingest queue and writer "
        "(PostgreSQL recommended beyond 1; /metrics sums them).",
    ),
]
_QueueSpans = Annotated[int, typer.Option("--queue-spans", min=100, help="Spans the ingest queue holds (memory).")]
_SpoolDir = Annotated[
    str,
    typer.Option(
        "--spool-dir",
        help="Where shutdown leaves what it could not write in time (written back at the next start; "
        "`glassbox import` also reads it); 'off' to disable.",
    ),
]


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = DEFAULT_PORT,
    store: StoreOption = None,
    auth: Annotated[bool, typer.Option("--auth", help="Require API keys even on loopback.")] = False,
    workers: _Workers = 1,
    queue_size: Annotated[int, typer.Option("--queue-size", min=10, help="Traces the ingest queue holds.")] = 2000,
    queue_spans: _QueueSpans = 50_000,
    max_body_mb: Annotated[float, typer.Option("--max-body-mb", min=0.01, help="Largest request body.")] = 8.0,
    max_spans: Annotated[int, typer.Option("--max-spans", min=1, help="Most spans in one export request.")] = 10_000,
    spool_dir: _SpoolDir = ".glassbox/server-spool",
    durable: Annotated[
        bool,
        typer.Option(
            "--durable",
            help="Fsync each request to --spool-dir before answering 200: nothing acknowledged is lost "
            "even to kill -9 (costs throughput; docs/server.md).",
        ),
    ] = False,
    shutdown_grace: Annotated[
        float,
        typer.Option("--shutdown-grace", min=0, help="Seconds to keep writing at shutdown; what is left is spooled."),
    ] = 10.0,
    trail_dir: Annotated[
        str | None,
        typer.Option(
            "--trail-dir",
            help="Append the feedback the REST API takes to this JSONL audit-trail folder "
            "(`glassbox import` restores it); off by default.",
        ),
    ] = None,
    web: Annotated[bool, typer.Option("--web/--no-web", help="Mount the web dashboard.")] = True,
    log_level: Annotated[str, typer.Option("--log-level")] = "warning",
) -> None:
    """Serve the REST API, OTLP receiver and dashboard.

    Serve the REST API, the OTLP/HTTP receiver (/v1/traces), /metrics and health over one store."""
    with reported():
        from glassbox.store.keys import has_keys

        st = open_store(store, must_exist=False)
        required = auth or not _loopback(host)
        if required and not has_keys(st):
            raise UsageProblem(
                f"refusing to listen on {host} without API keys: create one first with "
                "`glassbox keys create --project NAME --scope write` (or listen on 127.0.0.1)"
            )
        options = {
            "auth_required": required,
            "queue_size": queue_size,
            "max_queue_spans": queue_spans,
            "max_body_bytes": int(max_body_mb * 1024 * 1024),
            "max_spans": max_spans,
            "spool_dir": None if spool_dir.strip().lower() in ("", "off", "none") else spool_dir,
            "shutdown_grace": shutdown_grace,
            "durable": durable,
            "trail_dir": trail_dir or None,
        }
        where = f"http://{host}:{port}"
        typer.echo(
            f"glassbox serving {where} (store {st.info()['url']}, "
            f"{'API keys required' if required else 'no auth on loopback'}"
            f"{f', {workers} workers' if workers > 1 else ''})",
            err=True,
        )
        import uvicorn

        if workers == 1:
            from glassbox.server.app import create_app

            app = create_app(st, routers=_extra_routers() if web else [], **options)
            uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
            return
        st.close()
        own_folder = _multiprocess_metrics()
        from glassbox.server.app import CONFIG_ENV

        os.environ[CONFIG_ENV] = json.dumps({"store": st.url, "web": web, **options})
        try:
            uvicorn.run(
                "glassbox.server.app:app_from_env",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                log_level=log_level,
                access_log=False,
            )
        finally:
            if own_folder:
                import shutil

                shutil.rmtree(own_folder, ignore_errors=True)


def _multiprocess_metrics() -> str | None:
    """Workers share one /metrics through prometheus_client's multiprocess mode (a folder of value files).

    Returns the folder when it was made here (a fresh temporary one, removed at exit)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return None
    import tempfile

    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="glassbox-metrics-")
    return folder


def _extra_routers() -> list:
    try:
        from glassbox.server import features
        from glassbox.server.web import router
    except ImportError:
        return []
    return [router, *features.page_routers()]


@keys_app.command("create")
def create(
    project: Annotated[str, typer.Option("--project", help="The project the key may see and write.")],
    scope: Annotated[
        str,
        typer.Option(
            "--scope", help="read, write (read + ingest, scores, feedback) or metrics (scrape /metrics only)."
        ),
    ] = "read",
    name: Annotated[str | None, typer.Option("--name", help="A label, e.g. the service using it.")] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    from glassbox.store.keys import SCOPES, create_key

    with reported():
        if scope not in SCOPES:
            raise UsageProblem(f"--scope: expected read, write or metrics, got {scope!r}")
        st = open_store(store, must_exist=False)
        try:
            secret, record = create_key(st, project, scope, name)
        finally:
            st.close()
        if as_json:
            typer.echo(json.dumps({"key": secret, **record.to_dict()}))
        else:
            typer.echo(secret)
            typer.echo(
                f"key {record.key_id} for project {record.project!r}, scope {scope}: "
                "store it now, it is not shown again",
                err=True,
            )


@keys_app.command("list")
def list_(
    project: Annotated[str | None, typer.Option("--project")] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Keys (never their secrets): id, project, scope, name, created, revoked."""
    from glassbox.store.keys import list_keys

    with reported():
        st = open_store(store, must_exist=True)
        try:
            found = list_keys(st, project)
        finally:
            st.close()
        if as_json:
            typer.echo(json.dumps([k.to_dict() for k in found]))
            return
        for k in found:
            state = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d}"
            typer.echo(f"{k.key_id}  {k.project}  {k.scope:5}  {state:18}  {k.name or ''}")


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (or the whole key).")],
    store: StoreOption = None,
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    from glassbox.store.keys import revoke_key

    with reported():
        st = open_store(store, must_exist=True)
        try:
            k = revoke_key(st, key_id)
        finally:
            st.close()
        typer.echo(f"revoked {k.key_id} ({k.project}, {k.scope})")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
