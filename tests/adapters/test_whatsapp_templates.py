"""WhatsApp Cloud template catalog: listing against the fake Graph server, typed parameters
checked against the catalog entry before any request, sync, and the template webhooks.

Requests and answers follow Meta's pages:
https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-management
(``GET /{waba_id}/message_templates``, cursor paging),
https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/components
(placeholders), the send-side component objects of the template message reference
(https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#template-object:
``header``/``body`` parameters of type text, currency, date_time, image, document, video,
location; ``button`` components with ``sub_type`` quick_reply / url / copy_code and a string
``index``), and the webhook references .../whatsapp/webhooks/reference/template_category_update
and .../message_template_quality_update.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from ventros_channels import WhatsAppCloudConfig
from ventros_channels.adapters.base import Capability
from ventros_channels.adapters.whatsapp_cloud import WhatsAppCloudAdapter
from ventros_channels.adapters.whatsapp_cloud.templates import (
    CopyCodeButton,
    CurrencyParameter,
    DateTimeParameter,
    LocationParameter,
    MediaParameter,
    QuickReplyButton,
    Template,
    TemplateCatalog,
    TemplateMismatchError,
    TextParameter,
    UrlButton,
    parse_template,
    sync_templates,
    template_message,
    template_update,
)
from ventros_channels.errors import InvalidRequestError
from ventros_channels.messaging import TemplateMessage, Unsupported
from ventros_channels.testing.fakes import FakePlatforms

from .conftest import fixture_bytes

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
ADAPTER = WhatsAppCloudAdapter()


def _fakes() -> tuple[FakePlatforms, WhatsAppCloudConfig]:
    fakes = FakePlatforms(clock=lambda: NOW)
    return fakes, WhatsAppCloudConfig.parse(fakes.config("whatsapp"))


async def _catalog() -> TemplateCatalog:
    fakes, config = _fakes()
    async with fakes.client() as client:
        return TemplateCatalog.of(await ADAPTER.list_templates(client, config))


# ---------------------------------------------------------------------------- listing


async def test_list_templates_reads_every_page_with_the_named_fields() -> None:
    fakes, config = _fakes()
    async with fakes.client() as client:
        templates = await ADAPTER.list_templates(client, config, page_size=2)
    assert Capability.TEMPLATE_CATALOG in ADAPTER.capabilities
    assert [t.label for t in templates] == [
        "hello_world/en_US",
        "order_shipped/en_US",
        "order_shipped/pt_BR",
    ]
    requests = fakes.graph.requests
    assert [r.url.path for r in requests] == ["/v21.0/102290129340398/message_templates"] * 2
    assert requests[0].method == "GET"
    assert requests[0].headers["authorization"] == "Bearer FAKE-WA-TOKEN"
    assert requests[0].url.params["limit"] == "2"
    assert "after" not in requests[0].url.params
    assert requests[1].url.params["after"] == "2"
    assert set(requests[0].url.params["fields"].split(",")) >= {
        "name",
        "language",
        "status",
        "category",
        "components",
        "parameter_format",
    }
    shipped = templates[1]
    assert shipped.id == "2245637728840211"
    assert shipped.body_placeholders == ("1", "2", "3", "4")
    assert shipped.component("HEADER") is not None
    assert shipped.component("HEADER").format == "IMAGE"  # type: ignore[union-attr]
    assert [(b.type, b.placeholders) for b in shipped.buttons] == [
        ("QUICK_REPLY", ()),
        ("URL", ("1",)),
    ]


async def test_list_templates_filters_by_status_and_needs_the_waba() -> None:
    fakes, config = _fakes()
    async with fakes.client() as client:
        paused = await ADAPTER.list_templates(client, config, status="PAUSED")
        assert [t.label for t in paused] == ["order_shipped/pt_BR"]
        assert fakes.graph.requests[-1].url.params["status"] == "PAUSED"
        before = len(fakes.graph.requests)
        no_waba = config.model_copy(update={"business_account_id": None})
        with pytest.raises(InvalidRequestError, match="business_account_id"):
            await ADAPTER.list_templates(client, no_waba)
    assert len(fakes.graph.requests) == before


def test_named_placeholders_and_unknown_components_are_read() -> None:
    """The reservation example of Meta's template management page (named parameters)."""
    template = parse_template(
        {
            "name": "reservation_confirmation",
            "parameter_format": "NAMED",
            "language": "en_US",
            "status": "APPROVED",
            "category": "UTILITY",
            "id": "546151681022936",
            "components": [
                {"type": "HEADER", "format": "IMAGE"},
                {
                    "type": "BODY",
                    "text": "Your reservation for {{number_of_guests}} at Lucky Shrub on "
                    "{{day}}, {{date}}, at {{time}}, is confirmed. {{day}} it is!",
                },
                {"type": "CAROUSEL", "cards": []},
            ],
        }
    )
    assert template.parameter_format == "NAMED"
    assert template.body_placeholders == ("number_of_guests", "day", "date", "time")
    assert template.components[-1].type == "CAROUSEL"
    with pytest.raises(InvalidRequestError, match="not a template"):
        parse_template({"status": "APPROVED"})


