"""The channel management API: a FastAPI router over :class:`ChannelService`.

Every route is scoped to the caller's tenant, which the host's ``tenant`` dependency gives
(it authenticates the request too). A channel of another tenant is answered exactly like a
missing one (404), so ids do not leak.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from importlib import resources
from typing import Annotated, Any, Literal
from uuid import UUID

import attrs
from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import HTMLResponse

from ventros_channels.adapters.base import Capability
from ventros_channels.domain.channel import Channel
from ventros_channels.domain.types import ChannelStatus, ImportStrategy
from ventros_channels.errors import (
    ChannelNotFoundError,
    ConcurrencyError,
    FieldError,
    InvalidInputError,
)
from ventros_channels.history import ImportOptions
from ventros_channels.inbox import Inbox
from ventros_channels.integrations.fastapi import _schemas as s
from ventros_channels.integrations.fastapi._imports import ImportRunner
from ventros_channels.integrations.fastapi._problems import (
    PROBLEM_JSON,
    FeatureNotConfiguredError,
    PreconditionFailedError,
    Problem,
    ProblemRoute,
)
from ventros_channels.repository import ChannelFilters, SortField
from ventros_channels.services.channels import ChannelService

__all__ = ["Tenant", "create_management_router"]


@attrs.frozen
class Tenant:
    """Who is calling: the tenant every query is scoped to and, optionally, the project new
    channels go to when the request names none."""

    tenant_id: str
    project_id: UUID | None = None


TenantDependency = Callable[..., Tenant | Awaitable[Tenant]]

_ERRORS = {
    401: "Not authenticated (the host's dependency refused the request)",
    403: "Not allowed (the host's dependency refused the request)",
    404: "No such channel for this tenant",
    409: "The channel's state does not allow this",
    422: "Invalid input; ``errors`` names each bad field",
    500: "Internal error",
    502: "The platform refused the request",
    503: "The platform or the store is unavailable; retry later",
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: _problem(text) for code, text in _ERRORS.items()
}
EXTRA_412: dict[int | str, dict[str, Any]] = {
    412: _problem("The If-Match version is not the channel's current one")
}
EXTRA_501: dict[int | str, dict[str, Any]] = {
    501: _problem("The server was not given what this endpoint needs")
}
MAX_PAGE_LIMIT = 100


def etag(channel: Channel) -> str:
    return f'"{channel.version}"'


def _expected_version(if_match: str | None, channel_id: UUID) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise PreconditionFailedError(str(channel_id), -1, None)
    return int(tag)


def _pairing_page() -> str:
    return resources.files(__package__ or __name__).joinpath("pairing.html").read_text("utf-8")


@attrs.frozen
class _Routes:
    """What every group of routes needs: the service, the tenant dependency, the extras."""

    service: ChannelService
    tenant: TenantDependency
    imports: ImportRunner | None
    inbox: Inbox | None

    async def visible(self, channel_id: UUID, caller: Tenant) -> Channel:
        channel = await self.service.get_channel(channel_id, tenant_id=caller.tenant_id)
        if channel.is_deleted:
            raise ChannelNotFoundError(str(channel_id))
        return channel

    async def fresh(self, channel_id: UUID, caller: Tenant) -> Channel:
        return await self.service.repository.get(channel_id, tenant_id=caller.tenant_id)

    async def fresh_visible(self, channel_id: UUID, caller: Tenant) -> Channel:
        """Read past the service's cache (for state that changes under a polling page)."""
        channel = await self.fresh(channel_id, caller)
        if channel.is_deleted:
            raise ChannelNotFoundError(str(channel_id))
        return channel


