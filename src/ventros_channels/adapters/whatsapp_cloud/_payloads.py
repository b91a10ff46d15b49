"""The WhatsApp Cloud API wire format, as TypedDicts.

Webhook side: ``{"object": "whatsapp_business_account", "entry": [Entry]}``; each entry has
``changes``, each change a ``field`` (``messages``, ``smb_message_echoes``, ``history``,
``smb_app_state_sync``, ``message_template_status_update``, ``account_update``, ...) and a
``value`` whose shape depends on the field. Send side: the body of
``POST /{phone_number_id}/messages`` and its answer.

Everything here is what the platform *documents*; the bytes are untrusted, so the mapping code
reads optional keys with ``.get`` and turns a wrong type into an ``Unsupported`` event. Keys that
are Python keywords (``from``) force the functional ``TypedDict`` form.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

# ---------------------------------------------------------------------------- shared pieces


class ErrorData(TypedDict, total=False):
    details: str
    messaging_product: str


class Error(TypedDict, total=False):
    """An asynchronous error (``statuses[].errors``, ``messages[].errors``, ``value.errors``)."""

    code: int
    title: str
    message: str
    error_data: ErrorData
    href: str


class Metadata(TypedDict, total=False):
    display_phone_number: str
    phone_number_id: str


class Profile(TypedDict, total=False):
    name: str
    username: str


class Contact(TypedDict, total=False):
    """``value.contacts[]``: who the messages (or group statuses) are from."""

    profile: Profile
    wa_id: str
    user_id: str
    """Business-scoped user id (``US.<digits>``); the only id once ``wa_id`` is withheld."""
    parent_user_id: str


# ---------------------------------------------------------------------------- message bodies


class TextBody(TypedDict, total=False):
    body: str


class MediaBody(TypedDict, total=False):
    """``image`` / ``video`` / ``audio`` / ``document`` / ``sticker``."""

    id: str
    mime_type: str
    sha256: str
    caption: str
    filename: str
    url: str
    voice: bool
    animated: bool


class LocationBody(TypedDict, total=False):
    latitude: float
    longitude: float
    name: str
    address: str
    url: str


class CardName(TypedDict, total=False):
    formatted_name: str
    first_name: str
    last_name: str
    middle_name: str
    prefix: str
    suffix: str


class CardPhone(TypedDict, total=False):
    phone: str
    wa_id: str
    type: str


class CardEmail(TypedDict, total=False):
    email: str
    type: str


class ContactCard(TypedDict, total=False):
    """One card of a ``contacts`` message (vCard-like)."""

    name: CardName
    phones: list[CardPhone]
    emails: list[CardEmail]
    org: dict[str, str]
    urls: list[dict[str, str]]
    addresses: list[dict[str, str]]
    birthday: str


class ButtonReply(TypedDict, total=False):
    id: str
    title: str


class ListReply(TypedDict, total=False):
    id: str
    title: str
    description: str


class NfmReply(TypedDict, total=False):
    """A completed WhatsApp Flow: ``response_json`` is the form data as a JSON string."""

    name: str
    body: str
    response_json: str


class InteractiveBody(TypedDict, total=False):
    type: Literal["button_reply", "list_reply", "nfm_reply"]
    button_reply: ButtonReply
    list_reply: ListReply
    nfm_reply: NfmReply


class TemplateButtonBody(TypedDict, total=False):
    """``type: button``: a quick-reply button of a template was tapped."""

    payload: str
    text: str


class ReactionBody(TypedDict, total=False):
    message_id: str
    emoji: str
    """Missing or ``""`` when the reaction was removed."""


class ProductItem(TypedDict, total=False):
    product_retailer_id: str
    quantity: int
    item_price: float
    currency: str


class OrderBody(TypedDict, total=False):
    catalog_id: str
    text: str
    product_items: list[ProductItem]


class SystemBody(TypedDict, total=False):
    """``user_changed_number`` (``wa_id``/``new_wa_id`` is the new number) or
    ``customer_identity_changed``."""

    body: str
    type: str
    wa_id: str
    new_wa_id: str
    identity: str
    customer: str


class Referral(TypedDict, total=False):
    """Click-to-WhatsApp ad or post that opened the conversation."""

    source_url: str
    source_id: str
    source_type: str
    headline: str
    body: str
    media_type: str
    image_url: str
    video_url: str
    thumbnail_url: str
    ctwa_clid: str


class ReferredProduct(TypedDict, total=False):
    catalog_id: str
    product_retailer_id: str


Context = TypedDict(
    "Context",
    {
        "from": str,
        "id": str,
        "forwarded": bool,
        "frequently_forwarded": bool,
        "referred_product": ReferredProduct,
    },
    total=False,
)
"""What a message quotes or says about being forwarded."""


class EditBody(TypedDict, total=False):
    original_message_id: str
    message: Message
    """The whole new message (``type`` plus its body), without id or sender."""


class RevokeBody(TypedDict, total=False):
    original_message_id: str


class UnsupportedBody(TypedDict, total=False):
    type: str
    """What the platform would not deliver (e.g. ``poll``)."""


class HistoryContext(TypedDict, total=False):
    status: str
    """Latest delivery status of a synced message (``READ``, ``DELIVERED``, ``ERROR`` ...)."""


Message = TypedDict(
    "Message",
    {
        "from": str,
        "id": str,
        "timestamp": str,
        "type": str,
        "user_id": str,
        "group_id": str,
        "context": Context,
        "referral": Referral,
        "errors": list[Error],
        "identity": dict[str, object],
        # one of these, named by ``type``
        "text": TextBody,
        "image": MediaBody,
        "video": MediaBody,
        "audio": MediaBody,
        "document": MediaBody,
        "sticker": MediaBody,
        "location": LocationBody,
        "contacts": list[ContactCard],
        "interactive": InteractiveBody,
        "button": TemplateButtonBody,
        "reaction": ReactionBody,
        "order": OrderBody,
        "system": SystemBody,
        "edit": EditBody,
        "revoke": RevokeBody,
        "unsupported": UnsupportedBody,
        # message echoes (Business app coexistence) and history sync
        "to": str,
        "to_user_id": str,
        "to_parent_user_id": str,
        "history_context": HistoryContext,
    },
    total=False,
)
"""``value.messages[]`` (inbound), ``value.message_echoes[]`` (sent from the Business app) and
``history[].threads[].messages[]`` (synced past messages) share this shape."""


# ---------------------------------------------------------------------------- statuses


class ConversationOrigin(TypedDict, total=False):
    type: str


class Conversation(TypedDict, total=False):
    id: str
    expiration_timestamp: str
    origin: ConversationOrigin


class Pricing(TypedDict, total=False):
    billable: bool
    pricing_model: str
    category: str
    type: str


class Status(TypedDict, total=False):
    """``value.statuses[]``: progress of a message the business sent."""

    id: str
    status: Literal["sent", "delivered", "read", "played", "failed"]
    timestamp: str
    recipient_id: str
    """The user, or the group id when ``recipient_type`` is ``group``."""
    recipient_user_id: str
    recipient_type: Literal["individual", "group"]
    recipient_participant_id: str
    recipient_participant_user_id: str
    recipient_participant_parent_user_id: str
    conversation: Conversation
    pricing: Pricing
    errors: list[Error]
    biz_opaque_callback_data: str


# ---------------------------------------------------------------------------- coexistence sync


class HistoryMetadata(TypedDict, total=False):
    phase: int
    chunk_order: int
    progress: int


class HistoryThread(TypedDict, total=False):
    id: str
    """The WhatsApp user the thread is with."""
    messages: list[Message]


class HistoryChunk(TypedDict, total=False):
    metadata: HistoryMetadata
    threads: list[HistoryThread]
    errors: list[Error]
    """Present instead of threads when the business declined to share its history."""


class StateSyncContact(TypedDict, total=False):
    full_name: str
    first_name: str
    phone_number: str


class StateSyncMetadata(TypedDict, total=False):
    timestamp: str


class StateSync(TypedDict, total=False):
    """One change to the Business app's address book."""

    type: str
    contact: StateSyncContact
    action: Literal["add", "remove"]
    metadata: StateSyncMetadata


