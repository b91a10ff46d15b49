"""A durable :class:`~ventros_channels.inbox.Inbox` on Redis Streams with a consumer group.

**What it guarantees.** Every operation is one Lua script, so one round trip and atomic: a
delivery is recorded together with its dedupe key or not at all (a duplicate is rejected in the
same single call), a lease, completion, retry or dead letter changes all the keys involved at
once, and no interleaving of processes can see half of it. Any number of processes and
machines can share one inbox; deliveries of one chat are handed out one at a time, in accept
order, also across failures, retries and expired leases. Handling is at least once: a lease
that runs out (its worker died) makes the delivery available again, with a higher attempt.

When the connection drops after a script ran but before its reply arrived, the caller gets
:class:`~ventros_channels.errors.InboxUnavailableError` although the write happened; the
platform's retry (or redis-py's own resend) is then recognised as a duplicate, so nothing is
recorded twice, and a resent ``complete`` still answers ``True``.

**What it depends on.** "Recorded" means "in the Redis server's memory"; surviving a crash of
Redis itself is Redis's persistence:

* ``appendonly yes`` with ``appendfsync everysec`` (the usual setting) can lose up to about a
  second of writes if the Redis *machine or server* crashes (a crash of our processes loses
  nothing); ``appendfsync always`` loses nothing, at a cost in write latency. RDB snapshots
  alone lose everything since the last snapshot. Each script reaches the append-only file
  whole, so a restart never sees half of an operation.
* With replicas, writes are acknowledged by the primary before they reach a replica: a
  failover can drop the last writes. Calling ``WAIT`` after ``accept`` (with a connection
  of your own) narrows that window; Redis offers no stronger promise.
* ``maxmemory-policy`` must be ``noeviction``: an evicting Redis may drop entries and
  dedupe keys. With memory full, scripts are refused before they write
  (:class:`~ventros_channels.errors.InboxUnavailableError`, answered 503).
* Redis 7.0 or later, as one server (or one primary with replicas): the scripts compute the
  names of the keys they touch, which Redis Cluster does not allow.
* Lease expiry and retry times are compared on the clocks of the calling processes: keep the
  machines' clocks in sync (NTP). A clock running ahead takes expired leases over early.

The test suite's Redis keeps nothing on disk (``appendonly no``, no snapshots): the crash
tests there show what survives our processes, not what survives a Redis crash.

**Layout**, under ``<prefix>:<namespace>:`` (``P``):

* ``P e:<id>``: one hash per delivery (payload, chat, attempts, accept time, lease token and
  expiry, last error). ``<id>`` is minted from the counter ``P seq``; it stays the same across
  retries and replays, unlike stream entry ids.
* ``P q:<channel>:<chat>``: the chat's ids in accept order. Only the head may be handed out.
* ``P stream`` with the group ``workers``: one entry per chat head saying "this delivery may
  be handled". Only heads have one, so the group never hands two entries of a chat to two
  workers. The entry stays pending in the group while its delivery is leased or waiting for a
  retry, and is acknowledged and deleted when the delivery is completed or dead-lettered;
  the next head of the chat then gets its own entry.
* ``P k:<channel>:<key>``: the dedupe key, no TTL while the delivery is pending or dead,
  ``retain`` after completion or purge.
* sorted sets ``P pending`` (by accept time), ``P leases`` (by lease expiry), ``P delayed``
  (by retry time), ``P dead`` and ``P dead:<channel>`` (by dead-letter time).
* ``P seq`` (the id counter), ``P sweep`` (the ``XAUTOCLAIM`` cursor) and ``P tidy`` (a
  marker that spaces out the removal of idle consumers from the group).

Lease expiry and retry times are read on the injected clock (passed into the scripts), so
``leases`` and ``delayed`` decide when a delivery comes back; its pending stream entry is then
moved to the new worker with ``XCLAIM``. ``XAUTOCLAIM`` sweeps the group for entries read but
never leased (a reader outside this class, or a crash of one) idle longer than
``orphan_after`` on Redis's clock, and hands them out.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
import redis.asyncio as aioredis

from ventros_channels.clock import Clock, SystemClock, ensure_utc
from ventros_channels.errors import FieldError, InboxError, InvalidInputError
from ventros_channels.inbox._model import (
    AcceptResult,
    DeadLetter,
    Delivery,
    InboxStats,
    Leased,
    decode_delivery,
    encode_delivery,
)
from ventros_channels.redis._common import (
    as_text,
    key_prefix,
    milliseconds,
    translate_inbox_errors,
)

__all__ = ["RedisInbox"]

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WHAT = "redis inbox"

# Helpers prepended to the scripts that write. `P` is the key prefix (ARGV[1]).
_LIB = """
local P = ARGV[1]
local S, G = P .. 'stream', 'workers'

