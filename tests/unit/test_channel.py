"""The Channel aggregate: creation, every transition, invariants, events, secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from itertools import product
from typing import Any
from uuid import UUID, uuid4

import pytest

from ventros_channels import (
    TRANSITIONS,
    Channel,
    ChannelConfigError,
    ChannelStatus,
    HistoryImportState,
    InvalidChannelError,
    InvalidInputError,
    InvalidTransitionError,
    InvariantError,
    UnknownChannelTypeError,
    WAHASessionStatus,
    check_transition,
    event_from_dict,
)
from ventros_channels.domain.snapshot import reveal_snapshot, snapshot_secrets
from ventros_channels.testing import FixedClock
from ventros_channels.testing.factories import DEFAULT_PROJECT_ID, SAMPLE_CONFIGS, ChannelFactory

PROJECT = str(DEFAULT_PROJECT_ID)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def make(clock: FixedClock) -> ChannelFactory:
    return ChannelFactory(clock)


def test_creation_names_every_bad_field_at_once() -> None:
    with pytest.raises(InvalidChannelError) as caught:
        Channel.create(
            tenant_id=" ",
            project_id="not-a-uuid",
            name="",
            channel_type="Bad Type!",
            config={},
            ai_agents_enabled=True,
            default_session_timeout_minutes=0,
        )
    assert set(caught.value.fields) == {
        "tenant_id",
        "project_id",
        "name",
        "channel_type",
        "ai_agents_enabled",
        "default_session_timeout_minutes",
    }


def test_unknown_type_and_bad_configs_are_typed() -> None:
    with pytest.raises(UnknownChannelTypeError):
        Channel.create(
            tenant_id="t", project_id=PROJECT, name="x", channel_type="carrier-pigeon", config={}
        )
    with pytest.raises(ChannelConfigError) as caught:
        Channel.create(
            tenant_id="t",
            project_id=PROJECT,
            name="x",
            channel_type="whatsapp",
            config={"phone_number_id": "12ab", "api_version": "21"},
        )
    assert set(caught.value.fields) == {"phone_number_id", "access_token", "api_version"}
    with pytest.raises(ChannelConfigError) as waha:
        Channel.create(
            tenant_id="t",
            project_id=PROJECT,
            name="x",
            channel_type="waha",
            config={"base_url": "ftp://x", "session_id": "ok"},
        )
    assert set(waha.value.fields) == {"base_url", "auth"}


def test_a_bad_secret_is_named_but_never_echoed() -> None:
    token = "not-a-telegram-token-s3cr3t"
    with pytest.raises(ChannelConfigError) as caught:
        Channel.create(
            tenant_id="t",
            project_id=PROJECT,
            name="x",
            channel_type="telegram",
            config={"bot_token": token},
        )
    assert caught.value.fields == ("bot_token",)
    assert token not in str(caught.value)
    assert token not in repr(caught.value)


def test_a_new_channel_is_inactive_and_recorded(make: ChannelFactory) -> None:
    channel = make("telegram")
    assert channel.status is ChannelStatus.INACTIVE
    (event,) = channel.pull_events()
    assert event.event_type == "channel.created"
    assert event.aggregate_version == 1
    assert channel.pull_events() == []
    assert channel.external_id == "7000000001"


def test_activation_needs_a_configured_webhook(make: ChannelFactory) -> None:
    channel = make("telegram")
    with pytest.raises(InvariantError) as caught:
        channel.activate()
    assert caught.value.rule == "webhook_not_configured"
    url = channel.configure_webhook(base_url="https://crm.example.test/")
    assert url == f"https://crm.example.test/webhooks/telegram/{channel.id}"
    channel.activate()
    assert channel.is_active
    with pytest.raises(InvalidChannelError):
        channel.configure_webhook("not a url")
    with pytest.raises(InvalidChannelError):
        channel.configure_webhook("https://a.test", base_url="https://b.test")


def _reach(channel: Channel, status: ChannelStatus) -> None:
    """Drive a channel into ``status`` through intent-named commands."""
    channel.configure_webhook(base_url="https://crm.example.test")
    if status is ChannelStatus.INACTIVE:
        return
    channel.activate()
    if status is ChannelStatus.CONNECTING:
        channel.request_activation()
    elif status is ChannelStatus.DISCONNECTED:
        channel.mark_disconnected("lost")
    elif status is ChannelStatus.ERROR:
        channel.mark_error("refused")


def _move(channel: Channel, to: ChannelStatus) -> None:
    commands: dict[ChannelStatus, Callable[[], None]] = {
        ChannelStatus.ACTIVE: channel.activate,
        ChannelStatus.INACTIVE: channel.deactivate,
        ChannelStatus.CONNECTING: channel.request_activation,
        ChannelStatus.DISCONNECTED: lambda: channel.mark_disconnected("lost"),
        ChannelStatus.ERROR: lambda: channel.mark_error("refused"),
    }
    commands[to]()


@pytest.mark.parametrize(("start", "to"), list(product(ChannelStatus, ChannelStatus)))
def test_every_pair_of_statuses_follows_the_table(
    make: ChannelFactory, start: ChannelStatus, to: ChannelStatus
) -> None:
    channel = make("telegram")
    _reach(channel, start)
    assert channel.status is start
    if start is to or to in TRANSITIONS[start]:
        _move(channel, to)
        assert channel.status is to
    else:
        with pytest.raises(InvalidTransitionError) as caught:
            _move(channel, to)
        assert (caught.value.from_status, caught.value.to_status) == (start.value, to.value)
        assert channel.status is start
        with pytest.raises(InvalidTransitionError):
            check_transition(start, to)


def test_status_events_and_idempotent_moves(make: ChannelFactory) -> None:
    channel = make("telegram")
    _reach(channel, ChannelStatus.ACTIVE)
    channel.pull_events()
    channel.activate()
    assert channel.pull_events() == []
    channel.deactivate()
    assert [e.event_type for e in channel.pull_events()] == [
        "channel.status_changed",
        "channel.deactivated",
    ]


def test_rotation_keeps_the_old_secret_for_the_grace_period(
    make: ChannelFactory, clock: FixedClock
) -> None:
    channel = make("telegram")
    channel.rotate_webhook_secret("new-secret-1", grace=timedelta(minutes=10))
    secrets = [s.get_secret_value() for s in channel.webhook_secrets()]
    assert secrets == ["new-secret-1", "test-telegram-secret"]
    clock.advance(timedelta(minutes=10, seconds=1))
    assert [s.get_secret_value() for s in channel.webhook_secrets()] == ["new-secret-1"]
    event = channel.pull_events()[-1]
    assert event.event_type == "channel.webhook.secret_rotated"
    assert "new-secret-1" not in json.dumps(event.to_dict())
    channel.rotate_webhook_secret()  # generated
    assert channel.webhook_secrets()[0].get_secret_value() not in ("new-secret-1", "")


def test_pipeline_ai_and_timeout(make: ChannelFactory) -> None:
    channel = make("telegram")
    channel.pull_events()
    pipeline = uuid4()
    channel.associate_pipeline(pipeline)
    channel.associate_pipeline(pipeline)  # no change, no event
    channel.disassociate_pipeline()
    assert [e.event_type for e in channel.pull_events()] == [
        "channel.pipeline.associated",
        "channel.pipeline.disassociated",
    ]
    with pytest.raises(InvariantError):
        channel.enable_ai_agents()
    channel.enable_ai()
    channel.enable_ai_agents()
    channel.disable_ai()
    assert (channel.ai_enabled, channel.ai_agents_enabled) == (False, False)
    channel.set_session_timeout(30)
    assert channel.default_session_timeout_minutes == 30
    with pytest.raises(InvalidChannelError):
        channel.set_session_timeout(-1)


def test_metrics_are_pending_until_taken(make: ChannelFactory, clock: FixedClock) -> None:
    channel = make("telegram")
    channel.record_message_received(count=2)
    channel.record_message_sent()
    channel.record_error("platform said no")
    assert (
        channel.metrics.messages_received,
        channel.metrics.messages_sent,
        channel.metrics.errors,
    ) == (2, 1, 1)
    pending = channel.take_pending_metrics()
    assert (pending.received, pending.sent, pending.errors) == (2, 1, 1)
    assert channel.take_pending_metrics().is_empty
    assert channel.metrics.last_error == "platform said no"


def test_waha_qr_code_lifecycle(make: ChannelFactory, clock: FixedClock) -> None:
    channel = make("waha")
    _reach(channel, ChannelStatus.INACTIVE)
    channel.request_activation()
    channel.record_session_status("SCAN_QR_CODE")
    expires = channel.update_qr_code("2@first")
    assert expires == clock.now() + timedelta(seconds=60)
    assert channel.qr_code == "2@first"
    clock.advance(seconds=60)
    assert channel.qr_code is None
    assert channel.needs_new_qr_code()
    channel.update_qr_code("2@second")
    assert channel.waha_session is not None
    assert channel.waha_session.qr_attempts == 2
    channel.record_session_status(WAHASessionStatus.WORKING)
    assert channel.status is ChannelStatus.ACTIVE
    assert channel.qr_code is None
    assert channel.waha_session.qr_attempts == 0
    with pytest.raises(InvariantError):
        channel.update_qr_code("2@late")
    for status, expected in [
        ("STOPPED", ChannelStatus.DISCONNECTED),
        ("STARTING", ChannelStatus.CONNECTING),
        ("FAILED", ChannelStatus.ERROR),
        ("WORKING", ChannelStatus.ACTIVE),
        ("UNAUTHORIZED", ChannelStatus.ERROR),
    ]:
        channel.record_session_status(status)
        assert channel.status is expected


def test_an_inactive_waha_channel_is_not_revived_and_others_have_no_session(
    make: ChannelFactory,
) -> None:
    channel = make("waha")
    channel.configure_webhook(base_url="https://crm.example.test")
    channel.deactivate()
    channel.record_session_status("WORKING")
    assert channel.status is ChannelStatus.INACTIVE
    with pytest.raises(InvariantError) as caught:
        make("telegram").update_qr_code("x")
    assert caught.value.rule == "not_waha"


def test_history_import_lifecycle(make: ChannelFactory, clock: FixedClock) -> None:
    channel = make("waha", active=True)
    with pytest.raises(InvalidChannelError):
        channel.request_history_import("none")
    with pytest.raises(InvalidChannelError):
        channel.request_history_import("all", per_chat_limit=0)
    channel.request_history_import("all", per_chat_limit=50)
    with pytest.raises(InvariantError):
        channel.request_history_import("all")
    with pytest.raises(InvariantError):
        channel.complete_history_import(chats=1, messages=1)
    channel.start_history_import()
    clock.advance(seconds=90)
    channel.complete_history_import(chats=3, messages=120, skipped=1)
    imp = channel.history_import
    assert imp is not None
    assert (imp.state, imp.messages, imp.skipped) == (HistoryImportState.COMPLETED, 120, 1)
    completed = channel.pull_events()[-1]
    assert completed.to_dict()["duration_seconds"] == 90.0
    channel.request_history_import("new_only")
    assert channel.history_import is not None
    assert channel.history_import.since == channel.last_history_import_at
    channel.fail_history_import("token expired")
    assert channel.history_import.state is HistoryImportState.FAILED


def test_a_deleted_channel_refuses_every_command(make: ChannelFactory) -> None:
    channel = make("telegram", active=True)
    channel.delete()
    assert channel.is_deleted
    assert not channel.is_active
    commands: list[Any] = [
        channel.activate,
        channel.deactivate,
        lambda: channel.rename("x"),
        lambda: channel.associate_pipeline(uuid4()),
        channel.enable_ai,
        channel.delete,
        lambda: channel.configure_webhook(base_url="https://x.test"),
    ]
    for command in commands:
        with pytest.raises(InvariantError) as caught:
            command()
        assert caught.value.rule == "channel_deleted"


def test_events_serialize_and_round_trip(make: ChannelFactory) -> None:
    channel = make("waha", active=True)
    channel.request_history_import("all")
    channel.associate_pipeline(uuid4())
    for event in channel.pull_events():
        data = json.loads(json.dumps(event.to_dict()))
        assert event_from_dict(data) == event
        assert data["occurred_at"].endswith("Z")
    with pytest.raises(InvalidInputError):
        event_from_dict({"type": "channel.exploded"})


@pytest.mark.parametrize("channel_type", sorted(SAMPLE_CONFIGS))
def test_secrets_never_leak(channel_type: str, clock: FixedClock) -> None:
    config = json.loads(json.dumps(SAMPLE_CONFIGS[channel_type]))
    secrets = []
    for key, value in list(config.items()):
        if (isinstance(value, str) and value.startswith(("test-", "TEST-"))) or key == "bot_token":
            config[key] = f"{value}-s3cr3t-{channel_type}"
            secrets.append(config[key])
    if channel_type == "waha":
        config["auth"]["api_key"] = "s3cr3t-waha-api-key"
        secrets.append("s3cr3t-waha-api-key")
    channel = ChannelFactory(clock)(channel_type, config=config, active=True)
    channel.rotate_webhook_secret("s3cr3t-rotated-secret")
    channel.record_error("boom")
    shown = " ".join(
        [
            repr(channel),
            str(channel.config),
            repr(channel.config),
            json.dumps(channel.config.redacted()),
        ]
        + [json.dumps(e.to_dict()) for e in channel.pull_events()]
    )
    for secret in [*secrets, "s3cr3t-rotated-secret"]:
        assert secret not in shown
    with pytest.raises(TypeError):  # secrets stay SecretStr: no store dumps them by accident
        json.dumps(channel.to_snapshot())
    revealed = json.dumps(reveal_snapshot(channel.to_snapshot()))
    assert all(s in revealed for s in secrets)  # kept for storage, as given, when asked for
    assert set(secrets) <= set(snapshot_secrets(channel.to_snapshot()))


def test_snapshot_round_trips_and_bad_rows_are_typed(make: ChannelFactory) -> None:
    channel = make("waha", active=True, pipeline_id=UUID(int=5))
    channel.rotate_webhook_secret("next", grace=timedelta(hours=1))
    channel.record_message_received()
    snapshot = channel.to_snapshot()
    assert Channel.from_snapshot(snapshot).to_snapshot() == snapshot
    broken = {**snapshot, "status": "exploded", "tenant_id": ""}
    with pytest.raises(InvalidChannelError) as caught:
        Channel.from_snapshot(broken)
    assert set(caught.value.fields) == {"status", "tenant_id"}


@pytest.mark.parametrize("bad", ["Sup\x00port", "Sup\x07port", "Sup\x1bport"])
def test_control_characters_are_refused_in_names_on_create_and_update(
    make: ChannelFactory, bad: str
) -> None:
    with pytest.raises(InvalidChannelError) as caught:
        make(name=bad)
    assert caught.value.fields == ("name",) or list(caught.value.fields) == ["name"]
    channel = make(name="Support")
    with pytest.raises(InvalidInputError):
        channel.update(name=bad)
    assert channel.name == "Support"
    assert make(name="Line one\nline two").name == "Line one\nline two"


def test_control_characters_are_refused_in_the_tenant() -> None:
    with pytest.raises(InvalidChannelError) as caught:
        Channel.create(
            tenant_id="acme\x00",
            project_id=PROJECT,
            name="Support",
            channel_type="telegram",
            config=SAMPLE_CONFIGS["telegram"],
        )
    assert list(caught.value.fields) == ["tenant_id"]
