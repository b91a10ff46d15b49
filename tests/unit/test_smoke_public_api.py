"""The public surface is exactly ``__all__`` (as httpx guards its own)."""

import ventros_channels


def test_all_lists_every_public_name_and_nothing_else() -> None:
    public = {name for name in dir(ventros_channels) if not name.startswith("_")}
    public -= {"clock", "domain", "errors", "repository", "testing", "adapters", "messaging"}
    assert set(ventros_channels.__all__) - {"__version__"} == public


def test_all_is_sorted() -> None:
    assert ventros_channels.__all__ == sorted(ventros_channels.__all__)
