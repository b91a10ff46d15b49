"""The OpenAPI document: complete, and the copy published in the docs is current."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.management.conftest import build_host
from ventros_channels.testing import InMemoryChannelRepository
from ventros_channels.testing.fakes import FakePlatforms

PUBLISHED = Path(__file__).parents[2] / "docs" / "reference" / "openapi.json"


def _document() -> dict[str, Any]:
    app = build_host(InMemoryChannelRepository(), FakePlatforms()).app
    app.title = "ventros-channels management API"
    doc: dict[str, Any] = app.openapi()
    return doc


def test_every_operation_documents_problem_answers_and_enums() -> None:
    doc = _document()
    operations = [op for path in doc["paths"].values() for op in path.values()]
    assert len(operations) >= 22
    for op in operations:
        for code in ("404", "422", "500"):
            content = op["responses"][code]["content"]
            assert "application/problem+json" in content, (op["operationId"], code)
    schemas = doc["components"]["schemas"]
    assert set(schemas["ChannelStatus"]["enum"]) == {
        "active",
        "inactive",
        "connecting",
        "disconnected",
        "error",
    }
    assert "SCAN_QR_CODE" in schemas["WAHASessionStatus"]["enum"]
    assert schemas["CreateChannel"]["examples"][0]["config"]["baseURL"]
    assert "waha" in schemas["CreateChannel"]["properties"]["channel_type"]["enum"]


def test_the_published_document_is_current() -> None:
    current = json.dumps(_document(), indent=2, sort_keys=True) + "\n"
    if os.environ.get("VENTROS_WRITE_OPENAPI") == "1":
        PUBLISHED.write_text(current)
    assert PUBLISHED.read_text() == current, (
        "docs/reference/openapi.json is stale: run VENTROS_WRITE_OPENAPI=1 pytest "
        "tests/management/test_openapi.py"
    )
