"""The leaderboard plugin's tables: the friend graph and its invite codes. Board scores live in
the cache port's sorted sets (rebuilt from the databases by ``mengchong leaderboard rebuild``)."""

from __future__ import annotations

from tortoise import fields

from mengchong.storage.table import Model


class FriendInvite(Model):
    """A short code a user shares (a share card): whoever accepts it before ``expires_at``
    becomes the inviter's friend."""

    id = fields.BigIntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    inviter = fields.ForeignKeyField("core.User", related_name=False, on_delete=fields.CASCADE)
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "friend_invites"


class Friendship(Model):
    """One direction of a friendship: every friendship is two rows, (a, b) and (b, a), written
    and deleted together."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name=False, on_delete=fields.CASCADE)
    friend = fields.ForeignKeyField("core.User", related_name=False, on_delete=fields.CASCADE)
    created_at = fields.DatetimeField()

    class Meta:
        table = "friendships"
        unique_together = (("user", "friend"),)
