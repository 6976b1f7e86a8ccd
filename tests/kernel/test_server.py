"""``mengchong serve`` as a real process: serves, logs JSON lines, and on SIGTERM lets the
in-flight request finish before it exits."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import aiohttp

from served import free_port, wait_until_serving
from support import clean_env, eventually, run_cli


async def test_serve_then_sigterm_finishes_the_in_flight_request(tmp_path, example_plugin_path):
    import asyncio

    port = free_port()
    env = clean_env(
        PYTHONPATH=example_plugin_path,
        MENGCHONG__SERVER__PORT=str(port),
        MENGCHONG__DATABASE__URL=f"sqlite://{tmp_path}/db.sqlite3",
        MENGCHONG__FILES__ROOT=str(tmp_path / "files"),
        MENGCHONG__PLUGINS__ENABLED='["example"]',
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "mengchong", "serve", "--migrate"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_serving(f"{base}/healthz", process)
        async with aiohttp.ClientSession() as session:
            started = tmp_path / "slow-started"
            slow = asyncio.ensure_future(session.get(f"{base}/v1/example/slow?seconds=1.5&started={started}"))
            await eventually(started.exists)  # the request is in the handler: now stop the server
            process.send_signal(signal.SIGTERM)
            response = await slow
            assert response.status == 200
            assert (await response.json())["data"] == {"slept": True}
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log_lines = [json.loads(line) for line in process.stderr.read().splitlines() if line.startswith("{")]
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
