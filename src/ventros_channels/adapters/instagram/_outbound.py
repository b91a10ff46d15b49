"""Instagram's outbound table: the shared Send API encoders plus its one sticker, the heart.
Instagram takes one message tag (``HUMAN_AGENT``, a human reply within seven days) and no
``messaging_type`` on replies."""

from __future__ import annotations

from ventros_channels.adapters._meta._messaging._outbound import (
    SHARED_ENCODERS,
    SHARED_MEDIA,
    Addressing,
    SendBody,
    media_encoder,
)
from ventros_channels.errors import CapabilityNotSupportedError
from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.outbound import MediaMessage

__all__ = ["ADDRESSING", "ENCODERS", "HEART_STICKER"]

HEART_STICKER = "like_heart"
"""The only sticker the Instagram API sends (``media_id="like_heart"``); inbound, the same
heart arrives as a ``like_heart`` attachment."""


def _sticker(message: MediaMessage, to: Addressing) -> SendBody:
    """The heart sticker: an attachment of type ``like_heart`` with no payload.

    https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message
    """
    if message.media_id != HEART_STICKER:
        raise CapabilityNotSupportedError(
            to.platform, f"send stickers other than media_id={HEART_STICKER!r}"
        )
    return {**to.head(message), "message": {"attachment": {"type": HEART_STICKER}}}


ENCODERS = {
    **SHARED_ENCODERS,
    MediaMessage: media_encoder({**SHARED_MEDIA, MediaKind.STICKER: _sticker}),
}
ADDRESSING = Addressing("instagram", tags=frozenset({"HUMAN_AGENT"}), reply_type=None)
