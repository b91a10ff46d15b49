"""The WAHA pairing page in a real browser (Chromium through playwright), served by uvicorn."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest

from tests.management.conftest import Host, build_host
from tests.management.test_api import SEED_WAHA
from ventros_channels.testing import InMemoryChannelRepository
from ventros_channels.testing.fakes import FakePlatforms

uvicorn = pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QR_TTL = timedelta(seconds=5)


def _chromium() -> str:
    for candidate in (
        os.environ.get("VENTROS_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("no Chromium found (install Debian's chromium package or set VENTROS_CHROMIUM)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(host: Host) -> Iterator[str]:
    """``host``'s app on a real uvicorn server in a thread; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(host.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def served() -> Iterator[tuple[Host, str]]:
    host = build_host(InMemoryChannelRepository(), FakePlatforms(), qr_ttl=QR_TTL)
    with serve(host) as base:
        yield host, base


def test_pairing_page_shows_refreshes_and_connects(served: tuple[Host, str]) -> None:
    executable = _chromium()
    host, base = served
    api = httpx.Client(base_url=base, headers={"X-API-Key": "key-acme"})
    channel = api.post("/api/v1/channels", json=SEED_WAHA).json()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/api/v1/channels/{channel['id']}/pairing#token=key-acme")
            qr = page.locator("#qr")
            page.wait_for_function(
                "document.getElementById('qr').src.startsWith('data:image/png')", timeout=10_000
            )
            first = qr.get_attribute("src")
            assert page.locator("#status").get_attribute("data-state") == "SCAN_QR_CODE"
            # the code expires after QR_TTL: the page fetches a new one before then
            page.wait_for_function(
                "src => document.getElementById('qr').src !== src", arg=first, timeout=10_000
            )
            shown = [r for r in host.fakes.waha.requests if r.url.path.endswith("/auth/qr")]
            assert len(shown) >= 2
            # pairing by phone number instead
            page.fill("#phone", "15550004321")
            page.click("button[type=submit]")
            page.wait_for_function(
                "document.getElementById('pairing-code').textContent === 'FAKE-4321'",
                timeout=10_000,
            )
            # the phone scans: WAHA reports WORKING by webhook, the page turns to connected
            paired = host.fakes.waha.pair()
            delivered = api.post(
                f"/webhooks/waha/{channel['id']}", content=paired.body, headers=paired.headers
            )
            assert delivered.status_code == 200
            page.wait_for_selector("#connected", state="visible", timeout=10_000)
            assert page.locator("#status").get_attribute("data-state") == "connected"
            assert not page.locator("#qr").is_visible()
        finally:
            browser.close()
    assert api.get(f"/api/v1/channels/{channel['id']}").json()["status"] == "active"
    api.close()
