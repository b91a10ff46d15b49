"""Property-based API tests: schemathesis drives the management API on PostgreSQL.

Generated requests go to a real uvicorn server whose repository is PostgreSQL. For every
generated case three calls are made: as generated, aimed at a channel of the caller's
tenant, and aimed at another tenant's channel. Checked: no 500, every response matches the
OpenAPI document (status, content type, body), and the other tenant's channel is never
reachable (404) nor changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import postgres_url
from tests.management.conftest import build_host
from tests.management.test_api import SEED_WAHA
from ventros_channels.sql import SqlChannelRepository, create_engine
from ventros_channels.testing.fakes import FakePlatforms

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("uvicorn")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.management.test_pairing_browser import serve  # noqa: E402

_names = itertools.count(1)
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
"""Schemathesis's conformance checks. Left out: its any-5xx check (502 and 503 are documented
answers about the platform; ``no_500`` forbids 500) and its schema-valid-data-is-accepted
check (a channel's config depends on its type and on rules the schema leaves to the 422)."""
EXAMPLES = 12
"""Generated cases per operation (three calls each)."""
OWN = {"X-API-Key": "key-acme"}
OTHER = {"X-API-Key": "key-globex"}


class _Server:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=30)
        self.victim: dict[str, Any] = self._create(OTHER)
        self.own_id = ""

    def _create(self, headers: dict[str, str]) -> dict[str, Any]:
        response = self.http.post("/api/v1/channels", json=SEED_WAHA, headers=headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def own(self) -> str:
        """A live channel of the caller's tenant (a new one if a case deleted it)."""
        if (
            not self.own_id
            or self.http.get(f"/api/v1/channels/{self.own_id}", headers=OWN).status_code != 200
        ):
            self.own_id = str(self._create(OWN)["id"])
        return self.own_id


@pytest.fixture(scope="module")
def server(postgres_run: str) -> Iterator[_Server]:
    engine = create_engine(postgres_url(), pool_size=2, max_overflow=2)
    repository = SqlChannelRepository(engine, schema=f"{postgres_run}_api{next(_names)}")
    with serve(build_host(repository, FakePlatforms())) as base:
        running = _Server(base)
        yield running
        running.http.close()


def no_500(ctx: Any, response: Any, case: Any) -> bool:
    """Statuses a client can act on (502/503: the platform) are fine; 500 is a bug."""
    assert response.status_code != 500, f"500 from {case.method} {case.formatted_path}"
    return True


def _check(case: Any, server: _Server) -> None:
    victim_id = str(server.victim["id"])
    checks: dict[str, Any] = {"checks": [*CHECKS, no_500]}
    case.call_and_validate(base_url=server.base, headers=OWN, **checks)
    if "channel_id" not in (case.path_parameters or {}):
        return
    case.path_parameters["channel_id"] = server.own()
    case.call_and_validate(base_url=server.base, headers=OWN, **checks)
    case.path_parameters["channel_id"] = victim_id
    response = case.call_and_validate(base_url=server.base, headers=OWN, **checks)
    if not case.formatted_path.endswith("/pairing"):  # the static page holds no data
        assert response.status_code in (404, 422), response.text
    seen = server.http.get(f"/api/v1/channels/{victim_id}", headers=OTHER).json()
    assert seen["version"] == server.victim["version"]
    assert seen["name"] == server.victim["name"]


def test_management_api(server: _Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            _check(case, server)

        run()
