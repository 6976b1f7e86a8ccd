"""The benchmark driver behind ``scripts/bench``: the services profile under wrk, next to baselines.

It makes its own PostgreSQL database, Redis prefix and queue prefix, migrates, seeds users,
pets, tokens and products (``bench_seed``), serves ``mengchong serve`` pinned to core 0, drives
each endpoint of ``bench_endpoints`` with wrk pinned to core 1 (``bench_wrk``), its runs taking
turns with those of its bare baseline (``scripts/bench_baseline.py``, served beside it), prints
one table and removes all it made, also on Ctrl-C and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncpg
import bench_ceiling
from bench_args import parse_args, selected
from bench_endpoints import (
    BASELINES,
    BEFORE_EACH,
    ENDPOINTS,
    LIST_USERS,
    PAGE_PETS,
    SAME_WORK,
    TOKENS,
)
from bench_report import print_table
from bench_seed import copy_products_page, seed
from bench_servers import check_list_page, wait_http
from bench_wrk import Result, Target, free_port, lua_script, measure

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("MENGCHONG_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MENGCHONG_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("MENGCHONG_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
HIGH_LIMIT = "100000000/minute"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tag = uuid.uuid4().hex[:10]
        self.db_name = f"mengchong_bench_{self.tag}"
        self.db_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{self.db_name}"
        self.redis_prefix = f"bench:{self.tag}:"
        self.queue_prefix = f"bench.{self.tag}."
        self.tmp = Path(tempfile.mkdtemp(prefix="mengchong-bench-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.db_created = False
        self.secret = uuid.uuid4().hex + uuid.uuid4().hex
        self.env = {
            **os.environ,
            "MENGCHONG__DATABASE__URL": self.db_url,
            "MENGCHONG__CACHE__URL": REDIS_URL,
            "MENGCHONG__CACHE__PREFIX": self.redis_prefix,
            "MENGCHONG__QUEUE__URL": AMQP_URL,
            "MENGCHONG__QUEUE__PREFIX": self.queue_prefix,
            "MENGCHONG__FILES__ROOT": str(self.tmp / "files"),
            "MENGCHONG__WECHAT__MODE": "mock",
            "MENGCHONG__AUTH__JWT_SECRET": self.secret,
            "MENGCHONG__SERVER__ACCESS_LOG": "true",
            "MENGCHONG__APP__LOG_LEVEL": "INFO",
            "MENGCHONG__RATELIMIT__ENABLED": "true",
            "MENGCHONG__RATELIMIT__PER_IP": HIGH_LIMIT,
            "MENGCHONG__RATELIMIT__PER_USER": HIGH_LIMIT,
            "MENGCHONG__RATELIMIT__ROUTES": f'{{"POST /v1/auth/wechat_login" = {{per_ip = "{HIGH_LIMIT}"}}}}',
            "MENGCHONG__PETS__INTERACTIONS__PETTING__COOLDOWN_SECONDS": "0",
            "MENGCHONG__NOTIFICATIONS__TEMPLATES__STREAK_REMINDER__TEMPLATE_ID": "bench-reminder",
        }
        self.notes = [
            "services profile: PostgreSQL (documents in its SQL table), Redis cache, RabbitMQ queue",
            "access log on (JSON lines to a file); wechat mode mock",
            f"rate limits on but raised to {HIGH_LIMIT} (per IP, per user, wechat_login) so none refuses",
            "petting cooldown set to 0 s (MENGCHONG__PETS__INTERACTIONS__PETTING__COOLDOWN_SECONDS=0)",
            f"the pet list is read by the first {LIST_USERS} users, who have {PAGE_PETS} pets each",
        ]

    # --- setup -------------------------------------------------------------------------------

    async def create_database(self) -> None:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f'CREATE DATABASE "{self.db_name}"')
            self.db_created = True
        finally:
            await admin.close()

    def migrate(self) -> None:
        subprocess.run([str(ROOT / ".venv/bin/mengchong"), "migrate"], cwd=ROOT, env=self.env, check=True)

    async def seed(self, users: int, checkin_users: int) -> dict[str, list[str]]:
        return await seed(self.env, self.db_url, users, checkin_users)

    # --- processes ---------------------------------------------------------------------------

    def start(
        self, command: list[str], name: str, env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[bytes], int, Path, float]:
        """Start ``command`` pinned to core 0 on a free port: the product's through its settings,
        the baselines' with ``--port``, another's through ``env(port)``."""
        port = free_port()
        log = self.tmp / f"{name}.log"
        flag = ["--port", str(port)] if name == "baseline" else []
        if name == "ceiling":
            env = bench_ceiling.environment(port)
        started = time.monotonic()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["taskset", "-c", "0", *command, *flag],
                cwd=ROOT,
                env=env or {**self.env, "MENGCHONG__SERVER__PORT": str(port)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc, port, log, started

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # --- the run -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        args = self.args
        asyncio.run(self.create_database())
        print(f"database {self.db_name}, redis prefix {self.redis_prefix}, queue prefix {self.queue_prefix}")
        self.migrate()
        began = time.monotonic()
        data = asyncio.run(self.seed(args.users, args.checkin_users))
        seeded = max(args.users, args.checkin_users)
        print(f"seeded {seeded} users, pets and tokens in {time.monotonic() - began:.1f}s", flush=True)
        scripts: dict[str, Path] = {}
        for name, method, path, body, auth, _ in ENDPOINTS:
            scripts[name] = self.tmp / f"{len(scripts)}.lua"
            scripts[name].write_text(lua_script(path, method, body, auth, data, TOKENS.get(name, "tokens")))

        # Bytecode first, as the Docker image's pip install leaves it: without it (an editable
        # install under PYTHONDONTWRITEBYTECODE) every start compiles our modules from source.
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "mengchong", "plugins"], cwd=ROOT, check=True
        )
        proc, port, log, started = self.start([".venv/bin/mengchong", "serve"], "server")
        first_200 = wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc, log) - started
        wait_http(f"http://127.0.0.1:{port}/readyz", 60, proc, log)
        print(f"server pid {proc.pid} on :{port}, first 200 on /healthz after {first_200:.2f}s", flush=True)
        chosen = [endpoint for endpoint in ENDPOINTS if selected(endpoint[0], args.only)]
        url = f"http://127.0.0.1:{port}"
        check_list_page(url, data["list_tokens"][0])
        base = self.start_baseline(chosen, url)
        ceiling = self.start_ceiling() if args.ceiling else None

        results: list[Result] = []
        baselines: list[Result] = []
        ceilings: list[tuple[Result, Result]] = []
        same_work: dict[str, dict[str, Any]] = {}
        for name, *_, baseline in chosen:
            targets = [Target(name, url, scripts[name], self.before_each(name), proc.pid)]
            beside = [b for b in (baseline, SAME_WORK.get(name)) if b is not None]
            targets += [self.baseline_target(b, base, data) for b in beside]
            if ceiling is not None:
                extra = bench_ceiling.target(name, *ceiling, self.tmp, args.users)
                targets += [extra] if extra is not None else []
            result, *measured = measure(targets, args)
            results.append(result)
            baselines += [m for m in measured if not m.endpoint.startswith("ceiling: ")]
            ceilings += [(measured[0], m) for m in measured if m.endpoint.startswith("ceiling: ")]
            if baseline is not None:
                result.baseline = baseline
                result.ratio = result.requests_per_second / measured[0].requests_per_second
            if name in SAME_WORK:
                bare = measured[-1]
                same_work[name] = {
                    "baseline": SAME_WORK[name],
                    "ratio": result.requests_per_second / bare.requests_per_second,
                }
        rss = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{proc.pid}/status").read_text())
        rss_kib = int(rss.group(1)) if rss else 0
        self.stop(proc)
        return {
            "settings": {
                k: getattr(args, k) for k in ("duration", "connections", "runs", "users", "checkin_users")
            },
            "notes": self.notes,
            "results": [asdict(r) for r in results],
            "baselines": [asdict(r) for r in baselines],
            "same_work": same_work,
            "ceiling": [
                {
                    "baseline": base_row.endpoint,
                    "ceiling": ceiling_row.endpoint,
                    "baseline_rps": base_row.requests_per_second,
                    "ceiling_rps": ceiling_row.requests_per_second,
                    "ratio": base_row.requests_per_second / ceiling_row.requests_per_second,
                }
                for base_row, ceiling_row in ceilings
            ],
            "server_rss_mib": round(rss_kib / 1024, 1),
            "startup_to_first_healthz_200_s": round(first_200, 3),
        }

    def start_baseline(
        self, chosen: list[tuple[str, str, str, str | None, bool, str | None]], url: str
    ) -> tuple[str, int] | None:
        """Start the baselines' server beside the product (its runs take turns with the
        product's); its URL and pid, or None when no chosen endpoint has a baseline."""
        wanted = {e[-1] for e in chosen} | {SAME_WORK[e[0]] for e in chosen if e[0] in SAME_WORK}
        if not wanted - {None}:
            return None
        command = [".venv/bin/python", "scripts/bench_baseline.py", "--dsn", self.db_url]
        command += ["--redis-url", REDIS_URL, "--board-key", f"{self.redis_prefix}lb:pet_level"]
        if "redis-py page" in wanted:
            with urllib.request.urlopen(f"{url}/v1/mall/products?page=1&limit=20", timeout=10):
                pass  # the product caches the page its baseline serves a copy of
            command += ["--page-key", asyncio.run(copy_products_page(REDIS_URL, self.redis_prefix))]
        command += ["--secret", self.secret]
        base, base_port, base_log, _ = self.start(command, "baseline")
        wait_http(f"http://127.0.0.1:{base_port}/healthz", 60, base, base_log)
        return f"http://127.0.0.1:{base_port}", base.pid

    def start_ceiling(self) -> tuple[str, int]:
        """Start the peers' Python ceiling beside the baselines; its URL and pid."""
        proc, port, log, _ = self.start([".venv/bin/python", str(bench_ceiling.CEILING)], "ceiling")
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/hello", 60, proc, log)
        bench_ceiling.check(url)
        return url, proc.pid

    def baseline_target(self, name: str, base: tuple[str, int] | None, data: dict[str, list[str]]) -> Target:
        assert base is not None
        base_url, pid = base
        _, method, path, body, auth = next(b for b in BASELINES if b[0] == name)
        script = self.tmp / f"baseline-{name.replace(' ', '-')}.lua"
        if not script.exists():
            script.write_text(lua_script(path, method, body, auth, data, TOKENS.get(name, "tokens")))
        return Target(f"baseline: {name}", base_url, script, self.before_each(name), pid, profile=False)

    def before_each(self, name: str) -> Callable[[], None] | None:
        """What runs before each run of ``name`` (BEFORE_EACH: a check-in's day cleared, the
        users funded for orders)."""
        sql = BEFORE_EACH.get(name)
        if sql is None:
            return None

        async def prepare() -> None:
            # wrk leaves up to --connections requests in flight when it stops: let them commit
            # first, or their users start the next run already checked in (a few 409s).
            await asyncio.sleep(1)
            connection = await asyncpg.connect(self.db_url)
            try:
                await connection.execute(sql)
            finally:
                await connection.close()

        return lambda: asyncio.run(prepare())

    # --- cleanup -----------------------------------------------------------------------------

    def cleanup(self) -> None:
        for proc in self.procs:
            try:
                self.stop(proc)
            except Exception as exc:  # keep cleaning
                print(f"bench: stopping pid {proc.pid}: {exc}", file=sys.stderr)
        for step in (self.drop_database, self.delete_redis_keys, self.delete_queues):
            try:
                asyncio.run(step())
            except Exception as exc:
                print(f"bench: cleanup {step.__name__}: {exc}", file=sys.stderr)
        subprocess.run(["rm", "-rf", str(self.tmp)], check=False)

    async def drop_database(self) -> None:
        if self.db_created:
            admin = await asyncpg.connect(PG_ADMIN)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            finally:
                await admin.close()

    async def delete_redis_keys(self) -> None:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            keys = [key async for key in client.scan_iter(match=f"{self.redis_prefix}*", count=1000)]
            for index in range(0, len(keys), 1000):
                await client.delete(*keys[index : index + 1000])
        finally:
            await client.aclose()

    async def delete_queues(self) -> None:
        from mengchong.app import create_app, queue_consumers
        from mengchong.config import QueueSettings
        from mengchong.config_loading import load_settings
        from mengchong.storage.queue_amqp import RabbitQueue

        app = create_app(load_settings(None, environ={}))
        consumed = [consumer.queue for consumer in queue_consumers(app)]
        queue = RabbitQueue(QueueSettings(url=AMQP_URL, prefix=self.queue_prefix))
        await queue.open()
        try:
            await queue.delete_queues(consumed)
        finally:
            await queue.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.py_spy is not None:
        if shutil.which("py-spy") is None:
            print("bench: --py-spy needs py-spy on PATH (pip install py-spy)", file=sys.stderr)
            return 2
        args.py_spy.mkdir(parents=True, exist_ok=True)
    bench = Bench(args)

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    try:
        report = bench.run()
    except KeyboardInterrupt:
        print("bench: interrupted, cleaning up", file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.CalledProcessError, OSError, asyncpg.PostgresError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        bench.cleanup()
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
