"""User profile lookups shared by Messenger and Instagram: ``GET /{scoped id}?fields=...``.

Both platforms answer a scoped id (PSID, IGSID) with the fields asked for, once the person has
opted in by writing to the account. Each platform states which fields it asks for and how its
answer becomes a :class:`ContactProfile` (a :class:`ProfileLookup` in its package).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import attrs

from ventros_channels.adapters.base import ContactProfile
from ventros_channels.errors import FieldError, InvalidInputError

__all__ = ["ProfileLookup", "check_scoped_id", "text"]

_SCOPED_ID = re.compile(r"[0-9]{1,32}")


@attrs.frozen
class ProfileLookup:
    """One platform's profile request: the ``fields`` it asks for and ``read``, which maps
    ``(user_id, answer)`` to a profile."""

    fields: str
    read: Callable[[str, Mapping[str, object]], ContactProfile]


def check_scoped_id(user_id: str) -> str:
    """``user_id`` when it is a scoped id (digits); it becomes a path of the request, so
    anything else (``me``, a path, a user ref) is refused before any request."""
    if not isinstance(user_id, str) or not _SCOPED_ID.fullmatch(user_id):
        raise InvalidInputError(
            "profile lookup", [FieldError("user_id", "a page- or Instagram-scoped id (digits)")]
        )
    return user_id


def text(answer: Mapping[str, object], name: str) -> str | None:
    """A string field of the answer; ``None`` when absent, null, blank or not a string."""
    value = answer.get(name)
    return value if isinstance(value, str) and value.strip() else None
