"""The pets routes of seed §5.3 and §5.4. Each handler validates (its decorators), calls one
function of the service, photos or generation module and answers the view of what it got."""

from __future__ import annotations

from aiohttp import web
from aiohttp_apigami import docs, match_info_schema, querystring_schema, request_schema, response_schema

from mengchong import plugin_settings
from mengchong.accounts.guard import accepting, auth_state_of, authenticated, current_user
from mengchong.http.conventions import AUTH, OPTIONAL_AUTH
from mengchong.http.envelope import ok
from mengchong.http.pagination import Page, PageQuery
from mengchong.http.schemas import data_field, envelope, errors, link, page
from mengchong.http.uploads import read_file_field
from mengchong.http.validation import keeps_document
from mengchong.keys import DOC_VERSION, clock_key
from mengchong.moderation import checked_text
from mengchong_plugins.pets import generation, photos, schemas, service, store, views
from mengchong_plugins.pets.settings import PetsSettings

routes = web.RouteTableDef()

PET_LINKS = {
    name: link(method, path, description, parameters={"pet_id": data_field("pet_id")})
    for name, method, path, description in (
        ("read_pet", "get", "/v1/pets/{pet_id}", "The pet with its status now"),
        ("interact", "post", "/v1/pets/{pet_id}/interact", "Feed, pet, play with, clean or train it"),
        ("interactions", "get", "/v1/pets/{pet_id}/interactions", "Its interaction history"),
    )
}


@routes.post("/v1/pets/upload_photo")
@docs(
    tags=["pets"],
    summary="Upload a photo (multipart field 'file': JPEG, PNG or WebP)",
    security=AUTH,
    requestBody=schemas.PHOTO_UPLOAD_BODY,
    responses=errors(400, 413, 503),
    links={
        "generate": link(
            "post",
            "/v1/pets/generate",
            "Generate a pet from the photo",
            body={"photo_id": data_field("photo_id")},
        ),
        "read_photo": link(
            "get", "/v1/pets/photos/{photo_id}", "The photo", parameters={"photo_id": data_field("photo_id")}
        ),
    },
)
@response_schema(envelope(schemas.PhotoUploaded))
@authenticated
async def upload_photo(request: web.Request) -> web.Response:
    user = await current_user(request)
    max_bytes = plugin_settings(request.app, PetsSettings).photo_max_bytes
    raw = await read_file_field(request, "file", max_bytes=max_bytes)
    photo_id = await photos.save_photo(request.app, user.id, raw)
    data = {"photo_id": photo_id, "photo_url": views.photo_url(request, photo_id, user)}
    return ok(data, "Photo uploaded successfully")


