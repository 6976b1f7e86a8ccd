"""Contract fuzzing: Schemathesis walks the live /openapi.json of a real ``mengchong serve``
process, on both runtime profiles, and sends every operation generated requests, valid and
invalid, with real tokens (a user's, and an admin's for admin routes). Each answer must not be a
server error, must conform to the documented status codes, content types, headers and schemas,
and must be our envelope with ``X-Request-ID``.

The test reads the operations from the document, so a route added later is fuzzed without
editing it. Path parameters are also filled with ids that exist (a pet, its photo and
generation task, a third user for the admin routes), so the success answers are checked too.
Hypothesis is derandomized: a run is reproducible, and a failure prints the request (curl).
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mengchong.config_loading import deep_merge
from served import free_port, wait_until_serving
from served import stop as stop_process
from support import clean_env

EXAMPLES = 40  # per operation, per generation mode, per way of filling its path
DEFAULT_LIMITS_EXAMPLES = 10  # the pass with the shipped rate limits: mostly 429s after a while
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
FUZZ_CONFIG = {
    "ratelimit": {"enabled": False},  # a 429 would mask what the request would have found
    "auth": {"admin_openids": ["mock-fuzz-admin"]},
    "plugins": {"enabled": ["pets", "checkin", "mall", "leaderboard", "notifications"]},  # every one shipped
    "notifications": {"templates": {"checkin_reward": {"template_id": "fuzz-checkin"}}},
}
FUZZERS = ("user", "admin")  # whose tokens the fuzzed requests carry; "victim" is who admins act on
PATH_PARAMETER = re.compile(r"{(\w+)}")


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

    def login(self, who: str) -> None:
        response = self.session.post(f"{self.base}/v1/auth/wechat_login", json={"code": f"fuzz-{who}"})
        if response.status_code == 429 and who in self.tokens:
            return  # rate limits on: keep the revoked token, its 401s are answers too
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        self.ids[who] = int(data["user_info"]["user_id"])
        if who in FUZZERS:
            self.tokens[who] = data["token"]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def for_operation(self, operation: Any) -> dict[str, str]:
        return self.headers("admin" if "admin" in (operation.tags or []) else "user")

    def renew_revoked(self) -> None:
        for who in self.tokens:
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


def seed(schema: Any, identities: Identities) -> dict[str, str]:
    """A pet with a photo, a finished generation task and one interaction, and a third user for
    the admin routes: the ids a fuzzed path can name to reach the success answers. Each answer
    on the way is checked like a fuzzed one."""

    def call(method: str, path: str, who: str = "user", **case: Any) -> Any:
        operation = schema[path][method]
        made = operation.Case(**case)
        headers = identities.headers(who)
        response = made.call(session=identities.session, headers=headers, timeout=30)
        made.validate_response(response, checks=CHECKS, headers=headers)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response

    def data(method: str, path: str, who: str = "user", **case: Any) -> Any:
        return call(method, path, who, **case).json()["data"]

    photo = data(
        "POST", "/v1/pets/upload_photo", body={"file": orange_photo()}, media_type="multipart/form-data"
    )
    task_id = data("POST", "/v1/pets/generate", body={"photo_id": photo["photo_id"]})["generation_task_id"]
    deadline = time.monotonic() + 60
    while (task := data("GET", "/v1/pets/generate/{task_id}", path_parameters={"task_id": task_id}))[
        "status"
    ] == "pending":
        assert time.monotonic() < deadline, "the generation never finished"
        time.sleep(0.05)
    assert task["status"] == "done", task
    adoption = {"generation_result_id": task["generation_result_id"], "pet_name": "Fuzzy"}
    pet = data("POST", "/v1/pets", body=adoption)
    pet_path = {"pet_id": pet["pet_id"]}
    data("POST", "/v1/pets/{pet_id}/interact", path_parameters=pet_path, body={"interaction_type": "petting"})
    data("GET", "/v1/pets/{pet_id}/interactions", path_parameters=pet_path)
    call("GET", "/v1/pets/photos/{photo_id}", path_parameters={"photo_id": photo["photo_id"]})
    data("POST", "/v1/checkin")  # the status then has a day to show
    product = {"name": "Fish", "type": "virtual_pet_food", "category": "food", "points_cost": 10}
    product_id = data("POST", "/v1/admin/products", "admin", body={**product, "item_id": "food.fish"})[
        "product_id"
    ]
    grant = {"delta": 1_000_000, "reason": "fuzzing the mall"}
    user_path = {"user_id": identities.ids["user"]}
    data("POST", "/v1/admin/users/{user_id}/points", "admin", path_parameters=user_path, body=grant)
    order = data("POST", "/v1/mall/orders", body={"product_id": product_id, "quantity": 1})
    code = data("POST", "/v1/friends/invite")["code"]
    data("POST", "/v1/friends/accept", "admin", body={"code": code})  # the user has a friend
    data("POST", "/v1/notifications/subscriptions", body={"template_ids": ["fuzz-checkin"]})
    identities.login("victim")
    sent = {"user_id": str(identities.ids["victim"]), "kind": "checkin_reward"}
    sent["data"] = {"thing1": "fuzz", "number2": "1", "date3": "2026-12-07"}
    notification = data("POST", "/v1/admin/notifications/send", "admin", body=sent)
    return {
        "type": "pet_level",
        "product_id": product_id,
        "order_id": order["order_id"],
        "pet_id": pet["pet_id"],
        "photo_id": photo["photo_id"],
        "task_id": task_id,
        "user_id": str(identities.ids["victim"]),
        "id": notification["id"],
    }


def fuzz_operation(
    operation: Any, identities: Identities, known: dict[str, str], settings: hypothesis.settings
) -> list[str]:
    """Every way of fuzzing one operation; the failures found, as text (request included)."""
    names = PATH_PARAMETER.findall(operation.path)
    fixed = {name: known[name] for name in names if name in known}
    ways = [(mode, {}) for mode in schemathesis.GenerationMode]
    if fixed:
        ways += [(mode, fixed) for mode in schemathesis.GenerationMode]
    failures = []
    for mode, path_parameters in ways:
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None)
        try:
            run(strategy.filter(lambda case: not identities.is_protected(case)), identities, settings)
        except hypothesis.errors.Unsatisfiable:
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
            continue  # nothing to make invalid: no parameters, no body (or only the fixed path)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is the latter
            filled = "existing ids" if path_parameters else "generated path"
            failures.append(f"{operation.label} ({mode.value}, {filled}):\n{exc}")
    return failures


def run(strategy: Any, identities: Identities, settings: hypothesis.settings) -> None:
    @settings
    @hypothesis.given(case=strategy)
    def examples(case: Any) -> None:
        headers = identities.for_operation(case.operation)
        response = case.call(session=identities.session, headers=headers, timeout=30)
        identities.statuses[case.operation.label][response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        finally:
            if case.method.upper() != "GET" and response.status_code < 300:
                identities.renew_revoked()

    examples()


async def serve(settings: dict[str, Any], tmp_path: Path) -> tuple[str, Callable[[], None]]:
    """``mengchong serve`` with ``settings`` on a free port, its log in ``tmp_path/server.log``
    (a file: a pipe nobody reads would fill up and stall the server)."""
    port = free_port()
    env = clean_env(**environment(settings), MENGCHONG__SERVER__PORT=str(port))
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mengchong", "serve", "--migrate"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )

    def stop() -> None:
        stop_process(process)
        log.close()

    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_serving(f"{base}/healthz", process)
    except BaseException:
        stop()
        raise
    return base, stop


def server_errors(tmp_path: Path) -> str:
    """The server's logged errors (tracebacks included), to show beside the failures."""
    errors = []
    for line in (tmp_path / "server.log").read_text().splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if record.get("level") == "ERROR":
            errors.append(f"{record['message']}\n{record.get('exception', '')}")
    return "\n".join(errors)[-20_000:]


