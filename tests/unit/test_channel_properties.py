"""Random command sequences never leave a channel in a state that breaks an invariant, and
snapshots always round-trip exactly.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

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
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.factories import ChannelFactory

EXPECTED = (DomainError, InvalidInputError)
"""The documented errors a command may raise; anything else fails the test."""


class ChannelMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock()
        self.repo = InMemoryChannelRepository(clock=self.clock)
        self.channel = ChannelFactory(self.clock)("waha")
        self.before = self.channel.status

    def attempt(self, command: object) -> None:
        self.before = self.channel.status
        try:
            command()  # type: ignore[operator]
        except EXPECTED:
            assert self.channel.status is self.before, "a refused command changed the status"

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

    @rule(status=st.sampled_from(list(WAHASessionStatus)))
    def session(self, status: WAHASessionStatus) -> None:
        self.attempt(lambda: self.channel.record_session_status(status))

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

    @rule(step=st.sampled_from(["request", "start", "complete", "fail"]))
    def history(self, step: str) -> None:
        commands = {
            "request": lambda: self.channel.request_history_import("all"),
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
        assert session is not None
        if self.channel.qr_code is not None:
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


TestChannelMachine = ChannelMachine.TestCase
TestChannelMachine.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
