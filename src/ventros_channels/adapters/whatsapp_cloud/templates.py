"""WhatsApp message templates: the account's catalog, typed send parameters, status updates.

A template is approved by Meta per name and language; sending one fills its placeholders
(``{{1}}`` positional, or ``{{first_name}}`` named) with parameters per component: the header
(text, media or a location), the body (text, currency, date and time) and dynamic buttons (a
quick reply's payload, the end of a URL, a coupon code).

* :class:`Template` is one catalog entry as ``GET /{waba_id}/message_templates`` returns it, with
  each component's placeholders read from its text;
  ``WhatsAppCloudAdapter.list_templates(client, config)`` reads every page of the catalog.
* :func:`template_message` builds a :class:`~ventros_channels.messaging.TemplateMessage` from
  typed parameters. Given the catalog entry, it first checks the parameters against it
  (status, language, header kind, body parameter count and names, button kinds) and raises
  :class:`TemplateMismatchError` before any request, where Meta would refuse the send
  (errors 132000, 132012 and the like) only after it.
* :class:`TemplateCatalog` holds the entries by name and language; :func:`sync_templates`
  reads the catalog again and reports what was added, changed or removed since the last sync.
* :func:`template_update` reads the template webhooks (``message_template_status_update``,
  ``template_category_update``, ``message_template_quality_update``,
  ``message_template_components_update``). They concern the account, not a chat, so no event
  kind describes them: they arrive as :class:`~ventros_channels.messaging.Unsupported` whose
  ``reason`` names the field, and this accessor returns their content as a
  :class:`TemplateUpdate`, which :meth:`TemplateCatalog.apply` records in a catalog.

Sources: https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-management
(listing), .../whatsapp/templates/components (placeholders), .../whatsapp/webhooks/reference/
template_category_update and message_template_quality_update (webhooks).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any, Literal, Protocol, Unpack

import attrs
import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ventros_channels.adapters.whatsapp_cloud._payloads import (
    TemplateButtonData,
    TemplateComponentData,
    TemplateData,
)
from ventros_channels.errors import InvalidRequestError, PlatformErrorDetails
from ventros_channels.messaging.inbound import InboundEvent, Unsupported
from ventros_channels.messaging.outbound import TemplateMessage

__all__ = [
    "TEMPLATE_FIELDS",
    "BodyParameter",
    "ButtonParameter",
    "CatalogChanges",
    "CopyCodeButton",
    "CurrencyParameter",
    "DateTimeParameter",
    "HeaderParameter",
    "LocationParameter",
    "MediaParameter",
    "QuickReplyButton",
    "Template",
    "TemplateButton",
    "TemplateCatalog",
    "TemplateComponent",
    "TemplateMismatchError",
    "TemplateSync",
    "TemplateUpdate",
    "TextParameter",
    "UrlButton",
    "parse_template",
    "sync_templates",
    "template_message",
    "template_update",
]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def placeholders(text: str | None) -> tuple[str, ...]:
    """The distinct placeholder names of ``text``, in order of first appearance."""
    return tuple(dict.fromkeys(_PLACEHOLDER.findall(text or "")))


class TemplateMismatchError(InvalidRequestError):
    """Template parameters that do not fit the catalog entry; refused before any request.

    ``template`` is ``name/language``, ``field`` the part that does not fit
    (``body.parameters``, ``header``, ``buttons[1]``, ``status`` ...), ``expected`` what the
    entry asks for and ``actual`` what was given. Parameter values are never quoted.
    """

    def __init__(
        self,
        message: str,
        *,
        template: str,
        field: str,
        expected: str,
        actual: str,
        **kw: Unpack[PlatformErrorDetails],
    ) -> None:
        self.template = template
        self.field = field
        self.expected = expected
        self.actual = actual
        kw.setdefault("platform", "whatsapp")
        super().__init__(f"template {template}: {message}", **kw)


# ---------------------------------------------------------------------------- the catalog


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TemplateButton(_Frozen):
    """A button of a template: ``type`` as Meta names it (``QUICK_REPLY``, ``URL``,
    ``PHONE_NUMBER``, ``COPY_CODE``, ``FLOW``, ...)."""

    type: str
    text: str | None = None
    url: str | None = None
    placeholders: tuple[str, ...] = ()
    """Placeholders of the URL: a URL button with one takes its end at send time."""


class TemplateComponent(_Frozen):
    """A component: ``type`` is ``HEADER``, ``BODY``, ``FOOTER`` or ``BUTTONS`` (others, such
    as ``CAROUSEL``, are kept with their type and no placeholders)."""

    type: str
    format: str | None = None
    """Header kind: ``TEXT``, ``IMAGE``, ``VIDEO``, ``DOCUMENT``, ``GIF`` or ``LOCATION``."""
    text: str | None = None
    placeholders: tuple[str, ...] = ()
    buttons: tuple[TemplateButton, ...] = ()


class Template(_Frozen):
    """One template of the account's catalog, in one language."""

    id: str | None = None
    name: str = Field(min_length=1)
    language: str = Field(min_length=2)
    status: str
    """``APPROVED``, ``PENDING``, ``REJECTED``, ``PAUSED``, ``DISABLED``, ..."""
    category: str | None = None
    """``MARKETING``, ``UTILITY`` or ``AUTHENTICATION``."""
    parameter_format: Literal["POSITIONAL", "NAMED"] = "POSITIONAL"
    components: tuple[TemplateComponent, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return self.name, self.language

    @property
    def label(self) -> str:
        return f"{self.name}/{self.language}"

    def component(self, kind: str) -> TemplateComponent | None:
        """The component of ``kind`` (``HEADER``, ``BODY``, ``FOOTER``, ``BUTTONS``)."""
        return next((c for c in self.components if c.type == kind), None)

    @property
    def body_placeholders(self) -> tuple[str, ...]:
        body = self.component("BODY")
        return body.placeholders if body else ()

    @property
    def buttons(self) -> tuple[TemplateButton, ...]:
        group = self.component("BUTTONS")
        return group.buttons if group else ()


def _button(data: TemplateButtonData) -> TemplateButton:
    url = data.get("url")
    return TemplateButton(
        type=str(data.get("type", "")).upper(),
        text=data.get("text"),
        url=url,
        placeholders=placeholders(url),
    )


def _component(data: TemplateComponentData) -> TemplateComponent:
    text = data.get("text")
    fmt = data.get("format")
    return TemplateComponent(
        type=str(data.get("type", "")).upper(),
        format=fmt.upper() if isinstance(fmt, str) else None,
        text=text,
        placeholders=placeholders(text),
        buttons=tuple(_button(b) for b in data.get("buttons") or ()),
    )


def parse_template(data: TemplateData) -> Template:
    """A catalog entry from Graph's JSON; :class:`InvalidRequestError` when it is not one."""
    try:
        return Template(
            id=str(data["id"]) if "id" in data else None,
            name=data["name"],
            language=data["language"],
            status=str(data.get("status", "")).upper(),
            category=data.get("category"),
            parameter_format=str(data.get("parameter_format") or "POSITIONAL").upper(),
            components=tuple(_component(c) for c in data.get("components") or ()),
        )
    except (KeyError, TypeError, AttributeError, ValidationError) as exc:
        raise InvalidRequestError(
            f"the template catalog holds an entry that is not a template ({type(exc).__name__})",
            platform="whatsapp",
        ) from None


@attrs.frozen
class CatalogChanges:
    """What a sync found: entries new, changed (status, category, components) or gone."""

    added: tuple[Template, ...] = ()
    changed: tuple[Template, ...] = ()
    removed: tuple[Template, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def _by_key(templates: Iterable[Template]) -> Mapping[tuple[str, str], Template]:
    return MappingProxyType({t.key: t for t in templates})


_EVENT_STATUS: Mapping[str, str | None] = {
    "REINSTATED": "APPROVED",
    "FLAGGED": None,
    "LOCKED": None,
    "UNLOCKED": None,
    "UNARCHIVED": None,
}
"""Status-update events that do not name the template's new status: a reinstated template is
approved again; a flagged one stays approved until it is paused or disabled (which their own
updates say); locking concerns edits, not sending; an unarchived template gets back a status
the event does not state, which the next sync reads (``None``: the status is left alone)."""


def _frozen_entries(
    value: Mapping[tuple[str, str], Template],
) -> Mapping[tuple[str, str], Template]:
    return MappingProxyType(dict(value))


@attrs.frozen
class TemplateCatalog:
    """The account's templates by name and language; an immutable value."""

    entries: Mapping[tuple[str, str], Template] = attrs.field(
        factory=dict, converter=_frozen_entries, hash=False
    )

    @classmethod
    def of(cls, templates: Iterable[Template]) -> TemplateCatalog:
        return cls(_by_key(templates))

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Template]:
        return iter(self.entries.values())

    def get(self, name: str, language: str) -> Template | None:
        return self.entries.get((name, language))

    def require(self, name: str, language: str) -> Template:
        """The entry, or :class:`TemplateMismatchError` naming what the catalog has."""
        found = self.get(name, language)
        if found is None:
            languages = sorted(lang for n, lang in self.entries if n == name)
            raise TemplateMismatchError(
                "not in the catalog",
                template=f"{name}/{language}",
                field="language" if languages else "name",
                expected=", ".join(languages) or "a template of the catalog",
                actual=language if languages else name,
            )
        return found

    def approved(self) -> tuple[Template, ...]:
        return tuple(t for t in self if t.status == "APPROVED")

    def changes_since(self, previous: TemplateCatalog) -> CatalogChanges:
        """What differs from ``previous`` (the last sync)."""
        return CatalogChanges(
            added=tuple(t for k, t in self.entries.items() if k not in previous.entries),
            changed=tuple(
                t
                for k, t in self.entries.items()
                if k in previous.entries and previous.entries[k] != t
            ),
            removed=tuple(t for k, t in previous.entries.items() if k not in self.entries),
        )

    def apply(self, update: TemplateUpdate) -> TemplateCatalog:
        """The catalog with a webhook's status or category change recorded on its entry
        (unchanged when the entry is unknown: the next sync brings it)."""
        entry = self.get(update.name or "", update.language or "")
        if entry is None:
            return self
        changes: dict[str, Any] = {}
        status = _EVENT_STATUS.get(update.status or "", update.status)
        if status is not None:
            changes["status"] = status
        if update.new_category is not None and update.previous_category is not None:
            changes["category"] = update.new_category
        return TemplateCatalog({**self.entries, entry.key: entry.model_copy(update=changes)})


@attrs.frozen
class TemplateSync:
    """The result of :func:`sync_templates`: the fresh catalog and what changed."""

    catalog: TemplateCatalog
    changes: CatalogChanges


class _Lister(Protocol):
    async def list_templates(self, client: httpx.AsyncClient, config: Any) -> list[Template]: ...


async def sync_templates(
    adapter: _Lister,
    client: httpx.AsyncClient,
    config: Any,
    previous: TemplateCatalog | None = None,
) -> TemplateSync:
    """Read the whole catalog again and compare it with ``previous`` (empty by default).

    A host keeps ``result.catalog`` (in memory or its own store) and passes it back next
    time; ``result.changes`` says which entries to update in its own records.
    """
    catalog = TemplateCatalog.of(await adapter.list_templates(client, config))
    return TemplateSync(catalog, catalog.changes_since(previous or TemplateCatalog()))


# ---------------------------------------------------------------------------- send parameters


class TextParameter(_Frozen):
    """Text for a placeholder; ``name`` is required by templates with named parameters."""

    type: Literal["text"] = "text"
    text: str = Field(min_length=1)
    name: str | None = None


class CurrencyParameter(_Frozen):
    """An amount in a currency: ``amount_1000`` is the amount times 1000; WhatsApp shows
    ``fallback_value`` where it cannot format the amount."""

    type: Literal["currency"] = "currency"
    fallback_value: str = Field(min_length=1)
    code: str = Field(pattern=r"^[A-Z]{3}$")
    amount_1000: int
    name: str | None = None


class DateTimeParameter(_Frozen):
    """A date and time, shown as ``fallback_value``."""

    type: Literal["date_time"] = "date_time"
    fallback_value: str = Field(min_length=1)
    name: str | None = None


class MediaParameter(_Frozen):
    """The media of a media header, by link or by uploaded media id (exactly one)."""

    type: Literal["image", "video", "document"]
    link: str | None = None
    id: str | None = None
    filename: str | None = None
    """Documents only: the name WhatsApp shows."""

    @model_validator(mode="after")
    def _one_source(self) -> MediaParameter:
        if (self.link is None) == (self.id is None):
            raise ValueError("give exactly one of link or id")
        if self.filename is not None and self.type != "document":
            raise ValueError("only a document takes a filename")
        return self


class LocationParameter(_Frozen):
    """The point of a location header."""

    type: Literal["location"] = "location"
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = None
    address: str | None = None


class QuickReplyButton(_Frozen):
    """The payload the quick-reply button at ``index`` sends back when tapped."""

    sub_type: Literal["quick_reply"] = "quick_reply"
    index: int = Field(ge=0, le=9)
    payload: str = Field(min_length=1)


class UrlButton(_Frozen):
    """The end of the dynamic URL of the URL button at ``index`` (its ``{{1}}``)."""

    sub_type: Literal["url"] = "url"
    index: int = Field(ge=0, le=9)
    text: str = Field(min_length=1)


class CopyCodeButton(_Frozen):
    """The coupon code the copy-code button at ``index`` copies."""

    sub_type: Literal["copy_code"] = "copy_code"
    index: int = Field(ge=0, le=9)
    coupon_code: str = Field(min_length=1, max_length=15)


BodyParameter = Annotated[
    TextParameter | CurrencyParameter | DateTimeParameter, Field(discriminator="type")
]
HeaderParameter = Annotated[
    TextParameter | MediaParameter | LocationParameter, Field(discriminator="type")
]
ButtonParameter = Annotated[
    QuickReplyButton | UrlButton | CopyCodeButton, Field(discriminator="sub_type")
]

_Param = TextParameter | CurrencyParameter | DateTimeParameter | MediaParameter | LocationParameter
_Button = QuickReplyButton | UrlButton | CopyCodeButton


def _named(wire: dict[str, Any], name: str | None) -> dict[str, Any]:
    return {**wire, "parameter_name": name} if name is not None else wire


def _media_wire(p: MediaParameter) -> dict[str, Any]:
    media = p.model_dump(include={"link", "id", "filename"}, exclude_none=True)
    return {"type": p.type, p.type: media}


_PARAMETER_WIRE: Mapping[type[_Param], Callable[[Any], dict[str, Any]]] = {
    TextParameter: lambda p: _named({"type": "text", "text": p.text}, p.name),
    CurrencyParameter: lambda p: _named(
        {
            "type": "currency",
            "currency": p.model_dump(include={"fallback_value", "code", "amount_1000"}),
        },
        p.name,
    ),
    DateTimeParameter: lambda p: _named(
        {"type": "date_time", "date_time": {"fallback_value": p.fallback_value}}, p.name
    ),
    MediaParameter: _media_wire,
    LocationParameter: lambda p: {
        "type": "location",
        "location": p.model_dump(exclude={"type"}, exclude_none=True),
    },
}
"""Parameter class -> its JSON in a component's ``parameters``."""

_BUTTON_WIRE: Mapping[type[_Button], Callable[[Any], dict[str, Any]]] = {
    QuickReplyButton: lambda b: {"type": "payload", "payload": b.payload},
    UrlButton: lambda b: {"type": "text", "text": b.text},
    CopyCodeButton: lambda b: {"type": "coupon_code", "coupon_code": b.coupon_code},
}
"""Button parameter class -> the one parameter its component carries."""


def _components(
    header: _Param | None, body: tuple[_Param, ...], buttons: tuple[_Button, ...]
) -> tuple[dict[str, Any], ...]:
    out: list[dict[str, Any]] = []
    if header is not None:
        out.append({"type": "header", "parameters": [_PARAMETER_WIRE[type(header)](header)]})
    if body:
        out.append({"type": "body", "parameters": [_PARAMETER_WIRE[type(p)](p) for p in body]})
    out.extend(
        {
            "type": "button",
            "sub_type": b.sub_type,
            "index": str(b.index),
            "parameters": [_BUTTON_WIRE[type(b)](b)],
        }
        for b in buttons
    )
    return tuple(out)


def template_message(
    to: str,
    name: str,
    language: str,
    *,
    header: _Param | None = None,
    body: Iterable[_Param] = (),
    buttons: Iterable[_Button] = (),
    template: Template | None = None,
    reply_to: str | None = None,
    correlation_id: str | None = None,
) -> TemplateMessage:
    """A template send with typed parameters, checked against ``template`` when given.

    Raises :class:`TemplateMismatchError` when the parameters do not fit the catalog entry.
    """
    body_params, button_params = tuple(body), tuple(buttons)
    if template is not None:
        check_parameters(template, name, language, header, body_params, button_params)
    return TemplateMessage(
        to=to,
        name=name,
        language=language,
        components=_components(header, body_params, button_params),
        reply_to=reply_to,
        correlation_id=correlation_id,
    )


# ---------------------------------------------------------------------------- the check


def _mismatch(template: Template, field: str, expected: object, actual: object) -> None:
    raise TemplateMismatchError(
        f"{field} should be {expected}, not {actual}",
        template=template.label,
        field=field,
        expected=str(expected),
        actual=str(actual),
    )


def _check_identity(template: Template, name: str, language: str) -> None:
    if (name, language) != template.key:
        _mismatch(template, "name/language", template.label, f"{name}/{language}")
    if template.status != "APPROVED":
        _mismatch(template, "status", "APPROVED", template.status)


_HEADER_KINDS: Mapping[str, str] = {
    "TEXT": "text",
    "IMAGE": "image",
    "VIDEO": "video",
    "DOCUMENT": "document",
    "GIF": "video",
    "LOCATION": "location",
}
"""Header format -> the parameter type that fills it (a GIF header is sent as a video)."""


def _check_header(template: Template, header: _Param | None) -> None:
    component = template.component("HEADER")
    fmt = component.format if component else None
    wanted = _HEADER_KINDS.get(fmt or "")
    if component is not None and fmt == "TEXT" and not component.placeholders:
        wanted = None  # a fixed text header takes no parameter
    given = header.type if header is not None else None
    if given != wanted:
        _mismatch(template, "header", wanted or "no parameter", given or "no parameter")
    if header is not None and component is not None and fmt == "TEXT":
        _check_names(template, "header", component.placeholders, (header,))


def _check_names(
    template: Template, field: str, expected: tuple[str, ...], given: tuple[_Param, ...]
) -> None:
    names = tuple(getattr(p, "name", None) for p in given)
    if template.parameter_format == "NAMED":
        if sorted(n or "" for n in names) != sorted(expected):
            _mismatch(
                template, f"{field}.parameter_name", sorted(expected), sorted(map(str, names))
            )
    elif any(n is not None for n in names):
        _mismatch(template, f"{field}.parameter_name", "none (positional template)", "names")


def _check_body(template: Template, body: tuple[_Param, ...]) -> None:
    expected = template.body_placeholders
    if len(body) != len(expected):
        _mismatch(template, "body.parameters", f"{len(expected)} parameters", len(body))
    _check_names(template, "body", expected, body)


_BUTTON_KINDS: Mapping[str, type[_Button]] = {
    "QUICK_REPLY": QuickReplyButton,
    "URL": UrlButton,
    "COPY_CODE": CopyCodeButton,
}
"""Template button type -> the parameter that fills it at send time."""


def _check_buttons(template: Template, buttons: tuple[_Button, ...]) -> None:
    defined = template.buttons
    for b in buttons:
        at = f"buttons[{b.index}]"
        if b.index >= len(defined):
            _mismatch(template, at, f"an index below {len(defined)}", b.index)
        wanted = _BUTTON_KINDS.get(defined[b.index].type)
        if wanted is not type(b) or (b.sub_type == "url" and not defined[b.index].placeholders):
            _mismatch(template, at, f"no parameter for {defined[b.index].type}", b.sub_type)
    given = {b.index for b in buttons}
    for i, d in enumerate(defined):
        if d.type == "URL" and d.placeholders and i not in given:
            _mismatch(template, f"buttons[{i}]", "the end of its dynamic URL", "nothing")


def check_parameters(
    template: Template,
    name: str,
    language: str,
    header: _Param | None,
    body: tuple[_Param, ...],
    buttons: tuple[_Button, ...],
) -> None:
    """Raise :class:`TemplateMismatchError` unless the parameters fill ``template``."""
    _check_identity(template, name, language)
    _check_header(template, header)
    _check_body(template, body)
    _check_buttons(template, buttons)


# ---------------------------------------------------------------------------- webhooks

TEMPLATE_FIELDS: frozenset[str] = frozenset(
    {
        "message_template_status_update",
        "template_category_update",
        "message_template_quality_update",
        "message_template_components_update",
    }
)
"""Webhook fields about templates, which :func:`template_update` reads."""


class TemplateUpdate(_Frozen):
    """What a template webhook says about one template.

    ``field`` is the webhook field. Status updates set ``status`` (Meta's ``event``:
    ``APPROVED``, ``REJECTED``, ``PAUSED``, ``DISABLED``, ...) and ``reason``; category updates
    ``previous_category`` / ``new_category`` (or ``correct_category`` when the change is
    only announced); quality updates ``previous_quality`` / ``new_quality``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    account_id: str | None = None
    """The WhatsApp Business Account (the entry's ``id``)."""
    template_id: str | None = None
    name: str | None = None
    language: str | None = None
    status: str | None = None
    reason: str | None = None
    category: str | None = None
    """The template's category as a status update states it."""
    previous_category: str | None = None
    new_category: str | None = None
    correct_category: str | None = None
    previous_quality: str | None = None
    new_quality: str | None = None
    at: datetime


_UPDATE_KEYS: Mapping[str, str] = {
    "message_template_id": "template_id",
    "message_template_name": "name",
    "message_template_language": "language",
    "event": "status",
    "reason": "reason",
    "message_template_category": "category",
    "previous_category": "previous_category",
    "new_category": "new_category",
    "correct_category": "correct_category",
    "previous_quality_score": "previous_quality",
    "new_quality_score": "new_quality",
}
"""Webhook ``value`` key -> :class:`TemplateUpdate` field."""


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def template_update(event: InboundEvent) -> TemplateUpdate | None:
    """The template webhook ``event`` carries (``None`` for any other event)."""
    raw = event.raw if isinstance(event, Unsupported) else None
    changes = raw.get("changes") if isinstance(raw, dict) else None
    change = changes[0] if isinstance(changes, list) and len(changes) == 1 else None
    if not isinstance(change, dict) or change.get("field") not in TEMPLATE_FIELDS:
        return None
    value = change.get("value")
    values = value if isinstance(value, dict) else {}
    fields = {ours: _text(values.get(theirs)) for theirs, ours in _UPDATE_KEYS.items()}
    return TemplateUpdate(
        field=str(change["field"]),
        account_id=_text(raw.get("id")) if isinstance(raw, dict) else None,
        at=event.timestamp,
        **fields,
    )
