"""The webhook routes as a FastAPI ``APIRouter``.

    app.include_router(create_router(dispatcher))

Start and stop the dispatcher in your app's lifespan (``async with dispatcher: yield``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ventros_channels.integrations.asgi import to_webhook_request
from ventros_channels.services.dispatcher import WebhookDispatcher

__all__ = ["create_router"]


def create_router(dispatcher: WebhookDispatcher, prefix: str = "/webhooks") -> APIRouter:
    """Routes ``GET|POST {prefix}/{channel_type}/{channel_id}`` and ``POST {prefix}/{type}``."""
    # Left out of the OpenAPI document: platforms, not API clients, call these, and each
    # platform's body has its own shape (see the platform guides).
    router = APIRouter(prefix=prefix, include_in_schema=False)

    @router.api_route("/{channel_type}/{channel_id}", methods=["GET", "POST"])
    async def per_channel(channel_type: str, channel_id: str, request: Request) -> Response:
        answer = await dispatcher.handle(
            channel_type, channel_id, await to_webhook_request(request)
        )
        return Response(answer.body, answer.status, media_type=answer.content_type)

    @router.api_route("/{channel_type}", methods=["GET", "POST"])
    async def app_level(channel_type: str, request: Request) -> Response:
        answer = await dispatcher.handle_app(channel_type, await to_webhook_request(request))
        return Response(answer.body, answer.status, media_type=answer.content_type)

    return router
