"""The channels commands against a SQLite database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ventros_channels.cli import cli

PROJECT = "7f000000-0000-4000-8000-000000000001"


@pytest.fixture
def base(tmp_path: Path) -> list[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"
    return ["channels", "--db", url, "--tenant", "acme", "--create-schema"]


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _create(base: list[str], tmp_path: Path, name: str = "Main WhatsApp") -> dict[str, Any]:
    config = tmp_path / "waha.json"
    config.write_text(
        json.dumps(
            {
                "baseURL": "http://127.0.0.1:9",  # nothing listens: no platform call leaves
                "sessionID": "main-whatsapp",
                "auth": {"type": "basic", "username": "admin", "password": "secret"},
            }
        )
    )
    out = _run(
        [
            *base,
            "--json",
            "create",
            "--name",
            name,
            "--type",
            "waha",
            "--project",
            PROJECT,
            "--config",
            str(config),
        ]
    )
    created: dict[str, Any] = json.loads(out)
    return created


def test_create_list_show_report_delete(base: list[str], tmp_path: Path) -> None:
    created = _create(base, tmp_path)
    assert created["status"] == "connecting"
    assert "secret" not in json.dumps(created)
    _create(base, tmp_path, "Second")
    listed = [json.loads(x) for x in _run([*base, "--json", "list"]).splitlines()]
    assert [c["name"] for c in listed] == ["Main WhatsApp", "Second"]
    table = _run([*base, "list"])
    assert "2 channels" in table
    assert "Main WhatsApp" in table
    shown = json.loads(_run([*base, "--json", "show", created["id"]]))
    assert shown == {**created, "version": shown["version"]}
    report = json.loads(_run([*base, "--json", "report", created["id"]]))
    assert report["messages_received"] == 0
    unreachable = CliRunner().invoke(cli, [*base, "webhook-info", created["id"]])
    assert unreachable.exit_code == 2
    assert "PlatformUnavailableError" in unreachable.output
    assert _run([*base, "--json", "list", "--status", "active"]) == ""
    refused = CliRunner().invoke(cli, [*base, "delete", created["id"]])
    assert refused.exit_code == 2
    assert "PlatformSyncError" in refused.output
    deleted = json.loads(_run([*base, "--json", "delete", "--force", created["id"]]))
    assert deleted == {"id": created["id"], "deleted": True}
    assert len(_run([*base, "--json", "list"]).splitlines()) == 1


def test_other_tenants_do_not_see_it(base: list[str], tmp_path: Path) -> None:
    created = _create(base, tmp_path)
    other = [*base[:4], "globex", "--create-schema"]
    assert _run([*other, "--json", "list"]) == ""
    result = CliRunner().invoke(cli, [*other, "show", created["id"]])
    assert result.exit_code == 2
    assert "ChannelNotFoundError" in result.output


def test_invalid_config_is_reported(base: list[str], tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"sessionID": "x"}))
    result = CliRunner().invoke(
        cli,
        [
            *base,
            "create",
            "--name",
            "x",
            "--type",
            "waha",
            "--project",
            PROJECT,
            "--config",
            str(config),
        ],
    )
    assert result.exit_code == 2
    assert "ChannelConfigError" in result.output
