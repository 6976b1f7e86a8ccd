"""The notifications' tables: the grants users gave (one per accepted subscribe request, counted per
template) and the log of every notification, which is also its state on the way to WeChat.

A log row is written before its queue message is published, keyed by the message's stable id
(``message_id``, unique): a second request to notify about the same thing (an event delivered
again, the reminder job of a second process) finds the row and sends nothing new. The consumer
reads the row's status first and records the outcome before it acknowledges the message, so a
message delivered again after a crash is not sent twice.
"""

from __future__ import annotations

from tortoise import fields

from mengchong.storage.table import Model

QUEUED = "queued"
SENT = "sent"
MOCKED = "mocked"  # wechat.mode = "mock": recorded, not sent
SKIPPED = "skipped"  # not attempted: no grant left, the kind turned off, the user banned or gone
REFUSED = "refused"  # WeChat 43101: the user refused (the grant is spent)
FAILED = "failed"  # WeChat refused the request itself (bad openid, bad data): not retried
DEAD = "dead"  # transient failures until the attempts ran out: an admin may retry it
STATUSES = (QUEUED, SENT, MOCKED, SKIPPED, REFUSED, FAILED, DEAD)
FINAL = frozenset({SENT, MOCKED, SKIPPED, REFUSED, FAILED, DEAD})
RETRYABLE = frozenset({QUEUED, FAILED, DEAD})


class NotificationGrant(Model):
    """How many more messages of one template a user has accepted (wx.requestSubscribeMessage)."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name=False, on_delete=fields.CASCADE)
    template_id = fields.CharField(max_length=128)
    count = fields.IntField(default=0)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "notification_grants"
        unique_together = (("user", "template_id"),)
        indexes = (("template_id", "user_id"),)


class NotificationLog(Model):
    """One notification: what it sends to whom, and how far it got (status, WeChat's errcode, attempts)."""

    id = fields.BigIntField(primary_key=True)
    message_id = fields.CharField(max_length=160, unique=True)
    user = fields.ForeignKeyField("core.User", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=32)
    template_id = fields.CharField(max_length=128)
    page = fields.CharField(max_length=256, default="")
    data = fields.JSONField()
    status = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=200, default="")
    errcode = fields.IntField(null=True)
    attempts = fields.IntField(default=0)
    grant_spent = fields.BooleanField(default=False)
    claimed_until = fields.DatetimeField(null=True)  # a delivery is sending it until then
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification_logs"
        indexes = (("status", "id"), ("user_id", "id"), ("created_at",))