# ---------------------------------------------------------------------------- sending


async def test_typed_parameters_make_the_documented_components_and_reach_the_fake() -> None:
    catalog = await _catalog()
    entry = catalog.require("order_shipped", "en_US")
    message = template_message(
        "16505551234",
        "order_shipped",
        "en_US",
        header=MediaParameter(type="image", link="https://shop.example.test/box.png"),
        body=[
            TextParameter(text="Ana"),
            TextParameter(text="#1234"),
            CurrencyParameter(fallback_value="$12.50", code="USD", amount_1000=12500),
            DateTimeParameter(fallback_value="May 2, 2026"),
        ],
        buttons=[QuickReplyButton(index=0, payload="stop-1234"), UrlButton(index=1, text="1234")],
        template=entry,
        correlation_id="order-1234",
    )
    assert isinstance(message, TemplateMessage)
    fakes, config = _fakes()
    async with fakes.client() as client:
        result = await ADAPTER.send(client, config, message)
    assert result.message_id is not None
    (sent,) = fakes.graph.sent
    body = sent.body
    assert body["type"] == "template"
    assert body["biz_opaque_callback_data"] == "order-1234"
    assert body["template"] == {
        "name": "order_shipped",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "header",
                "parameters": [
                    {"type": "image", "image": {"link": "https://shop.example.test/box.png"}}
                ],
            },
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ana"},
                    {"type": "text", "text": "#1234"},
                    {
                        "type": "currency",
                        "currency": {
                            "fallback_value": "$12.50",
                            "code": "USD",
                            "amount_1000": 12500,
                        },
                    },
                    {"type": "date_time", "date_time": {"fallback_value": "May 2, 2026"}},
                ],
            },
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": "stop-1234"}],
            },
            {
                "type": "button",
                "sub_type": "url",
                "index": "1",
                "parameters": [{"type": "text", "text": "1234"}],
            },
        ],
    }


def test_named_location_document_and_copy_code_parameters() -> None:
    named = template_message(
        "1",
        "t",
        "en",
        header=LocationParameter(latitude=37.44, longitude=-122.16, name="Shop"),
        body=[TextParameter(text="4", name="number_of_guests")],
        buttons=[CopyCodeButton(index=2, coupon_code="SAVE10")],
    )
    header, body, button = named.components
    assert header["parameters"] == [
        {"type": "location", "location": {"latitude": 37.44, "longitude": -122.16, "name": "Shop"}}
    ]
    assert body["parameters"] == [
        {"type": "text", "text": "4", "parameter_name": "number_of_guests"}
    ]
    assert button == {
        "type": "button",
        "sub_type": "copy_code",
        "index": "2",
        "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}],
    }
    doc = MediaParameter(type="document", id="media-9", filename="invoice.pdf")
    (component,) = template_message("1", "t", "en", header=doc).components
    assert component["parameters"] == [
        {"type": "document", "document": {"id": "media-9", "filename": "invoice.pdf"}}
    ]
    with pytest.raises(ValidationError):
        MediaParameter(type="image", link="https://x.test/a.png", id="both")
    with pytest.raises(ValidationError):
        MediaParameter(type="image", id="m", filename="a.png")
    with pytest.raises(ValidationError):
        CurrencyParameter(fallback_value="1", code="usd", amount_1000=1)


