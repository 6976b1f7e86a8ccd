"""Request bodies and parameters of the friend routes (they also document /openapi.json), the
schemas of what those routes answer, and the views filling them."""

from __future__ import annotations

from typing import Any

import marshmallow as m

from mengchong.http.conventions import StrictSchema
from mengchong.http.pagination import PageQuery
from mengchong_plugins.leaderboard.friends import CODE_MAX, Friend, Invite

USER_ID_MAX = 2**63 - 1  # a BIGINT


class InviteBody(StrictSchema):
    """No fields: the code is the caller's."""


class AcceptBody(StrictSchema):
    code = m.fields.String(
        required=True,
        validate=m.validate.Length(min=1, max=CODE_MAX, error=f"must be 1-{CODE_MAX} characters"),
        metadata={"description": "an invite code (case does not matter)"},
    )


class FriendsQuery(PageQuery):
    """The caller's friends: an unknown parameter is a 400 naming it."""

    class Meta:
        unknown = m.RAISE


class FriendPath(StrictSchema):
    user_id = m.fields.Integer(
        required=True,
        strict=False,
        validate=m.validate.Range(min=1, max=USER_ID_MAX, error="must be a positive user id"),
        metadata={"description": "the friend's user id"},
    )


# --- What the routes answer (the ``data`` of each success envelope in /openapi.json) ---------


class InviteCode(m.Schema):
    code = m.fields.String(required=True, metadata={"description": "8 characters, to share"})
    expires_at = m.fields.DateTime(required=True, metadata={"description": "accepted until then"})


class FriendInfo(m.Schema):
    user_id = m.fields.String(required=True, metadata={"description": "a user id, as a string of digits"})
    nickname = m.fields.String(required=True)
    avatar_url = m.fields.String(required=True)
    since = m.fields.DateTime(required=True, metadata={"description": "when the two became friends"})


class RemovedFriend(m.Schema):
    user_id = m.fields.String(required=True, metadata={"description": "the former friend's user id"})


def invite_view(invite: Invite) -> dict[str, Any]:
    return {"code": invite.code, "expires_at": invite.expires_at.isoformat()}


def friend_view(friend: Friend) -> dict[str, Any]:
    return {
        "user_id": str(friend.user_id),
        "nickname": friend.nickname,
        "avatar_url": friend.avatar_url,
        "since": friend.since.isoformat(),
    }


def removed_view(user_id: int) -> dict[str, Any]:
    return {"user_id": str(user_id)}