# ---------------------------------------------------------------------------- envelope


class Value(TypedDict, total=False):
    messaging_product: str
    metadata: Metadata
    contacts: list[Contact]
    messages: list[Message]
    statuses: list[Status]
    errors: list[Error]
    message_echoes: list[Message]
    history: list[HistoryChunk]
    state_sync: list[StateSync]
    # account-level fields (message_template_status_update, account_update, ...)
    event: str
    message_template_id: int
    message_template_name: str
    message_template_language: str
    reason: str


class Change(TypedDict, total=False):
    field: str
    value: Value


class Entry(TypedDict, total=False):
    id: str
    """The WhatsApp Business Account id."""
    time: int
    """Only on account-level fields, in seconds."""
    changes: list[Change]


class Envelope(TypedDict):
    object: str
    entry: list[Entry]


# ---------------------------------------------------------------------------- send API


class OutText(TypedDict):
    body: str
    preview_url: bool


class OutMedia(TypedDict, total=False):
    link: str
    id: str
    caption: str
    filename: str


class OutLanguage(TypedDict):
    code: str


class OutTemplate(TypedDict, total=False):
    name: str
    language: OutLanguage
    components: list[dict[str, object]]


class OutReplyButton(TypedDict):
    id: str
    title: str


class OutButton(TypedDict):
    type: Literal["reply"]
    reply: OutReplyButton


