"""What photo decoding may hold at once: a bounded number of decode slots per app, and glibc
told to hand large buffers back to the system when they are freed.

A decoded photo is tens of MiB whatever its file size, so the number of decodes running at
once bounds the process's memory (the pixel limit bounds each one). A request waits
``photo_decode_wait_seconds`` for a slot, then gets 503 with Retry-After.

glibc serves an allocation above its mmap threshold with a mapping of its own, unmapped when
freed, and smaller ones from arenas that keep what is freed for reuse. The threshold starts at
128 KiB but rises to the size of each large block freed (up to 32 MiB), so after the first
decode the image buffers come from the arenas, and every worker thread's arena keeps its last
images: twelve concurrent uploads left the server 250 MiB larger for good. Fixing the threshold
(which also stops it rising) keeps image buffers as mappings. (``malloc_trim(0)`` after each
decode was measured too: PNGs' buffers went back, a WebP's stayed, about 12 MiB per thread.)
"""

from __future__ import annotations

import asyncio
import functools
import math
import platform
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from mengchong.http.errors import ApiError, ErrorCode
from mengchong_plugins.pets.settings import PetsSettings

T = TypeVar("T")
M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
MMAP_THRESHOLD_BYTES = 1024 * 1024  # a 512x512 RGBA image; the photos' buffers are far larger


class DecodeSlots:
    """At most ``slots`` photos decoded at once; a request waits ``wait_seconds`` for a slot,
    then gets 503 (50301) with Retry-After. A slot is held until its decode has finished, even
    when the request waiting for it is cancelled (a client gone, a request deadline): a worker
    thread can't be stopped, and freeing its slot early would let more decodes run at once."""

    def __init__(self, slots: int, wait_seconds: float) -> None:
        self._semaphore = asyncio.Semaphore(slots)
        self.wait_seconds = wait_seconds

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in a worker thread, in a slot."""
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._semaphore.acquire()
        except TimeoutError:
            raise ApiError(
                ErrorCode.UNAVAILABLE,
                "Too many photos are being processed; try again shortly",
                headers={"Retry-After": str(max(1, math.ceil(self.wait_seconds)))},
            ) from None
        task = asyncio.ensure_future(asyncio.to_thread(work, *args))
        task.add_done_callback(self._finished)
        return await asyncio.shield(task)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._semaphore.release()
        if not task.cancelled():
            task.exception()  # retrieved: nobody may be waiting for it any more


_slots: weakref.WeakKeyDictionary[web.Application, DecodeSlots] = weakref.WeakKeyDictionary()


def decode_slots(app: web.Application, settings: PetsSettings) -> DecodeSlots:
    """The app's decode slots, made on first use (a serving app is frozen: no new keys)."""
    slots = _slots.get(app)
    if slots is None:
        return_large_buffers_to_the_system()
        slots = _slots[app] = DecodeSlots(settings.photo_decode_slots, settings.photo_decode_wait_seconds)
    return slots


@functools.cache
def return_large_buffers_to_the_system() -> bool:
    """Fix glibc's mmap threshold (once per process); False where the C library is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    import ctypes  # here, not at the top: ctypes costs ~30 ms of a start that may decode nothing
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
