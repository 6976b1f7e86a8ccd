"""Contract fuzzing: Schemathesis walks the live /openapi.json of a real ``mengchong serve``
process, on both runtime profiles, and sends every operation generated requests, valid and
invalid, with real tokens (a user's, and an admin's for admin routes). Each answer must not be a
server error, must conform to the documented status codes, content types, headers and schemas,
and must be our envelope with ``X-Request-ID``.

The test reads the operations from the document, so a route added later is fuzzed without
editing it. Path parameters are also filled with ids that exist (a pet, its photo and
generation task, a third user for the admin routes), so the success answers are checked too.
Each operation gets REQUESTS generated requests, shared by its ways of being fuzzed (valid or
invalid, generated path or existing ids): a way that runs out of distinct requests (a fixed
path that is the only input) leaves its share to the next ones.

Then a stateful phase follows the document's links from operation to operation
(tests/contract_stateful.py), and every operation that needs a token is called without one:
401, code 40101, the bearer challenge. The checks and the server process are in
tests/contract_support.py. Hypothesis is derandomized (Schemathesis still flips a coin of its
own on whether a link's value is used), and a failure prints the request (curl).
"""

from __future__ import annotations

import math
import re
import statistics
import time
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from contract_stateful import run_stateful, schemathesis_config
from contract_support import CHECKS, Identities, orange_photo, serve, server_errors
from hypothesis import HealthCheck, Phase

from mengchong.config_loading import deep_merge
from served import stop

REQUESTS = 100  # per operation (one without parameters or a body may have fewer distinct ones)
DEFAULT_LIMITS_REQUESTS = 20  # the pass with the shipped rate limits: mostly 429s after a while
LEAST_PER_WAY = 5
SETTINGS = hypothesis.settings(
    max_examples=REQUESTS,
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
    # Every one shipped (the console's pages are HTML, not operations: nothing of it is fuzzed,
    # but its routes are served beside the API's).
    "plugins": {"enabled": ["pets", "checkin", "mall", "leaderboard", "notifications", "console"]},
    "notifications": {"templates": {"checkin_reward": {"template_id": "fuzz-checkin"}}},
}
PATH_PARAMETER = re.compile(r"{(\w+)}")


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
    operation: Any, identities: Identities, known: dict[str, str], requests_each: int
) -> list[str]:
    """Every way of fuzzing one operation, ``requests_each`` requests in all; the failures found,
    as text (request included)."""
    names = PATH_PARAMETER.findall(operation.path)
    fixed = {name: known[name] for name in names if name in known}
    ways = [(mode, fixed) for mode in schemathesis.GenerationMode] if fixed else []
    ways += [(mode, {}) for mode in schemathesis.GenerationMode]  # last: it has the most to vary
    failures = []
    for index, (mode, path_parameters) in enumerate(ways):
        left = requests_each - sum(identities.statuses[operation.label].values())
        share = max(math.ceil(left / (len(ways) - index)), LEAST_PER_WAY)
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None)
        try:
            allowed = strategy.filter(lambda case: not identities.is_protected(case))
            run(allowed, identities, hypothesis.settings(SETTINGS, max_examples=share))
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
        who = identities.caller(case.operation)
        headers = identities.headers(who)
        response = case.call(session=identities.session, headers=headers, timeout=30)
        identities.statuses[case.operation.label][response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        finally:
            if case.method.upper() != "GET" and response.status_code < 300:
                identities.renew_revoked(who)

    examples()


def unauthenticated(operations: list[Any], identities: Identities, known: dict[str, str]) -> list[str]:
    """Every operation whose security requires the bearer token, called once without one (its
    path naming what exists): a 401, envelope code 40101, the bearer challenge; the failures."""
    failures = []
    for operation in operations:
        security = operation.definition.raw.get("security") or []
        if not security or {} in security:  # public, or a token is one proof of access of several
            continue
        # The guard answers before the path is validated: an id the seed did not make will do.
        path = {name: known.get(name, "1") for name in PATH_PARAMETER.findall(operation.path)}
        case = operation.Case(path_parameters=path)
        response = case.call(session=identities.session, timeout=30)
        identities.anonymous[operation.label] = response.status_code
        try:
            case.validate_response(response, checks=CHECKS)
            assert response.status_code == 401, f"{response.status_code}: {response.text[:200]}"
            assert response.json()["code"] == 40101, response.text[:200]
            (challenge,) = response.headers.get("www-authenticate", [""])  # Schemathesis': lowercase, lists
            assert challenge.startswith("Bearer"), f"WWW-Authenticate: {challenge!r}"
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label} without a token:\n{exc}")
    return failures


