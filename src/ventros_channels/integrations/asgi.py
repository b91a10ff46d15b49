"""Starlette / ASGI integration (extra ``asgi``): mount the dispatcher on two routes.

    app = create_app(dispatcher)            # a Starlette app, lifespan runs the workers
    routes = webhook_routes(dispatcher)     # or add the routes to your own Starlette app

Routes: ``GET|POST /webhooks/{channel_type}/{channel_id}`` (per channel) and
``POST /webhooks/{channel_type}`` (app-level, routed by the platform's account id).
``health_routes(dispatcher)`` adds ``GET /healthz`` (liveness) and ``GET /readyz`` (readiness).

Shutdown: the lifespan's exit stops the dispatcher, which answers 503 to new deliveries (the
platform retries them) and lets its workers finish what they hold, up to 30 seconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl
from uuid import UUID

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ventros_channels.health import check_health
from ventros_channels.services.dispatcher import WebhookDispatcher
from ventros_channels.webhooks.request import WebhookRequest, WebhookResponse

if TYPE_CHECKING:
    from ventros_channels.services.channels import ChannelService

__all__ = ["create_app", "health_routes", "to_webhook_request", "webhook_routes"]


async def to_webhook_request(request: Request) -> WebhookRequest:
    """The raw request as the dispatcher needs it: exact body bytes, headers, query."""
    return WebhookRequest(
        method=request.method,
        body=await request.body(),
        headers=request.headers.items(),
        query=request.query_params.items(),
    )


class _Endpoint:
    """A plain ASGI endpoint: no Request/Response objects on the hot path."""

    def __init__(
        self, dispatcher: WebhookDispatcher, *, app_level: bool, read_timeout: float
    ) -> None:
        self.dispatcher = dispatcher
        self.app_level = app_level
        self.read_timeout = read_timeout

    async def _body(self, scope: Scope, receive: Receive) -> list[bytes] | WebhookResponse:
        """The body's chunks, or the answer when it is too large or too slow to arrive.

        The read deadline is a bare timer that cancels this task, not ``asyncio.timeout``:
        on the webhook path that context manager cost more than half of this method. The
        timer is cancelled before the method returns, so it never reaches the dispatcher.
        """
        limit = self.dispatcher.settings.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return _TOO_LARGE
        chunks: list[bytes] = []
        size = 0
        task = asyncio.current_task()
        assert task is not None  # an ASGI app always runs in a task
        cancelling = task.cancelling()
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        timer = asyncio.get_running_loop().call_later(self.read_timeout, expire)
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return _TIMEOUT
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    return _TOO_LARGE
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return chunks
        except asyncio.CancelledError:
            # ours alone (no other cancellation requested meanwhile): the body was too slow
            if expired and task.uncancel() <= cancelling:
                return _TIMEOUT
            raise
        finally:
            timer.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = await self._body(scope, receive)
        if isinstance(chunks, WebhookResponse):
            await _answer(send, chunks)
            return
        query_string = scope.get("query_string", b"")
        request = WebhookRequest.from_raw(
            scope["method"],
            chunks[0] if len(chunks) == 1 else b"".join(chunks),
            {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            dict(parse_qsl(query_string.decode("latin-1"))) if query_string else {},
        )
        params = scope["path_params"]
        if self.app_level:
            answer = await self.dispatcher.handle_app(params["channel_type"], request)
        else:
            answer = await self.dispatcher.handle(
                params["channel_type"], params["channel_id"], request
            )
        await _answer(send, answer)


_TOO_LARGE = WebhookResponse(413, b"payload too large")
_TIMEOUT = WebhookResponse(408, b"request body not received in time")


async def _answer(send: Send, answer: WebhookResponse) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [
                (b"content-type", answer.content_type.encode("latin-1")),
                (b"content-length", str(len(answer.body)).encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer.body})


def webhook_routes(
    dispatcher: WebhookDispatcher, prefix: str = "/webhooks", *, read_timeout: float = 10.0
) -> list[Route]:
    """The two webhook routes, bound to ``dispatcher``. Bodies larger than the dispatcher's
    ``max_body_bytes`` get 413 (checked while reading); a body not received within
    ``read_timeout`` seconds gets 408.
    """
    return [
        Route(
            f"{prefix}/{{channel_type}}/{{channel_id}}",
            _Endpoint(dispatcher, app_level=False, read_timeout=read_timeout),
            methods=["GET", "POST"],
        ),
        Route(
            f"{prefix}/{{channel_type}}",
            _Endpoint(dispatcher, app_level=True, read_timeout=read_timeout),
            methods=["GET", "POST"],
        ),
    ]


def health_routes(
    dispatcher: WebhookDispatcher,
    *,
    service: ChannelService | None = None,
    channels: Sequence[tuple[UUID, str]] = (),
    within: float = 5.0,
) -> list[Route]:
    """``GET /healthz``: 200 while the process answers (liveness). ``GET /readyz``: 200 when
    the dispatcher is started and its repository, inbox, shared cache and in-process workers
    are healthy, else 503 (readiness); both with the JSON report of
    :func:`~ventros_channels.health.check_health` (``channels`` checked through ``service``,
    informative only).
    """

    async def live(request: Request) -> Response:
        return _json(200, {"status": "ok"})

    async def ready(request: Request) -> Response:
        report = await check_health(
            repository=dispatcher.repository,
            inbox=dispatcher.inbox,
            cache=dispatcher.shared_cache,
            workers=[dispatcher.worker] if dispatcher.worker is not None else [],
            service=service,
            channels=channels,
            within=within,
        )
        body = {**report.to_dict(), "accepting": dispatcher.started}
        if not dispatcher.started:
            body["status"] = "stopped"
        return _json(200 if report.ok and dispatcher.started else 503, body)

    return [Route("/healthz", live, methods=["GET"]), Route("/readyz", ready, methods=["GET"])]


def _json(status: int, body: object) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def create_app(
    dispatcher: WebhookDispatcher,
    prefix: str = "/webhooks",
    *,
    read_timeout: float = 10.0,
    health: bool = False,
) -> Starlette:
    """A Starlette app serving the webhook routes (and, with ``health``, the health routes);
    its lifespan starts and stops the dispatcher (and its in-process workers).
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with dispatcher:
            yield

    routes = webhook_routes(dispatcher, prefix, read_timeout=read_timeout)
    if health:
        routes += health_routes(dispatcher)
    return Starlette(routes=routes, lifespan=lifespan)
