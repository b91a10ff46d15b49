"""RFC 9457 problem details for the management API.

Every library error reaching the API is answered by the status of the nearest class in
:data:`STATUS_BY_ERROR` (walking the error's class hierarchy), so one table decides what a
client sees. The body never carries input values or secrets: the library's messages are built
from field names and codes only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from ventros_channels.errors import (
    AdapterError,
    AdapterNotFoundError,
    CapabilityNotSupportedError,
    ChannelInactiveError,
    ChannelNotFoundError,
    ConcurrencyError,
    CorruptChannelError,
    DomainError,
    InvalidInputError,
    NotStartedError,
    PlatformError,
    PlatformUnavailableError,
    RateLimitedError,
    RepositoryUnavailableError,
    UnknownChannelTypeError,
    VentrosChannelsError,
    WebhookError,
    WebhookPayloadError,
)

__all__ = [
    "STATUS_BY_ERROR",
    "FeatureNotConfiguredError",
    "PreconditionFailedError",
    "Problem",
    "ProblemRoute",
    "problem_response",
]

logger = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:ventros-channels:problem:"


class PreconditionFailedError(ConcurrencyError):
    """The ``If-Match`` header names a version the channel no longer has."""


class FeatureNotConfiguredError(VentrosChannelsError):
    """The host did not give the router what this endpoint needs (an importer, an inbox)."""

    def __init__(self, feature: str) -> None:
        self.feature = feature
        super().__init__(f"this server is not configured for {feature}")


STATUS_BY_ERROR: Mapping[type[BaseException], int] = {
    # the client's input
    InvalidInputError: 422,
    UnknownChannelTypeError: 422,
    AdapterNotFoundError: 422,
    WebhookPayloadError: 400,
    WebhookError: 401,
    # the channel's state
    ChannelNotFoundError: 404,
    PreconditionFailedError: 412,
    ConcurrencyError: 409,
    DomainError: 409,
    ChannelInactiveError: 409,
    CapabilityNotSupportedError: 409,
    # this server
    FeatureNotConfiguredError: 501,
    CorruptChannelError: 500,
    RepositoryUnavailableError: 503,
    NotStartedError: 503,
    AdapterError: 500,
    # the platform behind the channel
    RateLimitedError: 503,
    PlatformUnavailableError: 503,
    PlatformError: 502,
    VentrosChannelsError: 500,
}
"""Status code of each library error class; the nearest class in an error's MRO wins."""

TITLES: Mapping[int, str] = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed",
    422: "Invalid input",
    500: "Internal error",
    501: "Not configured",
    502: "Platform error",
    503: "Unavailable",
}


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=[f"{TYPE_BASE}channel-not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["channel 4b5f... not found"])
    instance: str | None = Field(default=None, examples=["/api/v1/channels/4b5f..."])
    code: str = Field(description="The library's error class.", examples=["ChannelNotFoundError"])
    errors: list[FieldProblem] = Field(
        default_factory=list, description="Each bad field (invalid input only)."
    )
    retry_after: float | None = Field(default=None, description="Seconds, when throttled.")


def status_for(exc: BaseException) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def _slug(name: str) -> str:
    name = name.removesuffix("Error") or name
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
    retry_after: float | None = None,
) -> JSONResponse:
    problem = Problem(
        type=TYPE_BASE + _slug(code),
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=instance,
        code=code,
        errors=errors or [],
        retry_after=retry_after,
    )
    return JSONResponse(
        problem.model_dump(mode="json"),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def _from_library(exc: VentrosChannelsError, path: str) -> JSONResponse:
    status = status_for(exc)
    if status == 500:
        logger.error("management API error on %s: %s", path, exc, exc_info=exc)
    fields = [FieldProblem(field=f.field, message=f.message) for f in _field_errors(exc)]
    retry = getattr(exc, "retry_after", None) if isinstance(exc, RateLimitedError) else None
    headers = {"Retry-After": str(max(1, round(retry)))} if retry else None
    detail = str(exc) if status != 500 else "the server could not complete the request"
    return problem_response(
        status,
        type(exc).__name__,
        detail,
        instance=path,
        errors=fields,
        headers=headers,
        retry_after=retry,
    )


def _field_errors(exc: VentrosChannelsError) -> list[Any]:
    return list(exc.errors) if isinstance(exc, InvalidInputError) else []


def _from_validation(exc: RequestValidationError, path: str) -> JSONResponse:
    fields = [
        FieldProblem(
            field=".".join(str(p) for p in err.get("loc", ()) if p != "body") or "<root>",
            message=str(err.get("msg", "invalid")),
        )
        for err in exc.errors()
    ]
    return problem_response(
        422, "RequestValidationError", "the request is not valid", instance=path, errors=fields
    )


def _from_http(exc: HTTPException, path: str) -> JSONResponse:
    code = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}.get(exc.status_code, "Http")
    return problem_response(
        exc.status_code,
        code + "Error",
        str(exc.detail),
        instance=path,
        headers=exc.headers,
    )


class ProblemRoute(APIRoute):
    """A route answering every library error, validation error and ``HTTPException`` of its
    handler (and its dependencies) as problem+json, so a host needs no exception handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except VentrosChannelsError as exc:
                return _from_library(exc, request.url.path)
            except RequestValidationError as exc:
                return _from_validation(exc, request.url.path)
            except HTTPException as exc:
                return _from_http(exc, request.url.path)

        return guarded