def takes_input(operation: Any) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters")) or "requestBody" in raw


def thin_operations(operations: list[Any], identities: Identities, minimum: int) -> list[str]:
    """The operations with parameters or a body sent fewer than ``minimum`` generated requests."""
    sent = {label: sum(statuses.values()) for label, statuses in identities.statuses.items()}
    with_input = sorted(sent[o.label] for o in operations if takes_input(o))
    print(
        f"generated requests per operation with parameters or a body: min {with_input[0]}, "
        f"median {statistics.median(with_input)}, max {with_input[-1]}"
    )
    no_input = sorted(f"{o.label} ({sent[o.label]})" for o in operations if not takes_input(o))
    print(f"  without (as many as Hypothesis makes distinct, not held to {minimum}): {', '.join(no_input)}")
    return [f"{o.label}: {sent[o.label]}" for o in operations if takes_input(o) and sent[o.label] < minimum]


async def fuzz(
    settings: dict[str, Any], tmp_path: Path, requests_each: int, *, every_phase: bool = True
) -> None:
    """Start a server with ``settings``, fuzz every operation of its document; then, with
    ``every_phase``, follow its links (contract_stateful.py) and call each route that needs a
    token without one. Assert no failure."""
    server = await serve(settings, tmp_path)
    base = server.base
    followed = None
    took: dict[str, float] = {}
    try:
        with requests.Session() as session:
            identities = Identities(base, session)
            identities.login("user")
            identities.login("admin")
            schema = schemathesis.openapi.from_url(f"{base}/openapi.json", config=schemathesis_config())
            known = seed(schema, identities)
            failures: list[str] = []
            fuzzed = [result.ok() for result in schema.get_all_operations()]
            started = time.monotonic()
            for operation in fuzzed:
                failures += fuzz_operation(operation, identities, known, requests_each)
            took["stateless"] = time.monotonic() - started
            if every_phase:
                started = time.monotonic()
                try:
                    followed = run_stateful(schema, identities)
                except (Exception, BaseExceptionGroup) as exc:
                    failures.append(f"stateful phase:\n{exc}")
                took["stateful"] = time.monotonic() - started
                failures += unauthenticated(fuzzed, identities, known)
    finally:
        stop([server])
    for label, statuses in sorted(identities.statuses.items()):
        print(f"{label}: {sum(statuses.values())} requests, {dict(sorted(statuses.items()))}")
    print(", ".join(f"{phase} phase: {seconds:.1f} s" for phase, seconds in took.items()))
    if followed is not None:
        print("\n".join(followed.report()))
    assert len(fuzzed) >= 24
    assert set(identities.statuses) == {operation.label for operation in fuzzed}
    assert not failures, "\n\n".join(failures) + "\n\nServer errors:\n" + server_errors(server)
    if every_phase:
        assert followed is not None
        missing = sorted(followed.chains_never_followed_to_a_success())
        assert not missing, f"links never followed to a success: {missing}"
        print(f"without a token: {len(identities.anonymous)} operations, each a 401")
        assert len(identities.anonymous) >= 30
        thin = thin_operations(fuzzed, identities, requests_each)
        assert not thin, f"fewer than {requests_each} requests: {thin}"


@pytest.mark.timeout(900)
async def test_every_operation_of_the_live_document_holds_under_fuzzing(profile, tmp_path):
    settings = deep_merge({k: v for k, v in profile.items() if k != "profile"}, FUZZ_CONFIG)
    await fuzz(settings, tmp_path, REQUESTS)


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
    await fuzz(settings, tmp_path, DEFAULT_LIMITS_REQUESTS, every_phase=False)
