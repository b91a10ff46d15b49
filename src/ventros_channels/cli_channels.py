"""``ventros-channels channels ...`` and ``waha qr``: channel management from a terminal.

They work on the database the host uses (``--db`` or ``VENTROS_DATABASE_URL``, the SQL
repository), within one tenant (``--tenant`` or ``VENTROS_TENANT``), through the same
:class:`ChannelService` the web API uses. ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import click
import httpx

from ventros_channels.domain.channel import Channel
from ventros_channels.domain.types import WAHASessionStatus
from ventros_channels.errors import VentrosChannelsError
from ventros_channels.repository import ChannelFilters
from ventros_channels.services.channels import ChannelService

__all__ = ["channels_group", "waha_group"]

T = TypeVar("T")


def channel_record(channel: Channel) -> dict[str, Any]:
    """A channel as JSON-ready data, secrets left out."""
    return {
        "id": str(channel.id),
        "name": channel.name,
        "channel_type": str(channel.channel_type),
        "status": channel.status.value,
        "project_id": str(channel.project_id),
        "external_id": channel.external_id,
        "webhook_url": channel.webhook.url,
        "webhook_active": channel.webhook.active,
        "messages_received": channel.metrics.messages_received,
        "messages_sent": channel.metrics.messages_sent,
        "created_at": channel.created_at.isoformat(),
        "version": channel.version,
    }


@asynccontextmanager
async def _service(ctx: click.Context) -> AsyncIterator[ChannelService]:
    try:
        from ventros_channels.sql import SqlChannelRepository, create_engine  # noqa: PLC0415
    except ImportError as exc:
        raise click.UsageError(f"the channels commands need the sql extra ({exc.name})") from None
    opts = ctx.obj
    engine = create_engine(opts["db"])
    repository = SqlChannelRepository(engine, schema=opts["schema"])
    try:
        if opts["create_schema"]:
            await repository.create_schema()
        async with httpx.AsyncClient(timeout=30) as http:
            yield ChannelService(repository, http=http, public_base_url=opts["public_url"])
    finally:
        await engine.dispose()


def _run(ctx: click.Context, work: Callable[[ChannelService], Awaitable[T]]) -> T:
    async def go() -> T:
        async with _service(ctx) as service:
            return await work(service)

    try:
        return asyncio.run(go())
    except VentrosChannelsError as exc:
        click.echo(f"{type(exc).__name__}: {exc}", err=True)
        sys.exit(2)


def _emit(ctx: click.Context, record: dict[str, Any], title: str) -> None:
    if ctx.obj["json"]:
        click.echo(json.dumps(record, ensure_ascii=False, default=str))
        return
    from rich.console import Console  # noqa: PLC0415 - the cli extra installs rich
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title, show_header=False)
    for key, value in record.items():
        table.add_row(key, "-" if value is None else str(value))
    Console().print(table)


@click.group("channels")
@click.option(
    "--db",
    envvar="VENTROS_DATABASE_URL",
    required=True,
    help="Async SQLAlchemy URL of the host's database (or VENTROS_DATABASE_URL).",
)
@click.option("--schema", default=None, help="PostgreSQL schema of the tables.")
@click.option(
    "--tenant", envvar="VENTROS_TENANT", required=True, help="Tenant id (VENTROS_TENANT)."
)
@click.option("--public-url", envvar="VENTROS_PUBLIC_URL", default=None, help="For webhook URLs.")
@click.option("--create-schema", is_flag=True, help="Create the tables when missing.")
@click.option("--json", "as_json", is_flag=True, help="JSON output for scripts.")
@click.pass_context
def channels_group(
    ctx: click.Context,
    db: str,
    schema: str | None,
    tenant: str,
    public_url: str | None,
    create_schema: bool,
    as_json: bool,
) -> None:
    """Manage channels in the host's database."""
    ctx.obj = {
        "db": db,
        "schema": schema,
        "tenant": tenant,
        "public_url": public_url,
        "create_schema": create_schema,
        "json": as_json,
    }


@channels_group.command("list")
@click.option("--type", "types", multiple=True, help="Only these types (repeatable).")
@click.option("--status", "statuses", multiple=True, help="Only these statuses (repeatable).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.pass_context
def list_command(
    ctx: click.Context, types: tuple[str, ...], statuses: tuple[str, ...], limit: int
) -> None:
    """The tenant's channels, oldest first."""
    filters = ChannelFilters(
        tenant_id=ctx.obj["tenant"],
        channel_types=types or None,
        statuses=statuses or None,
        limit=limit,
    )
    page = _run(ctx, lambda s: s.repository.find(filters))
    records = [channel_record(c) for c in page.items]
    if ctx.obj["json"]:
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"{page.total} channels")
    for column in ("id", "name", "type", "status", "received", "sent"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r["id"],
            r["name"],
            r["channel_type"],
            r["status"],
            str(r["messages_received"]),
            str(r["messages_sent"]),
        )
    Console(width=160).print(table)


@channels_group.command("show")
@click.argument("channel_id", type=click.UUID)
@click.pass_context
def show_command(ctx: click.Context, channel_id: UUID) -> None:
    """One channel (secrets are never shown)."""
    channel = _run(ctx, lambda s: s.get_channel(channel_id, tenant_id=ctx.obj["tenant"]))
    _emit(ctx, channel_record(channel), channel.name)


