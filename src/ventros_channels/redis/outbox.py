"""A :class:`~ventros_channels.outbox.Outbox` on Redis, shared by processes.

Each send is a hash ``<prefix>r:<channel>\\x1f<key>``; every change is one Lua script, so it is
atomic: ``reserve`` creates the hash only if it does not exist, and outcomes are written only
by the holder of the state (``pending`` for direct sends, the lease token for queued ones).
Queued sends of a chat wait in a list in the order they were queued; a sorted set schedules
each chat's head by the time it is due, and a lease that runs out turns its send
``uncertain``. Finished records expire after ``retain``. Keys are built inside the scripts,
so use a single Redis node (or a hash-tagged prefix on a cluster).

Durability is Redis's own: with ``appendonly yes`` and ``appendfsync always`` a record
survives a Redis crash; with ``everysec`` the last second may be lost.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis

from ventros_channels.clock import Clock, SystemClock
from ventros_channels.errors import OutboxError
from ventros_channels.outbox import LeasedSend, SendRecord, SendState
from ventros_channels.redis._common import (
    as_text,
    key_prefix,
    milliseconds,
    translate_outbox_errors,
)

__all__ = ["RedisOutbox"]

_SEP = "\x1f"

# Shared Lua helpers: P is the key prefix (ARGV[1]).
_HELPERS = """
local P = ARGV[1]
local function setstate(rk, rid, new, now)
  local old = redis.call('HGET', rk, 'state')
  if old ~= new then
    redis.call('ZREM', P .. 's:' .. old, rid)
    redis.call('ZADD', P .. 's:' .. new, redis.call('HGET', rk, 'created'), rid)
  end
  redis.call('HSET', rk, 'state', new, 'updated', now)
end
local function chat_of(rk)
  local f = redis.call('HMGET', rk, 'channel', 'chat')
  return f[1] .. '\\31' .. f[2]
end
local function schedule(chatid)
  local nxt = redis.call('LINDEX', P .. 'q:' .. chatid, 0)
  if nxt then
    redis.call('ZADD', P .. 'sched', redis.call('HGET', P .. 'r:' .. nxt, 'available'), chatid)
  else
    redis.call('ZREM', P .. 'sched', chatid)
  end
end
local function expire_leases(now)
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now)) do
    local rk = P .. 'r:' .. rid
    redis.call('ZREM', P .. 'leases', rid)
    if redis.call('EXISTS', rk) == 1 then
      redis.call('HDEL', rk, 'token', 'until')
      setstate(rk, rid, 'uncertain', now)
      redis.call('HSET', rk, 'error_type', 'LeaseExpired',
        'error', "the sender's lease ran out before it recorded an outcome")
      local chatid = chat_of(rk)
      redis.call('LREM', P .. 'q:' .. chatid, 1, rid)
      schedule(chatid)
    end
  end
end
"""

# ARGV: P, rid, created, queued ('1'/'0'), then field/value pairs
_RESERVE = (
    _HELPERS
    + """
local rid, created, queued = ARGV[2], ARGV[3], ARGV[4]
local rk = P .. 'r:' .. rid
if redis.call('EXISTS', rk) == 1 then
  return redis.call('HGETALL', rk)
end
redis.call('HSET', rk, unpack(ARGV, 5))
redis.call('ZADD', P .. 's:' .. redis.call('HGET', rk, 'state'), created, rid)
if queued == '1' then
  local chatid = chat_of(rk)
  if redis.call('RPUSH', P .. 'q:' .. chatid, rid) == 1 then schedule(chatid) end
end
return 'created'
"""
)

# ARGV: P, rid, now, state, message_id, error_type, error, retain_ms
_FINISH = (
    _HELPERS
    + """
local rid, now = ARGV[2], ARGV[3]
local rk = P .. 'r:' .. rid
if redis.call('HGET', rk, 'state') ~= 'pending' or redis.call('HEXISTS', rk, 'token') == 1 then
  return false
