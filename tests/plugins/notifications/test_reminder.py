"""The daily check-in reminder: at ``reminder_time`` (20:00 Asia/Shanghai by default) it goes to
the users who hold a streak_reminder grant, keep the checkin_reminder pref on, are not banned and
have not checked in today; once per user and local day, also with two processes running the job
and when the job runs again; a process started after the time catches up; the next day sends
again; the users are read in batches.

``Reminder.remind_once`` is driven directly on an app without background tasks or consumers
(``make_quiet_client``: what it queued stays queued), and the job itself on ordinary apps, whose
task looks at the ManualClock every 0.05 s and logs each day it finished.
"""

from __future__ import annotations

import logging
from datetime import time, timedelta

import pytest

from checkin_support import TODAY, go_to
from mengchong.keys import database_key
from mengchong_plugins.notifications.reminder import Reminder
from notifications_support import (
    ADMIN,
    Auth,
    grant,
    grants_left,
    logs,
    send_calls,
    settled,
    template_id,
    user,
)
from support import eventually

TEMPLATE = template_id("streak_reminder")
TOMORROW = TODAY + timedelta(days=1)
AT = time(20)  # the default reminder_time


async def remind(client, reminder: Reminder) -> int:
    app = client.server.app
    with app[database_key].activate():
        return await reminder.remind_once(app)


async def people(
    client, admin_auth: Auth, *, due: tuple[str, ...] = ("due",), grants: int = 1
) -> dict[str, int]:
    """Users by name: each of ``due`` is to be reminded (``grants`` streak_reminder grants), then
    one of each kind the reminder leaves out. Made at noon on TODAY."""
    ids: dict[str, int] = {}

    async def member(name: str, *, granted: bool = True) -> Auth:
        ids[name], auth = await user(client, name)
        if granted:
            await grant(client, auth, "streak_reminder", times=grants)
        return auth

    for name in due:
        await member(name)
    checked = await member("checked")
    response = await client.post("/v1/checkin", headers=checked)
    assert response.status == 200, await response.json()
    ungranted = await member("ungranted", granted=False)
    await grant(client, ungranted, "checkin_reward")  # another template's grant is not this one
    prefs_off = await member("prefs-off")
    response = await client.put(
        "/v1/users/settings", json={"notification_prefs": {"checkin_reminder": False}}, headers=prefs_off
    )
    assert response.status == 200, await response.json()
    await member("banned")
    response = await client.post(f"/v1/admin/users/{ids['banned']}/ban", headers=admin_auth)
    assert response.status == 200, await response.json()
    return ids


async def reminded(client) -> dict[int, list[str]]:
    """The streak reminders' rows: user id -> the days of the rows' message ids."""
    found: dict[int, list[str]] = {}
    for row in await logs(client, kind="streak_reminder"):
        found.setdefault(row.user_id, []).append(row.message_id.rsplit(":", 1)[1])  # type: ignore[attr-defined]
    return found


def finished_days(caplog) -> list[str]:
    """The days the reminder jobs logged as done, one line per job and day."""
    return [
        record.day  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "mengchong.notifications"
        and record.getMessage().startswith("check-in reminders of")
    ]


@pytest.fixture
def job_log(caplog):
    caplog.set_level(logging.INFO, logger="mengchong.notifications")
    return caplog


async def test_due_users_are_queued_once_at_the_time_and_not_before(
    make_quiet_client, settings, clock, job_log
):
    app = await make_quiet_client(settings, clock=clock)
    _, admin_auth = await user(app, ADMIN)
    ids = await people(app, admin_auth)
    reminder = Reminder()
    for before in (time(12), time(19, 59, 59)):
        go_to(clock, TODAY, at=before)
        assert await remind(app, reminder) == 0
    assert await reminded(app) == {}

    go_to(clock, TODAY, at=AT)
    assert await remind(app, reminder) == 1
    assert await reminded(app) == {ids["due"]: [TODAY.isoformat()]}
    [row] = await logs(app, kind="streak_reminder")
    assert (row.status, row.template_id) == ("queued", TEMPLATE)
    assert row.message_id == f"streak_reminder:{ids['due']}:{TODAY.isoformat()}"
    assert row.data == {"thing1": "今天还没有签到哦，别让连续签到断了", "date2": TODAY.isoformat()}

    # The same job later that day (it does not even look again), and another process's.
    go_to(clock, TODAY, at=time(23, 59))
    assert await remind(app, reminder) == 0
    assert finished_days(job_log) == [TODAY.isoformat()]
    assert await remind(app, Reminder()) == 0
    assert finished_days(job_log) == [TODAY.isoformat()] * 2
    assert await reminded(app) == {ids["due"]: [TODAY.isoformat()]}


