"""The board route's parameters (they also document /openapi.json), the schema of what it
answers, and the view filling it from :class:`mengchong_plugins.leaderboard.reads.Board`."""

from __future__ import annotations

from typing import Any

import marshmallow as m

from mengchong.http.conventions import StrictSchema
from mengchong.http.pagination import PageQuery
from mengchong.http.validation import pure_load
from mengchong_plugins.leaderboard import scoring
from mengchong_plugins.leaderboard.reads import HIDDEN_USER_ID, Board, Entry
from mengchong_plugins.leaderboard.settings import BOARD_TYPES

WEEK_FORMAT = "an ISO week YYYY-Www, e.g. 2026-W25"


def _iso_week(value: str) -> None:
    try:
        scoring.week_monday(value)
    except ValueError as exc:
        raise m.ValidationError(f"must be {WEEK_FORMAT} ({exc})") from None


@pure_load
class BoardPath(StrictSchema):
    type = m.fields.String(
        required=True,
        metadata={
            "description": "the board: one of the enabled ones",
            "enum": list(BOARD_TYPES),
            "pattern": "^[a-z_]{1,32}$",
        },
    )


@pure_load
class BoardQuery(PageQuery):
    """A page of a board: an unknown parameter is a 400 naming it."""

    class Meta:
        unknown = m.RAISE

    week = m.fields.String(
        validate=_iso_week,
        metadata={
            "description": f"weekly_interactions and friend_interaction only: {WEEK_FORMAT} "
            "(default: this week, in app.timezone); older weeks back to leaderboard.weeks_kept",
            "pattern": f"^{scoring.WEEK_PATTERN.pattern}$",
        },
    )


# --- What the route answers (the ``data`` of its success envelope in /openapi.json) ----------


class PetInfo(m.Schema):
    pet_id = m.fields.String(required=True)
    name = m.fields.String(required=True)
    level = m.fields.Integer(required=True)
    species = m.fields.String(required=True)


class BoardItem(m.Schema):
    rank = m.fields.Integer(required=True, metadata={"description": "1-based, on the whole board"})
    user_id = m.fields.String(
        required=True,
        metadata={"description": f"digits; {HIDDEN_USER_ID!r} for a user who hides from the boards"},
    )
    nickname = m.fields.String(required=True, metadata={"description": "empty for a hidden user"})
    avatar_url = m.fields.String(required=True, metadata={"description": "empty for a hidden user"})
    score = m.fields.Integer(
        required=True,
        metadata={"description": "pet_level: the level; user_points: the balance; else interactions"},
    )
    experience = m.fields.Integer(metadata={"description": "pet_level only: experience within the level"})
    pet_info = m.fields.Nested(PetInfo, metadata={"description": "pet_level only"})


class MyRank(m.Schema):
    rank = m.fields.Integer(required=True)
    score = m.fields.Integer(required=True)
    experience = m.fields.Integer(metadata={"description": "pet_level only"})
    pet_id = m.fields.String(metadata={"description": "pet_level only: the caller's best pet"})


class BoardPage(m.Schema):
    type = m.fields.String(required=True)
    week = m.fields.String(
        required=True, allow_none=True, metadata={"description": "the week shown (weekly boards), else null"}
    )
    items = m.fields.List(m.fields.Nested(BoardItem), required=True)
    total = m.fields.Integer(required=True, validate=m.validate.Range(min=0))
    page = m.fields.Integer(required=True, validate=m.validate.Range(min=1))
    limit = m.fields.Integer(required=True, validate=m.validate.Range(min=1))
    totalPages = m.fields.Integer(required=True, validate=m.validate.Range(min=0))
    my_rank = m.fields.Nested(
        MyRank,
        required=True,
        allow_none=True,
        metadata={"description": "the caller's place, even off this page; null when not on the board"},
    )


def _pet_scores(score: float) -> dict[str, int]:
    level, experience = scoring.split_pet_score(score)
    return {"score": level, "experience": experience}


def item_view(board: Board, entry: Entry) -> dict[str, Any]:
    player = board.players.get(entry.user_id) if entry.user_id is not None else None
    shown = player is not None and (player.listed or player.user_id == board.viewer_id)
    view: dict[str, Any] = {
        "rank": entry.rank,
        "user_id": str(entry.user_id) if shown else HIDDEN_USER_ID,
        "nickname": player.nickname if shown and player else "",
        "avatar_url": player.avatar_url if shown and player else "",
    }
    if board.board_type != "pet_level":
        return {**view, "score": int(entry.score)}
    scores = _pet_scores(entry.score)
    pet = entry.pet or {}
    pet_info = {
        "pet_id": entry.entry_id,
        "name": pet.get("name", ""),
        "level": scores["score"],
        "species": pet.get("species", ""),
    }
    return {**view, **scores, "pet_info": pet_info}


def board_view(board: Board) -> dict[str, Any]:
    mine: dict[str, Any] | None = None
    if board.mine is not None:
        if board.board_type == "pet_level":
            mine = {"rank": board.mine.rank, **_pet_scores(board.mine.score), "pet_id": board.mine.entry_id}
        else:
            mine = {"rank": board.mine.rank, "score": int(board.mine.score)}
    listed = board.page.envelope([item_view(board, entry) for entry in board.entries], board.total)
    return {"type": board.board_type, "week": board.week, **listed, "my_rank": mine}