def create_management_router(
    service: ChannelService,
    tenant: TenantDependency,
    *,
    imports: ImportRunner | None = None,
    inbox: Inbox | None = None,
    prefix: str = "/api/v1/channels",
    tags: list[str] | None = None,
) -> APIRouter:
    """The management routes under ``prefix``.

    ``tenant`` is a FastAPI dependency returning the caller's :class:`Tenant` (raise
    ``HTTPException(401)`` in it to refuse a request). ``imports`` runs history imports,
    ``inbox`` serves the dead-letter routes; without them those routes answer 501.
    """
    router = APIRouter(
        prefix=prefix,
        tags=list(tags or ["channels"]),
        route_class=ProblemRoute,
        responses=COMMON_RESPONSES,
    )
    routes = _Routes(service, tenant, imports, inbox)
    _collection_routes(router, routes)
    _one_channel_routes(router, routes)
    _lifecycle_routes(router, routes)
    _platform_routes(router, routes)
    _history_import_routes(router, routes)
    _dead_letters_routes(router, routes)
    return router


def _collection_routes(router: APIRouter, c: _Routes) -> None:
    """The collection routes."""
    service = c.service
    Caller = Annotated[Tenant, Depends(c.tenant)]

    @router.post("", status_code=201, summary="Create a channel", response_model=s.ChannelView)
    async def create_channel(
        body: s.CreateChannel, caller: Caller, response: Response
    ) -> s.ChannelView:
        project = body.project_id or caller.project_id
        if project is None:
            raise InvalidInputError("channel", [FieldError("project_id", "is required")])
        options: dict[str, Any] = {}
        if body.external_id is not None:
            options["external_id"] = body.external_id
        if body.default_session_timeout_minutes is not None:
            options["default_session_timeout_minutes"] = body.default_session_timeout_minutes
        channel = await service.create_channel(
            tenant_id=caller.tenant_id,
            project_id=project,
            name=body.name,
            channel_type=body.channel_type,
            config=body.config,
            **options,
        )
        response.headers["ETag"] = etag(channel)
        response.headers["Location"] = f"{router.prefix}/{channel.id}"
        return s.channel_view(channel)

    @router.get("", summary="List channels", response_model=s.ChannelList)
    async def list_channels(
        caller: Caller,
        channel_type: Annotated[
            list[str] | None, Query(alias="type", description="Channel types (repeatable).")
        ] = None,
        status: Annotated[list[ChannelStatus] | None, Query(description="Statuses.")] = None,
        project_id: UUID | None = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = 20,
        sort: SortField = "created_at",
        order: Literal["asc", "desc"] = "asc",
    ) -> s.ChannelList:
        found = await service.repository.find(
            ChannelFilters(
                tenant_id=caller.tenant_id,
                project_id=project_id,
                channel_types=channel_type,
                statuses=[x.value for x in status] if status else None,
                sort_by=sort,
                descending=order == "desc",
                limit=limit,
                offset=(page - 1) * limit,
            )
        )
        return s.ChannelList(
            channels=[s.channel_view(c) for c in found.items],
            total=found.total,
            page=page,
            limit=limit,
        )


def _one_channel_routes(router: APIRouter, c: _Routes) -> None:
    """The one channel routes."""
    service = c.service
    visible = c.visible
    Caller = Annotated[Tenant, Depends(c.tenant)]

    @router.get("/{channel_id}", summary="Get a channel", response_model=s.ChannelView)
    async def get_channel(channel_id: UUID, caller: Caller, response: Response) -> s.ChannelView:
        channel = await visible(channel_id, caller)
        response.headers["ETag"] = etag(channel)
        return s.channel_view(channel)

    @router.patch(
        "/{channel_id}",
        summary="Update a channel",
        response_model=s.ChannelView,
        responses=EXTRA_412,
    )
    async def update_channel(
        channel_id: UUID,
        body: s.UpdateChannel,
        caller: Caller,
        response: Response,
        if_match: Annotated[
            str | None,
            Header(description="The ETag read before; the update is refused if it changed."),
        ] = None,
    ) -> s.ChannelView:
        await visible(channel_id, caller)
        expected = _expected_version(if_match, channel_id)
        changes = body.model_dump(exclude_unset=True)
        try:
            channel = await service.update_channel(
                channel_id, tenant_id=caller.tenant_id, expected_version=expected, **changes
            )
        except ConcurrencyError as exc:
            if expected is None:
                raise  # a concurrent writer, not a stale If-Match: 409
            raise PreconditionFailedError(str(channel_id), expected, exc.actual_version) from None
        response.headers["ETag"] = etag(channel)
        return s.channel_view(channel)

    @router.delete(
        "/{channel_id}", status_code=204, summary="Delete a channel", response_class=Response
    )
    async def delete_channel(
        channel_id: UUID,
        caller: Caller,
        force: Annotated[
            bool, Query(description="Delete even if the platform cannot be told.")
        ] = False,
    ) -> Response:
        await visible(channel_id, caller)
        await service.delete(channel_id, tenant_id=caller.tenant_id, force=force)
        return Response(status_code=204)