def _shipped(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "header": MediaParameter(type="image", id="m1"),
        "body": [TextParameter(text=str(i)) for i in range(4)],
        "buttons": [UrlButton(index=1, text="1234")],
    }
    return {**args, **overrides}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"body": [TextParameter(text="Ana")]}, "body.parameters"),
        ({"header": None}, "header"),
        ({"header": MediaParameter(type="video", id="m1")}, "header"),
        ({"buttons": []}, "buttons[1]"),
        ({"buttons": [UrlButton(index=0, text="x"), UrlButton(index=1, text="y")]}, "buttons[0]"),
        ({"buttons": [QuickReplyButton(index=5, payload="p")]}, "buttons[5]"),
        (
            {"body": [TextParameter(text=str(i), name=f"n{i}") for i in range(4)]},
            "body.parameter_name",
        ),
    ],
)
async def test_parameters_that_do_not_fit_the_entry_are_refused_before_any_request(
    overrides: dict[str, Any], field: str
) -> None:
    entry = (await _catalog()).require("order_shipped", "en_US")
    template_message("1", "order_shipped", "en_US", template=entry, **_shipped())  # fits
    with pytest.raises(TemplateMismatchError) as caught:
        template_message("1", "order_shipped", "en_US", template=entry, **_shipped(**overrides))
    assert caught.value.field == field
    assert caught.value.template == "order_shipped/en_US"
    assert isinstance(caught.value, InvalidRequestError)
    assert caught.value.platform == "whatsapp"


async def test_paused_unknown_and_wrong_language_templates_are_refused() -> None:
    catalog = await _catalog()
    paused = catalog.require("order_shipped", "pt_BR")
    with pytest.raises(TemplateMismatchError, match="status") as caught:
        template_message("1", "order_shipped", "pt_BR", body=[], template=paused)
    assert (caught.value.expected, caught.value.actual) == ("APPROVED", "PAUSED")
    with pytest.raises(TemplateMismatchError) as missing:
        catalog.require("order_shipped", "es")
    assert (missing.value.field, missing.value.expected) == ("language", "en_US, pt_BR")
    with pytest.raises(TemplateMismatchError) as unknown:
        catalog.require("nope", "en_US")
    assert unknown.value.field == "name"
    hello = catalog.require("hello_world", "en_US")
    with pytest.raises(TemplateMismatchError, match="name/language"):
        template_message("1", "hello_world", "en_GB", template=hello)
    with pytest.raises(TemplateMismatchError, match="header"):  # a fixed text header
        template_message(
            "1", "hello_world", "en_US", header=TextParameter(text="x"), template=hello
        )
    assert template_message("1", "hello_world", "en_US", template=hello).components == ()


def test_named_templates_need_exactly_their_names() -> None:
    entry = Template(
        name="r",
        language="en",
        status="APPROVED",
        parameter_format="NAMED",
        components=(
            parse_template(
                {
                    "name": "r",
                    "language": "en",
                    "components": [{"type": "BODY", "text": "{{a}} and {{b}}"}],
                }
            ).components
        ),
    )
    ok = [TextParameter(text="1", name="b"), TextParameter(text="2", name="a")]
    template_message("1", "r", "en", body=ok, template=entry)
    with pytest.raises(TemplateMismatchError, match="parameter_name"):
        template_message(
            "1",
            "r",
            "en",
            body=[TextParameter(text="1", name="a"), TextParameter(text="2")],
            template=entry,
        )


# ---------------------------------------------------------------------------- sync


