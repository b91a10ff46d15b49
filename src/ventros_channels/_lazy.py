"""Lazy package exports (PEP 562).

A package lists which of its submodules defines each public name; the name's module is
imported on first access. Importing the package itself then costs only this table, so code
that needs the domain model does not pay for the HTTP stack, the dispatcher or the workers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, table: Mapping[str, Iterable[str]], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    ``table`` maps a submodule (absolute, or relative to ``package`` when it starts with a
    dot) to the names it provides. A resolved name is stored in ``namespace`` (the package's
    globals), so later accesses are plain attribute lookups.
    """
    where: dict[str, str] = {}
    for module, names in table.items():
        target = package + module if module.startswith(".") else module
        for name in names:
            if name in where:
                raise ValueError(f"{package}: {name!r} is exported twice")
            where[name] = target

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *where})

    return __getattr__, __dir__
