"""Event models' ``model_validate`` (what adapters build every event with) goes straight to
the model's validator; for any input, valid or not, it gives what pydantic's own
``BaseModel.model_validate`` gives: the same event, or the same errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from ventros_channels.messaging import inbound
from ventros_channels.messaging.inbound import (
    Attachment,
    ChatType,
    MediaKind,
    MessageReceived,
    StatusChanged,
    inbound_event_adapter,
)

MODELS: list[type[BaseModel]] = [
    inbound.MessageReceived,
    inbound.MessageEcho,
    inbound.StatusChanged,
    inbound.ReactionChanged,
    inbound.MessageEdited,
    inbound.MessageDeleted,
    inbound.Postback,
    inbound.SessionStatusChanged,
    inbound.BotMembershipChanged,
    inbound.ChatMigrated,
    inbound.Unsupported,
    inbound.Attachment,
    inbound.Location,
    inbound.SharedContact,
    inbound.InteractiveReply,
    inbound.DeliveryError,
]

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["group", "direct", "read", "delivered", "image", "button", "message"]),
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from(list(ChatType) + list(MediaKind)),
    st.lists(st.text(max_size=4), max_size=3),
    st.tuples(st.text(max_size=4)),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.just(Attachment(kind=MediaKind.IMAGE, media_id="m")),
)


@st.composite
def inputs(draw: st.DrawFn) -> tuple[type[BaseModel], dict[str, Any]]:
    model = draw(st.sampled_from(MODELS))
    names = draw(st.lists(st.sampled_from([*model.model_fields, "not_a_field"]), unique=True))
    base = {  # the required fields of events, usually valid, so most draws build an event
        "channel_type": "telegram",
        "chat_id": "5",
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "idempotency_key": "telegram:1:message:5",
    }
    data = {k: v for k, v in base.items() if k in model.model_fields and draw(st.booleans())}
    data.update({name: draw(values) for name in names})
    return model, data


def pydantic_validate(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """Pydantic's own ``model_validate``: the event, or the errors it raised."""
    try:
        return BaseModel.model_validate.__func__(model, data)  # type: ignore[attr-defined]
    except ValidationError as error:
        return error.errors()


def ours(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        return error.errors()


@settings(max_examples=500, deadline=None)
@given(inputs())
def test_same_event_or_same_errors_as_pydantic(
    case: tuple[type[BaseModel], dict[str, Any]],
) -> None:
    model, data = case
    expected, made = pydantic_validate(model, data), ours(model, data)
    assert type(made) is type(expected)
    if isinstance(expected, list):  # both refused the input
        assert made == expected
        return
    assert made == expected
    assert repr(made) == repr(expected)
    assert made.model_fields_set == expected.model_fields_set
    assert made.model_dump(mode="json") == expected.model_dump(mode="json")


def test_events_stay_frozen_and_round_trip() -> None:
    event = MessageReceived.model_validate(
        {
            "channel_type": "telegram",
            "chat_id": "5",
            "chat_type": "group",
            "timestamp": "2026-01-01T00:00:00Z",
            "idempotency_key": "k",
            "text": "hi",
        }
    )
    assert event.chat_type is ChatType.GROUP
    assert event.is_group
    with pytest.raises(ValidationError):
        event.text = "changed"  # type: ignore[misc]
    assert inbound_event_adapter.validate_python(event.model_dump(mode="json")) == event


def test_options_still_reach_pydantic() -> None:
    data = {
        "channel_type": "whatsapp",
        "chat_id": "5",
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "idempotency_key": "k",
        "status": "read",
    }
    assert StatusChanged.model_validate(data).status == "read"
    with pytest.raises(ValidationError):
        StatusChanged.model_validate(data, strict=True)  # a str is no DeliveryStatus in strict
