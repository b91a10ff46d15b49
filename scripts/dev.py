#!/usr/bin/env python3
"""Project tasks that need nothing but Python 3.11: each makes its own virtual environment.

python3 scripts/dev.py demo     # the offline end-to-end demo
python3 scripts/dev.py test     # lint, format check, type check, tests (what CI runs)
python3 scripts/dev.py bench    # the benchmarks
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
EXTRAS = "dev"
EXAMPLE_PACKAGES = [p for p in sorted((ROOT / "examples").glob("*/pyproject.toml"))]


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    code = subprocess.call([str(a) for a in args], cwd=ROOT, env=env)  # noqa: S603
    if code != 0:
        sys.exit(code)


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit("ventros-channels needs Python 3.11 or newer")
    if not PY.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    inputs = [ROOT / "pyproject.toml", *EXAMPLE_PACKAGES]
    stamp = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()
    marker = VENV / ".installed"
    if marker.exists() and marker.read_text() == stamp:
        return
    pip = [PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(*pip, "-e", f".[{EXTRAS}]")
    for pyproject in EXAMPLE_PACKAGES:
        run(*pip, "-e", pyproject.parent)
    marker.write_text(stamp)


def demo() -> None:
    ensure_env()
    run(PY, "-m", "ventros_channels.demo")


def test() -> None:
    ensure_env()
    run(PY, "-m", "ruff", "check", "src", "tests", "benchmarks", "examples", "scripts")
    run(PY, "-m", "ruff", "format", "--check", "src", "tests", "benchmarks", "examples", "scripts")
    run(PY, "-m", "mypy", "--strict", "src", "tests", "examples")
    run(PY, "-m", "pytest", "-q", *sys.argv[2:])
    docs()


def docs() -> None:
    ensure_env()
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run(PY, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", VENV / "site", env=env)


def bench() -> None:
    ensure_env()
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        run(PY, script, *sys.argv[2:])


TASKS = {"demo": demo, "test": test, "bench": bench, "docs": docs, "env": ensure_env}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(TASKS)}}}")
    TASKS[sys.argv[1]]()