class OutRow(TypedDict, total=False):
    id: str
    title: str
    description: str


class OutSection(TypedDict, total=False):
    title: str
    rows: list[OutRow]


class OutAction(TypedDict, total=False):
    buttons: list[OutButton]
    button: str
    sections: list[OutSection]


class OutHeader(TypedDict):
    type: Literal["text"]
    text: str


class OutCaption(TypedDict):
    text: str


class OutInteractive(TypedDict, total=False):
    type: Literal["button", "list"]
    header: OutHeader
    body: OutCaption
    footer: OutCaption
    action: OutAction


class OutReaction(TypedDict):
    message_id: str
    emoji: str


class OutContext(TypedDict):
    message_id: str


class OutLocation(TypedDict, total=False):
    """Meta documents latitude and longitude as strings of decimal degrees."""

    latitude: str
    longitude: str
    name: str
    address: str


class OutContactName(TypedDict):
    formatted_name: str


class OutContactPhone(TypedDict, total=False):
    phone: str
    wa_id: str


class OutContactEmail(TypedDict):
    email: str


class OutContactCard(TypedDict, total=False):
    name: OutContactName
    phones: list[OutContactPhone]
    emails: list[OutContactEmail]


class SendRequest(TypedDict, total=False):
    """``POST /{phone_number_id}/messages`` for a message."""

    messaging_product: Literal["whatsapp"]
    recipient_type: Literal["individual", "group"]
    to: str
    recipient: str
    """A business-scoped user id, instead of ``to``."""
    type: str
    context: OutContext
    biz_opaque_callback_data: str
    text: OutText
    image: OutMedia
    video: OutMedia
    audio: OutMedia
    document: OutMedia
    sticker: OutMedia
    template: OutTemplate
    interactive: OutInteractive
    reaction: OutReaction
    location: OutLocation
    contacts: list[OutContactCard]


class TypingIndicator(TypedDict):
    type: Literal["text"]


class ReadRequest(TypedDict):
    """``POST /{phone_number_id}/messages`` marking an inbound message read, optionally showing
    a typing indicator until the reply (or for 25 seconds)."""

    messaging_product: Literal["whatsapp"]
    status: Literal["read"]
    message_id: str
    typing_indicator: NotRequired[TypingIndicator]


# ---------------------------------------------------------------------------- template catalog


class TemplateButtonData(TypedDict, total=False):
    """One button of a template's ``BUTTONS`` component."""

    type: str
    text: str
    url: str
    phone_number: str
    example: list[str]


class TemplateComponentData(TypedDict, total=False):
    """One component of a template as ``GET /{waba_id}/message_templates`` returns it."""

    type: str
    format: str
    text: str
    buttons: list[TemplateButtonData]
    example: dict[str, object]
    cards: list[dict[str, object]]
    """Carousel templates: kept whole, not read."""


class TemplateData(TypedDict, total=False):
    """One template of ``GET /{waba_id}/message_templates``."""

    id: str
    name: str
    language: str
    status: str
    category: str
    parameter_format: str
    components: list[TemplateComponentData]


class SentContact(TypedDict, total=False):
    input: str
    wa_id: str


class SentMessage(TypedDict, total=False):
    id: str
    message_status: str


class SendResponse(TypedDict, total=False):
    messaging_product: str
    contacts: list[SentContact]
    messages: list[SentMessage]
