"""A durable :class:`~ventros_channels.inbox.Inbox` on SQLAlchemy 2 (async): PostgreSQL and SQLite.

One row per delivery in one table (``channel_inbox``, see :func:`build_inbox_table`):

* **accept** is one ``INSERT ... ON CONFLICT (channel_id, idem_key) DO NOTHING RETURNING``
  for the whole batch. The unique key is the deduplication, so recording and deduplicating
  are one atomic statement: there is no moment where a key is claimed and nothing recorded.
* **lease** picks, per chat, only its head (the lowest id still ``ready``) when that head is
  due and not leased, and when no other row of the chat is leased; one ``UPDATE`` stamps a
  fresh token and ``leased_until`` on the picked rows. On PostgreSQL the pick takes row locks
  with ``FOR UPDATE SKIP LOCKED`` so concurrent workers never wait on each other; the head
  condition reads the chat's ready rows directly and does not depend on those locks, so a
  worker never mistakes a locked head's successor for the head. SQLite runs writers one at a
  time, and the statement takes the write lock before it reads. The first statement looks
  only at the oldest ready rows; when it finds fewer than asked, a second one walks the chats
  (one index probe per chat with ready rows), so a long backlog in a busy chat never makes
  workers scan that backlog on every call.
* **complete / fail / dead_letter / extend** are single ``UPDATE`` statements guarded by the
  lease token: a worker whose lease ran out and was taken over changes nothing.
* handled rows stay as ``done`` (without their payload) for ``retain``, so a platform's late
  retry is still a duplicate; :meth:`SqlInbox.prune` deletes them afterwards.

Times come from the injected clock (the database's clock is never read), so every process
sharing an inbox should keep its clock in sync (NTP); a skew only shifts when expired
leases and retries become due.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels.clock import Clock, SystemClock
from ventros_channels.errors import InboxError, InboxUnavailableError
from ventros_channels.inbox._model import (
    AcceptResult,
    DeadLetter,
    Delivery,
    InboxStats,
    Leased,
    decode_delivery,
    encode_delivery,
)
from ventros_channels.sql._errors import translate_errors
from ventros_channels.sql._schema import UTCDateTime, build_inbox_table

__all__ = ["SqlInbox"]

logger = logging.getLogger("ventros_channels.sql.inbox")


_WINDOW = 256
"""Oldest ready rows the first lease statement looks at (see ``lease_statement``)."""
_UNREADABLE = "stored delivery cannot be read"
_REPLAY_COLUMNS = (
    "id",
    "channel_id",
    "idem_key",
    "ordering_key",
    "payload",
    "last_error",
    "accepted_at",
)


def _state(name: str) -> sa.ColumnElement[Any]:
    """A state as a SQL literal, so the planner can match the partial indexes' predicates."""
    return sa.literal_column(f"'{name}'")


READY, DONE, DEAD = _state("ready"), _state("done"), _state("dead")


