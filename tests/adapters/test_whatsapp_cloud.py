"""WhatsApp Cloud normalization against payloads from Meta's documentation and pywa's tests.

Sources of the fixtures (copied as payload data into tests/fixtures/whatsapp_cloud/):

* ``meta_*``: the examples of Meta's webhook reference pages
  https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/smb_message_echoes ,
  .../reference/history and .../reference/smb_app_state_sync (as mirrored in the public repo
  LimaLb01/endpoint-flow, docs_whatsappflow/docs_apiwhatsapp/{smb_message_echoes,history,
  smb_app_state_sync}.md). The ``history`` "sharing declined" example is given by Meta as a bare
  ``value``; the fixture wraps it in the documented envelope. ``meta_smb_app_state_sync_remove``
  follows the same page's syntax for ``action: remove`` (names are omitted on removal).
* ``pywa_*``: captured/sample updates of david-lev/pywa (MIT), tests/data/updates/*.json, one
  key each: message.json (text, video, current_location, contacts, order, referral,
  forwarded_many_times, animated_sticker, unsupported_with_type, interactive_message_with_err),
  message_status.json (group, with_tracker, failed, played), outgoing_message.json (text,
  delete, edit: ``smb_message_echoes``), system.json, flow_completion.json, edited_message.json,
  template_status_update.json (approved), account_update.json.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from ventros_channels import WhatsAppCloudConfig
from ventros_channels.adapters.whatsapp_cloud import WhatsAppCloudAdapter
from ventros_channels.errors import CapabilityNotSupportedError, InvalidRequestError
from ventros_channels.messaging import (
    Button,
    ButtonsMessage,
    DeliveryStatus,
    MediaKind,
    MediaMessage,
    MessageDeleted,
    MessageEcho,
    MessageEdited,
    MessageReceived,
    StatusChanged,
    Typing,
    Unsupported,
)
from ventros_channels.messaging.inbound import ChatMigrated, ChatType, InboundEvent
from ventros_channels.testing.factories import SAMPLE_CONFIGS

from .conftest import fixture_bytes, fixture_json

WA = WhatsAppCloudConfig.parse(SAMPLE_CONFIGS["whatsapp"])
GRAPH = "https://graph.facebook.com/v21.0"


def events(name: str) -> list[InboundEvent]:
    return WhatsAppCloudAdapter().parse(fixture_bytes("whatsapp_cloud", name), WA)


def one(name: str) -> Any:
    (event,) = events(name)
    return event


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def body_of(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


# ---------------------------------------------------------------- coexistence


def test_smb_message_echo_from_metas_example_is_an_echo_in_the_customers_chat() -> None:
    """Meta's smb_message_echoes reference example (text sent from the Business app)."""
    echo = one("meta_smb_message_echo_text")
    assert isinstance(echo, MessageEcho)
    assert echo.from_me
    assert (echo.chat_id, echo.sender_id) == ("16505551234", "15550783881")
    assert echo.text is not None
    assert echo.text.startswith("Here's the info you requested!")
    assert echo.timestamp == at(1739321024)
    assert echo.idempotency_key == (
        "whatsapp:106540352242922:msg:wamid.HBgLMTY0NjcwNDM1OTUVAgARGBIyNDlBOEI5QUQ4NDc0N0FCNjMA"
    )


def test_echoed_edit_and_revoke_are_our_own_edits_and_deletions() -> None:
    """pywa tests/data/updates/outgoing_message.json: ``edit`` and ``delete`` echoes."""
    edit = one("pywa_echo_edit")
    assert isinstance(edit, MessageEdited)
    assert edit.from_me
    assert (edit.target_message_id, edit.text) == ("wamid.zzzzzz", "Text was edited")
    revoke = one("pywa_echo_revoke")
    assert isinstance(revoke, MessageDeleted)
    assert revoke.from_me
    assert revoke.target_message_id == "wamid.zzzzzz"


def test_echo_recipient_in_international_format_is_normalized_to_wa_id_digits() -> None:
    """Meta documents the echo ``to`` as the number the business typed (``+16505551234``)."""
    doc = fixture_json("whatsapp_cloud", "meta_smb_message_echo_text")
    doc["entry"][0]["changes"][0]["value"]["message_echoes"][0]["to"] = "+1 650-555-1234"
    (echo,) = WhatsAppCloudAdapter().parse(body_of(doc), WA)
    assert echo.chat_id == "16505551234"


