#!/usr/bin/env python3
"""Project tasks that need nothing but Python 3.11: each makes its own virtual environment.

python3 scripts/dev.py demo     # the offline end-to-end demo
python3 scripts/dev.py test     # lint, format check, type check, tests (what CI runs)
python3 scripts/dev.py check    # lint and the tests not marked slow: the quick loop
python3 scripts/dev.py bench    # the benchmarks
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
DEMO_EXTRAS = "asgi,cli"
"""What ``ventros_channels.demo`` imports beyond the core: the ASGI app, the QR code."""
DEV_EXTRAS = "dev,fast"  # fast: both JSON decoders get tested
EXAMPLE_PACKAGES = [p for p in sorted((ROOT / "examples").glob("*/pyproject.toml"))]
BACKENDS = {
    # variable: (name, URL tried when the variable is unset, host, port)
    "VENTROS_TEST_POSTGRES_URL": (
        "PostgreSQL",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        "127.0.0.1",
        5432,
    ),
    "VENTROS_TEST_REDIS_URL": ("Redis", "redis://127.0.0.1:6379/0", "127.0.0.1", 6379),
}


def say(text: str) -> None:
    print(f"[dev] {text}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    code = subprocess.call([str(a) for a in args], cwd=ROOT, env=env)  # noqa: S603
    if code != 0:
        sys.exit(code)


def _stamp(packages: list[Path]) -> str:
    inputs = [ROOT / "pyproject.toml", *packages]
    return hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()


def _installed(marker: Path, stamp: str) -> bool:
    return marker.exists() and marker.read_text() == stamp


def ensure_env(full: bool = True) -> None:
    """The virtual environment with the development toolchain (``full``) or only what the
    demo needs; each has its own marker, and the full one serves the demo too."""
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit("ventros-channels needs Python 3.11 or newer")
    dev_marker, dev_stamp = VENV / ".installed", _stamp(EXAMPLE_PACKAGES)
    demo_marker, demo_stamp = VENV / ".installed-demo", _stamp([])
    if _installed(dev_marker, dev_stamp) or (not full and _installed(demo_marker, demo_stamp)):
        return
    what = "the development toolchain" if full else "what the demo needs"
    say(f"first run: installing {what} into {VENV.name}/ (later runs skip this)")
    if not PY.exists():
        say(f"step 1/2: creating the virtual environment {VENV.name}/")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    pip = [PY, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "on"]
    extras = DEV_EXTRAS if full else DEMO_EXTRAS
    say(f"step 2/2: installing ventros-channels[{extras}] (pip's progress follows)")
    run(*pip, "-e", f".[{extras}]")
    if full:
        for pyproject in EXAMPLE_PACKAGES:
            run(*pip, "-e", pyproject.parent)
        dev_marker.write_text(dev_stamp)
    demo_marker.write_text(demo_stamp)
    say("environment ready")


def demo() -> None:
    ensure_env(full=False)
    run(PY, "-m", "ventros_channels.demo")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def _answers(variable: str, url: str) -> str | None:
    """Why the backend at ``url`` refuses the tests' connection (database, user); ``None``
    when it accepts it."""
    probe = {
        "VENTROS_TEST_POSTGRES_URL": (
            "import asyncio, asyncpg, sys\n"
            "async def main():\n"
            "    c = await asyncpg.connect(sys.argv[1].replace('+asyncpg', ''), timeout=3)\n"
            "    await c.close()\n"
            "asyncio.run(main())"
        ),
        "VENTROS_TEST_REDIS_URL": (
            "import asyncio, sys, redis.asyncio as r\n"
            "async def main():\n"
            "    c = r.from_url(sys.argv[1], socket_timeout=3)\n"
            "    await c.ping()\n"
            "    await c.aclose()\n"
            "asyncio.run(main())"
        ),
    }[variable]
    try:
        result = subprocess.run(  # noqa: S603
            [str(PY), "-c", probe, url], cwd=ROOT, capture_output=True, timeout=20, check=False
        )
    except subprocess.TimeoutExpired:
        return "no answer within 20 s"
    if result.returncode == 0:
        return None
    lines = result.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"


def backends_env() -> dict[str, str]:
    """The environment for a test run: each integration backend the variables name, else the
    one on its default local port when it answers; says which suites will be skipped."""
    env = dict(os.environ)
    for variable, (name, url, host, port) in BACKENDS.items():
        if env.get(variable):
            say(f"{name}: {variable} is set, its integration tests use it")
            continue
        why = _answers(variable, url) if _reachable(host, port) else "nothing listens there"
        if why is None:
            env[variable] = url
            say(f"{name}: found on {host}:{port}, its integration tests use it")
        else:
            say(
                f"{name}: {variable} is unset and {host}:{port} is not usable ({why}); "
                f"its integration tests will be SKIPPED"
            )
    return env


def lint() -> None:
    run(PY, "-m", "ruff", "check", "src", "tests", "benchmarks", "examples", "scripts")
    run(PY, "-m", "ruff", "format", "--check", "src", "tests", "benchmarks", "examples", "scripts")


def test() -> None:
    ensure_env()
    lint()
    run(PY, "-m", "mypy", "--strict", "src", "tests", "examples")
    run(PY, "-m", "pytest", "-q", *sys.argv[2:], env=backends_env())
    docs()


QUICK_FUZZ_EXAMPLES = "200"
"""Hostile bodies per adapter in the quick loop (the full run tries 1,000)."""


def check() -> None:
    """The quick loop: lint and the tests not marked slow, with a shorter adapter fuzz."""
    ensure_env()
    started = time.monotonic()
    lint()
    env = backends_env()
    env.setdefault("VENTROS_FUZZ_EXAMPLES", QUICK_FUZZ_EXAMPLES)
    run(PY, "-m", "pytest", "-q", "-m", "not slow", *sys.argv[2:], env=env)
    took = time.monotonic() - started
    say(f"check passed in {took:.1f}s (the slow tests run in: python3 scripts/dev.py test)")


def docs() -> None:
    ensure_env()
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run(PY, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", VENV / "site", env=env)


def host() -> None:
    """The example CRM back end on SQLite against the fake platforms (examples/fastapi_host)."""
    ensure_env()
    env = {
        "VENTROS_FAKE_PLATFORMS": "1",
        "VENTROS_DATABASE_URL": f"sqlite+aiosqlite:///{VENV / 'example-crm.db'}",
        **os.environ,
    }
    say("example CRM on http://localhost:8000, API key dev-key (examples/fastapi_host/README.md)")
    run(PY, "-m", "uvicorn", "examples.fastapi_host.app:app", *sys.argv[2:], env=env)


def bench() -> None:
    ensure_env()
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        run(PY, script, *sys.argv[2:])


TASKS = {
    "demo": demo,
    "test": test,
    "check": check,
    "bench": bench,
    "host": host,
    "docs": docs,
    "env": ensure_env,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(TASKS)}}}")
    TASKS[sys.argv[1]]()
