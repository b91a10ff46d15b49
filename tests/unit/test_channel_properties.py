"""Random command sequences never leave a channel in a state that breaks an invariant, every
command applies fully or not at all, there is always a way back to ``active``, ``deleted`` is
final, and snapshots always round-trip exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ventros_channels import (
    TRANSITIONS,
    Channel,
    ChannelStatus,
    DomainError,
    InvalidInputError,
    MetricsDelta,
    WAHASessionStatus,
)
from ventros_channels.domain.types import ImportStrategy
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.factories import ChannelFactory

EXPECTED = (DomainError, InvalidInputError)
"""The documented errors a command may raise; anything else fails the test."""


class ChannelMachine(RuleBasedStateMachine):
    channel_type = "waha"

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock()
        self.repo = InMemoryChannelRepository(clock=self.clock)
        self.channel = ChannelFactory(self.clock)(self.channel_type)
        self.before = self.channel.status

    def attempt(self, command: object) -> None:
        self.before = self.channel.status
        snapshot, events = self.channel.to_snapshot(), self.channel.pending_events
        try:
            command()  # type: ignore[operator]
        except EXPECTED:
            assert self.channel.status is self.before, "a refused command changed the status"
            assert self.channel.to_snapshot() == snapshot, "a refused command changed state"
            assert self.channel.pending_events == events, "a refused command recorded events"

    @rule(base=st.sampled_from(["https://crm.example.test", "http://10.0.0.1:8080/hooks"]))
    def configure_webhook(self, base: str) -> None:
        self.attempt(lambda: self.channel.configure_webhook(base_url=base))

    @rule(
        command=st.sampled_from(
            [
                "activate",
                "deactivate",
                "request_activation",
                "enable_ai",
                "disable_ai",
                "enable_ai_agents",
                "disable_ai_agents",
                "disassociate_pipeline",
                "delete",
            ]
        )
    )
    def simple(self, command: str) -> None:
        self.attempt(getattr(self.channel, command))

    @rule(reason=st.text(max_size=20))
    def disconnect(self, reason: str) -> None:
        self.attempt(lambda: self.channel.mark_disconnected(reason))

    @rule(message=st.text(max_size=20))
    def error(self, message: str) -> None:
        self.attempt(lambda: self.channel.mark_error(message))

    @rule(n=st.integers(min_value=0, max_value=2**64))
    def associate(self, n: int) -> None:
        self.attempt(lambda: self.channel.associate_pipeline(UUID(int=n % 2**128)))

    @rule(status=st.sampled_from([*WAHASessionStatus, "SOMETHING_NEW", "working", ""]))
    def session(self, status: str) -> None:
        self.attempt(lambda: self.channel.record_session_status(status))

    @rule()
    def paired(self) -> None:
        """WAHA's WORKING on its own rule: the status that activates, so the riskiest one."""
        self.attempt(lambda: self.channel.record_session_status(WAHASessionStatus.WORKING))

    @rule(source=st.sampled_from(["health check", "test connection", "send"]))
    def platform_reachable(self, source: str) -> None:
        self.attempt(lambda: self.channel.mark_reachable(source))

    @rule(allowed=st.booleans())
    def unsigned(self, allowed: bool) -> None:
        self.attempt(lambda: self.channel.allow_unsigned_webhooks(allowed))

    @rule(code=st.text(min_size=0, max_size=10))
    def qr(self, code: str) -> None:
        self.attempt(lambda: self.channel.update_qr_code(code))

    @rule(seconds=st.integers(min_value=0, max_value=200))
    def tick(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    @rule(secret=st.from_regex(r"[A-Za-z0-9_-]{0,12}", fullmatch=True))
    def rotate(self, secret: str) -> None:
        self.attempt(
            lambda: self.channel.rotate_webhook_secret(secret or None, grace=timedelta(minutes=1))
        )

    @rule(received=st.integers(0, 5), sent=st.integers(0, 5))
    def metrics(self, received: int, sent: int) -> None:
        self.channel.record_metrics(MetricsDelta(received=received, sent=sent))

    @rule(count=st.one_of(st.integers(-5, -1), st.integers(10**6, 10**12)))
    def bad_metrics(self, count: int) -> None:
        self.attempt(lambda: self.channel.record_message_received(count=count))

    @rule(
        step=st.sampled_from(
            ["request", "default", "new_only", "recent", "start", "complete", "fail"]
        )
    )
    def history(self, step: str) -> None:
        commands = {
            "request": lambda: self.channel.request_history_import("all"),
            "default": self.channel.request_history_import,
            "new_only": lambda: self.channel.request_history_import(ImportStrategy.NEW_ONLY),
            "recent": lambda: self.channel.request_history_import(
                "recent", window=timedelta(hours=1)
            ),
            "start": self.channel.start_history_import,
            "complete": lambda: self.channel.complete_history_import(chats=1, messages=2),
            "fail": lambda: self.channel.fail_history_import("boom"),
        }
        self.attempt(commands[step])

    @rule()
    def save_and_reload(self) -> None:
        async def cycle() -> Channel:
            await self.repo.save(self.channel)
            return await self.repo.get(self.channel.id, tenant_id=self.channel.tenant_id)

        reloaded = asyncio.run(cycle())
        assert reloaded.to_snapshot() == self.channel.to_snapshot() | {
            "metrics": reloaded.to_snapshot()["metrics"]
        }
        self.channel = reloaded

    @invariant()
    def status_moves_follow_the_table(self) -> None:
        now = self.channel.status
        assert now is self.before or now in TRANSITIONS[self.before] or self.channel.is_deleted

    def copy(self) -> Channel:
        return Channel.from_snapshot(self.channel.to_snapshot(), clock=self.clock)

    @invariant()
    def an_operator_can_always_bring_it_back(self) -> None:
        if self.channel.is_deleted:
            return
        channel = self.copy()
        if not channel.webhook.is_configured:
            channel.configure_webhook(base_url="https://crm.example.test")
        channel.activate()
        assert channel.status is ChannelStatus.ACTIVE

    @invariant()
    def the_platform_brings_back_what_it_took_down(self) -> None:
        if self.channel.is_deleted or self.channel.status is ChannelStatus.INACTIVE:
            return  # inactive is the user's decision: only the user undoes it
        if not self.channel.webhook.is_configured or self.channel.missing_verification():
            return  # never activated: the operator path above applies
        if self.channel.waha_session is not None:
            paired = self.copy()
            paired.record_session_status(WAHASessionStatus.WORKING)
            assert paired.status is ChannelStatus.ACTIVE
        if self.channel.status in (ChannelStatus.ERROR, ChannelStatus.DISCONNECTED):
            checked = self.copy()
            assert checked.mark_reachable("health check")
            assert checked.status is ChannelStatus.ACTIVE

    @invariant()
    def deleted_is_final(self) -> None:
        if not self.channel.is_deleted:
            return
        channel = self.copy()
        snapshot = channel.to_snapshot()
        commands: list[Callable[[], object]] = [
            channel.activate,
            channel.deactivate,
            channel.request_activation,
            channel.delete,
            lambda: channel.record_session_status("WORKING"),  # not_waha for Telegram
            lambda: channel.mark_reachable("health check"),
            lambda: channel.configure_webhook(base_url="https://crm.example.test"),
            lambda: channel.request_history_import("all"),
        ]
        for command in commands:
            try:
                command()
            except DomainError:
                pass
            else:
                raise AssertionError("a deleted channel accepted a command")
        assert channel.to_snapshot() == snapshot
        assert channel.status is ChannelStatus.INACTIVE

    @invariant()
    def active_means_a_webhook(self) -> None:
        if self.channel.status is ChannelStatus.ACTIVE:
            assert self.channel.webhook.is_configured

    @invariant()
    def agents_need_ai(self) -> None:
        assert not self.channel.ai_agents_enabled or self.channel.ai_enabled

    @invariant()
    def qr_is_only_readable_while_valid(self) -> None:
        session = self.channel.waha_session
        assert (session is not None) == (self.channel_type == "waha")
        if session is not None and self.channel.qr_code is not None:
            assert session.qr_expires_at is not None
            assert self.clock.now() < session.qr_expires_at

    @invariant()
    def counters_are_never_negative(self) -> None:
        m = self.channel.metrics
        assert min(m.messages_received, m.messages_sent, m.errors) >= 0

    @invariant()
    def snapshot_round_trips(self) -> None:
        snapshot = self.channel.to_snapshot()
        assert Channel.from_snapshot(snapshot, clock=self.clock).to_snapshot() == snapshot


TestChannelMachine = pytest.mark.slow(ChannelMachine.TestCase)  # seconds of fuzzing
TestChannelMachine.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class TelegramMachine(ChannelMachine):
    """The same rules for a type without a paired session: health checks bring it back."""

    channel_type = "telegram"


TestTelegramMachine = pytest.mark.slow(TelegramMachine.TestCase)
TestTelegramMachine.settings = TestChannelMachine.settings
