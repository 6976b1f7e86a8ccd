"""What the phases of the contract fuzz test (tests/kernel/test_contract_fuzz.py) share: the
checks every answer must pass, the identities whose tokens the requests carry, and the
``mengchong serve`` process they are sent to."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import requests
import schemathesis
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from served import ServerProcess, start, stop, wait_until_serving

FUZZERS = ("user", "admin")  # whose tokens the fuzzed requests carry; "victim" is who admins act on


@schemathesis.check
def answers_in_the_envelope(ctx: schemathesis.CheckContext, response: schemathesis.Response, case) -> None:
    """Every answer carries X-Request-ID; a JSON one (every error) is the envelope."""
    assert response.headers.get("x-request-id"), "no X-Request-ID header"
    content_type = (response.headers.get("content-type") or [""])[0]
    if response.status_code < 400 and not content_type.startswith("application/json"):
        return  # a photo or the metrics text: content_type_conformance checks it is documented
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise AssertionError(f"not JSON: {response.content[:200]!r}") from None
    assert isinstance(body, dict), f"not a JSON object: {body!r}"
    code, message = body.get("code"), body.get("message")
    assert type(code) is int, f"code is not an integer: {code!r}"
    assert isinstance(message, str), f"message is not a string: {message!r}"
    if response.status_code < 400:
        assert code == 0, f"a success envelope has code 0: {body!r}"
        assert "data" in body, f"a success envelope has data: {body!r}"
    else:
        assert code // 100 == response.status_code, f"code {code} does not start with the HTTP status"


@schemathesis.check
def status_is_documented(ctx: schemathesis.CheckContext, response: schemathesis.Response, case) -> None:
    """status_code_conformance accepts anything when ``default`` is documented (as it is, for
    the unexpected 500); this one wants the status itself listed."""
    documented = set(case.operation.definition.raw["responses"]) - {"default"}
    assert str(response.status_code) in documented, (
        f"{response.status_code} is not documented for {case.operation.label} ({sorted(documented)})"
    )


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    answers_in_the_envelope,
    status_is_documented,
]


def environment(settings: dict[str, Any], prefix: str = "MENGCHONG") -> dict[str, str]:
    """Settings as MENGCHONG__SECTION__KEY variables (JSON values are TOML values here)."""
    variables: dict[str, str] = {}
    for key, value in settings.items():
        name = f"{prefix}__{key.upper()}"
        if isinstance(value, dict):
            variables.update(environment(value, name))
        else:
            variables[name] = orjson.dumps(value).decode()
    return variables


@dataclass
class Identities:
    """The fuzz user's and admin's tokens, renewed when a fuzzed request revoked them (logout)."""

    base: str
    session: requests.Session
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    statuses: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    anonymous: dict[str, int] = field(default_factory=dict)  # status answered without a token

    def login(self, who: str) -> str:
        """Log ``who`` in (openid ``mock-fuzz-<who>``) and answer their token; the fuzzers' is kept."""
        response = self.session.post(f"{self.base}/v1/auth/wechat_login", json={"code": f"fuzz-{who}"})
        if response.status_code == 429 and who in self.tokens:
            return self.tokens[who]  # rate limits on: keep the revoked token, its 401s are answers too
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        self.ids[who] = int(data["user_info"]["user_id"])
        if who in FUZZERS:
            self.tokens[who] = data["token"]
        return data["token"]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def caller(self, operation: Any) -> str:
        return "admin" if "admin" in (operation.tags or []) else "user"

    def renew_revoked(self, who: str) -> None:
        """``who``'s token renewed if revoked: only a caller's own request can revoke it (no
        admin route is sent a path naming the fuzzers, see :meth:`is_protected`)."""
        check = self.session.get(f"{self.base}/v1/auth/check_session", headers=self.headers(who))
        if check.status_code == 401:
            self.login(who)

    def is_protected(self, case: Any) -> bool:
        """A path naming the fuzz user or admin (an admin route would ban them) is not sent."""
        protected = {self.ids["user"], self.ids["admin"]}
        for name, value in (case.path_parameters or {}).items():
            if name != "user_id":  # another id (a notification's) may equal a user's
                continue
            try:
                if int(str(value)) in protected:  # what the server's Integer field would read
                    return True
            except ValueError:
                continue
        return False


def orange_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 400), (255, 140, 0)).save(out, format="PNG")
    return out.getvalue()


async def serve(settings: dict[str, Any], tmp_path: Path) -> ServerProcess:
    """``mengchong serve`` with ``settings`` on a free port, serving; stop it with
    ``stop([server])``."""
    server = start(tmp_path, environment(settings))
    try:
        await wait_until_serving(server)
    except BaseException:
        stop([server])
        raise
    return server


def server_errors(server: ServerProcess) -> str:
    """The server's logged errors (tracebacks included), to show beside the failures."""
    errors = []
    for line in server.log_lines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if record.get("level") == "ERROR":
            errors.append(f"{record['message']}\n{record.get('exception', '')}")
    return "\n".join(errors)[-20_000:]