def _lifecycle_routes(router: APIRouter, c: _Routes) -> None:
    """The lifecycle routes."""
    service = c.service
    visible = c.visible
    fresh = c.fresh
    fresh_visible = c.fresh_visible
    Caller = Annotated[Tenant, Depends(c.tenant)]

    @router.post(
        "/{channel_id}/activate", summary="Activate a channel", response_model=s.ActivationView
    )
    async def activate(channel_id: UUID, caller: Caller) -> s.ActivationView:
        await visible(channel_id, caller)
        result = await service.activate(channel_id, tenant_id=caller.tenant_id)
        channel = await fresh(channel_id, caller)
        active = channel.status is ChannelStatus.ACTIVE
        return s.ActivationView(
            channel_id=channel.id,
            status=channel.status,
            activated_at=channel.status_since if active else None,
            session_status=result.session_status,
            qr_code=s.qr_data_url(result.qr_code),
            qr_code_expires_at=result.qr_code_expires_at,
        )

    @router.post(
        "/{channel_id}/deactivate",
        summary="Deactivate a channel",
        response_model=s.DeactivationView,
    )
    async def deactivate(channel_id: UUID, caller: Caller) -> s.DeactivationView:
        await visible(channel_id, caller)
        channel = await service.deactivate(channel_id, tenant_id=caller.tenant_id)
        return s.DeactivationView(
            channel_id=channel.id, status=channel.status, deactivated_at=channel.status_since
        )

    @router.post(
        "/{channel_id}/activate-waha",
        summary="Start the WAHA session and get its pairing QR code",
        response_model=s.WAHAActivationView,
    )
    async def activate_waha(
        channel_id: UUID, caller: Caller, body: s.WAHAActivation | None = None
    ) -> s.WAHAActivationView:
        channel = await visible(channel_id, caller)
        session = getattr(channel.config, "session_id", None)
        if session is None:
            raise InvalidInputError("channel", [FieldError("channel_type", "is not waha")])
        if body is not None and body.session_id is not None and body.session_id != session:
            raise InvalidInputError(
                "activation", [FieldError("session_id", "is not this channel's session")]
            )
        return s.waha_view(await service.activate(channel_id, tenant_id=caller.tenant_id))

    @router.post(
        "/{channel_id}/waha/refresh",
        summary="Re-read the WAHA session and fetch a fresh QR code",
        response_model=s.WAHAActivationView,
    )
    async def refresh_waha(channel_id: UUID, caller: Caller) -> s.WAHAActivationView:
        await visible(channel_id, caller)
        return s.waha_view(await service.refresh_session(channel_id, tenant_id=caller.tenant_id))

    @router.get(
        "/{channel_id}/waha/session",
        summary="The stored pairing state (what the pairing page polls)",
        response_model=s.SessionState,
    )
    async def waha_session(channel_id: UUID, caller: Caller) -> s.SessionState:
        return s.session_state(await fresh_visible(channel_id, caller))

    @router.post(
        "/{channel_id}/waha/pairing-code",
        summary="Get a code to link WhatsApp by phone number instead of a QR scan",
        response_model=s.PairingCodeView,
    )
    async def pairing_code(
        channel_id: UUID, body: s.PairingCodeRequest, caller: Caller
    ) -> s.PairingCodeView:
        await visible(channel_id, caller)
        code = await service.request_pairing_code(
            channel_id, tenant_id=caller.tenant_id, phone_number=body.phone_number
        )
        return s.PairingCodeView(code=code)

    @router.get(
        "/{channel_id}/pairing",
        summary="The WAHA pairing page (HTML)",
        response_class=HTMLResponse,
        responses={200: {"content": {"text/html": {}}, "description": "The page"}},
    )
    async def pairing_page(channel_id: UUID) -> HTMLResponse:
        # Static: it holds no channel data; its script calls the authenticated routes.
        return HTMLResponse(_pairing_page(), headers={"Cache-Control": "no-store"})