async def test_sync_reports_added_changed_and_removed_entries() -> None:
    fakes, config = _fakes()
    async with fakes.client() as client:
        first = await sync_templates(ADAPTER, client, config)
        assert [t.label for t in first.changes.added] == [t.label for t in first.catalog]
        assert not first.changes.changed
        assert not first.changes.removed
        fakes.graph.templates[2]["status"] = "APPROVED"  # the pt_BR one is approved again
        del fakes.graph.templates[0]
        second = await sync_templates(ADAPTER, client, config, first.catalog)
        third = await sync_templates(ADAPTER, client, config, second.catalog)
    assert [t.label for t in second.changes.changed] == ["order_shipped/pt_BR"]
    assert [t.label for t in second.changes.removed] == ["hello_world/en_US"]
    assert not second.changes.added
    assert not third.changes
    assert second.catalog == third.catalog
    assert [t.label for t in third.catalog.approved()] == [
        "order_shipped/en_US",
        "order_shipped/pt_BR",
    ]


# ---------------------------------------------------------------------------- webhooks


def test_status_webhook_stays_unsupported_with_a_typed_accessor() -> None:
    """pywa's ``message_template_status_update`` sample (APPROVED)."""
    (event,) = ADAPTER.parse(fixture_bytes("whatsapp_cloud", "pywa_template_approved"))
    assert isinstance(event, Unsupported)
    assert event.reason.startswith("message_template_status_update:")
    update = template_update(event)
    assert update is not None
    assert update.field == "message_template_status_update"
    assert (update.template_id, update.name, update.language) == (
        "1689556908129832",
        "order_confirmation",
        "en_US",
    )
    assert (update.status, update.reason, update.category) == ("APPROVED", "NONE", "UTILITY")
    assert update.account_id == "102290129340398"
    assert update.at == datetime.fromtimestamp(1751247548, UTC)


def test_category_and_quality_webhooks_update_the_catalog() -> None:
    (category,) = ADAPTER.parse(fixture_bytes("whatsapp_cloud", "meta_template_category_update"))
    (quality,) = ADAPTER.parse(fixture_bytes("whatsapp_cloud", "meta_template_quality_update"))
    assert isinstance(category, Unsupported)
    assert "order_shipped" in category.reason
    moved, scored = template_update(category), template_update(quality)
    assert moved is not None
    assert scored is not None
    assert (moved.previous_category, moved.new_category) == ("UTILITY", "MARKETING")
    assert (scored.previous_quality, scored.new_quality) == ("GREEN", "YELLOW")
    catalog = TemplateCatalog.of(
        [
            Template(name="order_shipped", language="en_US", status="APPROVED", category="UTILITY"),
        ]
    )
    updated = catalog.apply(moved)
    assert updated.require("order_shipped", "en_US").category == "MARKETING"
    assert updated.apply(scored) == updated  # quality is not part of the entry
    assert catalog.require("order_shipped", "en_US").category == "UTILITY"  # values, not edits
    paused = moved.model_copy(
        update={"field": "message_template_status_update", "status": "PAUSED"}
    )
    assert catalog.apply(paused).require("order_shipped", "en_US").status == "PAUSED"
    flagged = paused.model_copy(update={"status": "FLAGGED"})
    reinstated = paused.model_copy(update={"status": "REINSTATED"})
    assert catalog.apply(paused).apply(flagged).require("order_shipped", "en_US").status == "PAUSED"
    assert catalog.apply(paused).apply(reinstated).require("order_shipped", "en_US").status == (
        "APPROVED"
    )


def test_other_events_are_not_template_updates() -> None:
    (text,) = ADAPTER.parse(fixture_bytes("whatsapp_cloud", "text"))
    (account,) = ADAPTER.parse(fixture_bytes("whatsapp_cloud", "pywa_account_partner_removed"))
    assert template_update(text) is None
    assert template_update(account) is None
    doc = json.loads(fixture_bytes("whatsapp_cloud", "meta_template_quality_update"))
    doc["entry"][0]["changes"][0]["value"] = "garbled"
    (broken,) = ADAPTER.parse(json.dumps(doc).encode())
    assert isinstance(broken, Unsupported)
    assert broken.reason.startswith("malformed change")
    assert template_update(broken) is None  # nothing to read: the reason says why