def test_history_sync_threads_become_the_messages_they_were() -> None:
    """Meta's history reference: two threads, a business text, a media placeholder, a reply."""
    synced = events("meta_history_threads")
    assert [type(e).__name__ for e in synced] == [
        "MessageEcho",
        "Unsupported",
        "MessageReceived",
        "MessageEcho",
    ]
    first, placeholder, reply, other = synced
    assert (first.chat_id, first.sender_id, first.timestamp) == (
        "16505551234",
        "15550783881",
        at(1739230955),
    )
    assert isinstance(reply, MessageReceived)
    assert (reply.chat_id, reply.sender_id, reply.text) == ("16505551234", "16505551234", "Thanks!")
    assert other.chat_id == "12125557890"
    assert first.raw["history_metadata"] == {"phase": 0, "chunk_order": 1, "progress": 55}
    assert first.raw["history_context"] == {"status": "READ"}
    # the placeholder keeps its ids, and leaves the message key to the media that follows
    assert isinstance(placeholder, Unsupported)
    assert placeholder.message_id == "wamid.QyNUEHBgLMTY0NjcwNDM1OTUVAgARGBI1Rj3NEYxMzAzMzQ5MkEA"
    assert placeholder.from_me
    assert "placeholder" in placeholder.reason
    media = one("meta_history_media")
    assert isinstance(media, MessageReceived)
    assert media.message_id == placeholder.message_id
    assert media.idempotency_key != placeholder.idempotency_key
    assert media.attachments[0].media_id == "24230790383178626"
    assert media.attachments[0].caption == "Black Prince echeveria"


