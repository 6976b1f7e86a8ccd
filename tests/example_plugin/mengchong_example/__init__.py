"""A throwaway plugin for the kernel's tests: one route, one model, one task, one event handler,
one settings section and two commands — registered only through ``pm.register`` or an entry point."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import marshmallow as m
from aiohttp import web
from aiohttp_apigami import docs, querystring_schema, request_schema
from pydantic import BaseModel

from mengchong import hookimpl, plugin_settings
from mengchong.commands import Command
from mengchong.events import Event, EventPayload, PetAdopted, Subscriber, record_event
from mengchong.http.envelope import ok
from mengchong.http.errors import ApiError, ErrorCode
from mengchong.http.pagination import Page, PageQuery
from mengchong.keys import database_key
from mengchong.storage.database import ModelSet
from mengchong.tasks import BackgroundTask
from mengchong_example.models import Note


@dataclass(frozen=True)
class NoteCreated(EventPayload):
    NAME: ClassVar[str] = "example.note_created"
    note_id: int


seen_events: web.AppKey[list[Event]] = web.AppKey("example.seen_events")
task_ticks: web.AppKey[list[int]] = web.AppKey("example.task_ticks")
lifecycle: web.AppKey[list[str]] = web.AppKey("example.lifecycle")
routes = web.RouteTableDef()


class ExampleSettings(BaseModel):
    greeting: str = "hello"
    fail_events: bool = False


class NoteBody(m.Schema):
    text = m.fields.String(required=True, validate=m.validate.Length(min=1, max=50))
    stars = m.fields.Integer(load_default=0, validate=m.validate.Range(min=0, max=5))


@routes.post("/v1/example/notes")
@docs(tags=["example"], summary="Create a note")
@request_schema(NoteBody)
async def create_note(request: web.Request) -> web.Response:
    body = request["data"]
    async with request.app[database_key].transaction() as connection:
        note = await Note.create(text=body["text"], stars=body["stars"], using_db=connection)
        await record_event(connection, NoteCreated(note_id=note.id))
    return ok({"id": note.id, "text": note.text, "stars": note.stars}, status=201)


@routes.get("/v1/example/notes")
@docs(tags=["example"], summary="List notes")
@querystring_schema(PageQuery)
async def list_notes(request: web.Request) -> web.Response:
    page = Page.from_query(request["querystring"])
    total = await Note.all().count()
    notes = await Note.all().order_by("id").offset(page.offset).limit(page.limit)
    return ok(page.envelope([{"id": n.id, "text": n.text} for n in notes], total))


@routes.get("/v1/example/greeting")
async def greeting(request: web.Request) -> web.Response:
    return ok({"greeting": plugin_settings(request.app, ExampleSettings).greeting})


@routes.get("/v1/example/boom")
async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret internals: SELECT * FROM users")


@routes.get("/v1/example/teapot")
async def teapot(request: web.Request) -> web.Response:
    raise ApiError(ErrorCode.CONFLICT, "already brewed")


@routes.get("/v1/example/slow")
async def slow(request: web.Request) -> web.Response:
    if started := request.query.get("started"):  # a file the test waits for: the request is in
        Path(started).touch()
    await asyncio.sleep(float(request.query.get("seconds", "1")))
    return ok({"slept": True})


async def tick(app: web.Application) -> None:
    while True:
        app[task_ticks].append(await Note.all().count())
        await asyncio.sleep(0.05)


def note_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="the note")
    parser.add_argument("--stars", type=int, default=0)


async def write_note(app: web.Application, args: argparse.Namespace) -> None:
    """``mengchong example-note TEXT``: one row written, and what the plugin's startup and settings say."""
    note = await Note.create(text=args.text, stars=args.stars)
    greeting = plugin_settings(app, ExampleSettings).greeting
    print(f"{greeting}: note {note.id} {note.text!r}, {await Note.all().count()} in all")
    print(f"lifecycle: {app[lifecycle]}")


async def fail(app: web.Application, args: argparse.Namespace) -> None:
    await Note.create(text="before failing")
    raise RuntimeError("example-fail fails on purpose")


@hookimpl
def mengchong_settings() -> tuple[str, type[BaseModel]]:
    return "example", ExampleSettings


@hookimpl
def mengchong_models() -> ModelSet:
    return ModelSet("example", ["mengchong_example.models"], "mengchong_example.migrations")


@hookimpl
def mengchong_routes(app: web.Application) -> Iterable[web.AbstractRouteDef]:
    return routes


@hookimpl
def mengchong_cleanup_ctx(app: web.Application) -> AsyncIterator[None]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        app[lifecycle].append("started")
        yield
        app[lifecycle].append("stopped")

    app[seen_events] = []
    app[task_ticks] = []
    app[lifecycle] = []
    return ctx(app)


@hookimpl
def mengchong_tasks(app: web.Application) -> Iterable[BackgroundTask]:
    return [BackgroundTask("example.tick", tick)]


@hookimpl
def mengchong_commands() -> Iterable[Command]:
    return [
        Command("example-note", "write a note (example plugin)", write_note, note_arguments),
        Command("example-fail", "write a note, then fail (example plugin)", fail),
    ]


async def on_event(app: web.Application, event: Event) -> None:
    if plugin_settings(app, ExampleSettings).fail_events:
        raise RuntimeError(f"example handler refuses {event.name}")
    app[seen_events].append(event)


@hookimpl
def mengchong_subscribers(app: web.Application) -> Iterable[Subscriber]:
    return [Subscriber("example.seen", (NoteCreated, PetAdopted), on_event)]
