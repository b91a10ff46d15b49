"""Encryption at rest for what the library stores about a channel.

Stores that write channel secrets (the SQL repository's rows, the Redis channel cache) take any
object with ``encrypt(bytes) -> bytes`` and ``decrypt(bytes) -> bytes``. The library ships no
cryptography: wrap Fernet or AES-GCM around a key from your KMS.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

__all__ = ["ConfigCipher", "warn_plaintext_once"]


@runtime_checkable
class ConfigCipher(Protocol):
    """Encryption at rest for the secret part of a channel (its config and retired secrets).

    ``encrypt`` must be reversible by ``decrypt``; authenticated encryption (e.g. Fernet or
    AES-GCM with a key from the host's KMS) is the intended use. ``decrypt`` raises on data it
    did not produce (another key, tampering).
    """

    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, data: bytes) -> bytes: ...


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
