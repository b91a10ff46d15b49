"""The HTTP execution layer shared by adapters: timeouts, retries, error mapping, redaction.

Adapters never create clients: every call takes the host's ``httpx.AsyncClient``.

Retry policy (tenacity under the hood):

* **Idempotent requests** (reads, webhook registration, uploads of the same bytes) are retried
  on rate limits, 5xx answers, timeouts and connection errors, with capped exponential
  backoff and jitter; a platform's wait hint (``Retry-After``, Telegram's ``retry_after``)
  replaces the backoff when present.
* **Sends** (``idempotent=False``) are retried only when the platform provably did not act:
  the connection was never established, or the platform answered "rate limited". A timeout
  or 5xx after the request went out raises :class:`DeliveryUncertainError` instead, because a
  retry could deliver the message twice.
* A wait hint longer than ``RetryPolicy.max_retry_after`` is not slept on: the
  :class:`RateLimitedError` goes to the caller with its ``retry_after``.

Secrets (tokens, keys) given to :meth:`HttpExecutor.request` are replaced by ``***`` in every
log line and error message, including URLs (Telegram puts the token in the path).
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import logging
import math
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from ventros_channels.errors import (
    AuthenticationError,
    DeliveryUncertainError,
    InvalidRequestError,
    PermissionDeniedError,
    PlatformError,
    PlatformUnavailableError,
    RateLimitedError,
    ResourceNotFoundError,
    raise_unchained,
)

__all__ = [
    "DRIVER_LOGGERS",
    "RETRY_AFTER_CAP",
    "ErrorMapper",
    "HttpExecutor",
    "RetryPolicy",
    "SecretRedactionFilter",
    "error_for_status",
    "install_log_redaction",
    "log_redaction_installed",
    "parse_retry_after",
    "redact",
    "register_secrets",
    "throttle_listener",
]

logger = logging.getLogger("ventros_channels.http")


class SecretRedactionFilter(logging.Filter):
    """Replaces known secrets by ``***`` in records of the loggers it is attached to, and
    hides the row values SQLAlchemy logs at DEBUG (they can hold secrets not yet known).

    httpx logs every request URL at INFO; Telegram puts the bot token in that URL. The
    executor attaches this filter to the ``httpx`` and ``httpcore`` loggers when it sends its
    first request that carries a secret (never on import), and registers the secrets of every
    request it sends.
    """

    def __init__(self, limit: int = 10_000) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self.limit = limit

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if secret not in self.secrets and len(self.secrets) < self.limit:
                self.secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("sqlalchemy.engine") and str(record.msg).startswith("Row "):
            # SQLAlchemy dumps fetched rows at DEBUG, before the repository can learn the
            # secrets a row holds (the first load in a process): the values are not shown
            record.msg, record.args = "Row (values hidden by the secret redaction filter)", ()
            return True
        if self.secrets:
            message = record.getMessage()
            cleaned = redact(message, self.secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
            if record.exc_info and not record.exc_text:  # tracebacks can quote secrets too
                record.exc_text = redact(_FORMATTER.formatException(record.exc_info), self.secrets)
            elif record.exc_text:
                record.exc_text = redact(record.exc_text, self.secrets)
            if record.stack_info:
                record.stack_info = redact(record.stack_info, self.secrets)
        return True


_FORMATTER = logging.Formatter()
_redaction = SecretRedactionFilter()
_HTTP_LOGGERS = ("httpx", "httpcore")
_guarding_http_loggers: list[bool] = []


def _guard_http_loggers() -> None:
    # httpx logs every request URL at INFO, and a Telegram URL holds the bot token: the
    # first request that carries a secret attaches the filter to the HTTP client's loggers.
    # Importing this module changes no logger.
    if _guarding_http_loggers:
        return
    for name in _HTTP_LOGGERS:
        target = logging.getLogger(name)
        if _redaction not in target.filters:
            target.addFilter(_redaction)
    _guarding_http_loggers.append(True)


DRIVER_LOGGERS = (
    "httpx",
    "httpcore",
    "aiosqlite",
    "asyncpg",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "redis",
)
"""Loggers of the libraries underneath that can print secrets: SQL drivers print statement
parameters at DEBUG (aiosqlite, SQLAlchemy), HTTP clients print URLs (Telegram's holds the
token)."""
_installed: list[bool] = []


def install_log_redaction(
    *,
    secrets: Iterable[str] = (),
    loggers: Iterable[str] = DRIVER_LOGGERS,
    handlers: Iterable[logging.Handler] | None = None,
) -> SecretRedactionFilter:
    """Opt in to redacting channel secrets from log records beyond the library's own.

    Attaches the shared :class:`SecretRedactionFilter` to ``loggers`` (and to their child
    loggers that exist now) and to ``handlers`` (default: the root logger's handlers, which
    every propagated record reaches: call this after configuring logging). The filter knows
    the secrets of every request sent, of every channel the SQL repository or the Redis cache
    writes or reads once this is installed, and ``secrets``. Call again to add secrets; it is
    idempotent. Returns the filter.
    """
    _redaction.add(secrets)
    names = tuple(loggers)
    existing = [
        name
        for name in logging.Logger.manager.loggerDict
        if any(name == n or name.startswith(n + ".") for n in names)
    ]
    for name in (*names, *existing):
        target = logging.getLogger(name)
        if _redaction not in target.filters:
            target.addFilter(_redaction)
    for handler in logging.getLogger().handlers if handlers is None else handlers:
        if _redaction not in handler.filters:
            handler.addFilter(_redaction)
    if not _installed:
        _installed.append(True)
    return _redaction


def log_redaction_installed() -> bool:
    """Whether :func:`install_log_redaction` was called in this process."""
    return bool(_installed)


def register_secrets(secrets: Iterable[str]) -> None:
    """Teach the redaction filter more secrets (stores call it for the channels they touch
    once :func:`install_log_redaction` was called; a no-op before)."""
    if _installed:
        _redaction.add(secrets)


ErrorMapper = Callable[[httpx.Response, Callable[[str], str]], PlatformError | None]
"""Turns a platform answer into a typed error, or ``None`` when it is a success.

