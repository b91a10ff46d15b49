"""The conversation of one chat on one channel: sessions, last inbound and outbound times.

A value object: every change is an intent-named method returning a new conversation, time is
passed in, and nothing here does IO. A *session* is the seed's unit of conversation: it starts
with a customer's message when none is open, stays open while the chat is active, and ends
when nothing happened for the session timeout (or the host closes it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final
from uuid import UUID

import attrs

from ventros_channels.clock import ensure_utc
from ventros_channels.errors import FieldError, InvalidInputError, InvariantError

__all__ = [
    "DEFAULT_SESSION_TIMEOUT",
    "Conversation",
    "ConversationStatus",
    "SessionMetrics",
    "foreign_chat",
    "session_timeout",
]

DEFAULT_SESSION_TIMEOUT: Final = timedelta(minutes=30)
"""How long a session stays open without activity when the channel sets no timeout of its own
(``default_session_timeout_minutes`` overrides it per channel)."""


def session_timeout(minutes: int | None, default: timedelta = DEFAULT_SESSION_TIMEOUT) -> timedelta:
    """The session timeout of a channel: its own minutes, else ``default``."""
    return default if minutes is None else timedelta(minutes=minutes)


class ConversationStatus(StrEnum):
    OPEN = "open"
    """A session is running: the chat was active within the session timeout."""
    CLOSED = "closed"
    """No session: it timed out, the host closed it, or none ever started."""


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else ensure_utc(value)


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _check_timeout(timeout: timedelta) -> None:
    if timeout <= timedelta(0):
        raise InvalidInputError("timeout", [FieldError("timeout", "must be a positive duration")])


def _not_blank(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError("conversation", [FieldError(attribute.name, "must not be blank")])


@attrs.frozen
class Conversation:
    """One chat of one channel, as the library saw it.

    ``expires_at`` is when the current session ends unless something happens before (``None``:
    no session ever started); ``sessions`` counts the sessions started in this chat;
    ``pipeline_id`` the pipeline the current session was routed to (the channel's at the time,
    or one the host assigned). ``version`` is managed by the store.
    """

    channel_id: UUID
    tenant_id: str = attrs.field(validator=_not_blank)
    chat_id: str = attrs.field(validator=_not_blank)
    first_seen_at: datetime = attrs.field(converter=ensure_utc)
    session_started_at: datetime | None = attrs.field(default=None, converter=_utc)
    last_inbound_at: datetime | None = attrs.field(default=None, converter=_utc)
    last_outbound_at: datetime | None = attrs.field(default=None, converter=_utc)
    expires_at: datetime | None = attrs.field(default=None, converter=_utc)
    closed_at: datetime | None = attrs.field(default=None, converter=_utc)
    """When the host closed the current session (``None`` while it runs or timed out)."""
    pipeline_id: UUID | None = None
    sessions: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    version: int = attrs.field(default=0, validator=attrs.validators.ge(0))

    # ------------------------------------------------------------------ creation

    @classmethod
    def first_contact(
        cls, channel_id: UUID, tenant_id: str, chat_id: str, *, at: datetime
    ) -> Conversation:
        """A chat seen for the first time, with no session yet."""
        return cls(channel_id, tenant_id, chat_id, first_seen_at=at)

    # ------------------------------------------------------------------ queries

    @property
    def key(self) -> tuple[UUID, str]:
        return self.channel_id, self.chat_id

    def is_open(self, now: datetime) -> bool:
        """Whether a session runs at ``now``."""
        return self.expires_at is not None and ensure_utc(now) < self.expires_at

    def status(self, now: datetime) -> ConversationStatus:
        return ConversationStatus.OPEN if self.is_open(now) else ConversationStatus.CLOSED

    @property
    def last_activity_at(self) -> datetime | None:
        times = [t for t in (self.last_inbound_at, self.last_outbound_at) if t is not None]
        return max(times) if times else None

    # ------------------------------------------------------------------ changes

    def record_inbound(
        self, at: datetime, *, timeout: timedelta, pipeline_id: UUID | None = None
    ) -> Conversation:
        """The customer wrote at ``at``: a session starts if none runs then (routed to
        ``pipeline_id``), else the running one is kept alive for ``timeout`` more.

        Recording the same message again changes nothing, and an older message arriving late
        only moves times forward, so a redelivered or reordered event cannot count twice.
        """
        _check_timeout(timeout)
        at = ensure_utc(at)
        if self.closed_at is not None and at <= self.closed_at:  # late: the host closed it
            return attrs.evolve(self, last_inbound_at=_later(self.last_inbound_at, at))
        if self.is_open(at):
            return attrs.evolve(
                self,
                last_inbound_at=_later(self.last_inbound_at, at),
                expires_at=self._extended(at, timeout),
            )
        return attrs.evolve(
            self,
            session_started_at=at,
            last_inbound_at=_later(self.last_inbound_at, at),
            expires_at=at + timeout,
            closed_at=None,
            pipeline_id=pipeline_id,
            sessions=self.sessions + 1,
        )

    def record_outbound(self, at: datetime, *, timeout: timedelta) -> Conversation:
        """We wrote at ``at``: a running session is kept alive for ``timeout`` more; none is
        started (sessions start with the customer)."""
        _check_timeout(timeout)
        at = ensure_utc(at)
        expires = self._extended(at, timeout) if self.is_open(at) else self.expires_at
        return attrs.evolve(
            self, last_outbound_at=_later(self.last_outbound_at, at), expires_at=expires
        )

    def close(self, at: datetime) -> Conversation:
        """The host ended the session at ``at`` (a resolved ticket); the next customer message
        starts a new one. Closing a conversation with no running session changes nothing."""
        at = ensure_utc(at)
        if not self.is_open(at):
            return self
        return attrs.evolve(self, expires_at=at, closed_at=at)

    def assign_pipeline(self, pipeline_id: UUID | None) -> Conversation:
        """Route the current session to another pipeline (``None``: the project's default)."""
        return attrs.evolve(self, pipeline_id=pipeline_id)

    def _extended(self, at: datetime, timeout: timedelta) -> datetime | None:
        if self.expires_at is None:
            return None
        return max(self.expires_at, at + timeout)


@attrs.frozen
class SessionMetrics:
    """The seed's session figures of a channel: sessions started (``SessionsCreated``) and
    sessions running now (``ActiveSessionsCount``)."""

    sessions_created: int
    active_sessions: int


def foreign_chat(channel_id: UUID) -> InvariantError:
    """The error for a chat recorded under another tenant (a channel has one tenant)."""
    return InvariantError(
        "conversation_tenant", f"a chat of channel {channel_id} is recorded for another tenant"
    )
