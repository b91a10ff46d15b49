"""Messenger's outbound table: the shared Send API encoders plus stickers by ``sticker_id``.
Any message tag is accepted (Meta checks the tag against the conversation), and an untagged
message is a ``RESPONSE``."""

from __future__ import annotations

import re

from ventros_channels.adapters._meta._messaging._outbound import (
    SHARED_ENCODERS,
    SHARED_MEDIA,
    Addressing,
    SendBody,
    media_encoder,
)
from ventros_channels.errors import CapabilityNotSupportedError, FieldError, InvalidInputError
from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.outbound import MediaMessage

__all__ = ["ADDRESSING", "ENCODERS"]

_STICKER_ID = re.compile(r"[0-9]{1,20}")


def _sticker(message: MediaMessage, to: Addressing) -> SendBody:
    """A sticker of Meta's catalog by its id (``media_id``): ``message.sticker_id``, a number.

    https://developers.facebook.com/documentation/business-messaging/messenger-platform/send-messages/sticker-api
    """
    if message.media_id is None:
        raise CapabilityNotSupportedError(
            to.platform, "send a sticker by URL or bytes (only by catalog sticker_id)"
        )
    if not _STICKER_ID.fullmatch(message.media_id):
        raise InvalidInputError(
            "sticker", [FieldError("media_id", "a Messenger sticker_id is a number")]
        )
    return {**to.head(message), "message": {"sticker_id": int(message.media_id)}}


ENCODERS = {
    **SHARED_ENCODERS,
    MediaMessage: media_encoder({**SHARED_MEDIA, MediaKind.STICKER: _sticker}),
}
ADDRESSING = Addressing("messenger", tags=None, reply_type="RESPONSE")
