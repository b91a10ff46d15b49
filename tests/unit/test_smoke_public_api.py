"""The public surface is exactly ``__all__`` (as httpx guards its own)."""

import ventros_channels

SUBMODULES = {
    "adapters",
    "cache",
    "cli",
    "clock",
    "dedupe",
    "domain",
    "errors",
    "http",
    "integrations",
    "publisher",
    "services",
    "sql",
    "demo",
    "history",
    "messaging",
    "redis",
    "repository",
    "testing",
    "webhooks",
}


def test_all_lists_every_public_name_and_nothing_else() -> None:
    public = {
        name
        for name in dir(ventros_channels)
        if not name.startswith(("_", "@")) and name not in SUBMODULES
    }
    assert set(ventros_channels.__all__) - {"__version__"} == public


def test_all_has_no_duplicates() -> None:
    assert len(ventros_channels.__all__) == len(set(ventros_channels.__all__))
