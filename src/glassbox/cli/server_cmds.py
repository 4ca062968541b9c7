"""``glassbox serve`` and ``glassbox keys create|list|revoke``."""

from __future__ import annotations

import ipaddress
import json
from typing import Annotated

import typer

from glassbox.cli.errors import UsageProblem, reported
from glassbox.cli.options import JsonOption, StoreOption, open_store

keys_app = typer.Typer(help="API keys for glassbox serve (per project, scope read or write).", no_args_is_help=True,
                       rich_markup_mode=None)  # fmt: skip
DEFAULT_PORT = 7433


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = DEFAULT_PORT,
    store: StoreOption = None,
    auth: Annotated[bool, typer.Option("--auth", help="Require API keys even on loopback.")] = False,
    queue_size: Annotated[int, typer.Option("--queue-size", min=10, help="Traces the ingest queue holds.")] = 2000,
    log_level: Annotated[str, typer.Option("--log-level")] = "warning",
) -> None:
    """Serve the REST API, the OTLP/HTTP receiver (/v1/traces), /metrics and health over one store."""
    with reported():
        from glassbox.store.keys import has_keys

        st = open_store(store, must_exist=False)
        required = auth or not _loopback(host)
        if required and not has_keys(st):
            raise UsageProblem(f"refusing to listen on {host} without API keys: create one first with "
                               "`glassbox keys create --project NAME --scope write` (or listen on 127.0.0.1)")
        import uvicorn

        from glassbox.server.app import create_app

        app = create_app(st, auth_required=required, queue_size=queue_size, routers=_extra_routers())
        where = f"http://{host}:{port}"
        typer.echo(f"glassbox serving {where} (store {st.info()['url']}, "
                   f"{'API keys required' if required else 'no auth on loopback'})", err=True)
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


def _extra_routers() -> list:
    try:
        from glassbox.server.web import router
    except ImportError:
        return []
    return [router]


@keys_app.command("create")
def create(
    project: Annotated[str, typer.Option("--project", help="The project the key may see and write.")],
    scope: Annotated[str, typer.Option("--scope", help="read or write (write includes read and ingest).")] = "read",
    name: Annotated[str | None, typer.Option("--name", help="A label, e.g. the service using it.")] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    from glassbox.store.keys import SCOPES, create_key

    with reported():
        if scope not in SCOPES:
            raise UsageProblem(f"--scope: expected read or write, got {scope!r}")
        st = open_store(store, must_exist=False)
        try:
            secret, record = create_key(st, project, scope, name)
        finally:
            st.close()
        if as_json:
            typer.echo(json.dumps({"key": secret, **record.to_dict()}))
        else:
            typer.echo(secret)
            typer.echo(f"key {record.key_id} for project {record.project!r}, scope {scope}: "
                       "store it now, it is not shown again", err=True)


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
