"""Conversations: one per channel and chat, with the seed's sessions and the times of the last
inbound and outbound messages (what messaging windows are computed from).

The service keeps them up to date from inbound events (in the worker, before the host's
handler) and from its own sends, when it is given a :class:`ConversationStore`.
"""

from ventros_channels.conversations._model import (
    DEFAULT_SESSION_TIMEOUT,
    Conversation,
    ConversationStatus,
    SessionMetrics,
    session_timeout,
)
from ventros_channels.conversations._port import ConversationChange, ConversationStore
from ventros_channels.conversations.memory import InMemoryConversationStore

__all__ = [
    "DEFAULT_SESSION_TIMEOUT",
    "Conversation",
    "ConversationChange",
    "ConversationStatus",
    "ConversationStore",
    "InMemoryConversationStore",
    "SessionMetrics",
    "session_timeout",
]
