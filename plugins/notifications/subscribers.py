"""The events that become notifications: a check-in's reward, a completed order, a pet left
hungry by an interaction (at most once a local day per pet). Each handler only queues; the
consumer talks to WeChat."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from mengchong import plugin_settings
from mengchong.clock import local_day
from mengchong.events import Event, PetInteracted, Subscriber
from mengchong.keys import settings_key
from mengchong_plugins.checkin.events import CheckinCompleted
from mengchong_plugins.mall.events import OrderCreated
from mengchong_plugins.notifications.messages import notify
from mengchong_plugins.notifications.settings import NotificationsSettings


async def on_checkin(app: web.Application, event: Event) -> None:
    done = event.data(CheckinCompleted)
    context = {
        "date": done.date,
        "reward_points": done.reward_points,
        "bonus_points": done.bonus_points,
        "consecutive_days": done.consecutive_days,
        "balance": done.balance,
    }
    await notify(app, done.user_id, "checkin_reward", context, f"checkin_reward:{event.id}")


async def on_order(app: web.Application, event: Event) -> None:
    order = event.data(OrderCreated)
    context = {
        "order_id": order.order_id,
        "product_name": order.product_name,
        "quantity": order.quantity,
        "points_deducted": order.points_deducted,
        "balance": order.balance,
    }
    await notify(app, order.user_id, "order_completed", context, f"order_completed:{event.id}")


async def on_interaction(app: web.Application, event: Event) -> None:
    pet = event.data(PetInteracted)
    if pet.hunger >= plugin_settings(app, NotificationsSettings).hunger_threshold:
        return
    # The day the interaction happened (events are stamped with the app's clock), so a delivery
    # late or again on the next day still counts on the interaction's day.
    day = local_day(datetime.fromisoformat(event.occurred_at), app[settings_key].app.timezone)
    context = {"pet_id": pet.pet_id, "pet_name": pet.name or "你的宠物", "hunger": pet.hunger}
    await notify(app, pet.user_id, "pet_hungry", context, f"pet_hungry:{pet.pet_id}:{day.isoformat()}")


SUBSCRIBERS = {
    "checkin_reward": Subscriber("notifications.checkin", (CheckinCompleted,), on_checkin),
    "order_completed": Subscriber("notifications.orders", (OrderCreated,), on_order),
    "pet_hungry": Subscriber("notifications.pets", (PetInteracted,), on_interaction),
}


def subscribers(app: web.Application) -> list[Subscriber]:
    """The subscribers of the kinds that have a template: a kind that is off costs nothing."""
    templates = plugin_settings(app, NotificationsSettings).templates
    return [subscriber for kind, subscriber in SUBSCRIBERS.items() if templates[kind].enabled]
