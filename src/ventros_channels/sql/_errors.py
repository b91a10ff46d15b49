"""One translation of database failures into the library's typed errors, for every SQL store.

A failure that says "no connection now" (refused, lost, timed out, the server out of
connection slots or shutting down, SQLite busy) becomes the store's *unavailable* error:
nothing was written and a retry later may succeed (intake answers 503, workers back off).
Anything else becomes the store's plain error. Messages name the error class and SQLSTATE
only, since a driver's text can quote statement parameters (secrets), and nothing is chained.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from ventros_channels.errors import (
    FieldError,
    InvalidInputError,
    VentrosChannelsError,
    raise_unchained,
)

__all__ = ["reason", "translate_errors"]

# SQLSTATE classes of a server that cannot serve us right now: connection exceptions (08),
# insufficient resources such as too many connections (53), operator intervention such as a
# shutdown in progress (57P0x).
_TRANSIENT_SQLSTATES = ("08", "53", "57P0")
# Text the server cannot store: a NUL character (22P05 untranslatable character, 22021
# character not in repertoire). The input is at fault, not the store: the caller gets the
# typed input error instead of a store failure.
_UNSTORABLE_TEXT_SQLSTATES = ("22P05", "22021")


def reason(exc: BaseException) -> str:
    """The driver's error class and the first line of its message (for unavailability only)."""
    root = getattr(exc, "orig", None) or exc
    text = str(root).strip().splitlines()
    detail = f": {text[0][:200]}" if text else ""
    return f"{type(root).__name__}{detail}"


def _sqlstate(exc: BaseException) -> str | None:
    root = getattr(exc, "orig", None) or exc
    code = getattr(root, "sqlstate", None) or getattr(root, "pgcode", None)
    return str(code) if code else None


def _driver_connection_failure(exc: BaseException) -> bool:
    """Driver errors raised outside SQLAlchemy's wrapping that mean "no connection"."""
    module = type(exc).__module__.split(".")[0]
    if module == "asyncpg":
        names = {k.__name__ for k in type(exc).__mro__}
        return bool(
            names & {"PostgresConnectionError", "InterfaceError", "ConnectionDoesNotExistError"}
        )
    return module in {"aiosqlite", "sqlite3"} and "OperationalError" in type(exc).__name__


@contextmanager
def translate_errors(
    what: str,
    unavailable: type[VentrosChannelsError],
    error: type[VentrosChannelsError],
    *,
    passthrough: tuple[type[BaseException], ...] = (),
) -> Iterator[None]:
    """Run the body, raising ``unavailable`` / ``error`` (see the module docstring)."""
    keep: tuple[type[BaseException], ...] = (VentrosChannelsError, *passthrough)
    try:
        yield
    except keep:
        raise
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, OSError) as e:
        raise_unchained(unavailable(f"{what} unavailable: {reason(e)}"))
    except sa_exc.DBAPIError as exc:
        code = _sqlstate(exc)
        if exc.connection_invalidated or (code and code.startswith(_TRANSIENT_SQLSTATES)):
            raise_unchained(unavailable(f"{what} unavailable: {reason(exc)}"))
        if code in _UNSTORABLE_TEXT_SQLSTATES:
            raise_unchained(_unstorable(what))
        suffix = f" (SQLSTATE {code})" if code else ""
        raise_unchained(error(f"{what} error: {type(exc.orig).__name__}{suffix}"))
    except sa_exc.SQLAlchemyError as exc:
        raise_unchained(error(f"{what} error: {type(exc).__name__}"))
    except Exception as exc:
        code = _sqlstate(exc)
        if _driver_connection_failure(exc) or (code and code.startswith(_TRANSIENT_SQLSTATES)):
            raise_unchained(unavailable(f"{what} unavailable: {reason(exc)}"))
        if code in _UNSTORABLE_TEXT_SQLSTATES:
            raise_unchained(_unstorable(what))
        raise


def _unstorable(what: str) -> InvalidInputError:
    return InvalidInputError(
        what, [FieldError("<text>", "contains a character the database cannot store (NUL)")]
    )
