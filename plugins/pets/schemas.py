"""Request bodies and parameters of the pets routes (they also document /openapi.json), and the
schemas of what the routes answer."""

from __future__ import annotations

import marshmallow as m

from mengchong.http.conventions import HEX_ID_PATTERN, StrictSchema, hex_id
from mengchong.http.validation import pure_load

PET_NAME_MAX = 12


class GenerateBody(StrictSchema):
    photo_id = hex_id()
    user_selected_attributes = m.fields.Dict(keys=m.fields.String(), load_default=dict)


class InitialAttributes(m.Schema):
    """What the user confirmed of the generated pet; only the personality can be changed, and
    other attributes the client echoes back are the generator's, so they are let through unread."""

    class Meta:
        unknown = m.EXCLUDE

    personality = m.fields.String(
        validate=m.validate.Length(min=1, max=32),
        metadata={"description": "one of the configured personalities (pets.personalities)"},
    )


class AdoptBody(StrictSchema):
    generation_result_id = hex_id()
    pet_name = m.fields.String(required=True)
    initial_attributes = m.fields.Nested(InitialAttributes, load_default=dict)


@pure_load
class InteractBody(StrictSchema):
    interaction_type = m.fields.String(required=True, validate=m.validate.Length(min=1, max=32))
    item_id = m.fields.String(validate=m.validate.Length(min=1, max=64), allow_none=True)


class PetPath(StrictSchema):
    pet_id = hex_id()


class TaskPath(StrictSchema):
    task_id = hex_id()


class PhotoPath(StrictSchema):
    photo_id = hex_id()


# --- What the routes answer (the ``data`` of each success envelope in /openapi.json) ---------

PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")  # pixels.FORMATS, what a stored photo can be
PHOTO_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "JPEG, PNG or WebP"}
                },
            }
        }
    },
}
PHOTO_CONTENT = {
    "description": "The photo (EXIF stripped)",
    "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in PHOTO_TYPES},
}


class PhotoUploaded(m.Schema):
    photo_id = hex_id()
    photo_url = m.fields.String(required=True, metadata={"description": "signed URL, valid for its owner"})


class GenerationStarted(m.Schema):
    generation_task_id = hex_id()
    status = m.fields.String(required=True, validate=m.validate.OneOf(["pending"]))


class PetPreview(m.Schema):
    species = m.fields.String(required=True)
    personality = m.fields.String(required=True)
    appearance_features = m.fields.Dict(required=True)
    model_data = m.fields.Dict(required=True)


class GenerationTask(m.Schema):
    generation_task_id = hex_id()
    status = m.fields.String(required=True, validate=m.validate.OneOf(["pending", "done", "failed"]))
    error = m.fields.String(metadata={"description": "why, when failed"})
    generation_result_id = m.fields.String(metadata={"pattern": HEX_ID_PATTERN, "description": "when done"})
    pet_preview_data = m.fields.Nested(PetPreview, metadata={"description": "when done"})


class PetStatus(m.Schema):
    mood = m.fields.Integer(required=True, validate=m.validate.Range(min=0, max=100))
    hunger = m.fields.Integer(required=True, validate=m.validate.Range(min=0, max=100))
    cleanliness = m.fields.Integer(required=True, validate=m.validate.Range(min=0, max=100))
    affection = m.fields.Integer(required=True, validate=m.validate.Range(min=0, max=100))


class PetSummary(m.Schema):
    pet_id = hex_id()
    name = m.fields.String(required=True)
    species = m.fields.String(required=True)
    level = m.fields.Integer(required=True, validate=m.validate.Range(min=1))
    thumbnail_url = m.fields.String(required=True, allow_none=True)


class Pet(PetSummary):
    personality = m.fields.String(required=True)
    appearance_features = m.fields.Dict(required=True)
    model_data = m.fields.Dict(required=True)
    experience = m.fields.Integer(required=True, validate=m.validate.Range(min=0))
    status = m.fields.Nested(PetStatus, required=True)
    created_at = m.fields.DateTime(required=True)
    last_interaction_at = m.fields.DateTime(required=True, allow_none=True)


class Interaction(m.Schema):
    id = m.fields.String(required=True)
    pet_id = hex_id()
    interaction_type = m.fields.String(required=True)
    item_id = m.fields.String(required=True, allow_none=True)
    deltas = m.fields.Dict(keys=m.fields.String(), values=m.fields.Float(), required=True)
    experience_gained = m.fields.Integer(required=True, validate=m.validate.Range(min=0))
    levels_passed = m.fields.List(m.fields.Integer(), required=True)
    created_at = m.fields.DateTime(required=True)


class Reward(m.Schema):
    experience = m.fields.Integer(required=True, validate=m.validate.Range(min=0))
    affection = m.fields.Float(required=True)
    level = m.fields.Integer(required=True, validate=m.validate.Range(min=1))
    levels_passed = m.fields.List(m.fields.Integer(), required=True)


class InteractionOutcome(m.Schema):
    updated_status = m.fields.Nested(PetStatus, required=True)
    reward = m.fields.Nested(Reward, required=True)
    level = m.fields.Integer(required=True, validate=m.validate.Range(min=1))


PHOTO_SIGNATURE_PARAMETERS = [
    {"in": "query", "name": name, "required": False, "schema": schema, "description": description}
    for name, schema, description in (
        ("uid", {"type": "integer", "minimum": 1}, "signed URL: the owner's user id"),
        ("ver", {"type": "integer", "minimum": 0}, "signed URL: the owner's token version when signed"),
        ("exp", {"type": "integer", "minimum": 0}, "signed URL: when it expires (Unix seconds)"),
        ("sig", {"type": "string"}, "signed URL: the signature (otherwise the bearer token counts)"),
    )
]
