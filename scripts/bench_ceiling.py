"""``scripts/bench --ceiling``: the "Python ceiling" of ``../shared/peers`` measured in the same
rounds as the bare baselines, so a baseline can be shown to be as fast as bare Python goes.

The ceiling (``../shared/peers/nestjs/aiohttp_ceiling.py``, read-only here) serves ``/hello``
and ``/v1/users/profile`` on the peers' own database, ``peer_bench`` (made by
``../shared/peers/side-by-side.sh``, or by ``psql -f ../shared/peers/nestjs/setup.sql``), with
tokens of its own claims (signed here with its default secret). Its runs take turns with the
product's and the baseline's: ``GET /healthz`` beside its ``/hello``, the profile read beside
its profile read.
"""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import jwt
from bench_wrk import Target, lua_script

ROOT = Path(__file__).resolve().parent.parent
CEILING = ROOT.parent / "shared/peers/nestjs/aiohttp_ceiling.py"
SECRET = "peer-bench-secret-change-me"  # the peers' default (their src/config.ts, make-token.js)
PATHS = {"GET /healthz": '"/hello"', "GET /v1/users/profile": '"/v1/users/profile"'}


def tokens(users: int) -> list[str]:
    """Tokens as the peers' make-token.js signs them, for users 1..``users``."""
    now = int(time.time())
    claims = {"iss": "mengchong", "aud": "miniprogram", "iat": now, "exp": now + 86_400}
    return [jwt.encode({**claims, "sub": str(uid)}, SECRET, algorithm="HS256") for uid in range(1, users + 1)]


def environment(port: int) -> dict[str, str]:
    if not CEILING.exists():
        raise RuntimeError(f"--ceiling: {CEILING} is not there")
    return {**os.environ, "PORT": str(port), "JWT_SECRET": SECRET, "PGDATABASE": "peer_bench"}


def check(url: str) -> None:
    """The ceiling answers its profile read, or its database is missing."""
    request = urllib.request.Request(
        f"{url}/v1/users/profile", headers={"Authorization": f"Bearer {tokens(1)[0]}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except OSError as exc:
        raise RuntimeError(
            f"--ceiling: its profile read failed ({exc}); make the peer_bench database with "
            "../shared/peers/side-by-side.sh or psql -f ../shared/peers/nestjs/setup.sql"
        ) from None


def target(endpoint: str, url: str, pid: int, tmp: Path, users: int) -> Target | None:
    """The ceiling's run beside ``endpoint``, if it has one."""
    path = PATHS.get(endpoint)
    if path is None:
        return None
    script = tmp / f"ceiling-{len(endpoint)}-{path.strip(chr(34)).replace('/', '-')}.lua"
    if not script.exists():
        auth = endpoint != "GET /healthz"
        data = {"tokens": tokens(users) if auth else [""], "pets": [""]}
        script.write_text(lua_script(path, "GET", None, auth, data))
    return Target(f"ceiling: {path.strip(chr(34))}", url, script, None, pid, profile=False)
