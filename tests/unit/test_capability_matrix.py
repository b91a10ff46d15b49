"""The docs' capability matrix and limits table are generated from the code and cannot
drift; every supported cell has a registered test or is listed as pending."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from tests.capability_coverage import COVERAGE, PENDING
from ventros_channels.adapters.base import Capability
from ventros_channels.capabilities import _LABELS, _LIMIT_LABELS, matrix, render_matrix
from ventros_channels.messaging.limits import OutboundLimits

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_capabilities", ROOT / "scripts" / "gen_capabilities.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_capabilities", module)
    spec.loader.exec_module(module)
    return module


def test_committed_pages_match_the_generator() -> None:
    gen = _generator()
    assert gen.MATRIX_PAGE.read_text() == gen.matrix_page(), (
        "run python scripts/gen_capabilities.py"
    )
    guide = gen.GUIDE.read_text()
    assert guide == gen.guide_page(guide), "run python scripts/gen_capabilities.py"


def test_every_capability_and_integer_limit_is_in_the_docs() -> None:
    assert set(Capability) <= set(_LABELS)
    integer_limits = {
        f.name
        for f in OutboundLimits.__attrs_attrs__
        if f.name.endswith("_max") and f.name != "media_max_bytes"
    }
    assert integer_limits == set(_LIMIT_LABELS)


def _defined(node_id: str) -> bool:
    path, _, name = node_id.partition("::")
    file = ROOT / path
    if not file.is_file() or not name:
        return False
    parts = name.split("[")[0].split("::")
    scope: list[ast.stmt] = ast.parse(file.read_text()).body
    for part in parts:
        found = [
            n
            for n in scope
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and n.name == part
        ]
        if not found:
            return False
        scope = found[0].body
    return parts[-1].startswith("test_")


def test_every_supported_cell_has_a_registered_test_or_is_pending() -> None:
    supported = {(p, row.key) for row in matrix() for p, ok in row.cells.items() if ok}
    missing = sorted(supported - set(COVERAGE) - PENDING)
    assert not missing, (
        f"supported cells with no registered test (tests/capability_coverage.py): {missing}"
    )
    unknown_ids = sorted(i for ids in COVERAGE.values() for i in ids if not _defined(i))
    assert not unknown_ids, f"registered tests that do not exist: {unknown_ids}"
    not_supported = sorted((set(COVERAGE) | PENDING) - supported)
    assert not not_supported, f"registered cells the adapters do not declare: {not_supported}"
    done = sorted(PENDING & set(COVERAGE))
    assert not done, f"cells registered and still pending (drop them from PENDING): {done}"
    assert all(COVERAGE.values()), "a registered cell needs at least one test id"


def test_the_matrix_marks_cells_without_a_test() -> None:
    rows = matrix()
    text = render_matrix(rows, {})
    assert "yes*" in text
    assert "| yes |" not in text
    assert "| yes |" in render_matrix(rows)
