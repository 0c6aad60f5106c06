"""The plan page's "Today" box, and the drill ticking the week's drill items."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse

from cards.models import Card, ReviewLog
from prep.models import PlanItem, Profile, Track
from prep.plan_drills import (
    _one_topics_drills,
    drills_queryset,
    plan_drills_tick,
    plan_drills_untick,
)
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


def fields(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


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


def _week_item_links(body: str) -> dict[int, str]:
    return {
        int(pk): href
        for pk, href in re.findall(
            r'<li id="item-(\d+)".*?<a class="item-title[^"]*" href="([^"]+)"', body, re.S
        )
    }


def test_each_plan_item_links_to_where_it_is_done_not_to_the_plan(
    owner_client: Client, owner: Any, planned: Any
) -> None:
    week = planned.weeks.get(number=1)
    topic = week.items.exclude(topic=None).first().topic
    mock = PlanItem.objects.create(week=week, kind="mock", title="Mock: design a cache", minutes=45)
    study = PlanItem.objects.create(
        week=week, topic=topic, kind="study", title="Read up", minutes=30
    )
    sketch = PlanItem.objects.create(
        week=week, topic=topic, kind="sketch", title="Sketch it", minutes=30
    )
    review = PlanItem.objects.create(week=week, kind="review", title="Review weak", minutes=30)
    drill = PlanItem.objects.create(
        week=week, topic=topic, kind="drill", title="Drill it", minutes=20
    )

    body = owner_client.get(reverse("plan")).content.decode()

    links = _week_item_links(body.replace("&amp;", "&"))
    assert links[mock.pk] == f"{reverse('mock_index')}?item={mock.pk}"
    assert links[study.pk] == f"{reverse('card_browser')}?topic={topic.pk}"
    assert links[sketch.pk] == f"{reverse('card_browser')}?topic={topic.pk}"
    assert links[review.pk] == f"{reverse('custom_study')}?mode=weakest"
    assert links[drill.pk] == reverse("drill")
    assert not any(href.startswith(reverse("plan")) for href in links.values())
    # The mocks page it opens suggests the prompts that match the item.
    mocks = owner_client.get(links[mock.pk])
    assert mocks.status_code == 200
    assert mocks.context["item"] == mock


def test_the_today_box_step_opens_where_the_step_is_done(
    owner_client: Client, owner: Any, planned: Any
) -> None:
    week = planned.weeks.get(number=1)
    PlanItem.objects.filter(week=week).update(done_at=NOW)
    mock = PlanItem.objects.create(
        week=week, kind="mock", title="Mock: design a cache", minutes=45, order=99
    )
    Profile.objects.filter(user=owner).update(new_cards_per_day=0)

    response = owner_client.get(reverse("plan"))

    url = f"{reverse('mock_index')}?item={mock.pk}"
    assert response.context["today_box"].step.url == url
    body = response.content.decode().replace("&amp;", "&")
    assert f'<a class="today-what" href="{url}"' in body
    assert re.search(rf'href="{re.escape(url)}" data-today-start', body)


def test_done_for_today_leads_to_where_the_next_step_is_done(
    owner_client: Client, owner: Any, planned: Any
) -> None:
    Profile.objects.filter(user=owner).update(new_cards_per_day=0)
    first = planned.weeks.get(number=1).items.order_by("order").first()
    response = owner_client.get(reverse("drill"))
    assert response.context["next_step"].item == first
    assert response.context["next_step"].url == f"{reverse('card_browser')}?topic={first.topic_id}"


def _drill_ticked_by_a_grade(owner_client: Client, owner: Any, planned: Any) -> PlanItem:
    """A 5-minute drill item 4.5 minutes in, then the grade of 40 s that ticks it."""
    week = planned.weeks.get(number=1)
    topic = Card.objects.order_by("pk").first().topic  # type: ignore[union-attr]
    drill = PlanItem.objects.create(
        week=week, topic=topic, kind="drill", title=f"Drill {topic.title} cards", minutes=5
    )
    _log(owner, Card.objects.filter(topic=topic).last(), ms=4 * 60_000 + 30_000)  # type: ignore[arg-type]
    body = owner_client.get(reverse("drill")).content.decode()
    card = int(re.search(r'name="card" value="(\d+)"', body).group(1))  # type: ignore[union-attr]
    assert Card.objects.get(pk=card).topic_id == topic.pk
    shown_at = int(NOW.timestamp() * 1000)
    with time_machine.travel(NOW + dt.timedelta(seconds=40), tick=False):
        owner_client.post(
            reverse("grade"),
            {"card": card, "version": 0, "quality": 4, "shown_at": shown_at},
            HTTP_HX_REQUEST="true",
        )
    drill.refresh_from_db()
    return drill


def test_the_grade_that_completes_a_drill_item_ticks_it_without_the_plan_page(
    owner_client: Client, owner: Any, planned: Any
) -> None:
    drill = _drill_ticked_by_a_grade(owner_client, owner, planned)
    assert drill.done_at is not None
    assert drill.ticked_by_drill


def test_a_grades_drill_item_and_its_time_are_read_in_one_statement(
    owner: Any, planned: Any, django_assert_num_queries: Any
) -> None:
    week = planned.weeks.get(number=1)
    topic = Card.objects.order_by("pk").first().topic  # type: ignore[union-attr]
    drill = PlanItem.objects.create(
        week=week, topic=topic, kind="drill", title=f"Drill {topic.title} cards", minutes=5
    )
    card = Card.objects.filter(topic=topic).first()
    _log(owner, card, ms=4 * 60_000)  # type: ignore[arg-type]
    tick = {"user_ids": [owner.pk], "on": TODAY, "now": NOW, "topic_ids": [topic.pk]}
    with django_assert_num_queries(1):
        assert plan_drills_tick(**tick) == 0
    _log(owner, card, ms=60_000)  # type: ignore[arg-type]
    with django_assert_num_queries(2):  # the read, then the tick
        assert plan_drills_tick(**tick) == 1
    drill.refresh_from_db()
    assert drill.ticked_by_drill
    # Another week's time, or another topic's, is not this item's.
    ReviewLog.objects.filter(user=owner).update(local_date=TODAY - dt.timedelta(days=7))
    assert plan_drills_untick(user_id=owner.pk, on=TODAY, topic_ids=[topic.pk]) == 1


def test_undoing_the_grade_that_ticked_a_drill_item_opens_it_again(
    owner_client: Client, owner: Any, planned: Any
) -> None:
    drill = _drill_ticked_by_a_grade(owner_client, owner, planned)
    assert drill.ticked_by_drill
    owner_client.post(reverse("undo"), HTTP_HX_REQUEST="true")
    drill.refresh_from_db()
    assert (drill.done_at, drill.ticked_by_drill) == (None, False)


def test_undoing_a_grade_keeps_a_drill_item_ticked_by_hand(
    owner_client: Client, owner: Any, planned: Any
) -> None:
    drill = _drill_ticked_by_a_grade(owner_client, owner, planned)
    owner_client.post(reverse("plan_item_toggle", args=[drill.pk]), {"done": "1"})
    drill.refresh_from_db()
    assert drill.done_at is not None
    assert not drill.ticked_by_drill
    owner_client.post(reverse("undo"), HTTP_HX_REQUEST="true")
    drill.refresh_from_db()
    assert drill.done_at is not None


def test_undoing_a_grade_keeps_a_drill_item_the_time_still_reaches(
    owner_client: Client, owner: Any, planned: Any
) -> None:
    drill = _drill_ticked_by_a_grade(owner_client, owner, planned)
    _log(owner, Card.objects.filter(topic=drill.topic).first(), ms=60_000)  # type: ignore[arg-type]
    owner_client.post(reverse("undo"), HTTP_HX_REQUEST="true")
    drill.refresh_from_db()
    assert drill.done_at is not None


@pytest.mark.parametrize(
    "state", [{"done_at__isnull": True}, {"done_at__isnull": False, "ticked_by_drill": True}]
)
def test_a_grades_drill_items_are_read_by_a_statement_built_once(
    owner: Any, planned: Any, state: dict[str, bool]
) -> None:
    drills = PlanItem.objects.filter(week__plan__user=owner, kind=PlanItem.Kind.DRILL)
    if state.get("ticked_by_drill"):
        drills.update(done_at=NOW, ticked_by_drill=True)
    statement = _one_topics_drills(connection.vendor, tuple(sorted(state.items())))
    topics = {item.topic_id for item in drills}
    assert len(topics) > 1
    found = 0
    for topic_id in topics:
        for day in (TODAY, TODAY + dt.timedelta(days=9)):
            arguments = {"user_ids": [owner.pk], "on": day, "topic_ids": [topic_id]}
            queryset = drills_queryset(**arguments, spent=True, **state)
            sql, params = queryset.query.sql_with_params()
            bound = statement.statement.bind(user=owner.pk, day=day, topic=topic_id)
            assert (statement.statement.sql, bound) == (sql, list(params))
            orm = list(queryset)
            read = statement.all(user=owner.pk, day=day, topic=topic_id)
            found += len(read)
            assert [fields(i) for i in read] == [fields(i) for i in orm]
            assert [i.spent_ms for i in read] == [i.spent_ms for i in orm]
            assert [fields(i.week) for i in read] == [fields(i.week) for i in orm]
            # The plan's hours are a Decimal, as the ORM reads them.
            assert [fields(i.week.plan) for i in read] == [fields(i.week.plan) for i in orm]
    assert found
