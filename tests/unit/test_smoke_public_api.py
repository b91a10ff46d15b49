"""The public surface is exactly ``__all__`` (as httpx guards its own)."""

import inspect

import ventros_channels


def test_all_lists_every_public_name_and_nothing_else() -> None:
    public = {
        name
        for name, value in vars(ventros_channels).items()
        if not name.startswith(("_", "@")) and not inspect.ismodule(value)
    }
    assert set(ventros_channels.__all__) - {"__version__"} == public


def test_all_has_no_duplicates() -> None:
    assert len(ventros_channels.__all__) == len(set(ventros_channels.__all__))
