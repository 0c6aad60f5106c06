"""Rebuilding the plan from today: never more minutes in a week than the hours, the
ticked items kept and counted, and no topic the plan had left out."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from django.core.management import call_command

from prep.models import Plan, PlanItem, Profile, Track
from prep.services import plan_generate, plan_item_set_done

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def shipped(db: Any) -> None:
    with open("/dev/null", "w") as sink:
        call_command("load_deck", stdout=sink)


def _plan_for(owner: Any, *, hours: int, days: int) -> Plan:
    profile = Profile.objects.get(user=owner)
    profile.track = Track.objects.get(slug="ai-system-design-30-days")
    profile.interview_date = TODAY + dt.timedelta(days=days)
    profile.hours_per_week = hours
    profile.onboarded_at = NOW
    profile.save()
    return plan_generate(user=owner, today=TODAY)


def _weeks(plan: Plan) -> list[tuple[int, int, set[int | None]]]:
    return [
        (
            week.number,
            sum(i.minutes for i in week.items.all()),
            {i.topic_id for i in week.items.all()},
        )
        for week in plan.weeks.order_by("number").prefetch_related("items")
    ]


@pytest.mark.parametrize(("hours", "later"), [(3, 0), (3, 1), (8, 0), (8, 2)])
def test_rebuilding_after_ticking_items_never_overbooks_a_week(
    shipped: None, owner: Any, hours: int, later: int
) -> None:
    plan = _plan_for(owner, hours=hours, days=9)
    before_topics = set(PlanItem.objects.filter(week__plan=plan).values_list("topic_id", flat=True))
    first_two = PlanItem.objects.filter(week__plan=plan).order_by("week__number", "order")[:2]
    ticked = {item.pk: item.minutes for item in first_two}
    for pk in ticked:
        plan_item_set_done(user=owner, item_id=pk, done=True, now=NOW)

    rebuilt = plan_generate(user=owner, today=TODAY + dt.timedelta(days=later))

    for number, minutes, _ in _weeks(rebuilt):
        week = rebuilt.weeks.get(number=number)
        days = (week.ends_on - week.starts_on).days + 1
        assert minutes <= math.floor(hours * 60 * days / 7), (number, minutes)
    # The ticked items are kept, as they were, and count toward the week they sit in.
    kept = PlanItem.objects.filter(pk__in=ticked, done_at__isnull=False)
    assert {i.pk: i.minutes for i in kept} == ticked
    after_topics = set(
        PlanItem.objects.filter(week__plan=rebuilt).values_list("topic_id", flat=True)
    )
    assert after_topics <= before_topics
