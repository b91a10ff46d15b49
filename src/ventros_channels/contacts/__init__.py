"""Contacts: the platform ids that belong to one person on a channel.

Platforms name one person several ways: WhatsApp by phone JID and by ``@lid``, Telegram by
user id and username, Meta by page-scoped id. Inbound events carry the sender's other ids in
``sender_aliases``; the service links them in a :class:`ContactAliasStore` as events are
handled, so a host can find a person by any of their ids.
"""

from ventros_channels.contacts._port import AliasGroup, ContactAliasStore
from ventros_channels.contacts.memory import InMemoryContactAliasStore

__all__ = ["AliasGroup", "ContactAliasStore", "InMemoryContactAliasStore"]
