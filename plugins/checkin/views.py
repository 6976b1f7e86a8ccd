"""What the check-in routes answer: the service's results as the response ``data`` of seed §5.5."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mengchong_plugins.checkin.rules import Bonus
from mengchong_plugins.checkin.service import CheckinResult, CheckinStatus


def bonus_view(bonus: Bonus | None) -> dict[str, Any] | None:
    if bonus is None:
        return None
    return {"points": bonus.points, "item_id": bonus.item_id, "quantity": bonus.quantity}


def status_view(status: CheckinStatus) -> dict[str, Any]:
    settings = status.settings
    first = status.today + timedelta(days=1) if status.today_checked_in else status.today
    return {
        "month": status.month.strftime("%Y-%m"),
        "today": status.today.isoformat(),
        "today_checked_in": status.today_checked_in,
        "consecutive_days": status.consecutive_days,
        "current_month_checkins": [day.isoformat() for day in status.checkins],
        "retroactive_dates": [day.isoformat() for day in status.retroactive_dates],
        "rewards_preview": [
            {
                "day": reward.day,
                "date": (first + timedelta(days=index)).isoformat(),
                "points": reward.points,
                "bonus": bonus_view(reward.bonus),
            }
            for index, reward in enumerate(status.preview)
        ],
        "retroactive": {
            "left_this_month": status.makeups_left,
            "per_month": settings.retroactive_per_month,
            "cost_points": settings.retroactive_cost_points,
            "window_days": settings.retroactive_window_days,
            "makeup_card_item": settings.makeup_card_item,
            "makeup_cards": status.makeup_cards,
        },
    }


def checkin_view(result: CheckinResult) -> dict[str, Any]:
    view = {
        "date": result.day.isoformat(),
        "reward_points": result.reward.points,
        "consecutive_days": result.consecutive_days,
        "bonus_reward": bonus_view(result.reward.bonus),
        "balance": result.balance,
    }
    if result.paid_with is not None:
        view.update(paid_with=result.paid_with, cost_points=result.cost_points)
    return view
