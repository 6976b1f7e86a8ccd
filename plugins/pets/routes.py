"""The pets routes of seed §5.3 and §5.4."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from aiohttp_apigami import docs, match_info_schema, querystring_schema, request_schema, response_schema

from mengchong.accounts.guard import CurrentUser, accepting, auth_state_of, authenticated, current_user
from mengchong.http.envelope import ok
from mengchong.http.errors import field_error, forbidden, not_found
from mengchong.http.pagination import Page, PageQuery
from mengchong.http.schemas import envelope, errors, page
from mengchong.http.uploads import read_file_field
from mengchong.http.urls import public_base_url
from mengchong.keys import cache_key, clock_key, documents_key, files_key
from mengchong.moderation import checked_text
from mengchong_plugins.pets import generation, photos, schemas, service, store

routes = web.RouteTableDef()
AUTH = [{"bearerAuth": []}]
PHOTOS = "pet_photos"


def photo_url(request: web.Request, photo_id: str | None, user: CurrentUser) -> str | None:
    """The photo's signed URL, under the base this request's client reaches us at."""
    if not photo_id:
        return None
    app = request.app
    return photos.signed_url(
        public_base_url(request),
        app[photos.url_key],
        photo_id,
        user.id,
        user.token_version,
        app[clock_key].now(),
    )


@routes.post("/v1/pets/upload_photo")
@docs(
    tags=["pets"],
    summary="Upload a photo (multipart field 'file': JPEG, PNG or WebP)",
    security=AUTH,
    requestBody=schemas.PHOTO_UPLOAD_BODY,
    responses=errors(400, 413, 503),
)
@response_schema(envelope(schemas.PhotoUploaded))
@authenticated
async def upload_photo(request: web.Request) -> web.Response:
    user = await current_user(request)
    settings = service.pets_settings(request.app)
    raw = await read_file_field(request, "file", max_bytes=settings.photo_max_bytes)
    photo = await photos.clean_photo(request.app, raw, settings)
    file_key = await request.app[files_key].put(photo.data, suffix=photo.suffix)
    photo_id = uuid.uuid4().hex
    record = {
        "user_id": user.id,
        "file_key": file_key,
        "content_type": photo.content_type,
        "width": photo.width,
        "height": photo.height,
        "created_at": store.iso(request.app[clock_key].now()),
    }
    await request.app[documents_key].collection(PHOTOS).insert(record, doc_id=photo_id)
    data = {"photo_id": photo_id, "photo_url": photo_url(request, photo_id, user)}
    return ok(data, "Photo uploaded successfully")


async def owned_photo(request: web.Request, photo_id: str, user_id: int) -> dict[str, Any]:
    photo = await request.app[documents_key].collection(PHOTOS).get(photo_id)
    if photo is None:
        raise not_found("Photo")
    if photo["user_id"] != user_id:
        raise forbidden("This photo belongs to another user")
    return photo


@routes.get("/v1/pets/photos/{photo_id}")
@docs(
    tags=["pets"],
    summary="A photo, for its owner (signed URL or bearer token)",
    security=[*AUTH, {}],
    parameters=schemas.PHOTO_SIGNATURE_PARAMETERS,
    responses={"200": schemas.PHOTO_CONTENT, **errors(401, 403, 404)},
)
@match_info_schema(schemas.PhotoPath)
async def get_photo(request: web.Request) -> web.StreamResponse:
    photo_id = request["match_info"]["photo_id"]
    app = request.app
    signed = photos.verify_signature(app[photos.url_key], photo_id, request.query, app[clock_key].now())
    if signed is None:
        user_id = (await current_user(request)).id
    else:
        user_id, version = signed
        accepting(await auth_state_of(request.app, user_id), version)  # 401 after logout or a ban
    photo = await owned_photo(request, photo_id, user_id)
    data = await request.app[files_key].get(photo["file_key"])
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return web.Response(body=data, content_type=photo["content_type"], headers=headers)


@routes.post("/v1/pets/generate")
@docs(
    tags=["pets"],
    summary="Start generating a pet from a photo; poll the task",
    security=AUTH,
    responses=errors(403, 404),
)
@response_schema(envelope(schemas.GenerationStarted))
@request_schema(schemas.GenerateBody)
@authenticated
async def generate(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = request["data"]
    photo = await owned_photo(request, body["photo_id"], user.id)
    task_id = await generation.start(request.app, user.id, photo, body["user_selected_attributes"])
    return ok({"generation_task_id": task_id, "status": "pending"}, "Pet generation initiated")


@routes.get("/v1/pets/generate/{task_id}")
@docs(
    tags=["pets"],
    summary="A generation task: pending, done (with the preview) or failed",
    security=AUTH,
    responses=errors(403, 404),
)
@response_schema(envelope(schemas.GenerationTask))
@match_info_schema(schemas.TaskPath)
@authenticated
async def generation_status(request: web.Request) -> web.Response:
    user = await current_user(request)
    app, task_id = request.app, request["match_info"]["task_id"]
    task = await generation.owned_entry(app, generation.task_key(app, task_id), "task_id", task_id, user.id)
    result = None
    if task["status"] == "done":
        result = await request.app[cache_key].get_json(
            generation.result_key(app, task["generation_result_id"])
        )
    return ok(generation.task_view(task_id, task, result))


@routes.post("/v1/pets")
@docs(
    tags=["pets"],
    summary="Adopt a generated pet and name it",
    security=AUTH,
    responses=errors(403, 404, 409, 422),
)
@response_schema(envelope(schemas.Pet), 201)
@request_schema(schemas.AdoptBody)
@authenticated
async def adopt(request: web.Request) -> web.Response:
    user = await current_user(request)
    body, app = request["data"], request.app
    name = await checked_text(request, "pet_name", body["pet_name"], user.openid, schemas.PET_NAME_MAX)
    result_id = body["generation_result_id"]
    entry = await generation.owned_entry(
        app, generation.result_key(app, result_id), "generation_result_id", result_id, user.id
    )
    generated = {**entry["result"]}
    personality = body["initial_attributes"].get("personality")
    if personality is not None:
        known = service.pets_settings(app).personalities
        if personality not in known:
            raise field_error("initial_attributes.personality", f"must be one of {', '.join(sorted(known))}")
        generated["personality"] = personality
    pet = await service.adopt(app, user.id, result_id, generated, name, entry["photo_id"])
    state = store.state_of(pet)
    view = store.pet_view(pet, state, photo_url(request, pet["photo_id"], user))
    return ok(view, "Pet adopted successfully", status=201)


@routes.get("/v1/users/pets")
@docs(tags=["pets"], summary="The caller's pets", security=AUTH)
@response_schema(envelope(page(schemas.PetSummary)))
@querystring_schema(PageQuery)
@authenticated
async def list_pets(request: web.Request) -> web.Response:
    user = await current_user(request)
    page = Page.from_query(request["querystring"])
    found, total = await store.page_of(
        store.pets(request.app), {"user_id": user.id}, [("created_at", 1)], page, store.SUMMARY_FIELDS
    )
    items = [store.summary_view(pet, photo_url(request, pet.get("photo_id"), user)) for pet in found]
    return ok(page.envelope(items, total))


@routes.get("/v1/pets/{pet_id}")
@docs(tags=["pets"], summary="One pet with its status now", security=AUTH, responses=errors(403, 404))
@response_schema(envelope(schemas.Pet))
@match_info_schema(schemas.PetPath)
@authenticated
async def get_pet(request: web.Request) -> web.Response:
    user = await current_user(request)
    pet = await store.owned_pet(request.app, request.match_info["pet_id"], user.id)
    state = await service.read(request.app, pet)
    return ok(store.pet_view(pet, state, photo_url(request, pet.get("photo_id"), user)))


@routes.get("/v1/pets/{pet_id}/interactions")
@docs(
    tags=["pets"],
    summary="The pet's interaction history, newest first",
    security=AUTH,
    responses=errors(403, 404),
)
@response_schema(envelope(page(schemas.Interaction)))
@match_info_schema(schemas.PetPath)
@querystring_schema(schemas.HistoryQuery)
@authenticated
async def history(request: web.Request) -> web.Response:
    user = await current_user(request)
    pet = await store.owned_pet(request.app, request.match_info["pet_id"], user.id)
    page = Page.from_query(request["querystring"])
    newest_first = [("created_at", -1)]
    found, total = await store.page_of(
        store.interactions(request.app), {"pet_id": pet["id"]}, newest_first, page
    )
    items = [{k: v for k, v in entry.items() if k not in ("user_id", "version")} for entry in found]
    return ok(page.envelope(items, total))


@routes.post("/v1/pets/{pet_id}/interact")
@docs(
    tags=["pets"],
    summary="Feed, pet, play with, clean or train the pet",
    security=AUTH,
    responses=errors(403, 404, 422),
)
@response_schema(envelope(schemas.InteractionOutcome))
@match_info_schema(schemas.PetPath)
@request_schema(schemas.InteractBody)
@authenticated
async def interact(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = request["data"]
    pet, result = await service.perform(
        request.app, user.id, request.match_info["pet_id"], body["interaction_type"], body.get("item_id")
    )
    reward = {
        "experience": result.experience_gained,
        "affection": round(result.affection_gained, 2),
        "level": result.level,
        "levels_passed": result.levels_passed,
    }
    data = {"updated_status": result.status.rounded(), "reward": reward, "level": pet["level"]}
    return ok(data, "Interaction successful")
