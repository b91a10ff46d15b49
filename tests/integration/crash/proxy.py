"""A TCP proxy the crash tests control: forward to a server, or cut every connection."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    """Listens on 127.0.0.1 and forwards to ``(host, port)``; :meth:`cut` simulates an outage."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.down = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._drop_all()

    async def cut(self, seconds: float) -> None:
        """Drop every open connection and refuse new ones for ``seconds``."""
        self.down = True
        self._drop_all()
        try:
            await asyncio.sleep(seconds)
        finally:
            self.down = False

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        if self.down:  # the cut began while connecting upstream
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        pipes = {
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        }
        # when either side closes (a killed process), close the other at once: a server that
        # never learns its client is gone keeps the connection, and its slots run out
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()
        for pipe in pipes:
            pipe.cancel()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                if self.down:  # a connection opened as the cut began: cut it too
                    writer.transport.abort()
                    return
                writer.write(data)
                await writer.drain()
