"""What a real server process answers to requests its HTTP parser refuses, to headers and bodies
that never finish, and to a header that is not UTF-8: always the envelope with an X-Request-ID,
one WARNING line (never a traceback, never the request echoed back), and no connection held
past its timeout."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from served import exchange, served


def envelope_of(raw: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return status, headers, json.loads(body)


def raw_request(method: str, target: bytes, headers: dict[bytes, bytes], body: bytes = b"") -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: x", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers.items()]
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def login_request(code: str, **headers: bytes) -> bytes:
    extra = {name.replace("_", "-").encode(): value for name, value in headers.items()}
    body = json.dumps({"code": code}).encode()
    return raw_request(
        "POST", b"/v1/auth/wechat_login", {b"Content-Type": b"application/json", **extra}, body
    )


LONG = b"a" * 9000
MALFORMED = {
    "header over 8190 bytes": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + LONG + b"\r\n\r\n",
    "request line over 8190 bytes": b"GET /healthz?q=" + LONG + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "NUL in a header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "unknown method": b"FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "not HTTP": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 20 + b"\r\n\r\n",
    "transfer-encoding with content-length": (
        b"POST /v1/auth/wechat_login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 4\r\n\r\n0\r\n\r\n"
    ),
    "header without a colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    "bad chunk size": (
        b"POST /v1/auth/wechat_login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    ),
}


async def test_parser_errors_are_enveloped_and_logged_once_without_a_traceback(tmp_path):
    async with served(tmp_path) as server:
        for name, request in MALFORMED.items():
            status, headers, body = envelope_of(await exchange(server.port, request))
            assert 400 <= status < 500, name
            assert headers["content-type"].startswith("application/json"), name
            assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"]), name
            assert body == {"code": 40004, "message": "Malformed HTTP request"}, name
        healthy = await exchange(
            server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert envelope_of(healthy)[0] == 200
    log = server.log_lines()
    assert not any("Traceback" in line for line in log)
    records = [json.loads(line) for line in log if line.startswith("{")]
    malformed = [r for r in records if r["message"].startswith("malformed HTTP request")]
    assert len(malformed) == len(MALFORMED)
    assert {r["level"] for r in malformed} == {"WARNING"}
    assert not any(r["level"] == "ERROR" for r in records)
    assert not any("aaaa" in line for line in log)


async def test_a_header_that_is_not_utf8_is_a_401_not_a_500(tmp_path):
    async with served(tmp_path) as server:
        for value in (b"Bearer \xe9", b"Bearer abc\xff.def.ghi", b"\xe9\xe9 token"):
            request = raw_request("GET", b"/v1/users/profile", {b"Authorization": value})
            status, headers, body = envelope_of(await exchange(server.port, request))
            assert (status, body["code"]) == (401, 40101), value
            assert "x-request-id" in headers
        # Stored with the login: a byte that is not UTF-8 must not stop it.
        request = login_request("ua01", User_Agent=b"mini\xe9\xff program")
        status, _, body = envelope_of(await exchange(server.port, request))
        assert status == 200, body


async def test_a_query_that_is_not_utf8_or_holds_nul_is_a_400(tmp_path):
    async with served(tmp_path) as server:
        status, _, body = envelope_of(await exchange(server.port, login_request("qs001")))
        assert status == 200, body
        auth = {b"Authorization": b"Bearer " + body["data"]["token"].encode()}
        for query in (b"page=%ff", b"page=%00", b"%00=1", b"page=\xff", b"page=1%ed%a0%80"):
            request = raw_request("GET", b"/v1/users/pets?" + query, auth)
            status, headers, body = envelope_of(await exchange(server.port, request))
            assert 400 <= status < 500, (query, body)
            assert "x-request-id" in headers


@pytest.mark.parametrize(
    "partial",
    [
        b"",
        b"GET /healthz HTTP/1.1\r\nHost:",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ],
    ids=["nothing sent", "headers never finished", "a whole request"],
)
async def test_a_connection_is_not_held_past_the_idle_timeout(tmp_path, partial):
    async with served(tmp_path, MENGCHONG__SERVER__IDLE_TIMEOUT_SECONDS="1") as server:
        # exchange() reads until the server closes; its own 20 s limit is far above the 1 s asked.
        answer = await exchange(server.port, partial, timeout=20)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 200")


async def test_a_body_that_stops_half_way_gets_408(tmp_path):
    async with served(tmp_path, MENGCHONG__SERVER__BODY_TIMEOUT_SECONDS="1") as server:
        request = (
            b"POST /v1/auth/wechat_login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"code": "'
        )
        # exchange() reads until the server closes: the connection must not stay open (the rest
        # of the body would be read as the next request): closed after 2 s of lingering, not 10.
        status, headers, body = envelope_of(await exchange(server.port, request, timeout=8))
        assert (status, body["code"]) == (408, 40801)
        assert "x-request-id" in headers
        assert headers.get("connection") == "close"


async def test_a_slow_body_is_the_clients_time_not_the_request_deadline(tmp_path):
    timeouts = {
        "MENGCHONG__SERVER__REQUEST_TIMEOUT_SECONDS": "1",
        "MENGCHONG__SERVER__BODY_TIMEOUT_SECONDS": "20",
    }
    async with served(tmp_path, **timeouts) as server:
        request = login_request("slow01")
        head, _, body = request.partition(b"\r\n\r\n")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(head + b"\r\n\r\n")
            for byte in body:  # the body over ~3 s, three times the request deadline
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(3 / len(body))
            async with asyncio.timeout(20):
                answer = await reader.read()
        finally:
            writer.close()
        status, _, payload = envelope_of(answer)
        assert status == 200, payload


async def test_a_client_that_leaves_mid_body_is_no_error(tmp_path):
    async with served(tmp_path) as server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        head = raw_request("POST", b"/v1/auth/wechat_login", {b"Content-Type": b"application/json"})
        writer.write(head.replace(b"\r\n\r\n", b"\r\nContent-Length: 100\r\n\r\n", 1) + b'{"code": ')
        await writer.drain()
        writer.close()
        await asyncio.sleep(0.5)
        healthy = await exchange(server.port, raw_request("GET", b"/healthz", {}))
        assert envelope_of(healthy)[0] == 200
    records = [json.loads(line) for line in server.log_lines() if line.startswith("{")]
    assert not [r for r in records if r["level"] == "ERROR"], records
