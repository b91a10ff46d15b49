"""Alembic environment of ventros-channels (its logic is in :mod:`ventros_channels.sql.migrate`)."""

from ventros_channels.sql.migrate import run_env

run_env()
