"""``ventros-channels dead-letters`` and the ``--app`` reference it shares with ``worker``."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from click.testing import CliRunner

from ventros_channels.cli import cli
from ventros_channels.inbox import Inbox
from ventros_channels.testing.contract.inbox import make_delivery

APP = """
from ventros_channels import InMemoryInbox, WebhookDispatcher
from ventros_channels.testing import InMemoryChannelRepository

INBOX = InMemoryInbox()

async def handler(event, context):
    pass

def make_dispatcher():
    return WebhookDispatcher(InMemoryChannelRepository(), handler, inbox=INBOX, workers=0)

not_an_app = 42
"""


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"cli_app_{uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(APP))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


async def _dead_letters(inbox: Inbox, count: int) -> list[str]:
    channel = uuid4()
    await inbox.accept([make_delivery(channel, f"k{i}", chat=f"c{i}") for i in range(count)])
    leases = await inbox.lease("t", limit=count, visibility=timedelta(minutes=1))
    for lease in leases:
        await inbox.dead_letter(lease, error=f"boom {lease.delivery.key}")
    return [lease.id for lease in leases]


def test_list_show_replay_and_purge(app_module: str) -> None:
    module = __import__(app_module)
    ids = asyncio.run(_dead_letters(module.INBOX, 3))
    ref = f"{app_module}:make_dispatcher"
    runner = CliRunner()

    listed = runner.invoke(cli, ["dead-letters", "list", "--app", ref, "--json"])
    assert listed.exit_code == 0, listed.output
    records = [json.loads(line) for line in listed.output.splitlines()]
    assert [r["id"] for r in records] == ids
    assert records[0]["error"] == "boom k0"
    assert "event" not in records[0]

    shown = runner.invoke(cli, ["dead-letters", "show", "--app", ref, ids[1]])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["event"]["text"] == "hi"

    replayed = runner.invoke(cli, ["dead-letters", "replay", "--app", ref, ids[0]])
    assert replayed.output.strip() == "replayed 1"
    assert asyncio.run(module.INBOX.stats()).ready == 1
    purged = runner.invoke(cli, ["dead-letters", "purge", "--app", ref, "--all"])
    assert purged.output.strip() == "purged 2"
    assert asyncio.run(module.INBOX.dead_letters()) == []


def test_replay_needs_ids_or_all(app_module: str) -> None:
    result = CliRunner().invoke(
        cli, ["dead-letters", "replay", "--app", f"{app_module}:make_dispatcher"]
    )
    assert result.exit_code == 2
    assert "--all" in result.output


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no_colon", "module:attribute"),
        ("no_such_module_xyz:app", "cannot load"),
        ("{module}:missing", "cannot load"),
        ("{module}:not_an_app", "not a WebhookDispatcher or a Worker"),
    ],
)
def test_a_bad_app_reference_is_a_usage_error(app_module: str, ref: str, message: str) -> None:
    result = CliRunner().invoke(
        cli, ["dead-letters", "list", "--app", ref.format(module=app_module)]
    )
    assert result.exit_code == 2
    assert message in result.output
