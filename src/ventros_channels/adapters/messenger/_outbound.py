"""Messenger's outbound table: the shared Send API encoders; any message tag is accepted
(Meta checks the tag against the conversation), and an untagged message is a ``RESPONSE``."""

from __future__ import annotations

from ventros_channels.adapters._meta._messaging._outbound import SHARED_ENCODERS, Addressing

__all__ = ["ADDRESSING", "ENCODERS"]

ENCODERS = dict(SHARED_ENCODERS)
ADDRESSING = Addressing("messenger", tags=None, reply_type="RESPONSE")
