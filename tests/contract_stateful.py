"""The stateful phase of the contract fuzz test (tests/kernel/test_contract_fuzz.py): Schemathesis'
state machine follows the links of /openapi.json (a photo into a generation, the task's result
into an adoption, the adopted pet into its reads, a product into an order...), so that answers
deep in a chain are checked too, with the checks every stateless answer passes.

Each scenario is a new user, granted points to order with (and a second new user, who accepts
the first one's invite and then ends that friendship): a user checks in once a day and keeps
three pets at most, so one user for the whole phase could follow those chains once or twice.
Admin operations carry the admin's token. The requests are valid ones only (positive): the
stateless phase sends the invalid ones, and here one would end its chain; an upload sends a real
photo, and a few fields take a value the schema can't describe (``STEERED``). The generation is
asynchronous: after a generation starts, the phase waits for its task to finish, so that a read
of the task can lead to an adoption.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import hypothesis
from contract_support import CHECKS, Identities, orange_photo
from hypothesis import HealthCheck, Phase
from hypothesis.stateful import Bundle
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.meta import TestPhase
from schemathesis.generation.stateful.state_machine import StepInput, normalize_name
from schemathesis.specs.openapi.stateful import is_root_allowed, transition

# Only the links the document declares (none inferred by Schemathesis), valid requests only.
SCHEMATHESIS_CONFIG = {
    "phases": {"stateful": {"inference": {"algorithms": []}, "generation": {"mode": "positive"}}}
}
STATEFUL_SETTINGS = hypothesis.settings(
    max_examples=50,  # scenarios
    # The pets chain is five links deep and every scenario also starts other chains: with 10 steps
    # a scenario seldom gets past an adoption (a run of 100 never read an adopted pet); with 25,
    # each link of CHAINS is followed to a success 20 times and more.
    stateful_step_count=25,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],  # a failure names its request (curl): shrinking, step by step, is slow
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
# The links the phase must follow to a success at least once: (source, target).
CHAINS = {
    ("POST /v1/pets/upload_photo", "POST /v1/pets/generate"),
    ("POST /v1/pets/upload_photo", "GET /v1/pets/photos/{photo_id}"),
    ("POST /v1/pets/generate", "GET /v1/pets/generate/{task_id}"),
    ("GET /v1/pets/generate/{task_id}", "POST /v1/pets"),
    ("POST /v1/pets", "GET /v1/pets/{pet_id}"),
    ("POST /v1/pets", "POST /v1/pets/{pet_id}/interact"),
    ("POST /v1/pets", "GET /v1/pets/{pet_id}/interactions"),
    ("POST /v1/admin/products", "GET /v1/mall/products/{product_id}"),
    ("POST /v1/admin/products", "PUT /v1/admin/products/{product_id}"),
    ("POST /v1/admin/products", "POST /v1/mall/orders"),
    ("POST /v1/mall/orders", "GET /v1/mall/orders/{order_id}"),
    ("POST /v1/friends/invite", "POST /v1/friends/accept"),
    ("POST /v1/friends/accept", "GET /v1/friends"),
    ("POST /v1/friends/accept", "DELETE /v1/friends/{user_id}"),
    ("POST /v1/checkin", "GET /v1/checkin/status"),
}
# Where a scenario starts: where a chain starts. The other operations are reached by links only;
# Schemathesis would also start with an adoption or an order of a random id (the stateless phase
# sends those), and never with a product: it takes a product's item_id for an "Item" no
# operation creates.
ROOTS = (
    "POST /v1/pets/upload_photo",
    "POST /v1/admin/products",
    "POST /v1/friends/invite",
    "POST /v1/checkin",
)
UPLOAD = "POST /v1/pets/upload_photo"
# What the schema can't say, put in each generated body so that a chain can go on: a product
# grants an item of the catalog (and stays for sale), text has no control characters (the
# generated attributes' keys do), a pet's name passes moderation (1-12 characters once trimmed,
# no invisible ones), a personality and an interaction are configured ones.
STEERED = {
    "POST /v1/admin/products": {"item_id": "food.fish"},
    "PUT /v1/admin/products/{product_id}": {"item_id": "food.fish", "on_shelf": True},
    "POST /v1/pets/generate": {"user_selected_attributes": {}},
    "POST /v1/pets": {"pet_name": "Fuzzy", "initial_attributes": {}},
    "POST /v1/pets/{pet_id}/interact": {"interaction_type": "petting", "item_id": None},
}
GENERATE = "POST /v1/pets/generate"
FRIEND_SIDE = {"POST /v1/friends/accept", "DELETE /v1/friends/{user_id}"}  # the invitee's calls
POINTS = {"delta": 1_000_000, "reason": "fuzzing the mall"}
_scenarios = itertools.count(1)


def schemathesis_config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(SCHEMATHESIS_CONFIG)


@dataclass
class Followed:
    """What the phase did: the statuses of each operation called, and of each link followed
    (its values used) as (source, target)."""

    operations: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    links: defaultdict[tuple[str, str], Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    scenarios: int = 0

    def report(self) -> list[str]:
        steps = sum(sum(statuses.values()) for statuses in self.operations.values())
        lines = [f"stateful: {self.scenarios} scenarios, {steps} requests"]
        for (source, target), statuses in sorted(self.links.items()):
            counts = dict(sorted(statuses.items()))
            lines.append(f"  {source} -> {target}: followed {sum(statuses.values())} times, {counts}")
        return lines

    def chains_never_followed_to_a_success(self) -> set[tuple[str, str]]:
        succeeded = {link for link, statuses in self.links.items() if any(s < 300 for s in statuses)}
        return CHAINS - succeeded


@dataclass
class ScenarioUsers:
    """The scenario's user and their invitee, each logged in when first needed."""

    identities: Identities
    number: int
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        if who not in self.tokens:
            name = f"stateful-{self.number}-{who}"
            self.tokens[who] = self.identities.login(name)
            if who == "user":
                url = f"{self.identities.base}/v1/admin/users/{self.identities.ids[name]}/points"
                admin = self.identities.headers("admin")
                granted = self.identities.session.post(url, headers=admin, json=POINTS, timeout=30)
                assert granted.status_code == 200, granted.text
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def with_roots(machine: type, schema: Any, labels: tuple[str, ...]) -> type:
    """``machine`` whose scenarios start with the operations of ``labels`` only, each a rule
    made as Schemathesis makes its own."""
    hidden: dict[str, Any] = dict.fromkeys(machine.root_rules)  # an attribute that is no rule
    roots: dict[str, Any] = {}
    for label in labels:
        name = normalize_name(f"RANDOM -> {label}")
        method, path = label.split(" ", 1)
        cases = schema[path][method].as_strategy(phase=TestPhase.STATEFUL).map(StepInput.initial)
        precondition = is_root_allowed(label)
        roots[name] = transition(
            name=name, target=Bundle("catch_all"), input=cases, precondition=precondition
        )
    marks = {"root_rules": frozenset(roots), "_root_labels": frozenset(labels)}
    return type(machine.__name__, (machine,), {**hidden, **roots, **marks})


