"""The mall's events: ``order.created``, recorded in the order's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mengchong.events import EventPayload


@dataclass(frozen=True)
class OrderCreated(EventPayload):
    """A completed order, with the balance it left (absolute values: a redelivery sets, never adds)."""

    NAME: ClassVar[str] = "order.created"
    user_id: int
    order_id: str
    product_id: str
    product_name: str
    item_id: str
    quantity: int
    points_deducted: int
    balance: int
