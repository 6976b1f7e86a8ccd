"""Slow clients cannot hold the server: many connections trickling their headers a byte at a time
(slowloris) and bodies that never end are each closed by the server within its header and body
timeouts, and meanwhile ``/healthz`` answers another client at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from served import exchange, served

GUARD_SECONDS = 60.0  # a wait that long means a hang: not a speed limit
TRICKLERS = 40
HEADERS = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"


async def trickle(port: int, data: bytes, pause: float, head: bytes = b"") -> float:
    """Send ``head`` at once, then ``data`` a byte every ``pause`` s until the server closes; the
    seconds it took."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            if reader.at_eof():
                break
            try:
                async with asyncio.timeout(pause):
                    if await reader.read(65536) == b"":
                        break
            except TimeoutError:
                continue
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - started


async def test_trickled_headers_and_endless_bodies_are_cut_off_and_healthz_still_answers(
    tmp_path, fault_report: Callable[[str], None]
):
    env = {"MENGCHONG__SERVER__IDLE_TIMEOUT_SECONDS": "1", "MENGCHONG__SERVER__BODY_TIMEOUT_SECONDS": "1"}
    async with served(tmp_path, **env) as server:
        body_head = (
            b"POST /v1/auth/wechat_login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        slow = [trickle(server.port, HEADERS, 0.2) for _ in range(TRICKLERS)]
        slow += [trickle(server.port, b"x" * 1000, 0.2, head=body_head) for _ in range(TRICKLERS // 4)]
        async with asyncio.timeout(GUARD_SECONDS):
            clients = asyncio.gather(*slow)
            await asyncio.sleep(0.5)  # every slow connection is open and sending
            latencies = []
            for _ in range(10):
                started = time.monotonic()
                answer = await exchange(
                    server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                latencies.append(time.monotonic() - started)
                assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
            held = await clients
    # Whole headers would take 0.2 s × 250 bytes = 50 s to send, a body 200 s: the server cut
    # every one off (a refused body after its 2 s of lingering).
    assert max(held) < 0.2 * len(HEADERS) / 2, held
    fault_report(
        f"{TRICKLERS} connections trickling headers and {TRICKLERS // 4} endless bodies (a byte per "
        f"0.2 s, idle and body timeouts 1 s): each cut off after {min(held):.1f}-{max(held):.1f} s "
        f"(sending the headers would take {0.2 * len(HEADERS):.0f} s); /healthz meanwhile answered 10 of 10, "
        f"slowest in {max(latencies) * 1000:.0f} ms"
    )
