"""Messenger's User Profile API: a PSID's name and picture.

https://developers.facebook.com/docs/messenger-platform/identity/user-profile
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from ventros_channels.adapters._meta._messaging._profile import ProfileLookup, text
from ventros_channels.adapters.base import ContactProfile

__all__ = ["PROFILE", "MessengerProfileAnswer"]


class MessengerProfileAnswer(TypedDict, total=False):
    """The answer to ``GET /{PSID}?fields=first_name,last_name,profile_pic``."""

    id: str
    first_name: str | None
    last_name: str | None
    profile_pic: str | None
    """A CDN URL that expires."""


def _read(user_id: str, answer: Mapping[str, object]) -> ContactProfile:
    names = (text(answer, "first_name"), text(answer, "last_name"))
    shown = " ".join(n for n in names if n) or None
    return ContactProfile(
        user_id=user_id,
        display_name=shown,
        avatar_url=text(answer, "profile_pic"),
        raw=dict(answer),
    )


PROFILE = ProfileLookup(fields="first_name,last_name,profile_pic", read=_read)
"""The fields every app with profile access may read; locale, timezone and gender need
further review by Meta, so they are not asked for."""