@channels_group.command("create")
@click.option("--name", required=True)
@click.option("--type", "channel_type", required=True)
@click.option("--project", "project_id", type=click.UUID, required=True)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="JSON file of the channel's config (camelCase keys accepted).",
)
@click.pass_context
def create_command(
    ctx: click.Context, name: str, channel_type: str, project_id: UUID, config_file: Path
) -> None:
    """Create a channel."""
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"cannot read config file {config_file}: {exc}") from None
    channel = _run(
        ctx,
        lambda s: s.create_channel(
            tenant_id=ctx.obj["tenant"],
            project_id=project_id,
            name=name,
            channel_type=channel_type,
            config=config,
        ),
    )
    _emit(ctx, channel_record(channel), "created")


def _simple(name: str, help_text: str, call: Callable[..., Awaitable[Any]]) -> None:
    @channels_group.command(name, help=help_text)
    @click.argument("channel_id", type=click.UUID)
    @click.pass_context
    def command(ctx: click.Context, channel_id: UUID) -> None:
        result = _run(ctx, lambda s: call(s, channel_id, ctx.obj["tenant"]))
        _emit(ctx, result, name)


async def _activate(s: ChannelService, cid: UUID, tenant: str) -> dict[str, Any]:
    result = await s.activate(cid, tenant_id=tenant)
    return {
        "id": str(cid),
        "status": result.status.value,
        "session_status": result.session_status,
        "needs_qr_scan": result.needs_qr_scan,
    }


async def _deactivate(s: ChannelService, cid: UUID, tenant: str) -> dict[str, Any]:
    return channel_record(await s.deactivate(cid, tenant_id=tenant))


async def _webhook_info(s: ChannelService, cid: UUID, tenant: str) -> dict[str, Any]:
    info = await s.get_webhook_info(cid, tenant_id=tenant)
    return {
        "webhook_url": info.url,
        "webhook_active": info.active,
        "webhook_configured_at": info.configured_at,
        "last_webhook_received": info.last_webhook_received_at,
        "platform_url": info.platform.url if info.platform else None,
    }


async def _rotate(s: ChannelService, cid: UUID, tenant: str) -> dict[str, Any]:
    channel = await s.rotate_webhook_secret(cid, tenant_id=tenant)
    return {"id": str(cid), "rotated": True, "version": channel.version}


async def _report(s: ChannelService, cid: UUID, tenant: str) -> dict[str, Any]:
    r = await s.report(cid, tenant_id=tenant)
    return {
        "status": r.status.value,
        "messages_received": r.messages_received,
        "messages_sent": r.messages_sent,
        "errors": r.errors,
        "error_rate": r.error_rate,
        "delivery_rate": r.delivery_rate,
        "uptime_percentage": r.uptime_percentage,
        "last_activity_at": r.last_activity_at,
    }


_simple("activate", "Activate a channel (WAHA: start the session).", _activate)
_simple("deactivate", "Deactivate a channel.", _deactivate)


@channels_group.command("delete")
@click.argument("channel_id", type=click.UUID)
@click.option("--force", is_flag=True, help="Delete even if the platform cannot be told.")
@click.pass_context
def delete_command(ctx: click.Context, channel_id: UUID, force: bool) -> None:
    """Delete a channel (and its webhook / session at the platform)."""
    channel = _run(ctx, lambda s: s.delete(channel_id, tenant_id=ctx.obj["tenant"], force=force))
    _emit(ctx, {"id": str(channel_id), "deleted": channel.is_deleted}, "deleted")


_simple("webhook-info", "The channel's webhook, ours and the platform's.", _webhook_info)
_simple("rotate-secret", "Replace the webhook secret (the old one stays valid 24 h).", _rotate)
_simple("report", "Usage figures of a channel.", _report)


@click.group("waha")
@click.pass_context
def waha_group(ctx: click.Context) -> None:
    """WAHA sessions (takes the channels options: --db, --tenant, ...)."""


@waha_group.command("qr")
@click.argument("channel_id", type=click.UUID)
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait.")
@click.option("--interval", type=float, default=3.0, show_default=True, help="Seconds per check.")
@click.pass_context
def qr_command(ctx: click.Context, channel_id: UUID, timeout: float, interval: float) -> None:
    """Print the pairing QR code in the terminal and wait until the session is WORKING."""
    import segno  # noqa: PLC0415 - the cli extra installs it

    tenant = ctx.obj["tenant"]

    async def wait(service: ChannelService) -> bool:
        shown: str | None = None
        deadline = time.monotonic() + timeout
        result = await service.activate(channel_id, tenant_id=tenant)
        while time.monotonic() < deadline:
            if result.session_status is WAHASessionStatus.WORKING:
                return True
            if result.qr_code and result.qr_code != shown:
                shown = result.qr_code
                segno.make(shown, error="m").terminal(compact=True)
                click.echo("scan it in WhatsApp: Linked devices > Link a device", err=True)
            await asyncio.sleep(interval)
            result = await service.refresh_session(channel_id, tenant_id=tenant)
        return False

    if not _run(ctx, wait):
        click.echo("the session did not reach WORKING in time", err=True)
        sys.exit(1)
    click.echo("connected: the session is WORKING")


def register(cli: click.Group) -> None:
    """Add ``channels`` (with ``waha`` under it) to the main command."""
    channels_group.add_command(waha_group)
    cli.add_command(channels_group)
