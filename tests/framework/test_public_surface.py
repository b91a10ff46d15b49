"""The public surface: what importing the package costs and changes, and what it exports.

Imports are measured in a fresh interpreter: this test process has long since imported
everything.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import TypedDict

import pytest

import ventros_channels

SRC = Path(ventros_channels.__file__).parent

HEAVY = (
    "httpx",
    "tenacity",
    "sqlalchemy",
    "redis",
    "ventros_channels.http",
    "ventros_channels.services.dispatcher",
    "ventros_channels.services.channels",
    "ventros_channels.adapters.base",
)
"""What code that only uses the domain model must not pay for."""

_PROBE = """
import json, logging, sys, time
started = time.perf_counter()
{statement}
elapsed = time.perf_counter() - started
from ventros_channels.domain import config
print(json.dumps({{
    "modules": sorted(sys.modules),
    "seconds": elapsed,
    "logger_filters": {{
        name: len(logger.filters)
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }},
    "root": [len(logging.getLogger().filters), len(logging.getLogger().handlers)],
    "config_models": sorted(config._MODELS),
}}))
"""


class Report(TypedDict):
    modules: list[str]
    seconds: float
    logger_filters: dict[str, int]
    root: list[int]
    config_models: list[str]


def probe(statement: str) -> Report:
    """Run ``statement`` in a fresh interpreter and report what it loaded and changed."""
    out = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", _PROBE.format(statement=statement)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: Report = json.loads(out.stdout)
    return result


def loaded(report: Report, prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in report["modules"])


@pytest.mark.parametrize(
    "statement",
    [
        "import ventros_channels",
        "from ventros_channels import Channel, ChannelConfig, ChannelStatus, ChannelEvent",
        "from ventros_channels import InboundEvent, TextMessage, MessageReceived, Unsupported",
        "from ventros_channels import ChannelNotFoundError, ChannelRepository, FieldError",
        "import ventros_channels.domain, ventros_channels.messaging, ventros_channels.errors",
    ],
)
def test_domain_only_imports_leave_the_http_stack_and_services_alone(statement: str) -> None:
    report = probe(statement)
    assert [m for m in HEAVY if loaded(report, m)] == []


def test_importing_everything_changes_no_logger_and_installs_no_resolver() -> None:
    report = probe("from ventros_channels import *\nimport ventros_channels.http")
    assert loaded(report, "httpx")  # the probe did load the HTTP layer ...
    assert {n: c for n, c in report["logger_filters"].items() if c} == {}  # ... no logger filtered
    assert report["root"] == [0, 0]
    assert report["config_models"] == []  # resolved through entry points on first use only


def test_importing_the_package_is_cheap() -> None:
    """Best of three: the bare package costs its export table, not the library."""
    bare = min(probe("import ventros_channels")["seconds"] for _ in range(3))
    full = min(probe("import ventros_channels.services.channels")["seconds"] for _ in range(2))
    assert bare < 0.1
    assert bare < full / 5


# ------------------------------------------------------------------------- exports

LAZY_PACKAGES = [
    "ventros_channels",
    "ventros_channels.services",
    "ventros_channels.adapters",
    "ventros_channels.testing.contract",
]


def type_checking_names(module: ModuleType) -> dict[str, str]:
    """Name -> module of the imports in the package's ``if TYPE_CHECKING:`` block."""
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text())
    names: dict[str, str] = {}
    for node in tree.body:
        guard = ast.unparse(node.test) if isinstance(node, ast.If) else ""
        if isinstance(node, ast.If) and guard in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                assert stmt.module is not None
                names.update({alias.name: stmt.module for alias in stmt.names})
    return names


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_exports_table_type_checking_block_and_all_agree(name: str) -> None:
    package = importlib.import_module(name)
    table = {n: module for module, ns in package._EXPORTS.items() for n in ns}
    assert type_checking_names(package) == table
    assert sorted(set(package.__all__) - {"__version__"}) == sorted(table)
    assert len(package.__all__) == len(set(package.__all__))


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_every_export_resolves_and_is_listed_by_dir(name: str) -> None:
    package = importlib.import_module(name)
    for export in package.__all__:
        assert getattr(package, export) is not None
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        package.Nope  # noqa: B018


def test_the_first_hour_names_are_at_the_root() -> None:
    for name in (
        "Channel",
        "ChannelService",
        "ChannelAdapter",
        "InboundEvent",
        "MessageReceived",
        "TextMessage",
        "MediaMessage",
        "WebhookDispatcher",
        "WebhookRequest",
        "Worker",
        "ChannelRepository",
        "VentrosChannelsError",
    ):
        assert name in ventros_channels.__all__


def test_domain_and_services_import_no_platform_module() -> None:
    platforms = ("telegram", "waha", "whatsapp_cloud", "messenger", "instagram", "_meta")
    offenders = []
    for folder in ("domain", "services"):
        for path in (SRC / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                modules = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                offenders += [
                    f"{path.name}: {m}"
                    for m in modules
                    if any(m.startswith(f"ventros_channels.adapters.{p}") for p in platforms)
                ]
    assert offenders == []


@pytest.mark.parametrize(
    "module", ["telegram", "waha", "whatsapp_cloud", "messenger", "instagram", "_meta"]
)
def test_each_platform_package_imports_first_in_a_fresh_interpreter(module: str) -> None:
    """An entry point loads its adapter with nothing imported before it: no import cycle
    between platform packages is hidden by the order the package used to import them in."""
    report = probe(f"import ventros_channels.adapters.{module}")
    assert loaded(report, f"ventros_channels.adapters.{module}")
