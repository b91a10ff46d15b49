"""Starlette / ASGI integration (extra ``asgi``): mount the dispatcher on two routes.

    app = create_app(dispatcher)            # a Starlette app, lifespan runs the workers
    routes = webhook_routes(dispatcher)     # or add the routes to your own Starlette app

Routes: ``GET|POST /webhooks/{channel_type}/{channel_id}`` (per channel) and
``POST /webhooks/{channel_type}`` (app-level, routed by the platform's account id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ventros_channels.services.dispatcher import WebhookDispatcher
from ventros_channels.webhooks.request import WebhookRequest, WebhookResponse

__all__ = ["create_app", "to_webhook_request", "webhook_routes"]


async def to_webhook_request(request: Request) -> WebhookRequest:
    """The raw request as the dispatcher needs it: exact body bytes, headers, query."""
    return WebhookRequest(
        method=request.method,
        body=await request.body(),
        headers=request.headers.items(),
        query=request.query_params.items(),
    )


def _response(answer: WebhookResponse) -> Response:
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type)


def webhook_routes(dispatcher: WebhookDispatcher, prefix: str = "/webhooks") -> list[Route]:
    """The two webhook routes, bound to ``dispatcher``."""

    async def per_channel(request: Request) -> Response:
        params = request.path_params
        answer = await dispatcher.handle(
            params["channel_type"], params["channel_id"], await to_webhook_request(request)
        )
        return _response(answer)

    async def app_level(request: Request) -> Response:
        answer = await dispatcher.handle_app(
            request.path_params["channel_type"], await to_webhook_request(request)
        )
        return _response(answer)

    return [
        Route(f"{prefix}/{{channel_type}}/{{channel_id}}", per_channel, methods=["GET", "POST"]),
        Route(f"{prefix}/{{channel_type}}", app_level, methods=["GET", "POST"]),
    ]


def create_app(dispatcher: WebhookDispatcher, prefix: str = "/webhooks") -> Starlette:
    """A Starlette app serving the webhook routes; its lifespan starts and stops the
    dispatcher's workers.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with dispatcher:
            yield

    return Starlette(routes=webhook_routes(dispatcher, prefix), lifespan=lifespan)
