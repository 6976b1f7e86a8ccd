"""The files port: uploaded photos and generated images in a local directory.

A file is known by its key, an unguessable token (192 random bits, URL-safe base64) plus an
optional suffix such as ``.jpg``; it lives at ``root/<first 2 characters>/<key>`` so no
directory grows huge. Keys are checked against that exact shape before any path is built, so a
key from a URL can never name a file outside the store. Writes go to a temporary file in the
same directory and are renamed into place, so a reader sees the whole file or none. File I/O
runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import tempfile
from pathlib import Path

from mengchong.config import FilesSettings

TOKEN_BYTES = 24  # 32 characters of secrets.token_urlsafe
SHARD_LENGTH = 2
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
# Temporary names start with a dot, which no key does: a half-written file is never a key.
TEMP_PREFIX = ".tmp-"

TOKEN_LENGTH = len(secrets.token_urlsafe(TOKEN_BYTES))
SUFFIX_PATTERN = re.compile(r"(?:\.[a-z0-9]{1,10})?")
KEY_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}{SUFFIX_PATTERN.pattern}")


def is_key(key: object) -> bool:
    """Whether ``key`` has the shape of a key this store hands out (it may still not exist)."""
    return isinstance(key, str) and KEY_PATTERN.fullmatch(key) is not None


class FileStore:
    """Files under one local directory, each known by an unguessable key."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FileStore(root={str(self.root)!r})"

    def path(self, key: str) -> Path:
        """Where ``key`` lives; ValueError for anything that is not of our shape.

        Only ``[A-Za-z0-9_-]{32}`` plus an optional ``.suffix`` of lowercase letters and digits
        gets through, so ``..``, ``/``, ``\\``, NUL, newlines and non-ASCII never reach the
        file system.
        """
        if not is_key(key):
            raise ValueError(f"not a file key: {key!r}")
        return self.root / key[:SHARD_LENGTH] / key

    async def open(self) -> None:
        """Create the root directory (0o700) when missing; an existing one is left as it is."""
        await asyncio.to_thread(self.root.mkdir, mode=DIRECTORY_MODE, parents=True, exist_ok=True)

    async def close(self) -> None:
        """Nothing to release."""

    async def put(self, data: bytes, *, suffix: str = "") -> str:
        """Store ``data`` (mode 0o600) under a new key, returned; ``suffix`` like ``".jpg"``."""
        if SUFFIX_PATTERN.fullmatch(suffix) is None:
            raise ValueError(f"suffix must be empty or a dot and 1-10 lowercase letters/digits: {suffix!r}")
        key = secrets.token_urlsafe(TOKEN_BYTES) + suffix
        await asyncio.to_thread(self._write, self.path(key), bytes(data))
        return key

    def _write(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), FILE_MODE)  # mkstemp's 0o600 is still subject to the umask
                handle.write(data)
                handle.flush()
                # Durable before it is visible: after a crash the key holds all of it or nothing.
                os.fsync(handle.fileno())
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise

    async def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; FileNotFoundError when there are none."""
        return await asyncio.to_thread(self.path(key).read_bytes)

    async def delete(self, key: str) -> bool:
        """Remove ``key``'s file; False when there was none."""
        path = self.path(key)

        def unlink() -> bool:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            return True

        return await asyncio.to_thread(unlink)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    async def ping(self) -> None:
        """Raise unless the root is a directory we can create files in (checked by doing it)."""

        def probe() -> None:
            if not self.root.is_dir():
                raise FileNotFoundError(f"files root {self.root} is not a directory")
            with tempfile.TemporaryFile(prefix=TEMP_PREFIX, dir=self.root):
                pass

        await asyncio.to_thread(probe)


def open_files(settings: FilesSettings) -> FileStore:
    """The file store for ``settings`` (a relative root is relative to the working directory)."""
    return FileStore(Path(settings.root))
