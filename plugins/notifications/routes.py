"""The notification routes: a user's consent (subscribe-message grants), and the operators'
send, log and retry. Each handler validates (its decorators), calls one function of the
service and answers what it got."""

from __future__ import annotations

from aiohttp import web
from aiohttp_apigami import docs, match_info_schema, querystring_schema, request_schema, response_schema

from mengchong.accounts.guard import admin_only, authenticated, current_user
from mengchong.http.conventions import AUTH
from mengchong.http.envelope import ok
from mengchong.http.pagination import Page
from mengchong.http.schemas import envelope, errors, page
from mengchong_plugins.notifications import schemas, service

routes = web.RouteTableDef()


@routes.get("/v1/notifications/subscriptions")
@docs(
    tags=["notifications"], summary="The messages of each template the user may still be sent", security=AUTH
)
@response_schema(envelope(schemas.Subscriptions))
@authenticated
async def get_subscriptions(request: web.Request) -> web.Response:
    user = await current_user(request)
    return ok({"subscriptions": await service.subscriptions(request.app, user.id)})


@routes.post("/v1/notifications/subscriptions")
@docs(
    tags=["notifications"],
    summary="Record the subscribe messages the user just accepted (wx.requestSubscribeMessage)",
    description="Each accepted template id grants one message of it, up to `max`; a template id not "
    "in the server's config is a 400 naming it.",
    security=AUTH,
)
@response_schema(envelope(schemas.Subscriptions))
@request_schema(schemas.SubscriptionsBody)
@authenticated
async def post_subscriptions(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = request["data"]
    found = await service.subscribe(request.app, user.id, body["template_ids"], body.get("results", {}))
    return ok({"subscriptions": found}, "Subscriptions recorded")


@routes.post("/v1/admin/notifications/send")
@docs(
    tags=["admin"],
    summary="Send a user a notification of a kind, through the queue like any other",
    security=AUTH,
    responses=errors(403, 404, 422),
)
@response_schema(envelope(schemas.Notification), 202)
@request_schema(schemas.SendBody)
@admin_only
async def admin_send(request: web.Request) -> web.Response:
    body = request["data"]
    found = await service.admin_send(request.app, int(body["user_id"]), body["kind"], body["data"])
    return ok(found, "Notification queued", status=202)


@routes.get("/v1/admin/notifications")
@docs(
    tags=["admin"],
    summary="Notification logs, newest first (status=dead: the dead letters)",
    security=AUTH,
    responses=errors(403),
)
@response_schema(envelope(page(schemas.Notification)))
@querystring_schema(schemas.LogsQuery)
@admin_only
async def admin_logs(request: web.Request) -> web.Response:
    query = request["querystring"]
    current = Page.from_query(query)
    found, total = await service.list_logs(
        request.app, current, status=query.get("status"), kind=query.get("kind"), user_id=query.get("user_id")
    )
    return ok(current.envelope(found, total))


@routes.post("/v1/admin/notifications/{id}/retry")
@docs(
    tags=["admin"],
    summary="Send a dead letter (or a failed notification) again",
    security=AUTH,
    responses=errors(403, 404, 409),
)
@response_schema(envelope(schemas.Notification), 202)
@match_info_schema(schemas.LogPath)
@admin_only
async def admin_retry(request: web.Request) -> web.Response:
    found = await service.retry(request.app, request["match_info"]["id"])
    return ok(found, "Notification queued again", status=202)
