"""Custom study: a topic, the weakest cards, tomorrow's reviews; the memory learns, the
schedule does not move, and nobody studies another person's cards."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from cards.models import ReviewLog, ReviewState
from cards.queue import DailyLimits, queue_counts
from cards.selectors import custom_queue
from cards.services import custom_record, review_record, review_undo
from core.localtime import local_date
from prep.models import Profile
from tests.factories import CardFactory, TopicFactory

ZONE = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)
SCHEDULE = ("repetitions", "interval", "easiness", "due", "repeat_on", "lapses", "suspended")


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def studied(owner: Any) -> list[Any]:
    """Six cards over two topics, graded five days ago (two of them failed)."""
    topics = [TopicFactory(title="Attention"), TopicFactory(title="RLHF")]
    cards = [CardFactory(topic=topics[i % 2]) for i in range(6)]
    for card, quality in zip(cards, [5, 4, 1, 4, 2, 5], strict=True):
        review_record(
            user=owner,
            card=card,
            quality=quality,
            now=NOW - dt.timedelta(days=5),
            shown_version=0,
            zone=ZONE,
        )
    return cards


def schedule(user: Any) -> dict[int, tuple[Any, ...]]:
    return {
        s.card_id: tuple(getattr(s, f) for f in SCHEDULE)
        for s in ReviewState.objects.filter(user=user)
    }


def test_custom_grades_teach_the_memory_but_never_move_the_schedule(
    owner: Any, studied: list[Any]
) -> None:
    before = schedule(owner)
    limits = DailyLimits(new_cards_per_day=5, max_reviews_per_day=100)
    counts = queue_counts(user=owner, limits=limits, today=TODAY)
    state = ReviewState.objects.get(user=owner, card=studied[0])
    outcome = custom_record(
        user=owner, card=studied[0], quality=5, now=NOW, shown_version=state.version, zone=ZONE
    )
    assert outcome.state.stability > state.stability
    assert outcome.state.memory_on == TODAY
    assert outcome.log.custom
    assert outcome.log.is_repeat
    assert schedule(owner) == before
    assert queue_counts(user=owner, limits=limits, today=TODAY) == counts
    # Undo puts the memory back too.
    review_undo(user=owner, now=NOW + dt.timedelta(minutes=1), zone=ZONE)
    again = ReviewState.objects.get(user=owner, card=studied[0])
    assert (again.stability, again.memory_on) == (state.stability, state.memory_on)
    assert not ReviewLog.objects.filter(custom=True).exists()


def test_the_weakest_come_first_and_a_card_once_a_day(owner: Any, studied: list[Any]) -> None:
    weakest = custom_queue(user=owner, mode="weakest", today=TODAY)
    assert {s.card_id for s in weakest[:2]} == {studied[2].pk, studied[4].pk}  # the failed
    topic = custom_queue(user=owner, mode="topic", today=TODAY, topic_id=studied[1].topic_id)
    assert {s.card_id for s in topic} == {studied[1].pk, studied[3].pk, studied[5].pk}
    first = weakest[0]
    custom_record(
        user=owner, card=first.card, quality=4, now=NOW, shown_version=first.version, zone=ZONE
    )
    assert first.card_id not in {
        s.card_id for s in custom_queue(user=owner, mode="weakest", today=TODAY)
    }


def test_review_ahead_lists_tomorrows_reviews(owner: Any, studied: list[Any]) -> None:
    ReviewState.objects.filter(user=owner, card=studied[0]).update(due=TODAY + dt.timedelta(1))
    assert [s.card_id for s in custom_queue(user=owner, mode="ahead", today=TODAY)] == [
        studied[0].pk
    ]


def test_the_page_drills_a_topic_without_moving_the_schedule(
    owner: Any, owner_client: Client, studied: list[Any]
) -> None:
    before = schedule(owner)
    topic_id = studied[0].topic_id
    url = f"{reverse('custom_study')}?mode=topic&topic={topic_id}"
    page = owner_client.get(url + "&show=1").content.decode()
    assert "3 cards left in this set" in page
    state = custom_queue(user=owner, mode="topic", today=TODAY, topic_id=topic_id)[0]
    response = owner_client.post(
        reverse("custom_grade"),
        {
            "card": state.card_id,
            "quality": 4,
            "version": state.version,
            "mode": "topic",
            "topic": topic_id,
        },
    )
    assert response["Location"] == url
    assert "2 cards left in this set" in owner_client.get(url).content.decode()
    assert schedule(owner) == before


def test_nobody_studies_or_sees_another_persons_cards(
    owner: Any, other_client: Client, other_user: Any, studied: list[Any]
) -> None:
    page = other_client.get(f"{reverse('custom_study')}?mode=weakest").content.decode()
    assert "Nothing left in this set today" in page
    state = ReviewState.objects.get(user=owner, card=studied[0])
    other_client.post(
        reverse("custom_grade"),
        {"card": studied[0].pk, "quality": 5, "version": state.version, "mode": "weakest"},
    )
    assert not ReviewLog.objects.filter(user=other_user).exists()
    assert ReviewState.objects.get(pk=state.pk).version == state.version


def test_custom_study_needs_a_login(client: Client, db: Any) -> None:
    assert reverse("login") in client.get(reverse("custom_study"))["Location"]


# --- Extra new cards today --------------------------------------------------------------

# Kiritimati is UTC+14: its day begins at 10:00 UTC the day before.
KIRITIMATI = "Pacific/Kiritimati"


def _new_today(user: Any, now: dt.datetime) -> int:
    profile = Profile.objects.get(user=user)
    return queue_counts(user=user, limits=profile.limits, today=local_date(now, profile.zone)).new


def test_extra_new_cards_raise_todays_allowance_once_for_the_local_day_only(
    owner: Any, owner_client: Client
) -> None:
    CardFactory.create_batch(40, topic=TopicFactory(title="Serving"))
    Profile.objects.filter(user=owner).update(time_zone=KIRITIMATI, new_cards_per_day=10)
    # 09:30 UTC on the 23rd is 23:30 on the 23rd in Kiritimati: the last half hour of its day.
    late = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
    with time_machine.travel(late, tick=False):
        assert _new_today(owner, late) == 10
        response = owner_client.post(reverse("extra_new_cards"), {"extra": 15})
        assert response["Location"] == reverse("custom_study") + "#extra-new"
        assert _new_today(owner, late) == 25
        page = owner_client.get(reverse("custom_study")).content.decode()
        assert "Today: 15 more than your 10 a day." in page
        # Asked again the same day: the day's extra is replaced, not added.
        owner_client.post(reverse("extra_new_cards"), {"extra": 5})
        assert _new_today(owner, late) == 15
    # 10:30 UTC, still the 23rd in UTC, is already the 24th in Kiritimati: back to ten.
    next_day = dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.UTC)
    with time_machine.travel(next_day, tick=False):
        assert _new_today(owner, next_day) == 10
        assert "Today:" not in owner_client.get(reverse("custom_study")).content.decode()


def test_the_extra_new_cards_can_be_drilled_and_graded(owner: Any, owner_client: Client) -> None:
    CardFactory.create_batch(4, topic=TopicFactory(title="Serving"))
    Profile.objects.filter(user=owner).update(new_cards_per_day=1)
    owner_client.post(reverse("extra_new_cards"), {"extra": 2})
    zone = Profile.objects.get(user=owner).zone
    for _ in range(3):
        page = owner_client.get(reverse("drill")).content.decode()
        card_id = int(page.split('name="card" value="')[1].split('"')[0])
        owner_client.post(reverse("grade"), {"card": card_id, "quality": 5, "version": 0})
    assert ReviewLog.objects.filter(user=owner, local_date=local_date(NOW, zone)).count() == 3
    assert _new_today(owner, NOW) == 0


def test_extra_new_cards_are_ones_own_and_need_a_login(
    owner: Any, other_client: Client, stranger_client: Client
) -> None:
    response = stranger_client.post(reverse("extra_new_cards"), {"extra": 50})
    assert reverse("login") in response["Location"]
    other_client.post(reverse("extra_new_cards"), {"extra": 50})
    assert Profile.objects.get(user=owner).extra_new_cards == 0
    assert other_client.post(reverse("extra_new_cards"), {"extra": 999}).status_code == 302
