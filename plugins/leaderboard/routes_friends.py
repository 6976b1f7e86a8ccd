"""The friend routes (the friends' board of seed §5.6 reads this graph): invite codes, accepting
one, the caller's friends and ending a friendship. Each handler validates (its decorators), calls
one function of :mod:`mengchong_plugins.leaderboard.friends` and answers the view of what it got.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp_apigami import docs, match_info_schema, querystring_schema, request_schema, response_schema

from mengchong.accounts.guard import authenticated, current_user
from mengchong.http.conventions import AUTH
from mengchong.http.envelope import ok
from mengchong.http.pagination import Page
from mengchong.http.schemas import data_field, envelope, errors, link, page
from mengchong_plugins.leaderboard import friends
from mengchong_plugins.leaderboard import schemas_friends as schemas

routes = web.RouteTableDef()


@routes.post("/v1/friends/invite")
@docs(
    tags=["friends"],
    summary="A new invite code to share (valid leaderboard.invite_days)",
    description="Whoever accepts the code before `expires_at` becomes the caller's friend; "
    "a code may be accepted by many users. 409 only if no free code was found (try again).",
    security=AUTH,
    responses=errors(409),
    links={
        "accept": link(
            "post",
            "/v1/friends/accept",
            "Another user accepts the code (the inviter's own is refused)",
            body={"code": data_field("code")},
        )
    },
)
@response_schema(envelope(schemas.InviteCode), 201)
@request_schema(schemas.InviteBody)
@authenticated
async def create_invite(request: web.Request) -> web.Response:
    user = await current_user(request)
    invite = await friends.create_invite(request.app, user.id)
    return ok(schemas.invite_view(invite), "Invite created successfully", status=201)


@routes.post("/v1/friends/accept")
@docs(
    tags=["friends"],
    summary="Accept an invite code: the inviter and the caller become friends",
    description="Idempotent: friends already, the same answer and nothing changes. The caller's "
    "own code is a 400 naming `code`; an unknown or expired one a 404. When either side already "
    "has leaderboard.max_friends friends, 422 (42204) whose `errors` name `caller` and/or `inviter`.",
    security=AUTH,
    responses=errors(404, 422),
    links={
        "friends": link("get", "/v1/friends", "The caller's friends, the inviter among them"),
        "remove_friend": link(
            "delete",
            "/v1/friends/{user_id}",
            "End the friendship with the inviter",
            parameters={"user_id": data_field("user_id")},
        ),
    },
)
@response_schema(envelope(schemas.FriendInfo))
@request_schema(schemas.AcceptBody)
@authenticated
async def accept_invite(request: web.Request) -> web.Response:
    user = await current_user(request)
    friend = await friends.accept_invite(request.app, user.id, request["data"]["code"])
    return ok(schemas.friend_view(friend), "Friend added successfully")


@routes.get("/v1/friends")
@docs(tags=["friends"], summary="The caller's friends, newest first", security=AUTH)
@response_schema(envelope(page(schemas.FriendInfo)))
@querystring_schema(schemas.FriendsQuery)
@authenticated
async def list_friends(request: web.Request) -> web.Response:
    user = await current_user(request)
    page = Page.from_query(request["querystring"])
    found, total = await friends.list_friends(request.app, user.id, page)
    return ok(page.envelope([schemas.friend_view(friend) for friend in found], total))


@routes.delete("/v1/friends/{user_id}")
@docs(
    tags=["friends"],
    summary="End a friendship (for both users)",
    security=AUTH,
    responses=errors(404),
)
@response_schema(envelope(schemas.RemovedFriend))
@match_info_schema(schemas.FriendPath)
@authenticated
async def remove_friend(request: web.Request) -> web.Response:
    user = await current_user(request)
    friend_id = request["match_info"]["user_id"]
    await friends.remove_friend(request.app, user.id, friend_id)
    return ok(schemas.removed_view(friend_id), "Friend removed successfully")
