"""Which tests prove each supported cell of the docs' capability matrix.

``COVERAGE`` maps (channel type, feature key) to test node ids (``path::function``).
``tests/unit/test_capability_matrix.py`` checks that every id names a test that exists, that
every registered cell is one the adapter declares, and that every declared cell is either
registered here or listed in ``PENDING``. ``PENDING`` lists the declared cells no test is
registered for yet: the docs mark them ``yes*``. Register a cell's test and drop it from
``PENDING`` (the check fails while a cell is in both), so the list only shrinks.
"""

from __future__ import annotations

from collections.abc import Mapping

_TG = "tests/adapters/test_telegram.py"
_WAHA = "tests/adapters/test_waha.py"
_META = "tests/adapters/test_meta.py"
_META_RICH = "tests/adapters/test_meta_messaging_rich.py"
_WA_RICH = "tests/adapters/test_whatsapp_rich.py"
_WA_TPL = "tests/adapters/test_whatsapp_templates.py"
_TG_MEDIA = "tests/adapters/test_telegram_media.py"
_TG_KINDS = f"{_TG_MEDIA}::test_each_kind_goes_to_its_method_by_file_id_url_and_upload"
_WAHA_MEDIA = "tests/adapters/test_waha_media.py"
_WAHA_KINDS = f"{_WAHA_MEDIA}::test_each_kind_by_url_and_by_upload"
_MM = "tests/adapters/test_meta_messaging_media.py"
_MM_KINDS = f"{_MM}::test_each_media_kind_is_an_attachment_of_its_type"
_MM_INBOUND = f"{_MM}::test_inbound_media_is_parsed_and_downloaded_from_its_cdn_url"
_MM_HOOK = f"{_MM}::test_webhook_subscription_is_made_and_removed"

