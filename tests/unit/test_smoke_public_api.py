"""The public surface is exactly ``__all__``: nothing public leaks in by accident."""

import inspect

import ventros_channels


def test_all_lists_every_public_name_and_nothing_else() -> None:
    for name in ventros_channels.__all__:  # the names resolve on first access
        getattr(ventros_channels, name)
    public = {
        name
        for name, value in vars(ventros_channels).items()
        if not name.startswith(("_", "@")) and not inspect.ismodule(value)
    }
    assert set(ventros_channels.__all__) - {"__version__"} == public


def test_all_has_no_duplicates() -> None:
    assert len(ventros_channels.__all__) == len(set(ventros_channels.__all__))
