"""The plugins' pages of the console (:mod:`mengchong.backoffice`): ``/admin/s/<slug>`` shows a
section's table with its filters and forms; ``POST /admin/s/<slug>/<action>`` runs an action once
per form (its key is claimed in the audit log before the change is made) and records what it
changed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from aiohttp import web
from tortoise.exceptions import IntegrityError

from mengchong import plugin_settings
from mengchong.backoffice import Action, Section
from mengchong.http.errors import ApiError
from mengchong.keys import plugin_manager_key
from mengchong.plugin_manager import hook_items
from mengchong_plugins.console.models import AuditEntry
from mengchong_plugins.console.render import page, redirect
from mengchong_plugins.console.sessions import SignedIn
from mengchong_plugins.console.settings import ConsoleSettings


def sections_of(app: web.Application) -> dict[str, Section]:
    sections: list[Section] = hook_items(app[plugin_manager_key], "mengchong_console_sections", app=app)
    return {section.slug: section for section in sections}


def offset_of(request: web.Request, size: int) -> tuple[int, int]:
    """(page, offset) from ``?page=``; a missing or bad one is page 1."""
    raw = request.query.get("page", "1")
    number = int(raw) if raw.isdigit() and 0 < len(raw) < 7 else 1
    return number, (number - 1) * size


async def show(
    request: web.Request, who: SignedIn, section: Section, *, error: str | None = None, status: int = 200
) -> web.Response:
    size = plugin_settings(request.app, ConsoleSettings).page_size
    number, offset = offset_of(request, size)
    filters = {field.name: request.query.get(field.name, "")[:200] for field in section.filters}
    try:
        table = await section.table(request.app, filters, offset, size)
    except ApiError as exc:
        return page("message.html", status=exc.status, who=who, title=section.title, text=exc.message)
    context: dict[str, Any] = {
        "who": who,
        "section": section,
        "filters": filters,
        "table": table,
        "page": number,
        "pages": max(1, -(-table.total // size)),
        "form_key": lambda: uuid.uuid4(),
        "notice": request.query.get("notice", "")[:200] or None,
        "error": error,
    }
    return page("section.html", status=status, **context)


async def run(request: web.Request, who: SignedIn, section: Section, action: Action) -> web.Response:
    form: Mapping[str, Any] = request["form"]
    values = {field.name: str(form.get(field.name, "")).strip()[:1000] for field in action.fields}
    if action.per_row:
        values["key"] = str(form.get("key", ""))[:200]
    missing = [field.label for field in action.fields if field.required and not values[field.name]]
    if missing:
        return await show(
            request, who, section, error=f"{action.label}: fill in {', '.join(missing)}.", status=400
        )
    try:
        form_key = str(uuid.UUID(str(form.get("form_key", ""))))
    except ValueError:
        return await show(
            request, who, section, error="This form is out of date: reload the page.", status=400
        )
    name = f"{section.slug}.{action.name}"
    try:
        claim = await AuditEntry.create(
            operator_id=who.operator.id,
            action=name,
            target="",
            form_key=form_key,
            created_at=datetime.now(UTC),
        )
    except IntegrityError:  # this very form was sent before: it changed what it changes once
        return redirect(f"/admin/s/{section.slug}?notice=Already+done")
    try:
        change = await action.run(request.app, values)
    except ApiError as exc:
        await claim.delete()
        return await show(request, who, section, error=f"{action.label}: {exc.message}", status=exc.status)
    except BaseException:
        await claim.delete()
        raise
    claim.target, claim.before, claim.after = (
        change.target,
        dict(change.before or {}),
        dict(change.after or {}),
    )
    await claim.save(update_fields=["target", "before", "after"])
    return redirect(f"/admin/s/{section.slug}?notice={quote_plus(change.message[:200])}")
