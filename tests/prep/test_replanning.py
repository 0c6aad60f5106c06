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


def _open_items(plan: Plan) -> dict[tuple[str, str, int | None], tuple[int, int]]:
    return {
        (i.kind, i.title, i.topic_id): (i.week.number, i.minutes)
        for i in PlanItem.objects.filter(week__plan=plan, done_at__isnull=True).select_related(
            "week"
        )
    }


@pytest.mark.parametrize("hours", [3, 8])
def test_rebuilding_from_the_same_day_changes_no_item_the_owner_has_not_ticked(
    shipped: None, owner: Any, hours: int
) -> None:
    # The numbers: "AI system design in 30 days", interview in 9 days, the first
    # two items ticked, then "Rebuild the plan from today".
    plan = _plan_for(owner, hours=hours, days=9)
    for item in PlanItem.objects.filter(week__plan=plan).order_by("week__number", "order")[:2]:
        plan_item_set_done(user=owner, item_id=item.pk, done=True, now=NOW)
    before = _open_items(plan)
    left_out_before = plan.notes.partition("left out ")[2].partition(". ")[0]

    rebuilt = plan_generate(user=owner, today=TODAY)

    assert _open_items(rebuilt) == before
    assert rebuilt.notes.partition("left out ")[2].partition(". ")[0] == left_out_before
    first = rebuilt.weeks.get(number=1)
    assert sum(i.minutes for i in first.items.all()) <= hours * 60


@pytest.mark.parametrize(("hours", "later"), [(3, 1), (3, 3), (8, 1), (8, 4)])
def test_rebuilding_on_a_later_day_keeps_the_minutes_of_every_item_it_plans_again(
    shipped: None, owner: Any, hours: int, later: int
) -> None:
    plan = _plan_for(owner, hours=hours, days=9)
    for item in PlanItem.objects.filter(week__plan=plan).order_by("week__number", "order")[:2]:
        plan_item_set_done(user=owner, item_id=item.pk, done=True, now=NOW)
    minutes_before = {key: minutes for key, (_, minutes) in _open_items(plan).items()}

    rebuilt = plan_generate(user=owner, today=TODAY + dt.timedelta(days=later))

    minutes_after = {key: minutes for key, (_, minutes) in _open_items(rebuilt).items()}
    again = minutes_after.keys() & minutes_before.keys()
    assert again
    for key in again:
        assert minutes_after[key] == minutes_before[key], key
    for week in rebuilt.weeks.prefetch_related("items"):
        assert sum(i.minutes for i in week.items.all()) <= hours * 60, week.number
