"""A small asyncio client for clamd's TCP protocol (PING, VERSION, INSTREAM).

The ``clamd`` PyPI package is synchronous; this one never blocks the event loop and puts a deadline on
every step, so a clamd that is down or stuck becomes a :class:`ClamdError` instead of a hung request.
Protocol (clamd(8), "COMMANDS"): commands are prefixed with ``z`` and terminated by NUL, replies are
NUL-terminated; INSTREAM takes chunks framed by a 4-byte big-endian length and ends with a zero-length
chunk; clamd closes the connection after one command outside IDSESSION. INSTREAM reports the first
match only (ALLMATCHSCAN exists for paths, not streams), as ``stream: <name> FOUND``.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterable, Iterable

# ClamAV appends this to every signature from an unsigned database (ours are plain text files).
_UNOFFICIAL = ".UNOFFICIAL"


class ClamdError(ConnectionError):
    """clamd could not give a verdict: unreachable, timed out, or answered with an ERROR."""


class ClamdClient:
    def __init__(self, host: str = "127.0.0.1", port: int = 3310, *, timeout: float = 30.0,
                 connect_timeout: float = 2.0, chunk_size: int = 256 * 1024) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.chunk_size = chunk_size

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ClamdError(f"clamd unreachable at {self.host}:{self.port}: {exc!r}") from exc

    async def _command(self, command: bytes) -> str:
        reader, writer = await self._open()
        try:
            writer.write(b"z" + command + b"\0")
            await asyncio.wait_for(writer.drain(), self.timeout)
            data = await asyncio.wait_for(reader.read(), self.timeout)
        except asyncio.TimeoutError as exc:
            raise ClamdError(f"clamd at {self.host}:{self.port} did not answer {command.decode()} "
                             f"within {self.timeout:g} s") from exc
        except OSError as exc:
            raise ClamdError(f"clamd at {self.host}:{self.port} failed during {command.decode()}: {exc!r}") from exc
        finally:
            writer.close()
        return data.rstrip(b"\0").decode("utf-8", "replace")

    async def ping(self) -> bool:
        return (await self._command(b"PING")).strip() == "PONG"

    async def reload(self) -> str:
        """Ask clamd to reload its database folder (clamd answers RELOADING and reloads in the background)."""
        return (await self._command(b"RELOAD")).strip()

    async def version(self) -> str:
        return (await self._command(b"VERSION")).strip()

    async def instream(self, chunks: AsyncIterable[bytes] | Iterable[bytes]) -> list[str]:
        """Stream ``chunks`` to clamd; the signature names found (empty list: clean).

        The whole exchange, not each chunk, is bounded by ``timeout`` so a slow clamd cannot hold a
        request for longer than the caller's policy allows.
        """
        try:
            return await asyncio.wait_for(self._instream(chunks), self.timeout)
        except asyncio.TimeoutError as exc:
            raise ClamdError(f"clamd at {self.host}:{self.port} did not finish INSTREAM within "
                             f"{self.timeout:g} s") from exc

    async def _instream(self, chunks: AsyncIterable[bytes] | Iterable[bytes]) -> list[str]:
        reader, writer = await self._open()
        try:
            writer.write(b"zINSTREAM\0")
            async for chunk in _aiter(chunks):
                for start in range(0, len(chunk), self.chunk_size):
                    piece = chunk[start:start + self.chunk_size]
                    writer.write(struct.pack(">I", len(piece)) + piece)
                    await writer.drain()
            writer.write(struct.pack(">I", 0))
            await writer.drain()
            reply = await reader.read()
        except (ConnectionResetError, BrokenPipeError) as exc:
            # clamd closes early once StreamMaxLength is exceeded and says why; read what it sent.
            reply = await _read_rest(reader)
            if not reply:
                raise ClamdError(f"clamd at {self.host}:{self.port} closed the INSTREAM connection: {exc!r}") from exc
        except OSError as exc:
            raise ClamdError(f"clamd at {self.host}:{self.port} failed during INSTREAM: {exc!r}") from exc
        finally:
            writer.close()
        return parse_instream_reply(reply.decode("utf-8", "replace"))


def parse_instream_reply(reply: str) -> list[str]:
    """``stream: OK`` -> []; ``stream: Name FOUND`` lines -> names; anything ending in ERROR raises."""
    names: list[str] = []
    lines = [line.strip() for line in reply.replace("\0", "\n").splitlines() if line.strip()]
    if not lines:
        raise ClamdError("clamd closed the INSTREAM connection without a reply")
    for line in lines:
        body = line.split(": ", 1)[1] if line.startswith("stream: ") else line
        if body == "OK":
            continue
        if body.endswith(" FOUND"):
            name = body[: -len(" FOUND")]
            if name.endswith(_UNOFFICIAL):
                name = name[: -len(_UNOFFICIAL)]
            if name not in names:
                names.append(name)
            continue
        raise ClamdError(f"clamd INSTREAM error: {line}")
    return names


async def _aiter(chunks: AsyncIterable[bytes] | Iterable[bytes]):  # type: ignore[no-untyped-def]
    if hasattr(chunks, "__aiter__"):
        async for chunk in chunks:  # type: ignore[union-attr]
            yield chunk
    else:
        for chunk in chunks:  # type: ignore[union-attr]
            yield chunk


async def _read_rest(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.read(), 1.0)
    except (OSError, asyncio.TimeoutError):
        return b""
