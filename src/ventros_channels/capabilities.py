"""What each adapter can send, checked before a request and tabulated for the docs.

:func:`check_outbound` is the one check every send goes through before the platform is
called: the adapter must declare the capability the message kind needs (and the media kind,
for media), and the message must fit the adapter's :class:`OutboundLimits`. It raises
:class:`CapabilityNotSupportedError` or :class:`MessageLimitError`.

:func:`matrix` builds the platform x feature table of the docs from the same declarations
(``capabilities``, ``media_kinds``, ``outbound_limits``), and :func:`render_matrix` /
:func:`render_limits` write it as Markdown; ``python scripts/gen_capabilities.py`` rewrites
the committed pages and a test fails when they differ from what the code declares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from ventros_channels.adapters.base import Capability, ChannelAdapter
from ventros_channels.adapters.registry import default_registry
from ventros_channels.errors import CapabilityNotSupportedError
from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.limits import OutboundLimits, check_limits
from ventros_channels.messaging.outbound import MediaMessage, OutboundMessage

__all__ = [
    "BUILT_IN_TYPES",
    "KIND_CAPABILITIES",
    "Feature",
    "MatrixRow",
    "built_in_adapters",
    "check_outbound",
    "features",
    "limits_of",
    "matrix",
    "render_limits",
    "render_matrix",
    "required_capability",
]

AnyAdapter = ChannelAdapter[Any]

BUILT_IN_TYPES: tuple[str, ...] = ("waha", "whatsapp", "telegram", "messenger", "instagram")
"""The built-in channel types, in the order the docs' tables show them."""

KIND_CAPABILITIES: Mapping[str, Capability | None] = {
    "text": None,
    "media": Capability.OUTBOUND_MEDIA,
    "template": Capability.TEMPLATES,
    "buttons": Capability.INTERACTIVE,
    "list": Capability.INTERACTIVE,
    "reaction": Capability.REACTIONS,
    "mark_as_read": Capability.READ_RECEIPTS,
    "typing": Capability.TYPING,
    "edit": Capability.EDIT_MESSAGES,
    "delete": Capability.DELETE_MESSAGES,
    "location": Capability.LOCATION_MESSAGES,
    "contacts": Capability.CONTACT_MESSAGES,
    "poll": Capability.POLLS,
}
"""The capability an adapter must declare to send each message kind (text needs none)."""


def required_capability(message: OutboundMessage) -> Capability | None:
    """What ``message`` needs the adapter to declare; media given as bytes needs uploads."""
    if isinstance(message, MediaMessage) and message.data is not None:
        return Capability.MEDIA_UPLOAD
    return KIND_CAPABILITIES[message.kind]


def limits_of(adapter: AnyAdapter) -> OutboundLimits:
    """The limits ``adapter`` declares (``outbound_limits``; none by default)."""
    return adapter.outbound_limits


def check_outbound(adapter: AnyAdapter, message: OutboundMessage) -> None:
    """Refuse, before any request, a message ``adapter`` cannot send as it is.

    Raises :class:`CapabilityNotSupportedError` when the adapter does not declare the
    message kind's capability (or the media kind, for media), and :class:`MessageLimitError`
    when a part of the message is over one of the adapter's limits.
    """
    platform = str(adapter.channel_type)
    needed = required_capability(message)
    if needed is not None and needed not in adapter.capabilities:
        raise CapabilityNotSupportedError(platform, f"send {message.kind} ({needed.value})")
    media = message.media_kind if isinstance(message, MediaMessage) else None
    if media is not None and adapter.media_kinds and media not in adapter.media_kinds:
        raise CapabilityNotSupportedError(platform, f"send {media} media")
    check_limits(message, limits_of(adapter), platform=platform)


# ---------------------------------------------------------------------------- the matrix


@attrs.frozen
class Feature:
    """One row of the matrix: ``key`` names it in test registries, ``label`` in the docs."""

    key: str
    label: str
    supported: Callable[[AnyAdapter], bool] = attrs.field(eq=False, repr=False)


def _declares(capability: Capability) -> Callable[[AnyAdapter], bool]:
    return lambda adapter: capability in adapter.capabilities


def _sends(kind: MediaKind) -> Callable[[AnyAdapter], bool]:
    return lambda adapter: (
        Capability.OUTBOUND_MEDIA in adapter.capabilities and kind in adapter.media_kinds
    )


_LABELS: Mapping[Capability, str] = {
    Capability.GROUPS: "Group chats",
    Capability.INBOUND_MEDIA: "Inbound media",
    Capability.OUTBOUND_MEDIA: "Send media (URL / id)",
    Capability.MEDIA_UPLOAD: "Send media (upload bytes)",
    Capability.MEDIA_DOWNLOAD: "Download media",
    Capability.REACTIONS: "Send reactions",
    Capability.EDITS: "Inbound edits reported",
    Capability.TEMPLATES: "Send templates",
    Capability.INTERACTIVE: "Send buttons / lists",
    Capability.READ_RECEIPTS: "Read receipts / mark as read",
    Capability.TYPING: "Send typing indicator",
    Capability.HISTORY_IMPORT: "History import",
    Capability.WEBHOOK_REGISTRATION: "Webhook registration",
    Capability.SESSION_PAIRING: "Session pairing (QR)",
    Capability.EDIT_MESSAGES: "Edit sent messages",
    Capability.DELETE_MESSAGES: "Delete / revoke sent messages",
    Capability.LOCATION_MESSAGES: "Send locations",
    Capability.CONTACT_MESSAGES: "Send contact cards",
    Capability.POLLS: "Send polls",
    Capability.PRESENCE: "Inbound typing / presence",
    Capability.PROFILES: "Fetch contact profiles",
    Capability.TEMPLATE_CATALOG: "Template catalog",
}
"""Docs label per capability; a test checks every capability has one."""