def test_history_sync_keys_match_live_keys_so_a_message_is_stored_once() -> None:
    """A message delivered live and again by Meta's history sync has one idempotency key."""
    synced = events("meta_history_threads")[2]
    live = fixture_json("whatsapp_cloud", "text")
    message = live["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update(id=synced.message_id, **{"from": "16505551234"})
    (event,) = WhatsAppCloudAdapter().parse(body_of(live), WA)
    assert event.idempotency_key == synced.idempotency_key


def test_history_sync_declined_is_unsupported_with_the_error_code() -> None:
    """Meta's history reference, "chat history sharing declined" example."""
    declined = one("meta_history_declined")
    assert isinstance(declined, Unsupported)
    assert "2593109" in declined.reason
    assert declined.account_id == "106540352242922"
    assert not declined.malformed_fields


def test_history_deliveries_do_not_count_as_the_signed_time() -> None:
    """Synced messages are months old: their times must not make the delivery look replayed."""
    adapter = WhatsAppCloudAdapter()
    assert adapter.signed_time(fixture_bytes("whatsapp_cloud", "meta_history_threads")) is None
    assert adapter.signed_time(fixture_bytes("whatsapp_cloud", "meta_history_media")) is None
    echo = fixture_bytes("whatsapp_cloud", "meta_smb_message_echo_text")
    assert adapter.signed_time(echo) == at(1739321024)


def test_app_state_sync_contact_changes_name_the_contact() -> None:
    """Meta's smb_app_state_sync reference example (add) and its ``remove`` action."""
    added = one("meta_smb_app_state_sync_add")
    assert isinstance(added, Unsupported)
    assert added.reason == "app contact add"
    assert (added.chat_id, added.sender_id, added.sender_name) == (
        "16505551234",
        "16505551234",
        "Pablo Morales",
    )
    assert added.timestamp == at(1739321024)
    removed = one("meta_smb_app_state_sync_remove")
    assert removed.reason == "app contact remove"
    assert removed.sender_name is None
    assert added.idempotency_key != removed.idempotency_key


# ---------------------------------------------------------------- statuses


def test_group_status_is_a_group_event_per_participant() -> None:
    """pywa tests/data/updates/message_status.json ``group`` (Meta's groups status example)."""
    status = one("pywa_status_group_read")
    assert isinstance(status, StatusChanged)
    assert status.chat_type is ChatType.GROUP
    assert status.is_group
    assert status.chat_id == "fowefinoewcnw"
    assert status.recipient_id == "<GROUP_PARTICIPANT_USER_PHONE_NUMBER>"
    doc = fixture_json("whatsapp_cloud", "pywa_status_group_read")
    doc["entry"][0]["changes"][0]["value"]["statuses"][0]["recipient_participant_id"] = "other"
    (second,) = WhatsAppCloudAdapter().parse(body_of(doc), WA)
    assert second.idempotency_key != status.idempotency_key  # both members' reads are kept


def test_statuses_keep_tracker_error_and_played() -> None:
    """pywa message_status.json: ``with_tracker``, ``failed`` (130472) and ``played``."""
    tracked = one("pywa_status_sent_with_tracker")
    assert (tracked.status, tracked.correlation_id) == (DeliveryStatus.SENT, "some data")
    assert tracked.raw["pricing"]["pricing_model"] == "CBP"
    assert tracked.chat_type is ChatType.DIRECT
    failed = one("pywa_status_failed_130472")
    assert failed.status is DeliveryStatus.FAILED
    assert failed.error.code == "130472"
    assert "experiment" in failed.error.message
    assert one("pywa_status_played").status is DeliveryStatus.PLAYED


def test_unknown_status_value_keeps_ids() -> None:
    doc = fixture_json("whatsapp_cloud", "status_read")
    doc["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "deleted"
    (event,) = WhatsAppCloudAdapter().parse(body_of(doc), WA)
    assert isinstance(event, Unsupported)
    assert event.message_id
    assert event.chat_id
    assert event.reason == "status 'deleted'"


# ---------------------------------------------------------------- message types


def test_message_types_from_pywa_samples() -> None:
    """pywa tests/data/updates/message.json samples, one per type."""
    text = one("pywa_text_bsuid")
    assert (text.sender_id, text.sender_name, text.sender_aliases) == (
        "972987654321",
        "Test Name",
        ("US.13491208655302741918",),
    )
    video = one("pywa_video")
    assert video.attachments[0].kind is MediaKind.VIDEO
    assert video.forwarded
    assert one("pywa_animated_sticker").attachments[0].kind is MediaKind.STICKER
    location = one("pywa_current_location")
    assert (location.location.latitude, location.location.longitude) == (12.25089, 43.90539)
    cards = one("pywa_contacts").contacts
    assert [c.name for c in cards] == ["Chandler Bing", "Monica", "Rachel Green"]
    assert cards[0].phones == ("+1 555-555-5555",)
    assert cards[0].user_id == "972987654321"
    order = one("pywa_order")
    assert order.text is None
    assert len(order.referral["order"]["product_items"]) == 3
    ad = one("pywa_referral")
    assert (ad.text, ad.referral["ctwa_clid"]) == ("BODY", "CTWA_CLID")
    assert one("pywa_forwarded_many_times").forwarded


def test_flow_completion_and_edited_media() -> None:
    """pywa flow_completion.json (``nfm_reply``) and edited_message.json (image edit)."""
    flow = one("pywa_flow_completion")
    assert (flow.interactive.type, flow.interactive.title) == ("flow", "Sent")
    assert json.loads(flow.interactive.description)["delivery_rating"] == "4"
    assert flow.reply_to == "wamid.gvwegfretge=="
    edited = one("pywa_edited_image")
    assert isinstance(edited, MessageEdited)
    assert edited.text == "Updated image caption"
    assert edited.attachments[0].media_id == "1234567890"


def test_unsupported_and_system_messages_keep_every_id() -> None:
    """pywa message.json ``unsupported_with_type`` and system.json."""
    poll = one("pywa_unsupported_poll")
    assert isinstance(poll, Unsupported)
    assert (poll.message_id, poll.chat_id, poll.sender_id, poll.sender_name) == (
        "wamid.xyzxyz",
        "972987654321",
        "972987654321",
        "Test Name",
    )
    assert poll.timestamp == at(1697044706)
    assert "131051" in poll.reason
    assert "pool" in poll.reason
    moved = one("pywa_system_changed_number")
    assert isinstance(moved, ChatMigrated)
    assert (moved.chat_id, moved.new_chat_id) == ("972987654321", "972912345678")
    identity = one("pywa_system_identity_changed")
    assert isinstance(identity, Unsupported)
    assert identity.reason == "system message: customer_identity_changed"
    assert identity.message_id == "wamid.xyzxyz"


def test_interactive_without_its_body_keeps_ids_and_the_value_error() -> None:
    """pywa message.json ``interactive_message_with_err``: no ``interactive`` object, plus a
    value-level 131000 error."""
    broken, error = events("pywa_interactive_without_body")
    assert isinstance(broken, Unsupported)
    assert (broken.message_id, broken.chat_id, broken.sender_id) == (
        "wamid.wegrchytvwcggt=",
        "972987654321",
        "972987654321",
    )
    assert broken.timestamp == at(1700505494)
    assert isinstance(error, Unsupported)
    assert "131000" in error.reason


def test_unknown_interactive_type_keeps_ids() -> None:
    doc = fixture_json("whatsapp_cloud", "interactive_button_reply")
    message = doc["entry"][0]["changes"][0]["value"]["messages"][0]
    message["interactive"] = {"type": "call_permission_reply", "call_permission_reply": {}}
    (event,) = WhatsAppCloudAdapter().parse(body_of(doc), WA)
    assert isinstance(event, Unsupported)
    assert event.reason == "interactive 'call_permission_reply'"
    assert (event.message_id, event.sender_id) == (message["id"], message["from"])


def test_group_message_is_filed_under_the_group() -> None:
    """Group messages carry ``group_id`` (pywa types/chat.py reads the chat from it)."""
    doc = fixture_json("whatsapp_cloud", "text")
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["group_id"] = "120363000000000001"
    (event,) = WhatsAppCloudAdapter().parse(body_of(doc), WA)
    assert (event.chat_id, event.chat_type, event.sender_id) == (
        "120363000000000001",
        ChatType.GROUP,
        "16505551234",
    )


# ---------------------------------------------------------------- account-level fields


def test_template_and_account_updates_are_named_and_timed_by_their_entry() -> None:
    """pywa template_status_update.json ``approved`` and account_update.json: entry ``time``
    is in seconds there (Messenger's is milliseconds)."""
    template = one("pywa_template_approved")
    assert isinstance(template, Unsupported)
    assert "order_confirmation" in template.reason
    assert "APPROVED" in template.reason
    assert template.timestamp == at(1751247548)
    assert template.raw["id"] == "102290129340398"
    partner = one("pywa_account_partner_removed")
    assert partner.reason == "account_update: PARTNER_REMOVED"
    assert partner.timestamp == at(1748477359)
    assert not partner.malformed_fields


# ---------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("1767225600", at(1767225600)),
        (1767225600, at(1767225600)),
        (1767225600123, datetime.fromtimestamp(1767225600.123, UTC)),
        ("1767225600123", datetime.fromtimestamp(1767225600.123, UTC)),
    ],
)
def test_seconds_strings_numbers_and_milliseconds(stamp: object, expected: datetime) -> None:
    doc = fixture_json("whatsapp_cloud", "text")
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = stamp
    (event,) = WhatsAppCloudAdapter().parse(body_of(doc), WA)
    assert event.timestamp == expected
    assert not event.malformed_fields


