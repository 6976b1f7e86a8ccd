"""The board route of seed §5.6: a page of a board with the caller's own rank. The handler
validates (its decorators), calls :func:`mengchong_plugins.leaderboard.reads.read_board` and
answers the view of what it got."""

from __future__ import annotations

from aiohttp import web
from aiohttp_apigami import docs, match_info_schema, querystring_schema, response_schema

from mengchong.accounts.guard import authenticated, current_user
from mengchong.http.conventions import AUTH
from mengchong.http.envelope import ok
from mengchong.http.pagination import Page
from mengchong.http.schemas import envelope, errors
from mengchong_plugins.leaderboard import reads
from mengchong_plugins.leaderboard import schemas_boards as schemas

routes = web.RouteTableDef()


@routes.get("/v1/leaderboards/{type}")
@docs(
    tags=["leaderboard"],
    summary="A page of a leaderboard, with the caller's rank",
    description="pet_level (one line per pet: level, then experience), user_points (the balance), "
    "weekly_interactions (pet interactions this local ISO week; `week` for an earlier one) and "
    "friend_interaction (the caller and their friends, by this week's interactions). Equal scores: "
    "who reached it first ranks higher. `my_rank` is the caller's place even off the page (their "
    "best pet's on pet_level). A board switched off in the settings is 404, as an unknown one.",
    security=AUTH,
    responses=errors(404),
)
@response_schema(envelope(schemas.BoardPage))
@match_info_schema(schemas.BoardPath)
@querystring_schema(schemas.BoardQuery)
@authenticated
async def get_board(request: web.Request) -> web.Response:
    user = await current_user(request)
    board_type = reads.board_type_of(request.app, request["match_info"]["type"])
    query = request["querystring"]
    board = await reads.read_board(
        request.app, board_type, user.id, Page.from_query(query), query.get("week")
    )
    return ok(schemas.board_view(board))
