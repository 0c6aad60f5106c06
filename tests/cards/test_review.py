"""Recording grades, the daily queue, SM-2 step 7 and undo, through the services."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cards.models import Card, ReviewLog, ReviewState
from cards.queue import next_card, queue_counts
from cards.services import StaleGrade, review_record, review_undo
from core.localtime import local_date
from prep.models import Profile
from tests.factories import CardFactory, TopicFactory

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)  # 09:00 in Berlin
TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def profile(owner: Any) -> Profile:
    return Profile.objects.get(user=owner)


def grade(user: Any, card: Card, quality: int, now: dt.datetime = NOW) -> ReviewLog:
    state = ReviewState.objects.filter(user=user, card=card).first()
    return review_record(
        user=user,
        card=card,
        quality=quality,
        now=now,
        shown_version=state.version if state else 0,
        zone=BERLIN,
    ).log


def make_state(user: Any, card: Card, *, due: dt.date, interval: int, reps: int = 3) -> ReviewState:
    return ReviewState.objects.create(
        user=user,
        card=card,
        repetitions=reps,
        interval=interval,
        easiness=2.5,
        due=due,
        last_reviewed_at=NOW - dt.timedelta(days=interval),
        introduced_on=due - dt.timedelta(days=30),
    )


def queue_order(
    user: Any, profile: Profile, today: dt.date = TODAY, topics: tuple[int, ...] = ()
) -> list[tuple[str, str]]:
    """Drain the queue by grading 5 and report (section, key) in the order shown."""
    shown = []
    for _ in range(100):
        counts = queue_counts(user=user, limits=profile.limits, today=today)
        item = next_card(user=user, counts=counts, today=today, priority_topic_ids=topics)
        if item is None:
            return shown
        shown.append((item.section, item.card.key))
        grade(user, item.card, 5)
    raise AssertionError("the queue never emptied")


def test_a_first_grade_creates_the_state_and_schedules_one_day(owner: Any) -> None:
    card = CardFactory()
    log = grade(owner, card, 4)
    state = ReviewState.objects.get(user=owner, card=card)
    assert (state.repetitions, state.interval, state.due) == (1, 1, TODAY + dt.timedelta(days=1))
    assert (log.quality, log.local_date, log.repetitions_before, log.is_repeat) == (
        4,
        TODAY,
        0,
        False,
    )
    assert log.state_before is None


def test_the_queue_is_due_most_overdue_first_then_new_then_repeats(
    owner: Any, profile: Profile
) -> None:
    topic = TopicFactory()
    late = CardFactory(topic=topic, key="late")
    later = CardFactory(topic=topic, key="later")
    today_due = CardFactory(topic=topic, key="today")
    not_yet = CardFactory(topic=topic, key="future")
    new_a = CardFactory(topic=topic, key="new-a")
    new_b = CardFactory(topic=topic, key="new-b")
    make_state(owner, late, due=TODAY - dt.timedelta(days=3), interval=6)
    make_state(owner, later, due=TODAY - dt.timedelta(days=9), interval=15)
    make_state(owner, today_due, due=TODAY, interval=6)
    make_state(owner, not_yet, due=TODAY + dt.timedelta(days=1), interval=6)
    # A repeat owed from earlier today comes last.
    grade(owner, new_a, 2)
    assert queue_order(owner, profile) == [
        ("due", "later"),
        ("due", "late"),
        ("due", "today"),
        ("new", "new-b"),
        ("repeat", "new-a"),
    ]
    del new_b


def test_new_cards_from_this_weeks_topics_come_first_then_deck_order(
    owner: Any, profile: Profile
) -> None:
    first_topic, plan_topic = TopicFactory(order=1), TopicFactory(order=2)
    CardFactory(topic=first_topic, key="a1")
    CardFactory(topic=first_topic, key="a2")
    CardFactory(topic=plan_topic, key="b1")
    order = queue_order(owner, profile, topics=(plan_topic.pk,))
    assert order == [("new", "b1"), ("new", "a1"), ("new", "a2")]


def test_new_cards_stop_at_the_days_limit_and_reviews_at_the_cap(
    owner: Any, profile: Profile
) -> None:
    profile.new_cards_per_day, profile.max_reviews_per_day = 2, 1
    profile.save()
    for _ in range(5):
        CardFactory()
    for card in CardFactory.create_batch(3):
        make_state(owner, card, due=TODAY - dt.timedelta(days=1), interval=6)
    sections = [section for section, _ in queue_order(owner, profile)]
    assert sections == ["due", "new", "new"]
    counts = queue_counts(user=owner, limits=profile.limits, today=TODAY)
    assert (counts.due, counts.new, counts.reviewed_today, counts.new_today) == (0, 0, 1, 2)


def test_a_card_graded_below_4_comes_back_today_without_moving_its_schedule(
    owner: Any, profile: Profile
) -> None:
    card = CardFactory()
    make_state(owner, card, due=TODAY, interval=15)
    grade(owner, card, 3)  # passes, but below 4: step 7 asks it again today
    state = ReviewState.objects.get(user=owner, card=card)
    scheduled = (state.repetitions, state.interval, state.easiness, state.due)
    assert state.repeat_on == TODAY
    assert queue_counts(user=owner, limits=profile.limits, today=TODAY).repeat == 1

    grade(owner, card, 2, NOW + dt.timedelta(minutes=5))  # still below 4: again
    grade(owner, card, 4, NOW + dt.timedelta(minutes=9))  # now it leaves the list
    state.refresh_from_db()
    assert (state.repetitions, state.interval, state.easiness, state.due) == scheduled
    assert state.repeat_on is None
    logs = list(ReviewLog.objects.filter(card=card).order_by("reviewed_at"))
    assert [(log.quality, log.is_repeat) for log in logs] == [(3, False), (2, True), (4, True)]
    assert queue_counts(user=owner, limits=profile.limits, today=TODAY).total == 0


def test_a_lapse_counts_and_restarts_the_card(owner: Any) -> None:
    card = CardFactory()
    make_state(owner, card, due=TODAY, interval=40, reps=5)
    grade(owner, card, 1)
    state = ReviewState.objects.get(user=owner, card=card)
    assert (state.repetitions, state.interval, state.lapses, state.due) == (
        1,
        1,
        1,
        TODAY + dt.timedelta(days=1),
    )
    assert state.repeat_on == TODAY


def test_undo_puts_state_and_log_back_exactly(owner: Any) -> None:
    card = CardFactory()
    before = make_state(owner, card, due=TODAY - dt.timedelta(days=2), interval=6)
    snapshot = (
        ReviewState.objects.filter(pk=before.pk)
        .values(
            "repetitions",
            "interval",
            "easiness",
            "due",
            "lapses",
            "last_reviewed_at",
            "repeat_on",
            "suspended",
            "introduced_on",
        )
        .get()
    )
    grade(owner, card, 1)
    assert review_undo(user=owner, now=NOW, zone=BERLIN) == card
    after = ReviewState.objects.filter(pk=before.pk).values(*snapshot).get()
    assert after == snapshot
    assert not ReviewLog.objects.exists()


def test_undoing_a_new_cards_first_grade_makes_it_new_again(owner: Any, profile: Profile) -> None:
    card = CardFactory()
    grade(owner, card, 5)
    review_undo(user=owner, now=NOW, zone=BERLIN)
    assert not ReviewState.objects.exists()
    assert queue_counts(user=owner, limits=profile.limits, today=TODAY).new == 1


def test_a_second_grade_of_the_same_showing_is_refused(owner: Any) -> None:
    card = CardFactory()
    review_record(user=owner, card=card, quality=4, now=NOW, shown_version=0, zone=BERLIN)
    with pytest.raises(StaleGrade):
        review_record(user=owner, card=card, quality=5, now=NOW, shown_version=0, zone=BERLIN)
    assert ReviewLog.objects.count() == 1


def test_a_grade_from_a_tab_shown_before_an_undo_is_refused(owner: Any) -> None:
    card = CardFactory()
    review_record(user=owner, card=card, quality=4, now=NOW, shown_version=0, zone=BERLIN)
    make_state  # noqa: B018
    state = ReviewState.objects.get()
    review_record(
        user=owner,
        card=card,
        quality=4,
        now=NOW + dt.timedelta(days=1),
        shown_version=state.version,
        zone=BERLIN,
    )
    review_undo(user=owner, now=NOW + dt.timedelta(days=1), zone=BERLIN)
    with pytest.raises(StaleGrade):
        review_record(
            user=owner,
            card=card,
            quality=5,
            now=NOW + dt.timedelta(days=1),
            shown_version=state.version,
            zone=BERLIN,
        )


def test_today_is_the_users_own_date(owner: Any, other_user: Any) -> None:
    kiritimati = Profile.objects.get(user=owner)
    kiritimati.time_zone = "Pacific/Kiritimati"  # UTC+14
    kiritimati.save()
    los_angeles = Profile.objects.get(user=other_user)  # UTC-8 in November
    card = CardFactory()
    # 2026-11-23 11:00 UTC is already 24 Nov 01:00 in Kiritimati and still 23 Nov 03:00 in LA.
    make_state(owner, card, due=dt.date(2026, 11, 24), interval=6)
    make_state(other_user, card, due=dt.date(2026, 11, 24), interval=6)
    moment = dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC)
    assert (
        queue_counts(
            user=owner, limits=kiritimati.limits, today=local_date(moment, kiritimati.zone)
        ).due
        == 1
    )
    assert (
        queue_counts(
            user=other_user, limits=los_angeles.limits, today=local_date(moment, los_angeles.zone)
        ).due
        == 0
    )


def test_retired_and_suspended_cards_leave_the_queue(owner: Any, profile: Profile) -> None:
    retired, suspended = CardFactory(), CardFactory()
    make_state(owner, retired, due=TODAY, interval=6)
    make_state(owner, suspended, due=TODAY, interval=6)
    Card.objects.filter(pk=retired.pk).update(retired_at=NOW)
    ReviewState.objects.filter(card=suspended).update(suspended=True)
    assert queue_counts(user=owner, limits=profile.limits, today=TODAY).total == 0


def test_another_users_own_cards_never_enter_my_queue(
    owner: Any, other_user: Any, profile: Profile
) -> None:
    CardFactory(owner=other_user, key="")
    assert queue_counts(user=owner, limits=profile.limits, today=TODAY).new == 0