end
setstate(rk, rid, ARGV[4], now)
redis.call('HSET', rk, 'message_id', ARGV[5], 'error_type', ARGV[6], 'error', ARGV[7])
if ARGV[4] == 'sent' or ARGV[4] == 'failed' then redis.call('PEXPIRE', rk, ARGV[8]) end
return redis.call('HGETALL', rk)
"""
)

# ARGV: P, rid, now, message_id, retain_ms
_RESOLVE = (
    _HELPERS
    + """
local rid, now = ARGV[2], ARGV[3]
expire_leases(now)
local rk = P .. 'r:' .. rid
local state = redis.call('HGET', rk, 'state')
if (state ~= 'uncertain' and state ~= 'pending') or redis.call('HEXISTS', rk, 'token') == 1 then
  return 0
end
setstate(rk, rid, 'sent', now)
redis.call('HSET', rk, 'message_id', ARGV[4], 'error_type', '', 'error', '')
redis.call('PEXPIRE', rk, ARGV[5])
return 1
"""
)

# ARGV: P, rid, now
_REOPEN = (
    _HELPERS
    + """
local rid, now = ARGV[2], ARGV[3]
local rk = P .. 'r:' .. rid
local state = redis.call('HGET', rk, 'state')
if not state or state == 'sent' then return false end
local chatid = chat_of(rk)
redis.call('ZREM', P .. 'leases', rid)
redis.call('HDEL', rk, 'token', 'until')
if redis.call('LREM', P .. 'q:' .. chatid, 1, rid) > 0 then schedule(chatid) end
setstate(rk, rid, 'pending', now)
redis.call('HINCRBY', rk, 'attempts', 1)
redis.call('PERSIST', rk)
return redis.call('HGETALL', rk)
"""
)

# ARGV: P, now, limit, token, until
_LEASE = (
    _HELPERS
    + """
local now, limit, token, til = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
expire_leases(now)
local out = {}
local due = redis.call('ZRANGEBYSCORE', P .. 'sched', '-inf', now, 'LIMIT', 0, limit)
for _, chatid in ipairs(due) do
  redis.call('ZREM', P .. 'sched', chatid)
  local rid = redis.call('LINDEX', P .. 'q:' .. chatid, 0)
  if rid then
    local rk = P .. 'r:' .. rid
    if redis.call('HGET', rk, 'state') == 'queued' then
      redis.call('HINCRBY', rk, 'attempts', 1)
      setstate(rk, rid, 'pending', now)
      redis.call('HSET', rk, 'token', token, 'until', til)
      redis.call('ZADD', P .. 'leases', til, rid)
      table.insert(out, redis.call('HGETALL', rk))
    end
  end
end
return out
"""
)

# ARGV: P, rid, token, now, state, message_id, error_type, error, retry_at ('' = settle),
#       retain_ms
_SETTLE = (
    _HELPERS
    + """
local rid, token, now = ARGV[2], ARGV[3], ARGV[4]
local rk = P .. 'r:' .. rid
local held = redis.call('HMGET', rk, 'token', 'until')
if held[1] ~= token or tonumber(held[2]) <= tonumber(now) then return 0 end
redis.call('HDEL', rk, 'token', 'until')
redis.call('ZREM', P .. 'leases', rid)
redis.call('HSET', rk, 'message_id', ARGV[6], 'error_type', ARGV[7], 'error', ARGV[8])
local chatid = chat_of(rk)
if ARGV[9] ~= '' then
  setstate(rk, rid, 'queued', now)
  redis.call('HSET', rk, 'available', ARGV[9])
  redis.call('ZADD', P .. 'sched', ARGV[9], chatid)
  return 1
end
setstate(rk, rid, ARGV[5], now)
redis.call('LPOP', P .. 'q:' .. chatid)
schedule(chatid)
if ARGV[5] == 'sent' or ARGV[5] == 'failed' then redis.call('PEXPIRE', rk, ARGV[10]) end
return 1
"""
)

# ARGV: P, now
_EXPIRE = (
    _HELPERS
    + """
