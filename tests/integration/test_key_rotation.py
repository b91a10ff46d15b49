"""Key rotation: a RotatingCipher reads old and new keys; reencrypt() moves every row to the new
key (and seals rows stored in clear); afterwards the old key is no longer needed."""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels.cipher import RotatingCipher
from ventros_channels.cli import cli
from ventros_channels.errors import RepositoryError
from ventros_channels.sql import SqlChannelRepository, create_engine
from ventros_channels.testing import FixedClock
from ventros_channels.testing.factories import SAMPLE_CONFIGS, ChannelFactory


class KeyedCipher:
    """Reversible, not secure, and refuses data of another key (tests only)."""

    def __init__(self, key: int) -> None:
        self.key = key
        self.tag = f"k{key}:".encode()

    def encrypt(self, data: bytes) -> bytes:
        return self.tag + base64.b64encode(bytes(b ^ self.key for b in data))

    def decrypt(self, data: bytes) -> bytes:
        if not data.startswith(self.tag):
            raise ValueError("another key")
        return bytes(b ^ self.key for b in base64.b64decode(data[len(self.tag) :]))


@pytest.fixture
def engine(sql_backend: str, request: pytest.FixtureRequest) -> AsyncEngine:
    engine: AsyncEngine = request.getfixturevalue(f"{sql_backend}_engine")
    return engine


@pytest.fixture
def schema(sql_backend: str, request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("postgres_schema") if sql_backend == "postgres" else None


async def test_rotation_moves_every_row_to_the_new_key(
    engine: AsyncEngine, schema: str | None, fixed_clock: FixedClock
) -> None:
    old, new = KeyedCipher(0x11), KeyedCipher(0x22)
    factory = ChannelFactory(fixed_clock)
    plain = SqlChannelRepository(engine, schema=schema, clock=fixed_clock)
    await plain.create_schema()
    clear = factory("telegram")
    await plain.save(clear)  # stored in clear, before any cipher
    before = SqlChannelRepository(engine, schema=schema, clock=fixed_clock, cipher=old)
    sealed_old = factory("whatsapp")
    await before.save(sealed_old)

    rotating = SqlChannelRepository(
        engine, schema=schema, clock=fixed_clock, cipher=RotatingCipher(new, old)
    )
    assert await rotating.reencrypt(batch=1) == 2
    after = SqlChannelRepository(engine, schema=schema, clock=fixed_clock, cipher=new)
    for channel, kind in ((clear, "telegram"), (sealed_old, "whatsapp")):
        loaded = await after.get(channel.id, tenant_id=channel.tenant_id)
        secret = loaded.config.webhook_secret()
        assert secret is not None
        expected = next(v for k, v in SAMPLE_CONFIGS[kind].items() if "secret" in k)
        assert secret.get_secret_value() == expected
    async with engine.connect() as conn:
        rows = (await conn.execute(after.table.select())).all()
    assert all(row.config is None and bytes(row.config_sealed).startswith(b"k34:") for row in rows)
    with pytest.raises(RepositoryError):
        await before.get(clear.id, tenant_id=clear.tenant_id)  # the old key alone is not enough


async def test_reencrypt_needs_a_cipher(engine: AsyncEngine, schema: str | None) -> None:
    repo = SqlChannelRepository(engine, schema=schema)
    with pytest.raises(RepositoryError, match="cipher"):
        await repo.reencrypt()


APP = """
import base64
from ventros_channels.cipher import RotatingCipher
from ventros_channels.sql import SqlChannelRepository, create_engine


class KeyedCipher:
    def __init__(self, key):
        self.key, self.tag = key, f"k{key}:".encode()

    def encrypt(self, data):
        return self.tag + base64.b64encode(bytes(b ^ self.key for b in data))

    def decrypt(self, data):
        if not data.startswith(self.tag):
            raise ValueError("another key")
        return bytes(b ^ self.key for b in base64.b64decode(data[len(self.tag):]))


def repository():
    return SqlChannelRepository(
        create_engine("sqlite+aiosqlite:///{path}"),
        cipher=RotatingCipher(KeyedCipher(0x22), KeyedCipher(0x11)),
    )
"""


def test_the_reencrypt_command_rotates_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "channels.db"

    async def prepare() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        repo = SqlChannelRepository(engine, cipher=KeyedCipher(0x11))
        await repo.create_schema()
        clock = FixedClock()
        for kind in ("telegram", "messenger"):
            await repo.save(ChannelFactory(clock)(kind))
        await engine.dispose()

    asyncio.run(prepare())
    (tmp_path / "rotate_app.py").write_text(APP.replace("{path}", str(path)))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        result = CliRunner().invoke(cli, ["reencrypt", "--app", "rotate_app:repository"])
    finally:
        sys.modules.pop("rotate_app", None)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "re-encrypted 2 channels"
