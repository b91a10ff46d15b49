"""Instagram's User Profile API: an IGSID's name, username, picture and follow relation.

https://developers.facebook.com/docs/messenger-platform/instagram/features/user-profile
(Instagram Login: https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/messaging-api/user-profile)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from ventros_channels.adapters._meta._messaging._profile import ProfileLookup, text
from ventros_channels.adapters.base import ContactProfile

__all__ = ["PROFILE", "InstagramProfileAnswer"]


class InstagramProfileAnswer(TypedDict, total=False):
    """The answer to ``GET /{IGSID}?fields=name,username,profile_pic,...``."""

    id: str
    name: str | None
    """Null when the person set no name."""
    username: str
    profile_pic: str | None
    """A CDN URL that expires after a few days; null when there is no picture."""
    follower_count: int
    is_user_follow_business: bool
    is_business_follow_user: bool


def _read(user_id: str, answer: Mapping[str, object]) -> ContactProfile:
    return ContactProfile(
        user_id=user_id,
        display_name=text(answer, "name"),
        username=text(answer, "username"),
        avatar_url=text(answer, "profile_pic"),
        raw=dict(answer),
    )


PROFILE = ProfileLookup(
    fields="name,username,profile_pic,follower_count,is_user_follow_business,is_business_follow_user",
    read=_read,
)
"""The follower count and follow relation stay in ``ContactProfile.raw``."""