expire_leases(ARGV[2])
return 1
"""
)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(moment: datetime) -> int:
    """Microseconds since the epoch: exact, and within a Lua number's integer range."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _time(value: str | None) -> datetime | None:
    return None if not value else _EPOCH + timedelta(microseconds=int(value))


class RedisOutbox:
    """Outbound send records in Redis; see the module docstring.

    :param client: a ``redis.asyncio.Redis`` (decoded responses or not).
    :param retain: how long a sent or failed record is kept (repeats within it are caught).
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "ventros",
        namespace: str = "outbox",
        retain: timedelta = timedelta(days=7),
        clock: Clock | None = None,
    ) -> None:
        self._client = client
        self._prefix = key_prefix(prefix, namespace)
        self._retain_ms = max(1, milliseconds(retain))
        self._clock = clock or SystemClock()
        self._reserve = client.register_script(_RESERVE)
        self._finish = client.register_script(_FINISH)
        self._reopen = client.register_script(_REOPEN)
        self._resolve = client.register_script(_RESOLVE)
        self._lease = client.register_script(_LEASE)
        self._settle = client.register_script(_SETTLE)
        self._expire = client.register_script(_EXPIRE)

    @property
    def key_prefix(self) -> str:
        return self._prefix

    def _now(self) -> int:
        return _us(self._clock.now())

    async def reserve(self, record: SendRecord) -> tuple[SendRecord, bool]:
        rid = _rid(record.channel_id, record.key)
        fields: list[bytes | str | int] = []  # flat name, value, name, value...
        for name, value in _fields(record).items():
            fields += [name, value]
        queued = "1" if record.state is SendState.QUEUED else "0"
        with translate_outbox_errors("outbox"):
            reply = await self._reserve(
                args=[self._prefix, rid, _us(record.created_at), queued, *fields]
            )
        if isinstance(reply, bytes | str) and as_text(reply) == "created":
            return record, True
        return _record(reply), False

    async def finish(
        self,
        channel_id: UUID,
        key: str,
        *,
        state: SendState,
        message_id: str | None = None,
        error_type: str | None = None,
        error: str | None = None,
    ) -> SendRecord | None:
        args: list[str | int] = [self._prefix, _rid(channel_id, key), self._now(), state.value]
        args += [message_id or "", error_type or "", error or "", self._retain_ms]
        with translate_outbox_errors("outbox"):
            reply = await self._finish(args=args)
        return _record(reply) if reply else None

    async def reopen(self, channel_id: UUID, key: str) -> SendRecord | None:
        with translate_outbox_errors("outbox"):
            reply = await self._reopen(args=[self._prefix, _rid(channel_id, key), self._now()])
        return _record(reply) if reply else None

    async def resolve(self, channel_id: UUID, key: str, *, message_id: str | None) -> bool:
        args: list[str | int] = [self._prefix, _rid(channel_id, key), self._now()]
        args += [message_id or "", self._retain_ms]
        with translate_outbox_errors("outbox"):
            return bool(await self._resolve(args=args))

    async def get(self, channel_id: UUID, key: str) -> SendRecord | None:
        with translate_outbox_errors("outbox"):
            await self._expire(args=[self._prefix, self._now()])
            reply = await self._client.hgetall(self._prefix + "r:" + _rid(channel_id, key))
        return _record(reply) if reply else None

    async def find(
        self, *, state: SendState | None = None, channel_id: UUID | None = None, limit: int = 100
    ) -> list[SendRecord]:
        states = [state] if state is not None else list(SendState)
        with translate_outbox_errors("outbox"):
            await self._expire(args=[self._prefix, self._now()])
            rids: list[Any] = []
            for each in states:
                rids += await self._client.zrange(self._prefix + "s:" + each.value, 0, -1)
            wanted = [as_text(r) or "" for r in rids]
            if channel_id is not None:
                wanted = [r for r in wanted if r.startswith(f"{channel_id}{_SEP}")]
            async with self._client.pipeline(transaction=False) as pipe:
                for rid in wanted:
                    pipe.hgetall(self._prefix + "r:" + rid)
                replies = await pipe.execute()
        found = [_record(r) for r in replies if r]
        found.sort(key=lambda r: r.created_at)
        return found[:limit]

    async def lease(self, worker: str, *, limit: int, visibility: timedelta) -> list[LeasedSend]:
        now = self._clock.now()
        token = f"{worker}:{secrets.token_hex(8)}"
        until = now + visibility
        args: list[str | int] = [self._prefix, _us(now), limit, token, _us(until)]
        with translate_outbox_errors("outbox"):
            replies = await self._lease(args=args)
        return [LeasedSend(_record(r), token, until) for r in replies]

    async def settle(
        self,
        leased: LeasedSend,
        *,
        state: SendState,
        message_id: str | None = None,
        error_type: str | None = None,
        error: str | None = None,
    ) -> bool:
        return await self._held(leased, state, message_id, error_type, error, "")

    async def requeue(
        self, leased: LeasedSend, *, retry_at: datetime, error_type: str, error: str
    ) -> bool:
        return await self._held(leased, SendState.QUEUED, None, error_type, error, _us(retry_at))

    async def _held(
        self,
        leased: LeasedSend,
        state: SendState,
        message_id: str | None,
        error_type: str | None,
        error: str | None,
        retry_at: int | str,
    ) -> bool:
        record = leased.record
        args: list[str | int] = [
            self._prefix,
            _rid(record.channel_id, record.key),
            leased.token,
            self._now(),
        ]
        args += [state.value, message_id or "", error_type or "", error or "", retry_at]
        args.append(self._retain_ms)
        with translate_outbox_errors("outbox"):
            return bool(await self._settle(args=args))


def _rid(channel_id: UUID, key: str) -> str:
    return f"{channel_id}{_SEP}{key}"


def _fields(record: SendRecord) -> dict[str, bytes | str | int]:
    available = _us(record.available_at) if record.available_at else ""
    return {
        "channel": str(record.channel_id),
        "key": record.key,
        "tenant": record.tenant_id,
        "chat": record.chat_id,
        "state": record.state.value,
        "message": record.message or b"",
        "attempts": record.attempts,
        "message_id": record.message_id or "",
        "error_type": record.error_type or "",
        "error": record.error or "",
        "created": _us(record.created_at),
        "updated": _us(record.updated_at),
        "available": available,
    }


def _record(reply: Any) -> SendRecord:
    """A record from ``HGETALL`` (a dict) or a script's flat field/value list."""
    if isinstance(reply, dict):
        items = list(reply.items())
    elif isinstance(reply, list):
        items = list(zip(reply[::2], reply[1::2], strict=True))
    else:
        raise OutboxError("unexpected reply from the outbox store")
    raw = {as_text(k) or "": v for k, v in items}
    text = {k: as_text(v) if k != "message" else None for k, v in raw.items()}
    try:
        message = raw.get("message")
        return SendRecord(
            channel_id=UUID(text["channel"]),
            key=text["key"] or "",
            tenant_id=text["tenant"] or "",
            chat_id=text["chat"] or "",
            state=SendState(text["state"] or ""),
            created_at=_time(text["created"]) or datetime.now(UTC),
            updated_at=_time(text["updated"]) or datetime.now(UTC),
            message=(message.encode() if isinstance(message, str) else message) or None,
            attempts=int(text.get("attempts") or 0),
            message_id=text.get("message_id") or None,
            error_type=text.get("error_type") or None,
            error=text.get("error") or None,
            available_at=_time(text.get("available")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise OutboxError(f"stored send cannot be read: {type(exc).__name__}") from None
