"""The command line: adapter listing and webhook parsing."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ventros_channels.cli import cli

WEBCHAT = Path(__file__).resolve().parents[2] / "examples/webchat-adapter/tests/payloads"


def test_adapters_lists_the_installed_plugin() -> None:
    result = CliRunner().invoke(cli, ["adapters", "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    webchat = next(r for r in records if r["name"] == "webchat")
    assert webchat["distribution"] == "ventros-webchat"
    assert "read_receipts" in webchat["capabilities"]


def test_webhook_parse_prints_json_lines() -> None:
    result = CliRunner().invoke(
        cli, ["webhook", "parse", "--type", "webchat", str(WEBCHAT / "batch.json")]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["kind"] for line in lines] == ["message", "status", "unsupported"]
    assert lines[0]["text"] == "One more thing"
    assert lines[0]["timestamp"].endswith("Z") or lines[0]["timestamp"].endswith("+00:00")
    assert "raw" not in lines[0]


def test_a_bad_payload_prints_the_typed_error_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"nope": true}')
    result = CliRunner().invoke(cli, ["webhook", "parse", "--type", "webchat", str(bad)])
    assert result.exit_code == 2
    assert "WebhookPayloadError" in result.output


def test_an_unknown_type_fails_cleanly(tmp_path: Path) -> None:
    body = tmp_path / "b.json"
    body.write_text("{}")
    result = CliRunner().invoke(cli, ["webhook", "parse", "--type", "nosuch", str(body)])
    assert result.exit_code == 2
    assert "AdapterNotFoundError" in result.output
