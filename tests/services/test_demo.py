"""The offline demo runs the whole story (it is what the README's first command runs)."""

from __future__ import annotations

import pytest

from ventros_channels import demo


async def test_demo_tells_the_whole_story(capsys: pytest.CaptureFixture[str]) -> None:
    await demo.main()
    out = capsys.readouterr().out
    for channel_type in demo.TYPES:
        assert f"{channel_type:<10} delivery -> 200" in out
    assert "channel is now active, session WORKING" in out
    assert "processed once" in out
    assert "tampered body -> 401" in out
    assert out.count("Thanks ") == 5  # one reply per platform, sent back through the fakes
    assert "duplicates=1 bad signatures=1" in out
    assert "fake-waha-hmac-key" not in out
    assert "FAKE-WA-TOKEN" not in out
