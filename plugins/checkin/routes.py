"""The check-in routes of seed §5.5. Each handler validates (its decorators), calls one function
of the service and answers the view of what it got."""

from __future__ import annotations

from aiohttp import web
from aiohttp_apigami import docs, querystring_schema, request_schema, response_schema

from mengchong.accounts.guard import authenticated, current_user
from mengchong.http.conventions import AUTH
from mengchong.http.envelope import json_response, ok
from mengchong.http.schemas import envelope, errors, link
from mengchong_plugins.checkin import schemas, service, views
from mengchong_plugins.checkin.kept_status import status_body

routes = web.RouteTableDef()


@routes.get("/v1/checkin/status")
@docs(
    tags=["checkin"],
    summary="The month's check-ins, today's state, the streak and the next days' rewards",
    security=AUTH,
)
@response_schema(envelope(schemas.Status))
@querystring_schema(schemas.StatusQuery)
@authenticated
async def checkin_status(request: web.Request) -> web.Response:
    user = await current_user(request)
    return json_response(await status_body(request, user.id, request["querystring"].get("month")))


@routes.post("/v1/checkin")
@docs(
    tags=["checkin"],
    summary="Check in for today (once a local day in app.timezone)",
    security=AUTH,
    responses=errors(409),
    links={"status": link("get", "/v1/checkin/status", "The month with today's check-in and the streak")},
)
@response_schema(envelope(schemas.Checkin))
@request_schema(schemas.CheckinBody)
@authenticated
async def check_in(request: web.Request) -> web.Response:
    user = await current_user(request)
    result = await service.check_in(request.app, user.id)
    return ok(views.checkin_view(result), "Checked in successfully")


@routes.post("/v1/checkin/retroactive")
@docs(
    tags=["checkin"],
    summary="Make up a missed day, with a make-up card or points",
    security=AUTH,
    responses=errors(409, 422),
)
@response_schema(envelope(schemas.MakeUp))
@request_schema(schemas.MakeUpBody)
@authenticated
async def make_up(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = request["data"]
    day = body.get("date") or body["date_to_bu_qian"]
    result = await service.make_up(request.app, user.id, day)
    return ok(views.checkin_view(result), "Made up successfully")
