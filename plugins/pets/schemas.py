"""Request bodies and parameters of the pets routes (they also document /openapi.json)."""

from __future__ import annotations

import marshmallow as m

from mengchong.http.pagination import PageQuery

PET_NAME_MAX = 12
HEX_ID = m.validate.Regexp(r"^[0-9a-f]{32}$", error="must be 32 lowercase hex characters")


class Strict(m.Schema):
    class Meta:
        unknown = m.RAISE


class GenerateBody(Strict):
    photo_id = m.fields.String(required=True, validate=HEX_ID)
    user_selected_attributes = m.fields.Dict(keys=m.fields.String(), load_default=dict)


class AdoptBody(Strict):
    generation_result_id = m.fields.String(required=True, validate=HEX_ID)
    pet_name = m.fields.String(required=True)
    initial_attributes = m.fields.Dict(keys=m.fields.String(), load_default=dict)


class InteractBody(Strict):
    interaction_type = m.fields.String(required=True, validate=m.validate.Length(min=1, max=32))
    item_id = m.fields.String(validate=m.validate.Length(min=1, max=64), allow_none=True)


class PetPath(m.Schema):
    pet_id = m.fields.String(required=True, validate=HEX_ID)


class TaskPath(m.Schema):
    task_id = m.fields.String(required=True, validate=HEX_ID)


class PhotoPath(m.Schema):
    photo_id = m.fields.String(required=True, validate=HEX_ID)


class HistoryQuery(PageQuery):
    pass