COVERAGE: Mapping[tuple[str, str], tuple[str, ...]] = {
    # Telegram
    ("telegram", "outbound_media"): (
        f"{_TG}::test_buttons_become_an_inline_keyboard_and_media_by_url",
    ),
    ("telegram", "media:image"): (
        f"{_TG}::test_buttons_become_an_inline_keyboard_and_media_by_url",
    ),
    ("telegram", "interactive"): (
        f"{_TG}::test_buttons_become_an_inline_keyboard_and_media_by_url",
    ),
    ("telegram", "media_upload"): (f"{_TG}::test_upload_goes_multipart",),
    ("telegram", "media_download"): (f"{_TG}::test_download_goes_through_get_file",),
    ("telegram", "webhook_registration"): (
        f"{_TG}::test_webhook_registration_and_info_and_connection",
    ),
    ("telegram", "edits"): (f"{_TG}::test_channel_post_edit_callback_reaction_membership_unknown",),
    ("telegram", "groups"): (f"{_TG}::test_migrated_group_service_message_is_reported",),
    ("telegram", "edit_messages"): (
        "tests/adapters/test_telegram_rich.py::test_edit_and_delete_a_sent_message",
    ),
    ("telegram", "delete_messages"): (
        "tests/adapters/test_telegram_rich.py::test_edit_and_delete_a_sent_message",
        "tests/adapters/test_telegram_rich.py::test_deleting_for_our_account_only_is_refused_before_any_request",
    ),
    ("telegram", "location_messages"): (
        "tests/adapters/test_telegram_rich.py::test_location_venue_contact_poll_and_sticker",
    ),
    ("telegram", "contact_messages"): (
        "tests/adapters/test_telegram_rich.py::test_location_venue_contact_poll_and_sticker",
        "tests/adapters/test_telegram_rich.py::test_what_telegram_cannot_carry_is_refused_before_any_request",
    ),
    ("telegram", "polls"): (
        "tests/adapters/test_telegram_rich.py::test_location_venue_contact_poll_and_sticker",
    ),
    ("telegram", "media:sticker"): (
        "tests/adapters/test_telegram_rich.py::test_location_venue_contact_poll_and_sticker",
    ),
    ("telegram", "typing"): (
        "tests/adapters/test_telegram_rich.py::test_typing_and_recording_are_chat_actions",
    ),
    ("telegram", "profiles"): (
        "tests/adapters/test_telegram_rich.py::test_fetch_profile_reads_get_chat_and_keeps_the_token_out",
    ),
    ("telegram", "inbound_media"): (
        f"{_TG}::test_photo_keeps_the_largest_size_and_the_others_as_variants",
        f"{_TG}::test_voice_document_reply_and_forum_topic",
        f"{_TG_MEDIA}::test_inbound_media_of_each_kind_is_one_attachment_with_its_file_id",
    ),
    ("telegram", "media:animation"): (_TG_KINDS,),
    ("telegram", "media:audio"): (_TG_KINDS,),
    ("telegram", "media:document"): (_TG_KINDS,),
    ("telegram", "media:video"): (_TG_KINDS,),
    ("telegram", "media:video_note"): (_TG_KINDS,),
    ("telegram", "media:voice"): (_TG_KINDS,),
    ("telegram", "reactions"): (f"{_TG_MEDIA}::test_a_reaction_is_set_and_removed",),
    # WAHA
    ("waha", "groups"): (f"{_WAHA}::test_group_message_is_sent_by_its_participant",),
    ("waha", "inbound_media"): (f"{_WAHA}::test_media_with_and_without_a_url",),
    ("waha", "edits"): (f"{_WAHA}::test_reactions_edits_revokes_sessions_and_unknown_events",),
    ("waha", "outbound_media"): (f"{_WAHA}::test_send_text_and_image_with_api_key",),
    ("waha", "media:image"): (f"{_WAHA}::test_send_text_and_image_with_api_key",),
    ("waha", "history_import"): (f"{_WAHA}::test_history_pages_with_offsets_and_a_time_filter",),
    ("waha", "edit_messages"): (
        "tests/adapters/test_waha_rich.py::test_edit_and_delete_address_the_message_under_its_chat",
    ),
    ("waha", "delete_messages"): (
        "tests/adapters/test_waha_rich.py::test_edit_and_delete_address_the_message_under_its_chat",
        "tests/adapters/test_waha_rich.py::test_what_waha_cannot_send_is_refused_before_any_request",
    ),
    ("waha", "location_messages"): (
        "tests/adapters/test_waha_rich.py::test_location_contacts_and_poll_bodies",
    ),
    ("waha", "contact_messages"): (
        "tests/adapters/test_waha_rich.py::test_location_contacts_and_poll_bodies",
    ),
    ("waha", "polls"): (
        "tests/adapters/test_waha_rich.py::test_location_contacts_and_poll_bodies",
    ),
    ("waha", "typing"): (
        "tests/adapters/test_waha_rich.py::test_typing_recording_and_mark_as_read",
    ),
    ("waha", "read_receipts"): (
        "tests/adapters/test_waha_rich.py::test_typing_recording_and_mark_as_read",
    ),
    ("waha", "profiles"): (
        "tests/adapters/test_waha_rich.py::test_fetch_profile_reads_the_contact_and_its_picture",
    ),
    ("waha", "presence"): (
        "tests/adapters/test_waha_rich.py::test_presence_update_is_one_event_per_member",
        "tests/adapters/test_waha_rich.py::test_an_unknown_presence_is_kept_as_unsupported",
    ),
    ("waha", "media:audio"): (_WAHA_KINDS,),
    ("waha", "media:document"): (_WAHA_KINDS,),
    ("waha", "media:video"): (_WAHA_KINDS,),
    ("waha", "media:voice"): (_WAHA_KINDS,),
    ("waha", "media_upload"): (_WAHA_KINDS,),
    ("waha", "media_download"): (
        f"{_WAHA_MEDIA}::test_received_media_is_downloaded_from_waha_with_the_api_key",
    ),
    ("waha", "reactions"): (
        f"{_WAHA_MEDIA}::test_a_reaction_is_put_and_removed_with_an_empty_string",
    ),
    ("waha", "session_pairing"): (
        f"{_WAHA_MEDIA}::test_qr_pairing_from_a_new_session_to_working",
        "tests/management/test_api.py::test_activate_waha_returns_the_qr_code_then_pairing_connects",
    ),
    ("waha", "webhook_registration"): (
        f"{_WAHA_MEDIA}::test_webhook_is_registered_read_and_removed_in_the_session_config",
    ),
    # WhatsApp Cloud
    ("whatsapp", "inbound_media"): (f"{_META}::test_whatsapp_media_kinds_and_replies",),
    ("whatsapp", "edits"): (f"{_META}::test_whatsapp_unknown_type_edit_and_revoke",),
    ("whatsapp", "outbound_media"): (f"{_META}::test_whatsapp_sends_every_kind",),
    ("whatsapp", "media_upload"): (f"{_META}::test_whatsapp_sends_every_kind",),
    ("whatsapp", "media:image"): (f"{_META}::test_whatsapp_sends_every_kind",),
    ("whatsapp", "media:document"): (f"{_META}::test_whatsapp_sends_every_kind",),
    ("whatsapp", "templates"): (f"{_META}::test_whatsapp_sends_every_kind",),
    ("whatsapp", "interactive"): (f"{_META}::test_whatsapp_sends_every_kind",),
    ("whatsapp", "reactions"): (f"{_META}::test_whatsapp_sends_every_kind",),
    ("whatsapp", "read_receipts"): (f"{_META}::test_whatsapp_sends_every_kind",),
    ("whatsapp", "media_download"): (
        f"{_META}::test_whatsapp_media_download_is_two_authorized_steps",
    ),
    ("whatsapp", "media:audio"): (
        f"{_WA_RICH}::test_stickers_and_other_media_by_id_link_and_upload",
    ),
    ("whatsapp", "media:sticker"): (
        f"{_WA_RICH}::test_stickers_and_other_media_by_id_link_and_upload",
    ),
    ("whatsapp", "media:video"): (
        f"{_WA_RICH}::test_stickers_and_other_media_by_id_link_and_upload",
    ),
    ("whatsapp", "media:voice"): (
        f"{_WA_RICH}::test_stickers_and_other_media_by_id_link_and_upload",
    ),
    ("whatsapp", "location_messages"): (
        f"{_WA_RICH}::test_location_and_contact_cards_match_the_documented_bodies",
    ),
    ("whatsapp", "contact_messages"): (
        f"{_WA_RICH}::test_location_and_contact_cards_match_the_documented_bodies",
        f"{_WA_RICH}::test_cards_without_a_name_and_too_many_cards_are_refused_before_any_request",
    ),
    ("whatsapp", "typing"): (f"{_WA_RICH}::test_typing_indicator_marks_read_and_shows_typing",),
    ("whatsapp", "template_catalog"): (
        f"{_WA_TPL}::test_list_templates_reads_every_page_with_the_named_fields",
        f"{_WA_TPL}::test_sync_reports_added_changed_and_removed_entries",
        f"{_WA_TPL}::test_typed_parameters_make_the_documented_components_and_reach_the_fake",
    ),
    ("whatsapp", "webhook_registration"): (
        f"{_META}::test_whatsapp_connection_and_waba_subscription",
    ),
    # Messenger
    ("messenger", "outbound_media"): (
        f"{_META}::test_messenger_send_matches_the_documented_requests",
    ),
    ("messenger", "media:image"): (
        f"{_META}::test_messenger_send_matches_the_documented_requests",
    ),
    ("messenger", "interactive"): (
        f"{_META}::test_messenger_send_matches_the_documented_requests",
    ),
    ("messenger", "typing"): (
        f"{_META}::test_messenger_send_matches_the_documented_requests",
        f"{_META_RICH}::test_messenger_sender_actions_and_reactions",
    ),
    ("messenger", "history_import"): (
        f"{_META}::test_messenger_history_pages_through_conversations",
    ),
    ("messenger", "read_receipts"): (
        f"{_META}::test_messenger_events",
        f"{_META_RICH}::test_messenger_sender_actions_and_reactions",
    ),
    ("messenger", "reactions"): (f"{_META_RICH}::test_messenger_sender_actions_and_reactions",),
    ("messenger", "media:sticker"): (
        f"{_META_RICH}::test_messenger_sends_a_catalog_sticker_by_its_id",
    ),
    ("messenger", "profiles"): (
        f"{_META_RICH}::test_messenger_profile_from_the_user_profile_api",
        f"{_META_RICH}::test_messenger_profile_refusals_are_typed",
    ),
    ("messenger", "edits"): (
        f"{_META}::test_messenger_events",
        "tests/adapters/test_meta_messaging.py::test_message_edit_from_the_reference",
    ),
    ("messenger", "inbound_media"): (f"{_META}::test_messenger_events", _MM_INBOUND),
    ("messenger", "media_download"): (_MM_INBOUND,),
    ("messenger", "media:audio"): (_MM_KINDS,),
    ("messenger", "media:document"): (_MM_KINDS,),
    ("messenger", "media:video"): (_MM_KINDS,),
    ("messenger", "media:voice"): (_MM_KINDS,),
    ("messenger", "webhook_registration"): (_MM_HOOK,),
    # Instagram
    ("instagram", "outbound_media"): (f"{_META}::test_instagram_sends_for_both_login_flavours",),
    ("instagram", "media:image"): (f"{_META}::test_instagram_sends_for_both_login_flavours",),
    ("instagram", "reactions"): (
        f"{_META}::test_instagram_sends_for_both_login_flavours",
        f"{_META_RICH}::test_instagram_sender_actions_for_both_logins",
    ),
    ("instagram", "typing"): (f"{_META_RICH}::test_instagram_sender_actions_for_both_logins",),
    ("instagram", "read_receipts"): (
        f"{_META}::test_instagram_events",
        f"{_META_RICH}::test_instagram_sender_actions_for_both_logins",
    ),
    ("instagram", "media:sticker"): (f"{_META_RICH}::test_instagram_sends_its_heart_sticker",),
    ("instagram", "profiles"): (f"{_META_RICH}::test_instagram_profile_for_both_logins",),
    ("instagram", "history_import"): (
        f"{_MM}::test_instagram_history_pages_through_conversations",
    ),
    ("instagram", "inbound_media"): (f"{_META}::test_instagram_events", _MM_INBOUND),
    ("instagram", "media_download"): (_MM_INBOUND,),
    ("instagram", "interactive"): (f"{_MM}::test_instagram_buttons_are_quick_replies",),
    ("instagram", "media:audio"): (_MM_KINDS,),
    ("instagram", "media:document"): (_MM_KINDS,),
    ("instagram", "media:video"): (_MM_KINDS,),
    ("instagram", "webhook_registration"): (_MM_HOOK,),
}

PENDING: frozenset[tuple[str, str]] = frozenset()
"""Declared cells without a registered test yet: none. A newly declared capability goes here
(and shows as ``yes*`` in the docs) until a test proving it is registered in ``COVERAGE``."""