def _platform_routes(router: APIRouter, c: _Routes) -> None:
    """The platform routes."""
    service = c.service
    visible = c.visible
    fresh = c.fresh
    Caller = Annotated[Tenant, Depends(c.tenant)]

    @router.post(
        "/{channel_id}/configure-webhook",
        summary="Set the webhook URL and register it at the platform",
        response_model=s.ConfiguredWebhookView,
    )
    async def configure_webhook(
        channel_id: UUID, caller: Caller, body: s.ConfigureWebhook | None = None
    ) -> s.ConfiguredWebhookView:
        await visible(channel_id, caller)
        url = await service.configure_webhook(
            channel_id, tenant_id=caller.tenant_id, url=body.webhook_url if body else None
        )
        return s.ConfiguredWebhookView(webhook_url=url, webhook_configured=True)

    @router.get(
        "/{channel_id}/webhook-info",
        summary="Webhook state, ours and the platform's",
        response_model=s.WebhookInfoView,
    )
    async def webhook_info(channel_id: UUID, caller: Caller) -> s.WebhookInfoView:
        await visible(channel_id, caller)
        status = await service.get_webhook_info(channel_id, tenant_id=caller.tenant_id)
        return s.webhook_info_view(status)

    @router.post(
        "/{channel_id}/test-connection",
        summary="Check the credentials at the platform",
        response_model=s.ConnectionView,
    )
    async def test_connection(channel_id: UUID, caller: Caller) -> s.ConnectionView:
        await visible(channel_id, caller)
        info = await service.test_connection(channel_id, tenant_id=caller.tenant_id)
        channel = await fresh(channel_id, caller)
        return s.connection_view(info, channel.status)

    @router.post(
        "/{channel_id}/sync-config",
        summary="Bring platform-side facts into the channel",
        response_model=s.ChannelView,
    )
    async def sync_config(channel_id: UUID, caller: Caller, response: Response) -> s.ChannelView:
        await visible(channel_id, caller)
        channel = await service.sync_config(channel_id, tenant_id=caller.tenant_id)
        response.headers["ETag"] = etag(channel)
        return s.channel_view(channel)

    @router.post(
        "/{channel_id}/rotate-webhook-secret",
        summary="Replace the webhook secret (the old one is honoured for a grace period)",
        response_model=s.ChannelView,
    )
    async def rotate_secret(
        channel_id: UUID, caller: Caller, response: Response, body: s.RotateSecret | None = None
    ) -> s.ChannelView:
        await visible(channel_id, caller)
        ask = body or s.RotateSecret()
        channel = await service.rotate_webhook_secret(
            channel_id,
            tenant_id=caller.tenant_id,
            new_secret=ask.new_secret,
            grace=timedelta(hours=ask.grace_hours),
        )
        response.headers["ETag"] = etag(channel)
        return s.channel_view(channel)

    @router.get("/{channel_id}/report", summary="Usage figures", response_model=s.ReportView)
    async def report(channel_id: UUID, caller: Caller) -> s.ReportView:
        await visible(channel_id, caller)
        return s.report_view(await service.report(channel_id, tenant_id=caller.tenant_id))


