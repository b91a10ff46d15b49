"""Lifecycle rules of the aggregate: recovery, secrets by construction, validated increments,
all-or-nothing commands, history import strategies and the stored wire format of snapshots and
events.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from ventros_channels import (
    MAX_METRIC_INCREMENT,
    Channel,
    ChannelStatus,
    ImportStrategy,
    InvalidChannelError,
    InvalidMetricsError,
    InvariantError,
    MetricsDelta,
    UnknownSessionStatusError,
    WAHASessionStatus,
    WebhookSecretMissingError,
)
from ventros_channels.testing import FixedClock
from ventros_channels.testing.factories import SAMPLE_CONFIGS, ChannelFactory

BASE = "https://crm.example.test"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def make(clock: FixedClock) -> ChannelFactory:
    return ChannelFactory(clock)


def without(channel_type: str, *fields: str) -> dict[str, object]:
    return {k: v for k, v in SAMPLE_CONFIGS[channel_type].items() if k not in fields}


# ---------------------------------------------------------------------------- recovery


def test_a_failed_waha_channel_recovers_when_the_session_works_again(
    make: ChannelFactory,
) -> None:
    channel = make("waha", active=True)
    seen = []
    for status in ("FAILED", "WORKING", "STOPPED", "WORKING"):
        channel.record_session_status(status)
        seen.append(channel.status)
    assert seen == [
        ChannelStatus.ERROR,
        ChannelStatus.ACTIVE,
        ChannelStatus.DISCONNECTED,
        ChannelStatus.ACTIVE,
    ]


@pytest.mark.parametrize("fall", ["mark_error", "mark_disconnected"])
def test_a_successful_platform_call_brings_a_failed_channel_back(
    make: ChannelFactory, fall: str
) -> None:
    channel = make("telegram", active=True)
    getattr(channel, fall)("platform down")
    channel.pull_events()
    assert channel.mark_reachable("health check")
    assert channel.status is ChannelStatus.ACTIVE
    changed = channel.pull_events()[0]
    assert changed.to_dict()["reason"] == "recovered: health check"


def test_reachability_does_not_override_the_user_or_a_pending_pairing(
    make: ChannelFactory,
) -> None:
    inactive = make("telegram", active=True)
    inactive.deactivate()
    assert not inactive.mark_reachable("send")
    assert inactive.status is ChannelStatus.INACTIVE
    pairing = make("waha")
    pairing.configure_webhook(base_url=BASE)
    assert not pairing.mark_reachable("health check")
    assert pairing.status is ChannelStatus.CONNECTING


# ---------------------------------------------------------------------------- secrets


def test_configuring_the_webhook_generates_a_telegram_secret_token(
    clock: FixedClock,
) -> None:
    channel = ChannelFactory(clock)("telegram", config=without("telegram", "webhook_secret_token"))
    assert channel.config.webhook_secret() is None
    channel.configure_webhook(base_url=BASE)
    secret = channel.config.webhook_secret()
    assert secret is not None
    value = secret.get_secret_value()
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value)
    assert len(value) >= 40
    assert value not in repr(channel)
    assert value not in str(channel.pending_events)
    channel.activate()
    assert channel.status is ChannelStatus.ACTIVE


def test_configuring_the_webhook_generates_a_waha_hmac_key_and_keeps_a_given_one(
    clock: FixedClock,
) -> None:
    generated = ChannelFactory(clock)("waha", config=without("waha", "webhook_hmac_key"))
    generated.configure_webhook(base_url=BASE)
    other = ChannelFactory(clock)("waha", config=without("waha", "webhook_hmac_key"))
    other.configure_webhook(base_url=BASE)
    a, b = generated.config.webhook_secret(), other.config.webhook_secret()
    assert a is not None
    assert b is not None
    assert a.get_secret_value() != b.get_secret_value()
    given = ChannelFactory(clock)("waha")
    given.configure_webhook(base_url=BASE)
    kept = given.config.webhook_secret()
    assert kept is not None
    assert kept.get_secret_value() == "test-waha-hmac-key"


@pytest.mark.parametrize("channel_type", ["whatsapp", "messenger", "instagram"])
def test_activating_a_meta_channel_without_the_app_secret_is_refused(
    clock: FixedClock, channel_type: str
) -> None:
    channel = ChannelFactory(clock)(channel_type, config=without(channel_type, "app_secret"))
    channel.configure_webhook(base_url=BASE)
    assert channel.config.webhook_secret() is None  # the app's secret: never made up
    before = channel.to_snapshot()
    with pytest.raises(WebhookSecretMissingError) as caught:
        channel.activate()
    assert caught.value.missing == "config.app_secret"
    assert caught.value.rule == "webhook_secret_missing"
    assert "config.app_secret" in str(caught.value)
    assert channel.to_snapshot() == before


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "fields",
    [{"received": -1}, {"sent": -5}, {"errors": MAX_METRIC_INCREMENT + 1}, {"read": True}],
)
def test_negative_or_absurd_increments_are_refused(
    make: ChannelFactory, fields: dict[str, Any]
) -> None:
    with pytest.raises(InvalidMetricsError) as caught:
        MetricsDelta(**fields)
    assert caught.value.fields == tuple(fields)
    channel = make("telegram")
    with pytest.raises(InvalidMetricsError):
        channel.record_message_received(count=-3)
    assert channel.metrics.messages_received == 0
    assert channel.take_pending_metrics().is_empty


def test_an_unknown_session_status_is_a_typed_error_that_changes_nothing(
    make: ChannelFactory,
) -> None:
    channel = make("waha", active=True)
    before, events = channel.to_snapshot(), channel.pending_events
    with pytest.raises(UnknownSessionStatusError) as caught:
        channel.record_session_status("HIBERNATING")
    assert caught.value.status == "HIBERNATING"
    assert channel.to_snapshot() == before
    assert channel.pending_events == events
    assert WAHASessionStatus.parse("WORKING") is WAHASessionStatus.WORKING


def test_working_for_a_channel_without_a_webhook_changes_nothing(make: ChannelFactory) -> None:
    channel = make("waha")
    channel.update_qr_code("2@qr")
    before, events = channel.to_snapshot(), channel.pending_events
    with pytest.raises(InvariantError) as caught:
        channel.record_session_status("WORKING")
    assert caught.value.rule == "webhook_not_configured"
    assert channel.to_snapshot() == before  # session status and QR code untouched
    assert channel.pending_events == events


# ---------------------------------------------------------------------------- WAHA specifics


def test_a_waha_channel_starts_connecting_and_others_inactive(make: ChannelFactory) -> None:
    waha = make("waha")
    assert waha.status is ChannelStatus.CONNECTING
    assert waha.pull_events()[0].to_dict()["status"] == "connecting"
    assert make("telegram").status is ChannelStatus.INACTIVE


def test_the_qr_code_lifetime_is_a_setting(make: ChannelFactory, clock: FixedClock) -> None:
    channel = make("waha")
    expires = channel.update_qr_code("2@first", ttl=timedelta(seconds=20))
    assert expires == clock.now() + timedelta(seconds=20)
    clock.advance(seconds=19)
    assert channel.qr_code == "2@first"
    clock.advance(seconds=2)
    assert channel.qr_code is None
    default = channel.update_qr_code("2@second")
    assert default == clock.now() + timedelta(seconds=60)


def test_uptime_follows_the_status_history(make: ChannelFactory, clock: FixedClock) -> None:
    channel = make("telegram")
    assert channel.uptime() is None
    channel.configure_webhook(base_url=BASE)
    channel.activate()
    clock.advance(seconds=30)
    channel.mark_disconnected("lost")
    clock.advance(seconds=10)
    channel.mark_reachable("health check")
    clock.advance(seconds=60)
    assert channel.active_time() == timedelta(seconds=90)
    assert channel.uptime() == pytest.approx(0.9)
    reloaded = Channel.from_snapshot(channel.to_snapshot(), clock=clock)
    assert reloaded.uptime() == pytest.approx(0.9)


# ---------------------------------------------------------------------------- history


def test_importing_for_a_channel_never_activated_is_refused(make: ChannelFactory) -> None:
    channel = make("waha")
    with pytest.raises(InvariantError) as caught:
        channel.request_history_import("all")
    assert caught.value.rule == "never_activated"
    assert channel.history_import is None


def test_new_only_starts_at_the_first_connection_on_the_first_run(
    make: ChannelFactory, clock: FixedClock
) -> None:
    channel = make("waha", active=True)
    connected = channel.connected_at
    assert connected == clock.now()
    clock.advance(seconds=5 * 3600)
    channel.request_history_import()  # the channel's configured strategy: new_only
    imp = channel.history_import
    assert imp is not None
    assert (imp.strategy, imp.since) == (ImportStrategy.NEW_ONLY, connected)
    channel.start_history_import()
    started = clock.now()
    channel.complete_history_import(chats=1, messages=3)
    clock.advance(seconds=3600)
    channel.request_history_import("new_only")
    assert channel.history_import is not None
    assert channel.history_import.since == started


def test_recent_reaches_back_the_configured_window(clock: FixedClock) -> None:
    config = {**SAMPLE_CONFIGS["waha"], "importStrategy": "recent", "importRecentWindow": "PT2H"}
    channel = ChannelFactory(clock)("waha", config=config, active=True)
    channel.request_history_import()
    imp = channel.history_import
    assert imp is not None
    assert (imp.strategy, imp.since) == (ImportStrategy.RECENT, clock.now() - timedelta(hours=2))
    channel.fail_history_import("stop")
    channel.request_history_import("recent", window=timedelta(minutes=30))
    assert channel.history_import is not None
    assert channel.history_import.since == clock.now() - timedelta(minutes=30)


def test_a_configured_none_strategy_imports_nothing(clock: FixedClock) -> None:
    config = {**SAMPLE_CONFIGS["waha"], "import_strategy": "none"}
    channel = ChannelFactory(clock)("waha", config=config, active=True)
    with pytest.raises(InvalidChannelError) as caught:
        channel.request_history_import()
    assert "'none' imports nothing" in str(caught.value)
    assert channel.history_import is None
