"""The domain and the services know platforms only through the adapter interface.

Checked statically: every module under ``ventros_channels.domain`` and
``ventros_channels.services`` is parsed and its imports resolved (relative ones included), so a
platform import hidden in a function or behind ``TYPE_CHECKING`` is found too. The service code
(names and string literals, docstrings and comments aside) names no platform either.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

import ventros_channels

PACKAGE = Path(ventros_channels.__file__).resolve().parent
ADAPTERS = PACKAGE / "adapters"
PLATFORM_PACKAGES = sorted(
    p.name for p in ADAPTERS.iterdir() if p.is_dir() and (p / "__init__.py").exists()
)
"""The platform packages (``telegram``, ``waha``, ``_meta``...): adapters/ subpackages."""
PLATFORM_WORDS = ("telegram", "waha", "whatsapp", "messenger", "instagram")


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str | None = None) -> set[str]:
    """Every module ``path`` imports (read as the module named ``module``, default its own
    name), relative imports resolved, ``from x import y`` counted as both ``x`` and ``x.y``
    (``y`` may be a submodule)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    name = module or _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _platform_imports(path: Path, module: str | None = None) -> list[str]:
    prefixes = tuple(f"ventros_channels.adapters.{name}" for name in PLATFORM_PACKAGES)
    return sorted(
        m for m in _imports(path, module) if any(m == p or m.startswith(p + ".") for p in prefixes)
    )


def test_the_platform_packages_are_found() -> None:
    assert {"telegram", "waha", "_meta"} <= set(PLATFORM_PACKAGES)


@pytest.mark.parametrize("layer", ["domain", "services"])
def test_layer_imports_no_platform_package(layer: str) -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): bad
        for path in _modules(layer)
        if (bad := _platform_imports(path))
    }
    assert offenders == {}


def test_the_check_sees_relative_nested_and_from_imports(tmp_path: Path) -> None:
    """The walker is not fooled by imports inside a function, relative imports or a platform
    package imported by name from ``adapters``."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n"
        "    from ..adapters.waha import WAHAAdapter\n"
        "    import ventros_channels.adapters.telegram._inbound\n"
        "    from ventros_channels.adapters import _meta\n"
    )
    found = _platform_imports(probe, "ventros_channels.services.probe")
    assert "ventros_channels.adapters.waha" in found
    assert "ventros_channels.adapters.telegram._inbound" in found
    assert "ventros_channels.adapters._meta" in found
    assert _platform_imports(ADAPTERS / "waha" / "__init__.py")  # a platform module has some


def _code_words(path: Path) -> list[tuple[int, str]]:
    """Names and string literals of ``path`` that name a platform (docstrings and comments
    are prose and not checked)."""
    source = path.read_text()
    docstrings = {
        node.body[0].value.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
        and isinstance(node.body[0].value.value, str)
    }
    hits = []
    previous = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.NAME, tokenize.STRING):
            is_docstring = token.type == tokenize.STRING and token.start[0] in docstrings
            is_attribute_doc = (
                token.type == tokenize.STRING
                and previous is not None
                and previous.type in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT)
            )
            text = token.string.lower()
            if not (is_docstring or is_attribute_doc) and any(w in text for w in PLATFORM_WORDS):
                hits.append((token.start[0], token.string))
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            previous = token
    return hits


def test_service_code_names_no_platform() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): hits
        for path in _modules("services")
        if (hits := _code_words(path))
    }
    assert offenders == {}