@routes.get("/v1/pets/photos/{photo_id}")
@docs(
    tags=["pets"],
    summary="A photo, for its owner (signed URL or bearer token)",
    security=OPTIONAL_AUTH,
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
        accepting(await auth_state_of(app, user_id), version)  # 401 after logout or a ban
    data, content_type = await photos.photo_content(app, photo_id, user_id)
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return web.Response(body=data, content_type=content_type, headers=headers)


@routes.post("/v1/pets/generate")
@docs(
    tags=["pets"],
    summary="Start generating a pet from a photo; poll the task",
    security=AUTH,
    responses=errors(403, 404),
    links={
        "poll": link(
            "get",
            "/v1/pets/generate/{task_id}",
            "The task, until it is done",
            parameters={"task_id": data_field("generation_task_id")},
        )
    },
)
@response_schema(envelope(schemas.GenerationStarted))
@request_schema(schemas.GenerateBody)
@authenticated
async def generate(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = request["data"]
    task_id = await generation.start_generation(
        request.app, user.id, body["photo_id"], body["user_selected_attributes"]
    )
    return ok({"generation_task_id": task_id, "status": "pending"}, "Pet generation initiated")


@routes.get("/v1/pets/generate/{task_id}")
@docs(
    tags=["pets"],
    summary="A generation task: pending, done (with the preview) or failed",
    security=AUTH,
    responses=errors(403, 404),
    links={
        "adopt": link(
            "post",
            "/v1/pets",
            "Adopt the generated pet (once the task is done)",
            body={"generation_result_id": data_field("generation_result_id")},
        )
    },
)
@response_schema(envelope(schemas.GenerationTask))
@match_info_schema(schemas.TaskPath)
@authenticated
async def generation_status(request: web.Request) -> web.Response:
    user = await current_user(request)
    task_id = request["match_info"]["task_id"]
    task, result = await generation.task_with_result(request.app, task_id, user.id)
    return ok(views.task_view(task_id, task, result))


@routes.post("/v1/pets")
@docs(
    tags=["pets"],
    summary="Adopt a generated pet and name it",
    security=AUTH,
    responses=errors(403, 404, 409, 422),
    links=PET_LINKS,
)
@response_schema(envelope(schemas.Pet), 201)
@request_schema(schemas.AdoptBody)
@authenticated
async def adopt(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = request["data"]
    name = await checked_text(request, "pet_name", body["pet_name"], user.openid, schemas.PET_NAME_MAX)
    personality = body["initial_attributes"].get("personality")
    pet, state = await service.adopt_pet(
        request.app, user.id, body["generation_result_id"], name, personality
    )
    view = views.pet_view(pet, state, views.photo_url(request, pet["photo_id"], user))
    return ok(view, "Pet adopted successfully", status=201)


@routes.get("/v1/users/pets")
@docs(tags=["pets"], summary="The caller's pets", security=AUTH)
@response_schema(envelope(page(schemas.PetSummary)))
@querystring_schema(PageQuery)
@authenticated
async def list_pets(request: web.Request) -> web.Response:
    user = await current_user(request)
    page = Page.from_query(request["querystring"])
    found, total = await service.list_pets(request.app, user.id, page)
    signed = views.photo_signer(request, user)
    items = [views.summary_view(pet, signed(pet.get("photo_id"))) for pet in found]
    return ok(page.envelope(items, total))


@routes.get("/v1/pets/{pet_id}")
@docs(tags=["pets"], summary="One pet with its status now", security=AUTH, responses=errors(403, 404))
@response_schema(envelope(schemas.Pet))
@match_info_schema(schemas.PetPath)
@keeps_document(store.PETS, "pet_id")
@authenticated
async def get_pet(request: web.Request) -> web.Response:
    user = await current_user(request)
    pet_id = request["match_info"]["pet_id"]
    pet, state = await service.pet_now(request.app, user.id, pet_id, request.get(DOC_VERSION))
    return ok(views.pet_view(pet, state, views.photo_url(request, pet.get("photo_id"), user)))


@routes.get("/v1/pets/{pet_id}/interactions")
@docs(
    tags=["pets"],
    summary="The pet's interaction history, newest first",
    security=AUTH,
    responses=errors(403, 404),
)
@response_schema(envelope(page(schemas.Interaction)))
@match_info_schema(schemas.PetPath)
@querystring_schema(PageQuery)
@keeps_document(store.PETS, "pet_id")
@authenticated
async def history(request: web.Request) -> web.Response:
    user = await current_user(request)
    page = Page.from_query(request["querystring"])
    found, total = await service.interaction_history(
        request.app, user.id, request["match_info"]["pet_id"], page, request.get(DOC_VERSION)
    )
    return ok(page.envelope([views.interaction_view(entry) for entry in found], total))


@routes.post("/v1/pets/{pet_id}/interact")
@docs(
    tags=["pets"],
    summary="Feed, pet, play with, clean or train the pet",
    description="429 (with Retry-After) while the interaction cools down or once the pet has "
    "learned enough for the day; 409 (with Retry-After) when other interactions changed the pet "
    "at the same moment, nothing used.",
    security=AUTH,
    responses=errors(403, 404, 409, 422, 429),
)
@response_schema(envelope(schemas.InteractionOutcome))
@match_info_schema(schemas.PetPath)
@request_schema(schemas.InteractBody)
@keeps_document(store.PETS, "pet_id")
@authenticated
async def interact(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = request["data"]
    pet, result = await service.interact_with_pet(
        request.app,
        user.id,
        request["match_info"]["pet_id"],
        body["interaction_type"],
        body.get("item_id"),
        request.get(DOC_VERSION),
    )
    return ok(views.interaction_outcome_view(pet, result), "Interaction successful")
