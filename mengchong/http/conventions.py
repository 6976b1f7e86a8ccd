"""What every plugin's routes share, so that each plugin imports it rather than defines it: the
OpenAPI bearer-auth marker, the strict schema base, id and date fields and the owner check.

    @docs(tags=["pets"], summary="...", security=AUTH, responses=errors(403, 404))
    class InteractBody(StrictSchema): ...
    class PetPath(StrictSchema):
        pet_id = hex_id()
    pet = owned(await store.get(pet_id), user.id, "Pet")
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import marshmallow as m

from mengchong.http.errors import forbidden, not_found

AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]
"""``security=AUTH`` in ``@docs``: the route takes ``Authorization: Bearer <token>``."""
OPTIONAL_AUTH: list[dict[str, list[str]]] = [*AUTH, {}]
"""``security=OPTIONAL_AUTH``: a token, or another proof of access (a signed link)."""

HEX_ID_LENGTH = 32
HEX_ID_PATTERN = f"^[0-9a-f]{{{HEX_ID_LENGTH}}}$"
_HEX_ID = re.compile(HEX_ID_PATTERN)
Document = TypeVar("Document", bound=dict[str, Any])


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class IsoDate(m.fields.Date):
    """A date written exactly YYYY-MM-DD (marshmallow's own Date also takes 2026-6-1)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictSchema(m.Schema):
    """A request body, query or path schema refusing unknown fields (400 naming each)."""

    class Meta:
        unknown = m.RAISE


def is_hex_id(value: str) -> bool:
    """A document id as the kernel makes them (``uuid4().hex``): 32 lowercase hex characters."""
    return bool(_HEX_ID.fullmatch(value))


def hex_id(**kwargs: Any) -> m.fields.String:
    """A required id field of 32 lowercase hex characters, its pattern in /openapi.json."""
    return m.fields.String(
        required=True,
        validate=m.validate.Regexp(HEX_ID_PATTERN, error=f"must be {HEX_ID_LENGTH} lowercase hex characters"),
        metadata={"pattern": HEX_ID_PATTERN},
        **kwargs,
    )


def owned(document: Document | None, user_id: int, what: str, *, owner_field: str = "user_id") -> Document:
    """The document if it is the user's: 404 when there is none, 403 when it is another user's."""
    if document is None:
        raise not_found(what)
    if document[owner_field] != user_id:
        raise forbidden(f"This {what.lower()} belongs to another user")
    return document
