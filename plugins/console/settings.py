"""The ``[console]`` config section: the operator console's sessions and sign-in lockout."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConsoleSettings(BaseModel):
    """The ``[console]`` section of config.toml (the plugin is off unless listed in
    ``plugins.enabled``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_hours: float = Field(8.0, gt=0, le=24 * 30, description="an operator's sign-in lasts this long")
    lockout_failures: int = Field(
        5, ge=1, le=100, description="wrong passwords in a row that lock an operator account"
    )
    lockout_minutes: float = Field(15.0, gt=0, description="how long a locked operator account stays locked")
    page_size: int = Field(20, ge=5, le=100, description="rows per page of the console's lists")
