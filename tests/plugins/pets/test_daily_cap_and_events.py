"""The daily experience cap over HTTP (reset at local midnight, on a manual clock), and the pet
events other modules rely on."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from mengchong import hookimpl
from mengchong.clock import ManualClock, start_of_local_day
from mengchong.events import Event, PetAdopted, PetInteracted, PetLeveledUp, Subscriber
from pets_support import act, adopted
from support import bearer, eventually, login, settings_from


class EventSpy:
    """A plugin subscribing to the pets' events, noting them in the order they arrive."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict]] = []

    @hookimpl
    def mengchong_subscribers(self, app) -> list[Subscriber]:
        return [Subscriber("test.spy", (PetAdopted, PetInteracted, PetLeveledUp), self.handle)]

    async def handle(self, app, event: Event) -> None:
        self.seen.append((event.name, event.payload))


@pytest.fixture
async def spied(profile, make_client):
    spy = EventSpy()
    pets = {
        "daily_experience_cap": 120,
        "interactions": {"training": {"cooldown_seconds": 0, "experience": 110}},
        "personalities": {"plain": {}},  # likes nothing
    }
    client = await make_client(
        settings_from(profile, plugins={"enabled": ["pets"]}, pets=pets), [("spy", spy)]
    )
    return client, spy


async def test_the_daily_cap_then_429_until_tomorrow(spied):
    client, spy = spied
    alice = bearer((await login(client, "alice"))["token"])
    pet = await adopted(client, alice)
    first_answer = (await act(client, alice, pet["pet_id"], "training"))[1]["data"]
    first = first_answer["reward"]
    assert (first["experience"], first["levels_passed"]) == (110, [2])
    second_answer = (await act(client, alice, pet["pet_id"], "training"))[1]["data"]
    second = second_answer["reward"]
    assert second["experience"] == 10  # only what is left of the day's 120
    response, body = await act(client, alice, pet["pet_id"], "training")
    assert response.status == 429, body
    assert int(response.headers["Retry-After"]) > 0

    await eventually(lambda: len(spy.seen) == 4)
    names = [name for name, _ in spy.seen]
    assert names.count("pet.adopted") == 1
    assert names.count("pet.interacted") == 2
    user_id = spy.seen[0][1]["user_id"]
    interacted = [payload for name, payload in spy.seen if name == "pet.interacted"]
    assert interacted == [
        {
            "user_id": user_id,
            "pet_id": pet["pet_id"],
            "interaction_type": "training",
            "level": 2,
            "experience": 10,  # level 2 starts again from 0 (the curve: 100 for level 2)
            "experience_gained": 110,
            "name": "小白",
            "hunger": first_answer["updated_status"]["hunger"],  # satiety after, as the answer shows it
        },
        {
            "user_id": user_id,
            "pet_id": pet["pet_id"],
            "interaction_type": "training",
            "level": 2,
            "experience": 20,
            "experience_gained": 10,
            "name": "小白",
            "hunger": second_answer["updated_status"]["hunger"],
        },
    ]
    leveled = [payload for name, payload in spy.seen if name == "pet.leveled_up"]
    assert leveled == [
        {"user_id": user_id, "pet_id": pet["pet_id"], "level": 2, "experience": 10, "levels_passed": [2]}
    ]


# --- local midnight, on the app's clock -------------------------------------------------------

CAPPED = {
    "daily_experience_cap": 120,
    "interactions": {"training": {"cooldown_seconds": 0, "experience": 110}},
    "personalities": {"plain": {}},  # likes nothing
}


@pytest.fixture
def clocked(profile, make_client):
    """``await clocked(timezone, clock)``: a client of an app in ``timezone`` reading ``clock``."""

    async def make(timezone: str, clock: ManualClock):
        settings = settings_from(
            profile, app={"timezone": timezone}, plugins={"enabled": ["pets"]}, pets=CAPPED
        )
        return await make_client(settings, clock=clock)

    return make


@pytest.mark.parametrize("timezone", ["Asia/Shanghai", "America/New_York"])
async def test_the_daily_cap_resets_at_local_midnight_in_the_app_timezone(clocked, timezone):
    midnight = start_of_local_day(date(2026, 11, 2), timezone)  # 16:00 UTC before, or 05:00 UTC
    clock = ManualClock(midnight - timedelta(minutes=1))
    client = await clocked(timezone, clock)
    alice = bearer((await login(client, "alice"))["token"])
    pet = await adopted(client, alice)
    gained = [(await act(client, alice, pet["pet_id"], "training"))[1]["data"]["reward"]["experience"]]
    gained.append((await act(client, alice, pet["pet_id"], "training"))[1]["data"]["reward"]["experience"])
    assert gained == [110, 10]

    response, body = await act(client, alice, pet["pet_id"], "training")
    assert (response.status, response.headers.get("Retry-After")) == (429, "60"), body
    clock.set(midnight - timedelta(seconds=1))
    response, body = await act(client, alice, pet["pet_id"], "training")
    assert (response.status, response.headers.get("Retry-After")) == (429, "1"), body

    clock.set(midnight)
    response, body = await act(client, alice, pet["pet_id"], "training")
    assert response.status == 200, body
    assert body["data"]["reward"]["experience"] == 110  # a new day: the whole cap again