@pytest.mark.parametrize("notifications_overrides", [{"reminder_batch": 2}])
async def test_users_are_read_in_batches_each_reminded_once(make_quiet_client, settings, clock):
    app = await make_quiet_client(settings, clock=clock)
    _, admin_auth = await user(app, ADMIN)
    due = ("due-1", "due-2", "due-3", "due-4", "due-5")
    ids = await people(app, admin_auth, due=due)
    go_to(clock, TODAY, at=AT)
    assert await remind(app, Reminder()) == 5
    assert await reminded(app) == {ids[name]: [TODAY.isoformat()] for name in due}


async def test_the_job_sends_at_the_time_once_and_again_the_next_day(client, fake, admin, clock, job_log):
    ids = await people(client, admin[1], grants=2)
    go_to(clock, TODAY, at=AT)
    await eventually(lambda: finished_days(job_log) == [TODAY.isoformat()])
    [row] = await settled(client, kind="streak_reminder")
    assert (row.user_id, row.status) == (ids["due"], "sent")  # type: ignore[attr-defined]
    [sent] = fake.sent
    assert (sent["touser"], sent["template_id"]) == ("o-due", TEMPLATE)

    # Another run that day (another process's job): the row is there, sent; nothing new.
    assert await remind(client, Reminder()) == 0
    assert finished_days(job_log) == [TODAY.isoformat()] * 2

    # The next day: the same user again, and the one who checked in yesterday, not today.
    go_to(clock, TOMORROW, at=AT)
    await eventually(lambda: finished_days(job_log) == [TODAY.isoformat()] * 2 + [TOMORROW.isoformat()])
    await settled(client, 3, kind="streak_reminder")
    assert await reminded(client) == {
        ids["due"]: [TODAY.isoformat(), TOMORROW.isoformat()],
        ids["checked"]: [TOMORROW.isoformat()],
    }
    assert sorted(body["touser"] for body in fake.sent) == ["o-checked", "o-due", "o-due"]
    assert len(send_calls(fake, "o-due")) == 2
    _, due_auth = await user(client, "due")
    assert (await grants_left(client, due_auth))[TEMPLATE] == 0


async def test_a_process_started_after_the_time_catches_up(
    make_quiet_client, make_client, settings, fake, clock, job_log
):
    before = await make_quiet_client(settings, clock=clock)  # the process that was down at 20:00
    _, admin_auth = await user(before, ADMIN)
    ids = await people(before, admin_auth)
    await before.close()
    go_to(clock, TODAY, at=time(21))

    after = await make_client(settings, clock=clock)
    await eventually(lambda: finished_days(job_log) == [TODAY.isoformat()])
    [row] = await settled(after, kind="streak_reminder")
    assert (row.user_id, row.status) == (ids["due"], "sent")  # type: ignore[attr-defined]
    assert [body["touser"] for body in fake.sent] == ["o-due"]


@pytest.mark.parametrize("profile", [pytest.param("services", marks=pytest.mark.services)], indirect=True)
async def test_two_processes_running_the_job_remind_each_user_once(
    make_client, settings, fake, clock, job_log
):
    first = await make_client(settings, clock=clock)
    await make_client(settings, clock=clock)  # a second process: same database, Redis prefix, queues
    _, admin_auth = await user(first, ADMIN)
    due = ("due-1", "due-2", "due-3")
    ids = await people(first, admin_auth, due=due)
    go_to(clock, TODAY, at=AT)
    await eventually(lambda: finished_days(job_log) == [TODAY.isoformat()] * 2)
    await settled(first, 3, kind="streak_reminder")
    assert await reminded(first) == {ids[name]: [TODAY.isoformat()] for name in due}
    assert sorted(body["touser"] for body in fake.sent) == [f"o-{name}" for name in due]
    assert sorted(body["touser"] for name, body in fake.calls if name == "subscribe_send") == [
        f"o-{name}" for name in due
    ]
