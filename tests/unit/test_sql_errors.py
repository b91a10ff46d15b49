"""Database failures become typed errors: transient server states are "unavailable"."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from ventros_channels.errors import InboxError, InboxUnavailableError, InvalidInputError
from ventros_channels.sql._errors import translate_errors


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"server said no (password=hunter2) [{sqlstate}]")
        self.sqlstate = sqlstate


def _raise(sqlstate: str) -> None:
    raise sa_exc.DBAPIError("SELECT :secret", {"secret": "hunter2"}, DriverError(sqlstate))


@pytest.mark.parametrize("sqlstate", ["53300", "57P01", "08006"])
def test_transient_server_states_are_unavailable(sqlstate: str) -> None:
    with (
        pytest.raises(InboxUnavailableError) as caught,
        translate_errors("inbox store", InboxUnavailableError, InboxError),
    ):
        _raise(sqlstate)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_other_errors_name_only_the_class_and_sqlstate() -> None:
    with (
        pytest.raises(InboxError) as caught,
        translate_errors("inbox store", InboxUnavailableError, InboxError),
    ):
        _raise("23505")
    assert not isinstance(caught.value, InboxUnavailableError)
    assert str(caught.value) == "inbox store error: DriverError (SQLSTATE 23505)"
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("sqlstate", ["22P05", "22021"])
def test_text_the_server_cannot_store_is_an_input_error(sqlstate: str) -> None:
    with (
        pytest.raises(InvalidInputError) as caught,
        translate_errors("channel store", InboxUnavailableError, InboxError),
    ):
        _raise(sqlstate)
    assert "NUL" in str(caught.value)
    assert "hunter2" not in str(caught.value)
