"""The daily experience cap over HTTP, and the pet events other modules rely on."""

from __future__ import annotations

import pytest
from conftest import act, adopted

from mengchong import hookimpl
from support import bearer, login, settings_from


class EventSpy:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict]] = []

    @hookimpl
    def mengchong_event(self, app, event) -> None:
        self.seen.append((event.name, event.payload))


@pytest.fixture
async def spied(profile, make_client):
    spy = EventSpy()
    pets = {
        "daily_experience_cap": 120,
        "interactions": {"training": {"cooldown_seconds": 0, "experience": 110}},
        "personalities": {},
    }
    client = await make_client(
        settings_from(profile, plugins={"enabled": ["pets"]}, pets=pets), [("spy", spy)]
    )
    return client, spy


async def test_the_daily_cap_then_429_until_tomorrow(spied):
    client, spy = spied
    alice = bearer((await login(client, "alice"))["token"])
    pet = await adopted(client, alice)
    first = (await act(client, alice, pet["pet_id"], "training"))[1]["data"]["reward"]
    assert (first["experience"], first["levels_passed"]) == (110, [2])
    second = (await act(client, alice, pet["pet_id"], "training"))[1]["data"]["reward"]
    assert second["experience"] == 10  # only what is left of the day's 120
    response, body = await act(client, alice, pet["pet_id"], "training")
    assert response.status == 429, body
    assert int(response.headers["Retry-After"]) > 0

    names = [name for name, _ in spy.seen]
    assert names.count("pet.adopted") == 1
    assert names.count("pet.interacted") == 2
    leveled = [payload for name, payload in spy.seen if name == "pet.leveled_up"]
    assert leveled == [
        {
            "user_id": leveled[0]["user_id"],
            "pet_id": pet["pet_id"],
            "interaction_type": "training",
            "level": 2,
            "levels_passed": [2],
        }
    ]
