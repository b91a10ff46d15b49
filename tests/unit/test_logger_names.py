"""Each module logs to its own logger, named after the module."""

from __future__ import annotations

import importlib
import logging
import pkgutil

import ventros_channels

ALEMBIC_SCRIPTS = "ventros_channels.sql.alembic."


def test_every_module_logger_is_named_after_its_module() -> None:
    checked = []
    for info in pkgutil.walk_packages(ventros_channels.__path__, "ventros_channels."):
        if info.name.startswith(ALEMBIC_SCRIPTS):
            continue  # migration scripts run inside Alembic only, never imported on their own
        module = importlib.import_module(info.name)
        logger = getattr(module, "logger", None)
        if isinstance(logger, logging.Logger):
            assert logger.name == info.name
            checked.append(info.name)
    assert {
        "ventros_channels.services.dispatcher",
        "ventros_channels.services.intake",
        "ventros_channels.services.worker",
        "ventros_channels.services.sending",
        "ventros_channels.telemetry",
    } <= set(checked)