-- The group is created with the stream, and the stream only ever through here, so an
-- existing stream always has its group (also after a FLUSHALL or a fresh server).
local function ensure_group()
  if redis.call('EXISTS', S) == 0 then
    redis.call('XGROUP', 'CREATE', S, G, '0', 'MKSTREAM')
  end
end

-- Tell the group that delivery `id` (the head of its chat) may be handled.
local function notify(id)
  ensure_group()
  local m = redis.call('XADD', S, '*', 'id', id)
  redis.call('HSET', P .. 'e:' .. id, 'm', m)
end

-- Acknowledge and drop a stream entry.
local function drop(m)
  redis.call('XACK', S, G, m)
  redis.call('XDEL', S, m)
end

-- True when `token` is the lease `id` currently carries.
local function held(id, token)
  return redis.call('HGET', P .. 'e:' .. id, 'tok') == token
end

-- Take `id` out of its chat and every index; the chat's next delivery gets its notification.
local function detach(id)
  local e = P .. 'e:' .. id
  local f = redis.call('HMGET', e, 'm', 'q')
  if f[1] then drop(f[1]) end
  if redis.call('LINDEX', f[2], 0) == id then
    redis.call('LPOP', f[2])
    local nxt = redis.call('LINDEX', f[2], 0)
    if nxt then notify(nxt) end
  else
    redis.call('LREM', f[2], 1, id)
  end
  redis.call('ZREM', P .. 'pending', id)
  redis.call('ZREM', P .. 'leases', id)
  redis.call('ZREM', P .. 'delayed', id)
  redis.call('HDEL', e, 'm', 'tok', 'until')
