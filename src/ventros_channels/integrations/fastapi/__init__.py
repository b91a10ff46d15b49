"""FastAPI integration (extra ``fastapi``): the webhook routes and the management API.

    app.include_router(create_router(dispatcher))                  # webhooks
    app.include_router(create_management_router(service, tenant))  # /api/v1/channels

Start and stop the dispatcher in your app's lifespan (``async with dispatcher: yield``).
``tenant`` is your dependency that authenticates the request and returns its
:class:`Tenant`; see the management API guide for API-key and OAuth2 examples.
"""

from __future__ import annotations

from ventros_channels.integrations.fastapi._imports import ImportRunner
from ventros_channels.integrations.fastapi._management import Tenant, create_management_router
from ventros_channels.integrations.fastapi._problems import (
    STATUS_BY_ERROR,
    FeatureNotConfiguredError,
    PreconditionFailedError,
    Problem,
    ProblemRoute,
)
from ventros_channels.integrations.fastapi._webhooks import create_router

__all__ = [
    "STATUS_BY_ERROR",
    "FeatureNotConfiguredError",
    "ImportRunner",
    "PreconditionFailedError",
    "Problem",
    "ProblemRoute",
    "Tenant",
    "create_management_router",
    "create_router",
]
