"""Helpers for adapter tests: fixture files and a recording sleep."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ventros_channels.http import RetryPolicy

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_bytes(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / f"{name}.json").read_bytes()


def fixture_json(platform: str, name: str) -> Any:
    return json.loads(fixture_bytes(platform, name))


def webhook_samples(platform: str) -> list[bytes]:
    """Every webhook fixture of a platform (API answers excluded)."""
    return [
        p.read_bytes()
        for p in sorted((FIXTURES / platform).glob("*.json"))
        if not p.name.startswith("api_")
    ]


class Sleeps:
    """Records the waits a RetryPolicy asks for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    def policy(self, attempts: int = 3) -> RetryPolicy:
        return RetryPolicy(max_attempts=attempts, sleep=self)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