async def fuzz(settings: dict[str, Any], tmp_path: Path, examples: int) -> None:
    """Start a server with ``settings``, fuzz every operation of its document, assert no failure."""
    base, stop = await serve(settings, tmp_path)
    try:
        with requests.Session() as session:
            identities = Identities(base, session)
            identities.login("user")
            identities.login("admin")
            schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
            known = seed(schema, identities)
            failures: list[str] = []
            fuzzed = [result.ok() for result in schema.get_all_operations()]
            per_way = hypothesis.settings(SETTINGS, max_examples=examples)
            for operation in fuzzed:
                failures += fuzz_operation(operation, identities, known, per_way)
    finally:
        stop()
    for label, statuses in sorted(identities.statuses.items()):
        print(f"{label}: {sum(statuses.values())} requests, {dict(sorted(statuses.items()))}")
    assert len(fuzzed) >= 24
    assert set(identities.statuses) == {operation.label for operation in fuzzed}
    assert not failures, "\n\n".join(failures) + "\n\nServer errors:\n" + server_errors(tmp_path)


@pytest.mark.timeout(900)
async def test_every_operation_of_the_live_document_holds_under_fuzzing(profile, tmp_path):
    settings = deep_merge({k: v for k, v in profile.items() if k != "profile"}, FUZZ_CONFIG)
    await fuzz(settings, tmp_path, EXAMPLES)


@pytest.mark.timeout(600)
async def test_with_the_default_rate_limits_every_answer_still_holds(tmp_path):
    """The shipped limits: most answers become 429s, which must be documented and enveloped too."""
    settings = {
        "app": {"env": "test"},
        "database": {"url": f"sqlite://{tmp_path}/mengchong.sqlite3"},
        "files": {"root": str(tmp_path / "files")},
        "server": {"access_log": False},
        "auth": FUZZ_CONFIG["auth"],
        "notifications": FUZZ_CONFIG["notifications"],
    }
    await fuzz(settings, tmp_path, DEFAULT_LIMITS_EXAMPLES)