The second argument redacts secrets from any text taken from the answer.
"""


@attrs.frozen
class RetryPolicy:
    """How hard to try. ``sleep`` is injectable so tests never wait."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    max_retry_after: float = 60.0
    timeout: float | None = 30.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text


RETRY_AFTER_CAP = 86_400.0
"""The longest wait a platform hint can ask for (one day); longer or absurd hints are cut to it.
Whether the library sleeps on a hint at all is ``RetryPolicy.max_retry_after``."""


def _clamp(seconds: float, cap: float) -> float | None:
    if math.isnan(seconds):
        return None
    return min(cap, max(0.0, seconds))


def parse_retry_after(
    value: str | float | None, now: datetime | None = None, *, cap: float = RETRY_AFTER_CAP
) -> float | None:
    """Seconds to wait from a platform's hint: a ``Retry-After`` header in either form
    (delta-seconds or an HTTP date) or a number from a response body (Telegram's
    ``retry_after``). Clamped to ``[0, cap]``; ``None`` when there is no usable hint.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):  # compared as an int: a huge one does not overflow a float
        return float(min(max(value, 0), cap))
    if isinstance(value, float):
        return _clamp(value, cap)
    seconds = _header_seconds(value.strip(), now)
    return None if seconds is None else _clamp(seconds, cap)


def _header_seconds(text: str, now: datetime | None) -> float | None:
    """A ``Retry-After`` value (delta-seconds or an HTTP date) as seconds from ``now``."""
    if not text:
        return None
    if len(text) < 32:  # longer digit strings are no delay anyone means
        try:
            return float(text)
        except ValueError:
            pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - (now or datetime.now(UTC))).total_seconds()


def error_for_status(
    response: httpx.Response, platform: str, description: str, **details: Any
) -> PlatformError:
    """The typed error a bare HTTP status implies (when the body says nothing more)."""
    status = response.status_code
    kw: dict[str, Any] = {"platform": platform, "status_code": status, **details}
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitedError(description, retry_after=retry_after, **kw)
    if status == 401:
        return AuthenticationError(description, **kw)
    if status == 403:
        return PermissionDeniedError(description, **kw)
    if status == 404:
        return ResourceNotFoundError(description, **kw)
    if status >= 500:
        return PlatformUnavailableError(description, **kw)
    return InvalidRequestError(description, **kw)


throttle_listener: contextvars.ContextVar[Callable[[float | None], Awaitable[None]] | None] = (
    contextvars.ContextVar("ventros_throttle_listener", default=None)
)
"""Awaited with the wait hint of every 429 answer in this context (even one retried here):
a send rate limiter sets it around a send to slow the channel's other sends down."""


