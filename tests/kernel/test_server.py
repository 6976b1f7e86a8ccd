"""``mengchong serve`` as a real process: serves, logs JSON lines, and on SIGTERM lets the
in-flight request finish before it exits."""

from __future__ import annotations

import json
import signal

import aiohttp

from served import free_port, start, stop, wait_until_serving
from support import eventually, run_cli


async def test_serve_then_sigterm_finishes_the_in_flight_request(tmp_path, example_plugin_path):
    import asyncio

    env = {
        "PYTHONPATH": example_plugin_path,
        "MENGCHONG__DATABASE__URL": f"sqlite://{tmp_path}/db.sqlite3",
        "MENGCHONG__FILES__ROOT": str(tmp_path / "files"),
        "MENGCHONG__PLUGINS__ENABLED": '["example"]',
    }
    server = start(tmp_path, env)
    try:
        await wait_until_serving(server)
        async with aiohttp.ClientSession() as session:
            started = tmp_path / "slow-started"
            url = f"{server.base}/v1/example/slow?seconds=1.5&started={started}"
            slow = asyncio.ensure_future(session.get(url))
            await eventually(started.exists)  # the request is in the handler: now stop the server
            server.process.send_signal(signal.SIGTERM)
            response = await slow
            assert response.status == 200
            assert (await response.json())["data"] == {"slept": True}
        assert server.process.wait(timeout=30) == 0
    finally:
        stop([server])
    log_lines = [json.loads(line) for line in server.log_lines() if line.startswith("{")]
    access = [line for line in log_lines if line["logger"] == "mengchong.access"]
    assert any(line["path"] == "/v1/example/slow" and line["status"] == 200 for line in access)
    assert all(len(line["request_id"]) == 32 for line in access)


def test_an_unreachable_backend_at_start_is_one_clear_line(tmp_path):
    env = {
        "MENGCHONG__SERVER__PORT": str(free_port()),
        "MENGCHONG__DATABASE__URL": f"sqlite://{tmp_path}/db.sqlite3",
        "MENGCHONG__QUEUE__URL": "amqp://guest:guest@127.0.0.1:1/",
    }
    result = run_cli("serve", cwd=tmp_path, env=env)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("mengchong: cannot open the queue (RabbitQueue)")


async def test_once_started_the_server_freezes_what_the_start_made_out_of_the_collector(tmp_path):
    """A full collection would otherwise walk every module, route and setting of the process and
    pause the loop for tens of ms (the product list's p99 under load). The collector, paused for
    the start by mengchong.launch, runs again from then on."""
    import asyncio
    import gc

    from mengchong.app import create_app
    from mengchong.server import run
    from support import settings_from

    port = free_port()
    settings = settings_from(
        {"database": {"url": f"sqlite://{tmp_path}/db.sqlite3"}, "files": {"root": str(tmp_path / "files")}},
        server={"port": port},
        plugins={"enabled": []},
    )
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    gc.disable()  # as mengchong.launch starts every command
    serving = asyncio.create_task(run(create_app(settings), settings))
    try:
        await eventually(lambda: gc.get_freeze_count() > 0)
        assert gc.isenabled()
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                        assert answer.status == 200
                        break
                except aiohttp.ClientConnectorError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("the server never answered")
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        gc.unfreeze()
        gc.enable()
