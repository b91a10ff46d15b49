"""Plain SQL migrations, one folder per database (``postgresql/0001_channels.sql``, ...)."""

from __future__ import annotations

from importlib import resources

__all__ = ["postgresql_migrations"]


def postgresql_migrations() -> list[tuple[str, str]]:
    """``(file name, SQL text)`` of every PostgreSQL migration, in the order to apply them."""
    folder = resources.files(__name__) / "postgresql"
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [(entry.name, entry.read_text(encoding="utf-8")) for entry in files]
