"""The log's pruning: final rows older than ``keep_days`` go, younger ones and queued ones of any
age stay (a queued row is still owed a send)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mengchong.keys import database_key
from mengchong_plugins.notifications.models import NotificationLog
from mengchong_plugins.notifications.retention import prune_once
from notifications_support import ADMIN, grant, logs, queued, user


async def test_prune_deletes_old_final_rows_only(make_quiet_client, settings, clock):
    client = await make_quiet_client(settings, clock=clock)
    _, admin_auth = await user(client, ADMIN)
    rows = []
    for name in ("old-sent", "young-sent", "old-queued"):
        user_id, auth = await user(client, name)
        await grant(client, auth, "checkin_reward")
        rows.append(await queued(client, admin_auth, user_id))
    app = client.server.app
    long_ago = datetime.now(UTC) - timedelta(days=91)  # keep_days is 90
    with app[database_key].activate():
        await NotificationLog.filter(id=int(rows[0]["id"])).update(status="sent", created_at=long_ago)
        await NotificationLog.filter(id=int(rows[1]["id"])).update(status="sent")
        await NotificationLog.filter(id=int(rows[2]["id"])).update(created_at=long_ago)
        await prune_once(app)
    left = {row.id: row.status for row in await logs(client)}
    assert left == {int(rows[1]["id"]): "sent", int(rows[2]["id"]): "queued"}