def run_stateful(schema: Any, identities: Identities) -> Followed:
    """Run the state machine of ``schema``'s links; what it did (it raises on a failed check)."""
    followed = Followed()
    photo = orange_photo()

    class Workflow(with_roots(schema.as_state_machine(), schema, ROOTS)):  # type: ignore[misc]
        def setup(self) -> None:
            self.users = ScenarioUsers(identities, next(_scenarios))
            followed.scenarios += 1

        def before_call(self, case: Any) -> None:
            label = case.operation.label
            if label == UPLOAD:
                case.body = {"file": photo}  # generated bytes are no image
            elif label in STEERED and isinstance(case.body, dict):
                case.body.update(STEERED[label])

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            if identities.caller(case.operation) == "admin":
                headers = identities.headers("admin")
            else:
                headers = self.users.headers("friend" if case.operation.label in FRIEND_SIDE else "user")
            return {"session": identities.session, "headers": headers, "timeout": 30}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            if case.operation.label == GENERATE and response.status_code == 200:
                task_id = response.json()["data"]["generation_task_id"]
                wait_for_the_task(identities, task_id, self.users.headers("user"))

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response,
                checks=CHECKS,
                headers=kwargs["headers"],
                transport_kwargs=kwargs,
                recorder=self.recorder,
            )

        def step(self, input: StepInput) -> Any:
            output = super().step(input)
            status = output.response.status_code
            followed.operations[input.case.operation.label][status] += 1
            if input.transition is not None and input.is_applied:
                source = self.recorder.cases[input.transition.parent_id].value.operation.label
                followed.links[(source, input.case.operation.label)][status] += 1
            return output

    Workflow.run(settings=STATEFUL_SETTINGS)
    return followed


def wait_for_the_task(identities: Identities, task_id: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        task = identities.session.get(
            f"{identities.base}/v1/pets/generate/{task_id}", headers=headers, timeout=30
        )
        if task.json()["data"]["status"] != "pending":
            return
        time.sleep(0.02)
    raise AssertionError(f"the generation task {task_id} never finished")
