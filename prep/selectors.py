"""Reads of plans and study days that several screens, e-mails and tasks share."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db.models import Prefetch

from prep.models import PlanItem, PlanWeek


def current_week_topic_ids(*, user: User | int, today: dt.date) -> list[int]:
    """The topics of the active plan's week that holds ``today`` (empty without a plan)."""
    return list(
        PlanWeek.topics.through.objects.filter(
            planweek__plan__user=user,
            planweek__plan__is_active=True,
            planweek__starts_on__lte=today,
            planweek__ends_on__gte=today,
        ).values_list("topic_id", flat=True)
    )


def current_week(*, user: User | int, today: dt.date) -> PlanWeek | None:
    """The active plan's week holding ``today``, with its items and topics loaded."""
    return (
        PlanWeek.objects.filter(
            plan__user=user, plan__is_active=True, starts_on__lte=today, ends_on__gte=today
        )
        .select_related("plan__track")
        .prefetch_related(
            Prefetch("items", queryset=PlanItem.objects.select_related("topic")), "topics"
        )
        .first()
    )