end
"""

# ARGV: prefix, now, then (channel, key, chat, payload) per delivery.
# Returns 1 (recorded) or 0 (duplicate) per delivery. The dedupe check and the record are one
# script: no key is ever claimed without its delivery, and a duplicate costs one call.
_ACCEPT = """
local now = ARGV[2]
local out = {}
for i = 3, #ARGV, 4 do
  local ch = ARGV[i]
  local dk = P .. 'k:' .. ch .. ':' .. ARGV[i + 1]
  if redis.call('EXISTS', dk) == 1 then
    out[#out + 1] = 0
  else
    local id = string.format('%d', redis.call('INCR', P .. 'seq'))
    local q = P .. 'q:' .. ch .. ':' .. ARGV[i + 2]
    redis.call('SET', dk, id)
    redis.call('HSET', P .. 'e:' .. id, 'd', ARGV[i + 3], 'ch', ch, 'dk', dk, 'q', q,
      'acc', now, 'n', 0)
    redis.call('ZADD', P .. 'pending', now, id)
    -- only a chat's head is announced; the others wait for their turn
    if redis.call('RPUSH', q, id) == 1 then notify(id) end
    out[#out + 1] = 1
  end
end
return out
"""

# ARGV: prefix, now, worker, limit, visibility (ms), token base, orphan idle (ms).
# Returns {id, payload, attempt, token, leased until, accepted at} per lease.
_LEASE = """
local now, worker, limit = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local vis, base, orphan = tonumber(ARGV[5]), ARGV[6], ARGV[7]
local out = {}
ensure_group()

local function take(id)
  local e = P .. 'e:' .. id
  local n = redis.call('HINCRBY', e, 'n', 1)
  local tok = base .. '.' .. (#out + 1)
  local untl = now + vis
  redis.call('HSET', e, 'tok', tok, 'until', untl, 'w', worker)
  redis.call('ZADD', P .. 'leases', untl, id)
  redis.call('ZREM', P .. 'delayed', id)
  local f = redis.call('HMGET', e, 'd', 'acc')
  out[#out + 1] = {id, f[1], n, tok, untl, tonumber(f[2])}
end

-- 1. Due retries and expired leases: their stream entry is still pending in the group;
--    XCLAIM moves it to this worker (so XPENDING shows who holds what) and resets its idle.
for _, set in ipairs({'delayed', 'leases'}) do
  if #out >= limit then break end
  local due = redis.call('ZRANGE', P .. set, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit - #out)
  for _, id in ipairs(due) do
    local m = redis.call('HGET', P .. 'e:' .. id, 'm')
    if m then
      redis.call('XCLAIM', S, G, worker, 0, m, 'JUSTID')
      take(id)
    else
      redis.call('ZREM', P .. set, id)
    end
  end
end

-- 2. New chat heads. An entry that no longer matches its delivery is stale: drop it.
while #out < limit do
  local r = redis.call('XREADGROUP', 'GROUP', G, worker, 'COUNT', limit - #out,
    'STREAMS', S, '>')
  if not r then break end
  for _, msg in ipairs(r[1][2]) do
    local id = msg[2][2]
    if id and redis.call('HGET', P .. 'e:' .. id, 'm') == msg[1] then
      take(id)
    else
      drop(msg[1])
    end
  end
end

-- 3. Orphans: entries read into the group but never leased (neither in `leases` nor in
--    `delayed`), idle for `orphan` ms. The cursor rotates through the pending list. An
--    entry that turns out to be leased or waiting for its retry goes back to its holder,
--    so XPENDING keeps showing who has what.
if #out < limit then
  local cursor = redis.call('GET', P .. 'sweep') or '0-0'
  local r = redis.call('XAUTOCLAIM', S, G, worker, orphan, cursor, 'COUNT', limit - #out)
  if r[1] ~= cursor then redis.call('SET', P .. 'sweep', r[1]) end
  for _, msg in ipairs(r[2]) do
    local id = msg[2] and msg[2][2]
    local f = id and redis.call('HMGET', P .. 'e:' .. id, 'm', 'w') or {}
    if f[1] ~= msg[1] then
      drop(msg[1])
    elseif redis.call('ZSCORE', P .. 'leases', id) or redis.call('ZSCORE', P .. 'delayed', id) then
      redis.call('XCLAIM', S, G, f[2] or worker, 0, msg[1], 'JUSTID')
    else
      take(id)
    end
  end
end

-- 4. At most once per `orphan` ms: forget consumers (worker names) that hold nothing and have
--    been idle that long, so restarts under new names do not pile up in the group.
if redis.call('SET', P .. 'tidy', '1', 'NX', 'PX', orphan) then
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', S, G)) do
    local info = {}
    for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
    if info['pending'] == 0 and info['idle'] >= tonumber(orphan) then
      redis.call('XGROUP', 'DELCONSUMER', S, G, info['name'])
    end
  end
end
return out
"""

# ARGV: prefix, now, id, token, visibility (ms). Returns the new expiry, or 0 (lease lost).
_EXTEND = """
local id, untl = ARGV[3], tonumber(ARGV[2]) + tonumber(ARGV[5])
if not held(id, ARGV[4]) then return 0 end
redis.call('HSET', P .. 'e:' .. id, 'until', untl)
redis.call('ZADD', P .. 'leases', untl, id)
return untl
"""

# ARGV: prefix, now, id, token, retain (ms), dedupe key. Returns 1, or 0 when the lease was
# lost. The delivery is deleted; its dedupe key is kept for `retain` to recognise late retries
# and says which lease completed it, so a repeated call (a client retrying after a dropped
# connection) still answers 1.
_COMPLETE = """
local id, done = ARGV[3], 'done:' .. ARGV[4]
if not held(id, ARGV[4]) then
  return redis.call('GET', ARGV[6]) == done and 1 or 0
end
detach(id)
redis.call('DEL', P .. 'e:' .. id)
redis.call('SET', ARGV[6], done, 'PX', ARGV[5])
return 1
"""

# ARGV: prefix, now, id, token, retry at (ms), error. Returns 1, or 0 when the lease was lost.
# The delivery stays the head of its chat (so the chat waits) and its stream entry stays
# pending; the lease script claims it again once the retry time has come.
_FAIL = """
local id = ARGV[3]
if not held(id, ARGV[4]) then return 0 end
redis.call('HSET', P .. 'e:' .. id, 'err', ARGV[6])
redis.call('HDEL', P .. 'e:' .. id, 'tok', 'until')
redis.call('ZREM', P .. 'leases', id)
redis.call('ZADD', P .. 'delayed', ARGV[5], id)
return 1
"""

# ARGV: prefix, now, id, token, error. Returns 1, or 0 when the lease was lost.
# The dedupe key keeps no TTL: a dead letter's key stays a duplicate until it is purged.
_DEAD_LETTER = """
local id = ARGV[3]
if not held(id, ARGV[4]) then return 0 end
local e = P .. 'e:' .. id
detach(id)
redis.call('HSET', e, 'err', ARGV[5], 'dead', ARGV[2])
redis.call('ZADD', P .. 'dead', ARGV[2], id)
redis.call('ZADD', P .. 'dead:' .. redis.call('HGET', e, 'ch'), ARGV[2], id)
return 1
"""

# ARGV: prefix, ids... Returns how many were dead letters. A replayed delivery goes to the
# END of its chat: it is handled after whatever the chat received meanwhile.
_REPLAY = """
local count = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local e = P .. 'e:' .. id
  if redis.call('ZREM', P .. 'dead', id) == 1 then
    local f = redis.call('HMGET', e, 'ch', 'q', 'acc')
    redis.call('ZREM', P .. 'dead:' .. f[1], id)
    redis.call('HSET', e, 'n', 0)
    redis.call('HDEL', e, 'dead')
    redis.call('ZADD', P .. 'pending', f[3], id)
    if redis.call('RPUSH', f[2], id) == 1 then notify(id) end
    count = count + 1
  end
end
return count
"""

# ARGV: prefix, retain (ms), ids... Returns how many dead letters were deleted. Their dedupe
# keys live on for `retain`, so a late retry of a purged event is still a duplicate.
_PURGE = """
local count = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local e = P .. 'e:' .. id
  if redis.call('ZREM', P .. 'dead', id) == 1 then
    local f = redis.call('HMGET', e, 'ch', 'dk')
    redis.call('ZREM', P .. 'dead:' .. f[1], id)
    redis.call('DEL', e)
    redis.call('PEXPIRE', f[2], ARGV[2])
    count = count + 1
  end
end
return count
"""

# ARGV: prefix, limit, channel or ''. Returns {id, payload, attempts, error, dead at,
# accepted at} per dead letter, oldest first.
_DEAD_LETTERS = """#!lua flags=no-writes
local P, limit, ch = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local set = P .. 'dead'
if ch ~= '' then set = set .. ':' .. ch end
local out = {}
for _, id in ipairs(redis.call('ZRANGE', set, 0, limit - 1)) do
  local f = redis.call('HMGET', P .. 'e:' .. id, 'd', 'n', 'err', 'dead', 'acc')
  if f[1] then
    out[#out + 1] = {id, f[1], tonumber(f[2]), f[3] or '', tonumber(f[4]), tonumber(f[5])}
  end
end
return out
"""

# ARGV: prefix, now. Returns {ready, scheduled, in flight, dead, oldest accept time or -1}.
_STATS = """#!lua flags=no-writes
local P, now = ARGV[1], ARGV[2]
local total = redis.call('ZCARD', P .. 'pending')
local flying = redis.call('ZCOUNT', P .. 'leases', '(' .. now, '+inf')
local later = redis.call('ZCOUNT', P .. 'delayed', '(' .. now, '+inf')
local oldest = redis.call('ZRANGE', P .. 'pending', 0, 0, 'WITHSCORES')
return {total - flying - later, later, flying, redis.call('ZCARD', P .. 'dead'),
  tonumber(oldest[2] or -1)}
"""


def _writer(body: str) -> str:
    # The shebang makes Redis refuse the whole script up front when memory is full, instead
    # of failing at its first write after earlier ones went through.
    return "#!lua\n" + _LIB + body


def _ms(when: datetime) -> int:
    return (ensure_utc(when) - _EPOCH) // timedelta(milliseconds=1)


def _ms_ceil(when: datetime) -> int:
    return -(-(ensure_utc(when) - _EPOCH) // timedelta(milliseconds=1))


def _at(ms: Any) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(ms))


def _text(value: bytes | str) -> str:
    return as_text(value) or ""


def _positive(what: str, value: timedelta) -> int:
    ms = milliseconds(value)
    if ms <= 0:
        raise InvalidInputError("redis inbox", [FieldError(what, "must be positive")])
    return ms


class RedisInbox:
    """Deliveries on Redis Streams with a consumer group; see the module docstring.

    :param client: a ``redis.asyncio.Redis`` (decoded responses or not).
    :param prefix: first part of every key, e.g. the application's name.
    :param namespace: second part, so several inboxes can share one prefix.
    :param retain: how long the key of a completed or purged delivery stays a duplicate.
    :param clock: the time for lease expiry, retry times and stats (default: system clock).
    :param orphan_after: how long a stream entry read but never leased waits before
        ``lease`` reclaims it (measured by Redis); also how long a worker name that holds
        nothing stays listed in the consumer group.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "ventros",
        namespace: str = "inbox",
        retain: timedelta = timedelta(days=7),
        clock: Clock | None = None,
        orphan_after: timedelta = timedelta(minutes=5),
    ) -> None:
        self._prefix = key_prefix(prefix, namespace)
        self._retain_ms = _positive("retain", retain)
        self._orphan_ms = _positive("orphan_after", orphan_after)
        self._clock = clock or SystemClock()
        scripts = {
            "accept": _writer(_ACCEPT),
            "lease": _writer(_LEASE),
            "extend": _writer(_EXTEND),
            "complete": _writer(_COMPLETE),
            "fail": _writer(_FAIL),
            "dead_letter": _writer(_DEAD_LETTER),
            "replay": _writer(_REPLAY),
            "purge": _writer(_PURGE),
            "dead_letters": _DEAD_LETTERS,
            "stats": _STATS,
        }
        self._scripts = {name: client.register_script(body) for name, body in scripts.items()}

    def __repr__(self) -> str:
        return f"RedisInbox(key_prefix={self._prefix!r})"

    @property
    def key_prefix(self) -> str:
        """The ``prefix:namespace:`` every key of this inbox starts with."""
        return self._prefix

    async def accept(self, deliveries: Sequence[Delivery]) -> AcceptResult:
        """Record the new deliveries and their dedupe keys in one atomic call."""
        if not deliveries:
            return AcceptResult(())
        args: list[Any] = [self._prefix, self._now()]
        for delivery in deliveries:
            payload = encode_delivery(delivery)
            args += [str(delivery.channel_id), delivery.key, delivery.ordering_key, payload]
        flags = await self._run("accept", args)
        accepted = tuple(d for d, flag in zip(deliveries, flags, strict=True) if int(flag))
        return AcceptResult(accepted, len(deliveries) - len(accepted))

    async def lease(self, worker: str, *, limit: int, visibility: timedelta) -> list[Leased]:
        """Hand up to ``limit`` chat heads to ``worker`` (retries and expired leases first)."""
        if not worker:
            raise InvalidInputError("redis inbox", [FieldError("worker", "must not be empty")])
        visibility_ms = _positive("visibility", visibility)
        if limit < 1:
            return []
        token_base = f"{worker}:{secrets.token_hex(8)}"
        rows = await self._run(
            "lease",
            [
                self._prefix,
                self._now(),
                worker,
                limit,
                visibility_ms,
                token_base,
                self._orphan_ms,
            ],
        )
        out: list[Leased] = []
        for entry_id, payload, attempt, token, until, accepted in rows:
            try:
                delivery = decode_delivery(payload)
            except InboxError as exc:
                await self._give_back(_text(entry_id), _text(token), exc, visibility)
                continue
            lease = Leased(
                _text(entry_id), delivery, int(attempt), _text(token), _at(until), _at(accepted)
            )
            out.append(lease)
        return out

    async def extend(self, leased: Leased, *, visibility: timedelta) -> Leased | None:
        """Move the lease's expiry to now + ``visibility``; ``None`` if it was lost."""
        visibility_ms = _positive("visibility", visibility)
        until = await self._run(
            "extend", [self._prefix, self._now(), leased.id, leased.token, visibility_ms]
        )
        return attrs.evolve(leased, leased_until=_at(until)) if int(until) else None

    async def complete(self, leased: Leased) -> bool:
        """Delete the delivery (its key stays a duplicate for ``retain``); next in chat is up.

        Repeating the call with the same lease answers ``True`` again.
        """
        dedupe_key = f"{self._prefix}k:{leased.delivery.channel_id}:{leased.delivery.key}"
        args = [self._prefix, self._now(), leased.id, leased.token, self._retain_ms, dedupe_key]
        return bool(await self._run("complete", args))

    async def fail(self, leased: Leased, *, error: str, retry_at: datetime) -> bool:
        """Give the delivery back until ``retry_at``; its chat waits for it."""
        args = [self._prefix, self._now(), leased.id, leased.token, _ms_ceil(retry_at), error]
        return bool(await self._run("fail", args))

    async def dead_letter(self, leased: Leased, *, error: str) -> bool:
        """Set the delivery aside with ``error``; the next delivery of its chat is up."""
        args = [self._prefix, self._now(), leased.id, leased.token, error]
        return bool(await self._run("dead_letter", args))

    async def dead_letters(
        self, *, limit: int = 100, channel_id: UUID | None = None
    ) -> list[DeadLetter]:
        """Dead letters, oldest first (of one channel when ``channel_id`` is given)."""
        if limit < 1:
            return []
        channel = "" if channel_id is None else str(channel_id)
        rows = await self._run("dead_letters", [self._prefix, limit, channel])
        return [
            DeadLetter(
                id=_text(entry_id),
                delivery=decode_delivery(payload),
                attempts=int(attempts),
                error=_text(error),
                failed_at=_at(dead_at),
                accepted_at=_at(accepted),
            )
            for entry_id, payload, attempts, error, dead_at, accepted in rows
        ]

    async def replay(self, ids: Sequence[str]) -> int:
        """Put dead letters back at the end of their chats, attempts from zero."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0
        return int(await self._run("replay", [self._prefix, *unique]))

    async def purge(self, ids: Sequence[str]) -> int:
        """Delete dead letters; their keys stay duplicates for ``retain``."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0
        return int(await self._run("purge", [self._prefix, self._retain_ms, *unique]))

    async def stats(self) -> InboxStats:
        """Counts by state and the oldest unhandled delivery's age, in one call."""
        now = self._now()
        ready, scheduled, in_flight, dead, oldest = await self._run("stats", [self._prefix, now])
        age = None if int(oldest) < 0 else timedelta(milliseconds=now - int(oldest))
        return InboxStats(int(ready), int(scheduled), int(in_flight), int(dead), age)

    # ------------------------------------------------------------------ internals

    async def _give_back(
        self, entry_id: str, token: str, exc: InboxError, visibility: timedelta
    ) -> None:
        # A record this process cannot read (damaged, or written by a newer version during a
        # rolling deploy) goes back for a later attempt instead of failing the whole batch.
        logger.warning("redis inbox: delivery %s given back: %s", entry_id, exc)
        retry_at = self._now() + milliseconds(visibility)
        await self._run("fail", [self._prefix, self._now(), entry_id, token, retry_at, str(exc)])

    def _now(self) -> int:
        return _ms(self._clock.now())

    async def _run(self, script: str, args: list[Any]) -> Any:
        with translate_inbox_errors(_WHAT):
            return await self._scripts[script](args=args)
