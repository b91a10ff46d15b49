#!/usr/bin/env python3
"""Write the docs pages generated from the adapters' declarations.

python scripts/gen_capabilities.py          # rewrite the pages
python scripts/gen_capabilities.py --check  # exit 1 when a committed page differs

The capability matrix (docs/platforms/capabilities.md) and the limits table in the outbound
guide (docs/guides/outbound.md, between its GENERATED markers) come from
``ventros_channels.capabilities``; tests/unit/test_capability_matrix.py fails when a committed
page differs from what this writes, so the docs cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' coverage registry

from tests.capability_coverage import COVERAGE  # noqa: E402

from ventros_channels.capabilities import matrix, render_limits, render_matrix  # noqa: E402

MATRIX_PAGE = ROOT / "docs" / "platforms" / "capabilities.md"
GUIDE = ROOT / "docs" / "guides" / "outbound.md"
BEGIN = "<!-- BEGIN GENERATED: limits (python scripts/gen_capabilities.py) -->"
END = "<!-- END GENERATED: limits -->"

MATRIX_INTRO = """# Capability matrix

<!-- Generated from the adapters' declarations by python scripts/gen_capabilities.py -->

What each built-in adapter declares (`adapter.capabilities` and, for media kinds it can
send, `adapter.media_kinds`). The service refuses a send the adapter does not declare
before any request, with `CapabilityNotSupportedError`, so this table is also what the
library lets through. `yes*` marks a declared feature that no test is registered for yet in
`tests/capability_coverage.py`. Per-platform size limits are in the
[outbound message guide](../guides/outbound.md#platform-limits).

"""


def matrix_page() -> str:
    return (
        MATRIX_INTRO
        + render_matrix(matrix(), COVERAGE)
        + ("\n`yes*`: declared, no test registered yet.\n")
    )


def guide_page(current: str) -> str:
    head, sep, rest = current.partition(BEGIN)
    if not sep or END not in rest:
        raise SystemExit(f"{GUIDE.relative_to(ROOT)} lacks the GENERATED markers")
    tail = rest.partition(END)[2]
    return f"{head}{BEGIN}\n\n{render_limits()}\n{END}{tail}"


def main() -> int:
    check = "--check" in sys.argv[1:]
    wanted = {MATRIX_PAGE: matrix_page(), GUIDE: guide_page(GUIDE.read_text())}
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if check:
        for p in stale:
            print(f"out of date: {p.relative_to(ROOT)} (run python scripts/gen_capabilities.py)")
        return 1 if stale else 0
    for p in stale:
        p.write_text(wanted[p])
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