class HttpExecutor:
    """Sends requests for one platform through an injected client, with the retry policy."""

    def __init__(self, platform: str, map_error: ErrorMapper, policy: RetryPolicy | None = None):
        self.platform = platform
        self.map_error = map_error
        self.policy = policy or RetryPolicy()

    async def request(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        idempotent: bool,
        secrets: Iterable[str] = (),
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send and return the successful response, or raise a typed :class:`PlatformError`."""
        hidden = tuple(s for s in secrets if s)
        if hidden:
            _redaction.add(hidden)
            _guard_http_loggers()
        request = client.build_request(
            method,
            url,
            json=json,
            data=data,
            files=files,
            params=params,
            headers=headers,
            content=content,
            timeout=self.policy.timeout if self.policy.timeout is not None else client.timeout,
        )
        try:  # fast path: most calls succeed at once, no retry machinery needed
            return await self._attempt(client, request, idempotent, hidden)
        except PlatformError as first:
            if self.policy.max_attempts <= 1 or not self._should_retry(first, idempotent):
                raise
            first_error = first

        await self.policy.sleep(self._delay(first_error, 1))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.max_attempts - 1),
            retry=retry_if_exception(
                lambda e: isinstance(e, PlatformError) and self._should_retry(e, idempotent)
            ),
            wait=self._wait,
            sleep=self.policy.sleep,
            reraise=True,
        )
        response: httpx.Response = await retrying(
            self._attempt, client, request, idempotent, hidden
        )
        return response

    async def _attempt(
        self,
        client: httpx.AsyncClient,
        request: httpx.Request,
        idempotent: bool,
        secrets: tuple[str, ...],
    ) -> httpx.Response:
        try:
            response = await client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # the request never reached the platform: safe to retry even a send; httpx's
            # error holds the request (Telegram: the token in its URL), so it is not chained
            raise_unchained(
                PlatformUnavailableError(
                    redact(f"cannot reach the platform ({type(exc).__name__})", secrets),
                    platform=self.platform,
                )
            )
        except httpx.TransportError as exc:
            message = redact(f"no answer from the platform ({type(exc).__name__})", secrets)
            kind = PlatformUnavailableError if idempotent else DeliveryUncertainError
            raise_unchained(kind(message, platform=self.platform))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %s",
                request.method,
                redact(str(request.url), secrets),
                response.status_code,
            )
        error = self.map_error(response, lambda text: redact(text, secrets))
        if error is None:
            return response
        if isinstance(error, RateLimitedError):
            listener = throttle_listener.get()
            if listener is not None:
                await listener(error.retry_after)
        if isinstance(error, PlatformUnavailableError) and not idempotent:
            raise DeliveryUncertainError(
                error.description,
                platform=error.platform,
                status_code=error.status_code,
                code=error.code,
                subcode=error.subcode,
                trace_id=error.trace_id,
            )
        raise error

    def _should_retry(self, error: PlatformError, idempotent: bool) -> bool:
        if isinstance(error, RateLimitedError):
            return error.retry_after is None or error.retry_after <= self.policy.max_retry_after
        return isinstance(error, PlatformUnavailableError)

    def _delay(self, error: BaseException | None, attempt: int) -> float:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return error.retry_after
        backoff = min(self.policy.backoff_cap, self.policy.backoff_base * 2.0 ** (attempt - 1))
        return float(backoff * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not security

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return self._delay(error, state.attempt_number + 1)