_SENT_MEDIA: tuple[MediaKind, ...] = (
    MediaKind.IMAGE,
    MediaKind.VIDEO,
    MediaKind.AUDIO,
    MediaKind.VOICE,
    MediaKind.DOCUMENT,
    MediaKind.STICKER,
    MediaKind.ANIMATION,
    MediaKind.VIDEO_NOTE,
)


def features() -> tuple[Feature, ...]:
    """The rows of the matrix: every capability, then every media kind that can be sent."""
    caps = tuple(Feature(c.value, _LABELS.get(c, c.value), _declares(c)) for c in Capability)
    media = tuple(
        Feature(f"media:{k.value}", f"Send {k.value.replace('_', ' ')}", _sends(k))
        for k in _SENT_MEDIA
    )
    return caps + media


@attrs.frozen
class MatrixRow:
    """One feature across platforms: ``cells`` maps channel type to supported."""

    key: str
    label: str
    cells: Mapping[str, bool] = attrs.field(hash=False)


def built_in_adapters() -> list[AnyAdapter]:
    """The built-in adapters, from the registry, in :data:`BUILT_IN_TYPES` order."""
    registry = default_registry()
    return [registry.get(t) for t in BUILT_IN_TYPES]


def matrix(adapters: Sequence[AnyAdapter] | None = None) -> list[MatrixRow]:
    """The platform x feature table, from what each adapter declares (default: built-ins)."""
    chosen = built_in_adapters() if adapters is None else list(adapters)
    return [
        MatrixRow(f.key, f.label, {str(a.channel_type): f.supported(a) for a in chosen})
        for f in features()
    ]


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


Coverage = Mapping[tuple[str, str], Sequence[str]]
"""Test node ids per (channel type, feature key) cell."""


def render_matrix(rows: Sequence[MatrixRow], coverage: Coverage | None = None) -> str:
    """The matrix as a Markdown table. With ``coverage``, a supported cell that no test is
    registered for is marked ``yes*``."""
    platforms = list(rows[0].cells) if rows else []

    def cell(row: MatrixRow, platform: str) -> str:
        if not row.cells[platform]:
            return "—"
        tested = coverage is None or bool(coverage.get((platform, row.key)))
        return "yes" if tested else "yes*"

    body = ([r.label, f"`{r.key}`", *(cell(r, p) for p in platforms)] for r in rows)
    return "\n".join(_table(["Feature", "key", *platforms], body)) + "\n"


_LIMIT_LABELS: Mapping[str, str] = {
    "text_max": "Text",
    "caption_max": "Caption",
    "interactive_text_max": "Buttons / list body",
    "header_max": "Header",
    "footer_max": "Footer",
    "buttons_max": "Buttons (count)",
    "button_title_max": "Button title",
    "button_id_max": "Button id",
    "list_button_text_max": "List button text",
    "list_sections_max": "List sections (count)",
    "list_rows_max": "List rows, all sections (count)",
    "section_title_max": "Section title",
    "row_title_max": "Row title",
    "row_description_max": "Row description",
    "row_id_max": "Row id",
    "poll_question_max": "Poll question",
    "poll_options_max": "Poll options (count)",
    "poll_option_max": "Poll option",
    "contacts_max": "Contact cards (count)",
}
"""The integer limits in the docs' table, in order; a test checks none is left out."""


def _limit_cell(limits: OutboundLimits, name: str) -> str:
    value = getattr(limits, name)
    if value is None:
        return "—"
    unit_field = {"text_max": "text_unit", "button_id_max": "id_unit", "row_id_max": "id_unit"}
    unit = getattr(limits, unit_field[name]).value if name in unit_field else ""
    return f"{value} bytes" if unit == "bytes" else str(value)


def _captionless(limits: OutboundLimits) -> str:
    kinds = limits.captionless_kinds
    if kinds == frozenset(MediaKind):
        return "any media"
    return ", ".join(sorted(kinds)) or "—"


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def render_limits(adapters: Sequence[AnyAdapter] | None = None) -> str:
    """Each adapter's :func:`limits_of` as a Markdown table (lengths in characters unless
    marked bytes; ``—`` means the library checks nothing there)."""
    chosen = built_in_adapters() if adapters is None else list(adapters)
    limits = {str(a.channel_type): limits_of(a) for a in chosen}
    rows = [
        [label, *(_limit_cell(lim, name) for lim in limits.values())]
        for name, label in _LIMIT_LABELS.items()
    ]
    rows.append(["No caption on", *(_captionless(lim) for lim in limits.values())])
    for kind in _SENT_MEDIA:
        sizes = [lim.media_max_bytes.get(kind) for lim in limits.values()]
        rows.append([f"Upload size: {kind.value}", *(_size(s) if s else "—" for s in sizes)])
    return "\n".join(_table(["Limit", *limits], rows)) + "\n"
