"""The dedupe-store contract: behaviour every :class:`~ventros_channels.DedupeStore` shows.

Subclass :class:`DedupeStoreContract` in a test module and provide the ``store`` fixture
(it may be async)::

    class TestMyStore(DedupeStoreContract):
        @pytest.fixture
        async def store(self) -> AsyncIterator[MyStore]:
            yield MyStore(...)

Leases and retention periods are let run out through the ``advance`` fixture: by default it
sleeps for real (the kit uses leases of a fraction of a second), a store on an injected clock
overrides it to move the clock instead. Each test uses its own keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import ClassVar
from uuid import uuid4

import pytest

from ventros_channels.dedupe import ClaimStatus, DedupeStore

__all__ = ["Advance", "DedupeStoreContract"]

Advance = Callable[[timedelta], Awaitable[None]]
"""Makes at least the given time pass, as the store under test sees it."""

LONG = timedelta(minutes=10)


def _key(label: str) -> str:
    return f"contract:{label}:{uuid4().hex}"


class DedupeStoreContract:
    """Claim / complete / release semantics. See the module docstring."""

    short: ClassVar[timedelta] = timedelta(milliseconds=200)
    """Lease and retention used by the expiry tests."""
    concurrent_claims: ClassVar[int] = 50

    @pytest.fixture
    def store(self) -> DedupeStore:
        raise NotImplementedError("override the 'store' fixture")

    @pytest.fixture
    def advance(self) -> Advance:
        """Let time pass; the default sleeps for real."""

        async def sleep(delta: timedelta) -> None:
            await asyncio.sleep(delta.total_seconds())

        return sleep

    async def _expire(self, advance: Advance) -> None:
        await advance(self.short * 2 + timedelta(milliseconds=50))

    async def test_implements_the_protocol(self, store: DedupeStore) -> None:
        assert isinstance(store, DedupeStore)

    async def test_first_claim_is_claimed_with_a_token(self, store: DedupeStore) -> None:
        claim = await store.claim(_key("first"), lease=LONG)
        assert claim.status is ClaimStatus.CLAIMED
        assert claim.acquired
        assert claim.token

    async def test_second_claim_while_held_is_in_progress(self, store: DedupeStore) -> None:
        key = _key("held")
        await store.claim(key, lease=LONG)
        again = await store.claim(key, lease=LONG)
        assert again.status is ClaimStatus.IN_PROGRESS
        assert again.token is None

    async def test_completed_key_is_done(self, store: DedupeStore) -> None:
        key = _key("done")
        claim = await store.claim(key, lease=LONG)
        assert claim.token is not None
        await store.complete(key, claim.token, retain=LONG)
        for _ in range(2):
            again = await store.claim(key, lease=LONG)
            assert again.status is ClaimStatus.DONE
            assert again.token is None

    async def test_tokens_differ_between_claims(self, store: DedupeStore) -> None:
        a = await store.claim(_key("a"), lease=LONG)
        b = await store.claim(_key("b"), lease=LONG)
        assert a.token != b.token

    async def test_keys_are_independent(self, store: DedupeStore) -> None:
        key = _key("one")
        claim = await store.claim(key, lease=LONG)
        assert claim.token is not None
        await store.complete(key, claim.token, retain=LONG)
        other = await store.claim(key + "-other", lease=LONG)
        assert other.status is ClaimStatus.CLAIMED

    async def test_expired_lease_can_be_claimed_again(
        self, store: DedupeStore, advance: Advance
    ) -> None:
        key = _key("lease")
        first = await store.claim(key, lease=self.short)
        await self._expire(advance)
        second = await store.claim(key, lease=LONG)
        assert second.status is ClaimStatus.CLAIMED
        assert second.token is not None
        assert second.token != first.token

    async def test_stale_owner_cannot_complete_or_release_a_reclaimed_key(
        self, store: DedupeStore, advance: Advance
    ) -> None:
        key = _key("stale")
        first = await store.claim(key, lease=self.short)
        assert first.token is not None
        await self._expire(advance)
        second = await store.claim(key, lease=LONG)
        assert second.token is not None
        await store.complete(key, first.token, retain=LONG)
        await store.release(key, first.token)
        assert (await store.claim(key, lease=LONG)).status is ClaimStatus.IN_PROGRESS
        await store.complete(key, second.token, retain=LONG)
        assert (await store.claim(key, lease=LONG)).status is ClaimStatus.DONE

    async def test_done_is_forgotten_after_retain(
        self, store: DedupeStore, advance: Advance
    ) -> None:
        key = _key("retain")
        claim = await store.claim(key, lease=LONG)
        assert claim.token is not None
        await store.complete(key, claim.token, retain=self.short)
        await self._expire(advance)
        assert (await store.claim(key, lease=LONG)).status is ClaimStatus.CLAIMED

    async def test_release_lets_a_retry_claim(self, store: DedupeStore) -> None:
        key = _key("release")
        claim = await store.claim(key, lease=LONG)
        assert claim.token is not None
        await store.release(key, claim.token)
        retry = await store.claim(key, lease=LONG)
        assert retry.status is ClaimStatus.CLAIMED
        assert retry.token != claim.token

    async def test_foreign_token_cannot_complete(self, store: DedupeStore) -> None:
        key = _key("foreign-complete")
        claim = await store.claim(key, lease=LONG)
        assert claim.token is not None
        await store.complete(key, claim.token + "-not-mine", retain=LONG)
        assert (await store.claim(key, lease=LONG)).status is ClaimStatus.IN_PROGRESS
        await store.release(key, claim.token)  # the owner still holds it
        assert (await store.claim(key, lease=LONG)).status is ClaimStatus.CLAIMED

    async def test_foreign_token_cannot_release(self, store: DedupeStore) -> None:
        key = _key("foreign-release")
        claim = await store.claim(key, lease=LONG)
        assert claim.token is not None
        await store.release(key, claim.token + "-not-mine")
        assert (await store.claim(key, lease=LONG)).status is ClaimStatus.IN_PROGRESS

    async def test_release_after_complete_keeps_it_done(self, store: DedupeStore) -> None:
        key = _key("complete-release")
        claim = await store.claim(key, lease=LONG)
        assert claim.token is not None
        await store.complete(key, claim.token, retain=LONG)
        await store.release(key, claim.token)
        assert (await store.claim(key, lease=LONG)).status is ClaimStatus.DONE

    async def test_complete_and_release_of_unknown_keys_are_no_ops(
        self, store: DedupeStore
    ) -> None:
        key = _key("unknown")
        await store.complete(key, "no-such-token", retain=LONG)
        await store.release(key, "no-such-token")
        assert (await store.claim(key, lease=LONG)).status is ClaimStatus.CLAIMED

    async def test_concurrent_claims_of_one_key_have_one_winner(self, store: DedupeStore) -> None:
        key = _key("race")
        claims = await asyncio.gather(
            *(store.claim(key, lease=LONG) for _ in range(self.concurrent_claims))
        )
        statuses = [c.status for c in claims]
        assert statuses.count(ClaimStatus.CLAIMED) == 1
        assert statuses.count(ClaimStatus.IN_PROGRESS) == self.concurrent_claims - 1
