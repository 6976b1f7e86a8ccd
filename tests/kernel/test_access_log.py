"""The access log: JSON lines shaped like every other log line, batched, flushed at shutdown."""

from __future__ import annotations

import io
import json
import logging

import pytest

from mengchong.http.access_log import LOGGER, AccessLog
from mengchong.logs import JsonFormatter, request_id_var


@pytest.fixture
def access_enabled():
    logger = logging.getLogger(LOGGER)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield logger
    logger.setLevel(previous)


def formatter_line(
    request_id: str, method: str, path: str, status: int, ms: float, remote: str | None
) -> dict:
    """What ``JsonFormatter`` writes for the same request through :mod:`logging`."""
    record = logging.LogRecord(LOGGER, logging.INFO, __file__, 1, "%s %s %s", (method, path, status), None)
    record.__dict__.update(method=method, path=path, status=status, ms=ms, remote=remote)
    token = request_id_var.set(request_id)
    try:
        return json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)


@pytest.mark.parametrize(
    ("path", "remote"),
    [
        ("/v1/pets/abc", "127.0.0.1"),
        ('/v1/odd/"quoted"\\back\tslash/中文', "::1"),
        ("/healthz", None),
    ],
)
def test_a_line_is_the_document_the_log_formatter_would_write(access_enabled, path, remote):
    stream = io.StringIO()
    log = AccessLog(stream=stream)
    log.record("req-1", "GET", path, 404, 0.0123456, remote)
    assert stream.getvalue() == ""  # batched, not written per request
    log.flush()
    line = json.loads(stream.getvalue())
    expected = formatter_line("req-1", "GET", path, 404, 12.35, remote)
    assert line.keys() == expected.keys()
    assert {k: v for k, v in line.items() if k != "ts"} == {k: v for k, v in expected.items() if k != "ts"}
    assert line["ts"].endswith("Z")
    assert len(line["ts"]) == len("2026-01-01T00:00:00.000Z")


def test_a_full_batch_is_written_at_once_and_in_order(access_enabled):
    stream = io.StringIO()
    log = AccessLog(stream=stream, flush_lines=3)
    for n in range(4):
        log.record(f"r{n}", "POST", f"/p/{n}", 200, 0.001, "10.0.0.1")
    assert [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()] == ["r0", "r1", "r2"]
    log.flush()
    assert [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()][-1] == "r3"


def test_nothing_is_kept_when_the_access_logger_is_silenced():
    logger = logging.getLogger(LOGGER)
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        stream = io.StringIO()
        log = AccessLog(stream=stream)
        log.record("r", "GET", "/", 200, 0.001, None)
        log.flush()
        assert stream.getvalue() == ""
    finally:
        logger.setLevel(previous)


async def test_the_last_lines_are_flushed_when_the_app_stops(access_enabled):
    stream = io.StringIO()
    log = AccessLog(stream=stream, flush_seconds=3600)
    ctx = log.cleanup_ctx(None)  # type: ignore[arg-type]
    await ctx.__anext__()
    log.record("last", "GET", "/x", 200, 0.001, None)
    with pytest.raises(StopAsyncIteration):
        await ctx.__anext__()
    assert json.loads(stream.getvalue())["request_id"] == "last"