class SqlInbox:
    """Inbox on a host-provided :class:`AsyncEngine` (PostgreSQL or SQLite).

    :param engine: the host's engine (for example from :func:`~ventros_channels.sql.create_engine`);
        the inbox neither creates nor disposes it.
    :param schema: PostgreSQL schema (or SQLite attached database) holding the table.
    :param table_name: name of the table (``channel_inbox``).
    :param clock: the time source for leases, retries and retention.
    :param retain: how long a handled delivery's key is remembered (a late platform retry
        within this period is a duplicate). Call :meth:`prune` periodically to delete older
        rows; until then they keep counting as duplicates.

    Create the table with :meth:`create_schema` or the PostgreSQL migration shipped in
    ``ventros_channels/sql/migrations``. Database failures raise
    :class:`~ventros_channels.errors.InboxUnavailableError` (connection refused, lost, timed out,
    locked: nothing was recorded, answer 503) or :class:`~ventros_channels.errors.InboxError`.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        schema: str | None = None,
        table_name: str = "channel_inbox",
        clock: Clock | None = None,
        retain: timedelta = timedelta(days=7),
    ) -> None:
        _check_dialect(engine)
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        # On PostgreSQL every operation but replay is one statement, atomic on its own:
        # autocommit saves the BEGIN and COMMIT round trips. SQLite keeps its default mode.
        self._single = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self._postgres else engine
        )
        self._schema = schema
        self._clock = clock or SystemClock()
        self._retain = retain
        self._metadata = sa.MetaData(schema=schema)
        self._table = build_inbox_table(self._metadata, table_name)
        insert = pg_dialect.insert if self._postgres else sqlite_dialect.insert
        t = self._table
        self._accept = (
            insert(t)
            .on_conflict_do_nothing(index_elements=[t.c.channel_id, t.c.idem_key])
            .returning(t.c.channel_id, t.c.idem_key)
        )
        self._lease = {flag: self._build_lease(by_chat=flag) for flag in (False, True)}

    def __repr__(self) -> str:
        return f"SqlInbox({self._engine.dialect.name}, table={self._table.fullname!r})"

    @property
    def engine(self) -> AsyncEngine:
        """The engine the inbox runs on."""
        return self._engine

    @property
    def table(self) -> sa.Table:
        """The SQLAlchemy table (for hosts' own reporting queries and migrations)."""
        return self._table

    # ---------------------------------------------------------------- schema

    async def create_schema(self) -> None:
        """Create the schema (PostgreSQL), the table and its indexes if missing. Idempotent."""
        with _translate_errors():
            async with self._engine.begin() as conn:
                if self._postgres and self._schema:
                    await conn.execute(sa.schema.CreateSchema(self._schema, if_not_exists=True))
                await conn.run_sync(self._metadata.create_all)

    async def drop_schema(self) -> None:
        """Drop the table and its indexes (not the PostgreSQL schema itself)."""
        with _translate_errors():
            async with self._engine.begin() as conn:
                await conn.run_sync(self._metadata.drop_all)

    # ---------------------------------------------------------------- accept

    def _row(self, delivery: Delivery, now: datetime) -> dict[str, Any]:
        return {
            "channel_id": delivery.channel_id,
            "idem_key": delivery.key,
            "ordering_key": delivery.ordering_key,
            "state": "ready",
            "payload": encode_delivery(delivery).decode("utf-8"),
            "attempts": 0,
            "available_at": now,
            "accepted_at": now,
        }

    def accept_statement(self) -> Any:
        """The ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` behind :meth:`accept`.

        Executed with a list of rows: SQLAlchemy sends them as one multi-row statement
        ("insertmanyvalues"), and the statement itself is compiled once and cached.
        """
        return self._accept

    async def accept(self, deliveries: Sequence[Delivery]) -> AcceptResult:
        """Record the deliveries whose key is new for their channel, in one transaction.

        A key seen twice in ``deliveries`` is recorded once (the first); the others count as
        duplicates. Raises :class:`~ventros_channels.errors.WebhookPayloadError` (nothing recorded)
        when an event cannot be serialized.
        """
        now = self._clock.now()
        unique: dict[tuple[UUID, str], Delivery] = {}
        for delivery in deliveries:
            unique.setdefault((delivery.channel_id, delivery.key), delivery)
        if not unique:
            return AcceptResult((), len(deliveries))
        rows = [self._row(d, now) for d in unique.values()]
        # up to one page of rows is one statement, atomic on its own; more need a transaction
        one_statement = len(rows) <= self._engine.dialect.insertmanyvalues_page_size
        engine = self._single if one_statement else self._engine
        with _translate_errors():
            async with engine.begin() as conn:
                result = await conn.execute(self._accept, rows)
                inserted = {(r[0], r[1]) for r in result}
        accepted = tuple(d for key, d in unique.items() if key in inserted)
        return AcceptResult(accepted, len(deliveries) - len(accepted))

    # ---------------------------------------------------------------- lease

    def lease_statement(
        self, limit: int, now: datetime, until: datetime, token: str, *, by_chat: bool = False
    ) -> Any:
        """One of the two statements behind :meth:`lease`, with its values (for EXPLAIN)."""
        return self._build_lease(
            by_chat=by_chat, values=self._lease_params(limit, now, until, token)
        )

    @staticmethod
    def _lease_params(limit: int, now: datetime, until: datetime, token: str) -> dict[str, Any]:
        return {
            "lease_limit": limit,
            "lease_now": now,
            "lease_until": until,
            "lease_token_value": token,
            "lease_window": _WINDOW - 1,
        }

    def _build_lease(self, *, by_chat: bool, values: dict[str, Any] | None = None) -> Any:
        """One of the two statements behind :meth:`lease`, built once with bound parameters.

        The first (``by_chat=False``) looks at the oldest ready rows only, in id order: the
        common case, cheap whatever the backlog. The second walks the chats instead, one index
        probe per chat with ready rows, and finds the heads the first missed because a long
        backlog of chats that are busy (or waiting for a retry) came before them.
        """
        t = self._table
        types: dict[str, Any] = {
            "lease_limit": sa.Integer(),
            "lease_now": UTCDateTime(),
            "lease_until": UTCDateTime(),
            "lease_token_value": sa.Text(),
            "lease_window": sa.Integer(),
        }
        bound = {
            name: sa.bindparam(name, None if values is None else values[name], type_=kind)
            for name, kind in types.items()
        }
        at_now, limit = bound["lease_now"], bound["lease_limit"]
        due = (
            t.c.state == READY,
            t.c.available_at <= at_now,
            sa.or_(t.c.leased_until.is_(None), t.c.leased_until <= at_now),
            ~self._earlier_ready(t).exists(),
            ~self._chat_busy(t, at_now).exists(),
        )
        query = sa.select(t.c.id).where(*due)
        if by_chat:
            query = query.where(t.c.id.in_(self._due_heads(limit, at_now)))
        else:
            window = self._oldest_ready(t, bound["lease_window"])
            query = query.where(window).order_by(t.c.id).limit(limit)
        picked = query.with_for_update(skip_locked=True, of=t).cte("picked")
        return (
            sa.update(t)
            .where(t.c.id == picked.prefix_with("MATERIALIZED").c.id)
            .values(
                attempts=t.c.attempts + 1,
                lease_token=bound["lease_token_value"],
                leased_until=bound["lease_until"],
            )
            .returning(t.c.id, t.c.payload, t.c.attempts, t.c.accepted_at)
        )

    def _earlier_ready(self, row: Any) -> sa.Select[Any]:
        """An earlier ready row of ``row``'s chat (a range probe of the chat index)."""
        other = self._table.alias("earlier")
        return sa.select(sa.literal_column("1")).where(
            other.c.channel_id == row.c.channel_id,
            other.c.ordering_key == row.c.ordering_key,
            other.c.state == READY,
            other.c.id < row.c.id,
        )

    def _chat_busy(self, row: Any, at_now: sa.ColumnElement[Any]) -> sa.Select[Any]:
        """Another row of ``row``'s chat under a live lease (a probe of the "held" index).

        A later row can be leased while an earlier one is not yet visible, when concurrent
        accepts commit out of id order; the chat must still run one event at a time.
        """
        other = self._table.alias("held")
        return sa.select(sa.literal_column("1")).where(
            other.c.channel_id == row.c.channel_id,
            other.c.ordering_key == row.c.ordering_key,
            other.c.state == READY,
            other.c.leased_until.is_not(None),
            other.c.leased_until > at_now,
            other.c.id != row.c.id,
        )

    def _oldest_ready(self, t: sa.Table, window: sa.BindParameter[Any]) -> sa.ColumnElement[bool]:
        """``id`` within the ``_WINDOW`` oldest ready rows (all of them when fewer)."""
        ready = t.alias("ready")
        last = (
            sa.select(ready.c.id)
            .where(ready.c.state == READY)
            .order_by(ready.c.id)
            .offset(window)
            .limit(1)
            .scalar_subquery()
        )
        return t.c.id <= sa.func.coalesce(last, sa.literal_column(str(2**63 - 1)))

    def _due_heads(
        self, limit: sa.BindParameter[Any], at_now: sa.ColumnElement[Any]
    ) -> sa.Select[Any]:
        """Ids of the ``limit`` oldest chat heads that are due, walking the chat index.

        A recursive query visits each chat with ready rows once (its first row in index
        order is its head) and carries the columns the due test needs, so choosing among the
        heads never scans the ready rows themselves.
        """
        t = self._table
        x, n = t.alias("x"), t.alias("n")
        columns = ("id", "channel_id", "ordering_key", "available_at", "leased_until")
        first = (
            sa.select(*(x.c[c] for c in columns))
            .where(x.c.state == READY)
            .order_by(x.c.channel_id, x.c.ordering_key, x.c.id)
            .limit(1)
            .subquery("first")
        )
        heads = sa.select(*(first.c[c] for c in columns)).cte("heads", recursive=True)
        h = heads.alias("h")
        following = (
            sa.select(x.c.id)
            .where(
                x.c.state == READY,
                sa.tuple_(x.c.channel_id, x.c.ordering_key)
                > sa.tuple_(h.c.channel_id, h.c.ordering_key),
            )
            .order_by(x.c.channel_id, x.c.ordering_key, x.c.id)
            .limit(1)
            .scalar_subquery()
        )
        heads = heads.union_all(
            sa.select(*(n.c[c] for c in columns)).select_from(h.join(n, n.c.id == following))
        )
        return (
            sa.select(heads.c.id)
            .where(
                heads.c.available_at <= at_now,
                sa.or_(heads.c.leased_until.is_(None), heads.c.leased_until <= at_now),
                ~self._chat_busy(heads, at_now).exists(),
            )
            .order_by(heads.c.id)
            .limit(limit)
        )

    async def lease(self, worker: str, *, limit: int, visibility: timedelta) -> list[Leased]:
        """Hand up to ``limit`` deliveries (at most one per chat) to ``worker``, oldest first.

        A row whose stored form cannot be read is dead-lettered instead of handed out, so one
        damaged row never stops the workers.
        """
        if limit < 1:
            return []
        now = self._clock.now()
        until = now + visibility
        token = f"{worker}:{secrets.token_hex(8)}"
        rows: list[sa.Row[Any]] = []
        with _translate_errors():
            async with self._single.connect() as conn:  # one checkout for both statements
                for by_chat in (False, True):
                    params = self._lease_params(limit - len(rows), now, until, token)
                    rows.extend((await conn.execute(self._lease[by_chat], params)).all())
                    await conn.commit()
                    if len(rows) >= limit:
                        break
        out: list[Leased] = []
        broken: list[int] = []
        for row in sorted(rows, key=lambda r: int(r.id)):
            try:
                delivery = decode_delivery(row.payload or "")
            except InboxError:
                broken.append(int(row.id))
                continue
            out.append(Leased(str(row.id), delivery, row.attempts, token, until, row.accepted_at))
        if broken:
            await self._bury(broken, token, now)
        return out

    async def _bury(self, ids: list[int], token: str, now: datetime) -> None:
        logger.error("inbox rows %s cannot be read; they are dead-lettered", ids)
        t = self._table
        stmt = (
            sa.update(t)
            .where(t.c.id.in_(ids), t.c.lease_token == token)
            .values(
                state="dead",
                lease_token=None,
                leased_until=None,
                last_error=_UNREADABLE,
                finished_at=now,
            )
        )
        with _translate_errors():
            async with self._single.begin() as conn:
                await conn.execute(stmt)

    # ---------------------------------------------------------------- settle

    def _held(self, leased: Leased) -> tuple[sa.ColumnElement[bool], ...] | None:
        """Conditions matching the row only while ``leased``'s token still holds it."""
        row_id = _row_id(leased.id)
        if row_id is None:
            return None
        t = self._table
        return (t.c.id == row_id, t.c.state == READY, t.c.lease_token == leased.token)

    async def _settle(self, leased: Leased, **values: Any) -> bool:
        held = self._held(leased)
        if held is None:
            return False
        stmt = sa.update(self._table).where(*held).values(**values)
        with _translate_errors():
            async with self._single.begin() as conn:
                return (await conn.execute(stmt)).rowcount == 1

    async def extend(self, leased: Leased, *, visibility: timedelta) -> Leased | None:
        """Renew a lease still held; ``None`` when it was lost."""
        until = self._clock.now() + visibility
        if not await self._settle(leased, leased_until=until):
            return None
        return attrs.evolve(leased, leased_until=until)

    async def complete(self, leased: Leased) -> bool:
        """Mark handled; the row stays (without payload) for the retention period."""
        return await self._settle(
            leased,
            state="done",
            payload=None,
            lease_token=None,
            leased_until=None,
            finished_at=self._clock.now(),
        )

    async def fail(self, leased: Leased, *, error: str, retry_at: datetime) -> bool:
        """Give the delivery back, due again at ``retry_at``; its chat waits for it."""
        return await self._settle(
            leased,
            lease_token=None,
            leased_until=None,
            available_at=retry_at,
            last_error=error,
        )

    async def dead_letter(self, leased: Leased, *, error: str) -> bool:
        """Set the delivery aside (its key stays a duplicate); its chat moves on."""
        return await self._settle(
            leased,
            state="dead",
            lease_token=None,
            leased_until=None,
            last_error=error,
            finished_at=self._clock.now(),
        )

    # ---------------------------------------------------------------- dead letters

    async def dead_letters(
        self, *, limit: int = 100, channel_id: UUID | None = None
    ) -> list[DeadLetter]:
        """Dead letters, oldest first (rows whose stored form is damaged are logged, skipped)."""
        t = self._table
        stmt = sa.select(t).where(t.c.state == DEAD).order_by(t.c.id).limit(limit)
        if channel_id is not None:
            stmt = stmt.where(t.c.channel_id == channel_id)
        with _translate_errors():
            async with self._single.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        letters = []
        for row in rows:
            try:
                delivery = decode_delivery(row.payload or "")
            except InboxError:
                logger.error("dead letter %s cannot be read; skipped", row.id)
                continue
            failed_at = row.finished_at or row.accepted_at
            letters.append(
                DeadLetter(
                    str(row.id),
                    delivery,
                    row.attempts,
                    row.last_error or "",
                    failed_at,
                    row.accepted_at,
                )
            )
        return letters

    async def replay(self, ids: Sequence[str]) -> int:
        """Make dead letters ready again, with attempts starting over; returns how many.

        A replayed delivery goes to the back of its chat (it gets a new id), so it never
        overtakes, or runs beside, a later event of the chat that is already in flight.
        """
        wanted = _row_ids(ids)
        if not wanted:
            return 0
        t = self._table
        now = self._clock.now()
        take = (
            sa.delete(t)
            .where(t.c.id.in_(wanted), t.c.state == DEAD)
            .returning(*(t.c[name] for name in _REPLAY_COLUMNS))
        )
        with _translate_errors():
            async with self._engine.begin() as conn:
                taken = sorted((await conn.execute(take)).all(), key=lambda r: int(r.id))
                if taken:
                    await conn.execute(sa.insert(t), [_replayed(row, now) for row in taken])
        return len(taken)

    async def purge(self, ids: Sequence[str]) -> int:
        """Drop dead letters; their keys stay duplicates for the retention period."""
        wanted = _row_ids(ids)
        if not wanted:
            return 0
        t = self._table
        stmt = (
            sa.update(t)
            .where(t.c.id.in_(wanted), t.c.state == DEAD)
            .values(state="done", payload=None, finished_at=self._clock.now())
        )
        with _translate_errors():
            async with self._single.begin() as conn:
                purged: int = (await conn.execute(stmt)).rowcount
        return purged

    # ---------------------------------------------------------------- upkeep

    async def prune(self, *, limit: int = 10_000) -> int:
        """Delete up to ``limit`` handled rows older than the retention period; returns how many.

        Cheap enough to call every minute or so from a worker or a scheduled job (an index
        holds the handled rows by age); call it until it returns less than ``limit`` to
        catch up after a pause. Until a row is pruned its key stays a duplicate.
        """
        t = self._table
        cutoff = sa.literal(self._clock.now() - self._retain, UTCDateTime())
        old = (
            sa.select(t.c.id)
            .where(t.c.state == DONE, t.c.finished_at < cutoff)
            .order_by(t.c.finished_at)
            .limit(limit)
        )
        stmt = sa.delete(t).where(t.c.id.in_(old.scalar_subquery()), t.c.state == DONE)
        with _translate_errors():
            async with self._single.begin() as conn:
                pruned: int = (await conn.execute(stmt)).rowcount
        return pruned

    async def stats(self) -> InboxStats:
        """Counts by state and the age of the oldest unhandled row, in one query."""
        t = self._table
        now = self._clock.now()
        at_now = sa.literal(now, UTCDateTime())
        held = sa.and_(t.c.leased_until.is_not(None), t.c.leased_until > at_now)
        free = sa.or_(t.c.leased_until.is_(None), t.c.leased_until <= at_now)
        waiting = (
            sa.select(
                sa.func.count().filter(free, t.c.available_at <= at_now).label("ready"),
                sa.func.count().filter(free, t.c.available_at > at_now).label("scheduled"),
                sa.func.count().filter(held).label("in_flight"),
                sa.func.min(t.c.accepted_at).label("oldest"),
            )
            .where(t.c.state == READY)
            .subquery("waiting")
        )
        dead = sa.select(sa.func.count()).where(t.c.state == DEAD).scalar_subquery()
        stmt = sa.select(
            waiting.c.ready, waiting.c.scheduled, waiting.c.in_flight, waiting.c.oldest, dead
        )
        with _translate_errors():
            async with self._single.connect() as conn:
                row = (await conn.execute(stmt)).one()
        oldest = _as_utc(row[3])
        age = None if oldest is None else max(now - oldest, timedelta(0))
        return InboxStats(int(row[0]), int(row[1]), int(row[2]), int(row[4]), age)


# -------------------------------------------------------------------- helpers


def _check_dialect(engine: AsyncEngine) -> None:
    """PostgreSQL, or SQLite 3.35+ (``RETURNING``); anything else is refused up front."""
    name = engine.dialect.name
    if name == "postgresql":
        return
    if name != "sqlite":
        raise InboxError(f"SqlInbox runs on PostgreSQL or SQLite, not {name}")
    if sqlite3.sqlite_version_info < (3, 35):
        raise InboxError(f"SqlInbox needs SQLite 3.35 or newer, found {sqlite3.sqlite_version}")


def _row_id(value: str) -> int | None:
    """The row id behind a lease or dead-letter id; ``None`` for anything else."""
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def _row_ids(values: Sequence[str]) -> list[int]:
    ids = (_row_id(v) for v in values)
    return sorted({i for i in ids if i is not None})


def _replayed(row: sa.Row[Any], now: datetime) -> dict[str, Any]:
    return {
        "channel_id": row.channel_id,
        "idem_key": row.idem_key,
        "ordering_key": row.ordering_key,
        "state": "ready",
        "payload": row.payload,
        "attempts": 0,
        "available_at": now,
        "last_error": row.last_error,
        "accepted_at": row.accepted_at,
    }


def _as_utc(value: Any) -> datetime | None:
    """An aggregate over a UTC column: typed on PostgreSQL, plain text on SQLite."""
    if value is None:
        return None
    return UTCDateTime().process_result_value(value, sqlite_dialect.dialect())


def _translate_errors() -> AbstractContextManager[None]:
    return translate_errors("inbox store", InboxUnavailableError, InboxError)
