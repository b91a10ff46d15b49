"""Encryption at rest for what the library stores about a channel.

Stores that write channel secrets (the SQL repository's rows, the Redis channel cache) take any
object with ``encrypt(bytes) -> bytes`` and ``decrypt(bytes) -> bytes``. The library ships no
cryptography: wrap Fernet or AES-GCM around a key from your KMS.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

__all__ = ["ConfigCipher", "RotatingCipher", "warn_plaintext_once"]


@runtime_checkable
class ConfigCipher(Protocol):
    """Encryption at rest for the secret part of a channel (its config and retired secrets).

    ``encrypt`` must be reversible by ``decrypt``; authenticated encryption (e.g. Fernet or
    AES-GCM with a key from the host's KMS) is the intended use. ``decrypt`` raises on data it
    did not produce (another key, tampering).
    """

    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, data: bytes) -> bytes: ...


class RotatingCipher:
    """Key rotation: encrypts with ``current``, decrypts with ``current`` or any ``previous``.

    Give it to the stores while rotating, then run ``SqlChannelRepository.reencrypt()`` (or
    ``ventros-channels reencrypt``) so every row is written with the current key; the old keys
    can be dropped afterwards. Cache entries sealed with an old key expire with their TTL.
    """

    def __init__(self, current: ConfigCipher, *previous: ConfigCipher) -> None:
        self.current = current
        self.previous = previous

    def __repr__(self) -> str:
        return f"RotatingCipher(previous keys: {len(self.previous)})"

    def encrypt(self, data: bytes) -> bytes:
        return self.current.encrypt(data)

    def decrypt(self, data: bytes) -> bytes:
        try:
            return self.current.decrypt(data)
        except Exception as first:  # not ours: try the keys being retired, newest first
            for cipher in self.previous:
                try:
                    return cipher.decrypt(data)
                except Exception:  # noqa: S112 (the next key may fit)
                    continue
            raise ValueError("no key of the rotation decrypts this data") from first


_warned: set[str] = set()


def warn_plaintext_once(store: str, where: str, logger: logging.Logger) -> None:
    """Log one WARNING per process and store that it will hold channel secrets in clear."""
    if store in _warned:
        return
    _warned.add(store)
    logger.warning(
        "%s has no cipher: channel secrets (tokens, app secrets, webhook keys) will be stored "
        "in clear in %s; pass cipher= (a ConfigCipher) to encrypt them at rest",
        store,
        where,
    )
