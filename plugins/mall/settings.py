"""The ``[mall]`` config section: the numbers of the points mall, with their defaults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MallSettings(BaseModel):
    """The ``[mall]`` section of config.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_order_quantity: int = Field(10, ge=1, le=1000, description="most units of a product in one order")
    list_cache_seconds: float = Field(
        300.0,
        gt=0,
        description="how long a page of the product list stays cached (every catalog change "
        "invalidates it at once; this only bounds a cache nobody changes)",
    )
    order_reason: str = Field(
        "mall.order", min_length=1, max_length=32, description="the points ledger's reason of an order"
    )
