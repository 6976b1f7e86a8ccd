"""The ``[leaderboard]`` config section: which boards are on, and the friend graph's numbers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BoardType = Literal["pet_level", "user_points", "weekly_interactions", "friend_interaction"]
BOARD_TYPES: tuple[BoardType, ...] = ("pet_level", "user_points", "weekly_interactions", "friend_interaction")


class LeaderboardSettings(BaseModel):
    """The ``[leaderboard]`` section of config.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    boards: list[BoardType] = Field(
        default_factory=lambda: list(BOARD_TYPES),
        description="the boards served and kept up to date (an operator may switch one off)",
    )
    weeks_kept: int = Field(
        8, ge=1, le=104, description="weekly boards kept readable with ?week= (the current one included)"
    )
    max_friends: int = Field(500, ge=1, description="most friends a user may have (422 beyond)")
    invite_days: float = Field(7.0, gt=0, description="how long a friend invite code stays valid")
    rebuild_batch: int = Field(
        1000, ge=1, le=100_000, description="rows read per batch by `mengchong leaderboard rebuild`"
    )
