"""The plan page's "Today" box, and the drill ticking the week's drill items."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from cards.models import Card, ReviewLog
from prep.models import PlanItem, Profile, Track
from prep.services import plan_generate

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # Monday, 11:00 in Berlin
TODAY = dt.date(2026, 11, 23)


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def planned(owner: Any, track: Track) -> Any:
    Profile.objects.filter(user=owner).update(
        track=track, interview_date=dt.date(2027, 1, 4), onboarded_at=NOW, hours_per_week=6
    )
    return plan_generate(user=owner, today=TODAY)


def _log(owner: Any, card: Card, *, ms: int, day: dt.date = TODAY) -> None:
    ReviewLog.objects.create(
        user=owner,
        card=card,
        quality=4,
        reviewed_at=NOW,
        local_date=day,
        answer_ms=ms,
        repetitions_before=1,
        interval_before=1,
        easiness_before=2.5,
        repetitions_after=2,
        interval_after=6,
        easiness_after=2.5,
        due_after=day + dt.timedelta(days=6),
    )


def test_today_gives_the_cards_in_minutes_at_the_persons_pace_and_one_step(
    owner_client: Client, owner: Any, planned: Any
) -> None:
    card = Card.objects.first()
    assert card is not None
    for _ in range(12):
        _log(owner, card, ms=30_000, day=TODAY - dt.timedelta(days=3))  # 30 s a card
    response = owner_client.get(reverse("plan"))
    today = response.context["today_box"]
    assert today.new == 10
    assert today.card_minutes == 5  # 10 cards at 30 s
    week = planned.weeks.get(number=1)
    first = week.items.order_by("order").first()
    assert today.step.item == first
    left = sum(i.minutes for i in week.items.all())
    days = (week.ends_on - TODAY).days + 1  # a week from today: 7
    share = -(-left // days)  # the week's minutes left over its days left, rounded up
    assert today.step.minutes == min(first.minutes, -(-share // 5) * 5)
    body = response.content.decode()
    assert 'id="today-title">Today<' in body
    assert body.count("data-today-start") == 1


def test_grading_a_topics_cards_ticks_the_weeks_drill_item(
    owner_client: Client, owner: Any, planned: Any
) -> None:
    week = planned.weeks.get(number=1)
    topic = Card.objects.order_by("pk").first().topic  # type: ignore[union-attr]
    drill = PlanItem.objects.create(
        week=week, topic=topic, kind="drill", title=f"Drill {topic.title} cards", minutes=20
    )
    cards = list(Card.objects.filter(topic=topic)[:2])
    minutes = drill.minutes
    _log(owner, cards[0], ms=(minutes * 60_000) // 2)
    owner_client.get(reverse("plan"))
    assert PlanItem.objects.get(pk=drill.pk).done_at is None  # half of it
    _log(owner, cards[1], ms=(minutes * 60_000) // 2 + 1)
    response = owner_client.get(reverse("plan"))
    assert PlanItem.objects.get(pk=drill.pk).done_at is not None
    assert response.context["done_minutes"] >= minutes


def test_done_for_today_offers_the_plans_next_step_tomorrow_and_the_streak(
    owner_client: Client, owner: Any, planned: Any
) -> None:
    from cards.models import StudyDay

    Profile.objects.filter(user=owner).update(new_cards_per_day=0)
    StudyDay.objects.create(user=owner, local_date=TODAY - dt.timedelta(days=1), finished_at=NOW)
    StudyDay.objects.create(user=owner, local_date=TODAY, finished_at=NOW)
    first = planned.weeks.get(number=1).items.order_by("order").first()
    body = owner_client.get(reverse("drill")).content.decode()
    assert "Done for today" in body
    assert "Streak: 2 days." in body
    assert "Tomorrow: 0 reviews due." in body
    assert f"<strong>{first.title}</strong>" in body
    assert "min today" in body
