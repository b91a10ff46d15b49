"""Every public name has its own docstring (the API reference is generated from them)."""

import importlib
import inspect

import pytest

MODULES = [
    "ventros_channels",
    "ventros_channels.messaging",
    "ventros_channels.adapters",
    "ventros_channels.webhooks",
    "ventros_channels.services",
    "ventros_channels.testing",
    "ventros_channels.http",
    "ventros_channels.history",
    "ventros_channels.sql",
    "ventros_channels.redis",
    "ventros_channels.testing.contract",
]


def public_objects() -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                out.append((f"{name}.{attr}", obj))
    return out


@pytest.mark.parametrize(("name", "obj"), public_objects(), ids=str)
def test_public_name_has_its_own_docstring(name: str, obj: object) -> None:
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    assert isinstance(doc, str), f"{name} has no docstring"
    assert doc.strip(), f"{name} has an empty docstring"
