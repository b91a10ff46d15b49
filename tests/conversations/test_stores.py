"""The in-memory conversation and contact alias stores pass their contracts."""

from __future__ import annotations

import pytest

from ventros_channels.contacts import InMemoryContactAliasStore
from ventros_channels.conversations import InMemoryConversationStore
from ventros_channels.testing.contract import ContactAliasStoreContract, ConversationStoreContract


class TestInMemoryConversationStore(ConversationStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryConversationStore:
        return InMemoryConversationStore()


class TestInMemoryContactAliasStore(ContactAliasStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryContactAliasStore:
        return InMemoryContactAliasStore()
