"""The contact alias store contract: behaviour every
:class:`~ventros_channels.contacts.ContactAliasStore` shows.

Subclass :class:`ContactAliasStoreContract` and provide the ``store`` fixture (it may be
async). Every test uses channels of its own.
"""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from ventros_channels.contacts import ContactAliasStore
from ventros_channels.errors import InvalidInputError
from ventros_channels.testing.contract._clock import TimedContract

__all__ = ["ContactAliasStoreContract"]

TENANT = "contract-tenant"
PHONE = "5500000000001@c.us"
LID = "100000000000001@lid"


class ContactAliasStoreContract(TimedContract):
    """Linking, lookup both ways, merging, scoping. See the module docstring."""

    @pytest.fixture
    def store(self) -> ContactAliasStore:
        raise NotImplementedError("override the 'store' fixture")

    async def test_linked_ids_are_found_from_either_side(self, store: ContactAliasStore) -> None:
        channel = uuid4()
        group = await store.link([PHONE, LID], tenant_id=TENANT, channel_id=channel)
        assert group.aliases == {PHONE, LID}
        by_phone = await store.find(PHONE, tenant_id=TENANT, channel_id=channel)
        by_lid = await store.find(LID, tenant_id=TENANT, channel_id=channel)
        assert by_phone == by_lid == group
        assert await store.find("unknown", tenant_id=TENANT, channel_id=channel) is None

    async def test_linking_again_changes_nothing(self, store: ContactAliasStore) -> None:
        channel = uuid4()
        first = await store.link([PHONE, LID], tenant_id=TENANT, channel_id=channel)
        again = await store.link([LID, PHONE, LID], tenant_id=TENANT, channel_id=channel)
        assert again == first
        assert await store.link([LID], tenant_id=TENANT, channel_id=channel) == first

    async def test_a_shared_id_merges_two_groups(self, store: ContactAliasStore) -> None:
        channel = uuid4()
        one = await store.link(["a", "b"], tenant_id=TENANT, channel_id=channel)
        two = await store.link(["c", "d"], tenant_id=TENANT, channel_id=channel)
        assert one.group_id != two.group_id
        merged = await store.link(["b", "c", "e"], tenant_id=TENANT, channel_id=channel)
        assert merged.aliases == {"a", "b", "c", "d", "e"}
        assert merged.group_id == min(one.group_id, two.group_id)
        for alias in "ade":
            assert await store.find(alias, tenant_id=TENANT, channel_id=channel) == merged

    async def test_groups_stay_in_their_tenant_and_channel(self, store: ContactAliasStore) -> None:
        channel, other_channel = uuid4(), uuid4()
        await store.link([PHONE, LID], tenant_id=TENANT, channel_id=channel)
        assert await store.find(PHONE, tenant_id="someone-else", channel_id=channel) is None
        assert await store.find(PHONE, tenant_id=TENANT, channel_id=other_channel) is None
        separate = await store.link([PHONE, "x"], tenant_id=TENANT, channel_id=other_channel)
        assert separate.aliases == {PHONE, "x"}
        mine = await store.find(PHONE, tenant_id=TENANT, channel_id=channel)
        assert mine is not None
        assert mine.aliases == {PHONE, LID}

    async def test_concurrent_links_through_one_id_end_in_one_group(
        self, store: ContactAliasStore
    ) -> None:
        channel = uuid4()
        pairs = [[f"id-{n}", f"id-{n + 1}"] for n in range(8)]
        await asyncio.gather(
            *(store.link(pair, tenant_id=TENANT, channel_id=channel) for pair in pairs)
        )
        group = await store.find("id-0", tenant_id=TENANT, channel_id=channel)
        assert group is not None
        assert group.aliases == {f"id-{n}" for n in range(9)}

    async def test_bad_ids_are_refused(self, store: ContactAliasStore) -> None:
        channel = uuid4()
        for bad in ([], ["  "], ["x" * 600]):
            with pytest.raises(InvalidInputError):
                await store.link(bad, tenant_id=TENANT, channel_id=channel)