@pytest.mark.parametrize("stamp", [None, "soon", -5, True])
def test_unusable_time_falls_back_to_the_entry_and_says_so(stamp: object) -> None:
    doc = fixture_json("whatsapp_cloud", "text")
    doc["entry"][0]["time"] = 1767225000
    message = doc["entry"][0]["changes"][0]["value"]["messages"][0]
    if stamp is None:
        del message["timestamp"]
    else:
        message["timestamp"] = stamp
    (event,) = WhatsAppCloudAdapter().parse(body_of(doc), WA)
    assert isinstance(event, MessageReceived)
    assert event.timestamp == at(1767225000)
    assert event.malformed_fields
    assert "envelope" in event.malformed_fields[0]


# ---------------------------------------------------------------- sending


@respx.mock
async def test_send_table_refuses_what_whatsapp_cannot_send() -> None:
    route = respx.post(f"{GRAPH}/106540352242922/messages").mock(
        return_value=httpx.Response(200, json=fixture_json("whatsapp_cloud", "api_send_response"))
    )
    adapter = WhatsAppCloudAdapter()
    async with httpx.AsyncClient() as client:
        with pytest.raises(InvalidRequestError, match="message id"):
            await adapter.send(client, WA, Typing(to="16505551234"))
        media = MediaMessage(to="1", media_kind=MediaKind.ANIMATION, url="https://x.test/a")
        with pytest.raises(CapabilityNotSupportedError):
            await adapter.send(client, WA, media)
        buttons = tuple(Button(id=str(i), title=f"b{i}") for i in range(4))
        with pytest.raises(InvalidRequestError):
            await adapter.send(client, WA, ButtonsMessage(to="1", text="?", buttons=buttons))
        result = await adapter.send(
            client,
            WA,
            ButtonsMessage(
                to="US.13491208655302741918",
                text="Pick",
                header="Hi",
                footer="Bye",
                buttons=(Button(id="a", title="A title longer than twenty"),),
            ),
        )
    assert route.call_count == 1
    body = json.loads(route.calls[0].request.content)
    assert body["recipient"] == "US.13491208655302741918"
    assert "to" not in body
    assert body["interactive"]["body"] == {"text": "Pick"}
    assert body["interactive"]["header"] == {"type": "text", "text": "Hi"}
    assert body["interactive"]["footer"] == {"text": "Bye"}
    assert body["interactive"]["action"]["buttons"][0]["reply"]["title"] == "A title longer than "
    assert result.message_id
