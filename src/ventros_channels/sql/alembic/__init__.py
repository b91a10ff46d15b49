"""The library's Alembic environment: ``env.py`` and the revisions in ``versions/``.

Run it with ``ventros-channels db``, the functions of :mod:`ventros_channels.sql.migrate`, or
from the host's own Alembic environment (see the persistence guide).
"""