def _history_import_routes(router: APIRouter, c: _Routes) -> None:
    """The history import routes."""
    service = c.service
    fresh = c.fresh
    fresh_visible = c.fresh_visible
    imports = c.imports
    Caller = Annotated[Tenant, Depends(c.tenant)]

    def runner() -> ImportRunner:
        if imports is None:
            raise FeatureNotConfiguredError("history imports")
        return imports

    @router.post(
        "/{channel_id}/import-history",
        status_code=202,
        summary="Start a history import in the background",
        response_model=s.ImportStarted,
        responses=EXTRA_501,
    )
    async def import_history(
        channel_id: UUID, caller: Caller, body: s.ImportRequest | None = None
    ) -> s.ImportStarted:
        channel = await fresh_visible(channel_id, caller)
        ask = body or s.ImportRequest()
        if ask.since and ask.until and ask.since >= ask.until:
            raise InvalidInputError("import", [FieldError("since", "must be before until")])
        adapter = service.adapter_for(channel)
        workflow = await runner().start(
            channel,
            adapter_can=adapter.supports(Capability.HISTORY_IMPORT),
            options=ImportOptions(
                strategy=ImportStrategy(ask.strategy) if ask.strategy else None,
                since=ask.since,
                until=ask.until,
                per_chat_limit=ask.limit,
            ),
        )
        return s.ImportStarted(workflow_id=workflow, message="History import started in background")

    @router.get(
        "/{channel_id}/import-history",
        summary="The channel's latest history import",
        response_model=s.ImportStatus,
    )
    async def import_status(channel_id: UUID, caller: Caller) -> s.ImportStatus:
        channel = await fresh_visible(channel_id, caller)
        running = imports is not None and imports.running(channel.id)
        return s.ImportStatus(channel_id=channel.id, history_import=s.import_view(channel, running))

    @router.delete(
        "/{channel_id}/import-history",
        summary="Cancel the running history import",
        response_model=s.ImportStatus,
        responses=EXTRA_501,
    )
    async def cancel_import(channel_id: UUID, caller: Caller) -> s.ImportStatus:
        channel = await fresh_visible(channel_id, caller)
        await runner().cancel(channel)
        channel = await fresh(channel_id, caller)
        return s.ImportStatus(channel_id=channel.id, history_import=s.import_view(channel, False))


def _dead_letters_routes(router: APIRouter, c: _Routes) -> None:
    """The dead letters routes."""
    visible = c.visible
    inbox = c.inbox
    Caller = Annotated[Tenant, Depends(c.tenant)]

    def dead_letter_inbox() -> Inbox:
        if inbox is None:
            raise FeatureNotConfiguredError("dead letters (no durable inbox)")
        return inbox

    @router.get(
        "/{channel_id}/dead-letters",
        summary="Events of this channel whose handling kept failing",
        response_model=list[s.DeadLetterView],
        responses=EXTRA_501,
    )
    async def dead_letters(
        channel_id: UUID,
        caller: Caller,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[s.DeadLetterView]:
        await visible(channel_id, caller)
        letters = await dead_letter_inbox().dead_letters(limit=limit, channel_id=channel_id)
        return [
            s.DeadLetterView(
                id=x.id,
                kind=x.delivery.event.kind,
                chat_id=x.delivery.event.chat_id,
                idempotency_key=x.delivery.key,
                attempts=x.attempts,
                error=x.error,
                accepted_at=x.accepted_at,
                failed_at=x.failed_at,
            )
            for x in letters
            if x.delivery.context.tenant_id == caller.tenant_id
        ]

    @router.post(
        "/{channel_id}/dead-letters/replay",
        summary="Hand this channel's dead letters to the workers again",
        response_model=s.ReplayView,
        responses=EXTRA_501,
    )
    async def replay_dead_letters(
        channel_id: UUID, caller: Caller, body: s.ReplayRequest | None = None
    ) -> s.ReplayView:
        await visible(channel_id, caller)
        box = dead_letter_inbox()
        mine = await box.dead_letters(limit=1_000_000, channel_id=channel_id)
        ids = [x.id for x in mine if x.delivery.context.tenant_id == caller.tenant_id]
        if body is not None and body.ids is not None:
            wanted = set(body.ids)
            ids = [i for i in ids if i in wanted]
        return s.ReplayView(replayed=await box.replay(ids) if ids else 0)
