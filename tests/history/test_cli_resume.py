"""``ventros-channels import-history`` killed midway finishes on the next run, with no
duplicates and no gaps.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

CHATS, PER_CHAT = 30, 150


def command(tmp_path: Path) -> list[str]:
    spec = tmp_path / "channel.json"
    spec.write_text(json.dumps({"channel_type": "waha", "name": "Main", "config": {}}))
    return [
        sys.executable, "-m", "ventros_channels.cli", "import-history", str(spec),
        "--output", str(tmp_path / "out.jsonl"), "--checkpoints", str(tmp_path / "ckpt"),
        "--fake", f"{CHATS}x{PER_CHAT}", "--fake-latency", "0.02", "--concurrency", "2",
        "--no-progress",
    ]  # fmt: skip


def test_killed_import_resumes_without_duplicates_or_gaps(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        command(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and out.stat().st_size > 20_000:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    partial = len(out.read_text().splitlines())
    assert 0 < partial < CHATS * PER_CHAT, "the first run must be cut off midway"

    finished = subprocess.run(  # noqa: S603 - our own CLI
        command(tmp_path), capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode == 0, finished.stderr
    assert "resumed" in finished.stdout
    keys = [json.loads(line)["idempotency_key"] for line in out.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == CHATS * PER_CHAT
