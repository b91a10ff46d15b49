"""Helpers shared by the Redis store and cache."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from redis import exceptions as redis_errors

from ventros_channels.errors import (
    FieldError,
    InboxError,
    InboxUnavailableError,
    InvalidInputError,
    OutboxError,
    OutboxUnavailableError,
    RepositoryError,
    RepositoryUnavailableError,
    raise_unchained,
)

__all__ = [
    "as_text",
    "key_prefix",
    "milliseconds",
    "translate_errors",
    "translate_inbox_errors",
    "translate_outbox_errors",
]


def key_prefix(prefix: str, namespace: str) -> str:
    """``prefix:namespace:`` with both parts checked (non-empty, no spaces)."""
    bad = [
        FieldError(label, "must be non-empty and contain no whitespace")
        for label, part in (("prefix", prefix), ("namespace", namespace))
        if not part or any(ch.isspace() for ch in part)
    ]
    if bad:
        raise InvalidInputError("redis key prefix", bad)
    return f"{prefix}:{namespace}:"


def milliseconds(duration: timedelta) -> int:
    """Whole milliseconds, rounded up so a positive duration never becomes 0."""
    us = duration // timedelta(microseconds=1)
    return -(-us // 1000)


def as_text(value: bytes | str | None) -> str | None:
    """Redis replies as ``str`` whether or not the client decodes responses."""
    if value is None or isinstance(value, str):
        return value
    return value.decode()


_UNREACHABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)

# Replies meaning "this server cannot take writes right now" (a replica after a failover, a
# primary without its replicas, memory full): nothing was written and a retry may succeed.
_REFUSED_FOR_NOW = (
    redis_errors.ReadOnlyError,
    redis_errors.MasterDownError,
    redis_errors.TryAgainError,
    redis_errors.OutOfMemoryError,
)


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Connection problems → :class:`RepositoryUnavailableError`, others → RepositoryError."""
    try:
        yield
    except _UNREACHABLE as exc:
        raise_unchained(RepositoryUnavailableError(f"{what} unavailable: {type(exc).__name__}"))
    except redis_errors.RedisError as exc:
        raise_unchained(RepositoryError(f"{what} error: {type(exc).__name__}"))


@contextmanager
def translate_inbox_errors(what: str) -> Iterator[None]:
    """The inbox's variant: unreachable or refusing writes → :class:`InboxUnavailableError`.

    Both mean nothing was recorded and a retry later may succeed (the intake answers 503).
    Any other Redis error → :class:`InboxError`.
    """
    try:
        yield
    except (*_UNREACHABLE, *_REFUSED_FOR_NOW) as exc:
        raise_unchained(InboxUnavailableError(f"{what} unavailable: {type(exc).__name__}"))
    except redis_errors.RedisError as exc:
        raise_unchained(InboxError(f"{what} error: {type(exc).__name__}"))


@contextmanager
def translate_outbox_errors(what: str) -> Iterator[None]:
    """The outbox's variant: :class:`OutboxUnavailableError` when nothing could be recorded
    (so no request is made to the platform), :class:`OutboxError` otherwise.
    """
    try:
        yield
    except (*_UNREACHABLE, *_REFUSED_FOR_NOW) as exc:
        raise_unchained(OutboxUnavailableError(f"{what} unavailable: {type(exc).__name__}"))
    except redis_errors.RedisError as exc:
        raise_unchained(OutboxError(f"{what} error: {type(exc).__name__}"))
