"""The dashboard's reads of the whole deck (the standing's counts, the forecast) are kept
across the drill's grades and brought up to date from the log: after a morning's drilling
they read that morning's grades, not the deck, and say exactly what a fresh read says."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.models import LEECH_LAPSES, Card, ReviewLog, ReviewState
from cards.queue import DailyLimits
from cards.services import review_grade, review_undo
from cards.versions import data_changed
from prep.models import Profile
from prep.stats import History, dashboard_history, due_forecast, review_heatmap, topic_standing
from tests.caches import shared_cache
from tests.integration.builders import deck, person, reviewed

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)
BERLIN = ZoneInfo("Europe/Berlin")
LIMITS = DailyLimits(new_cards_per_day=5, max_reviews_per_day=100)


@pytest.fixture(autouse=True)
def cached_at_now(settings: Any) -> Iterator[None]:
    with shared_cache(settings), time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def learner(transactional_db: Any) -> Any:
    # Transactional: the tokens move once a write commits.
    user = person("lena", zone="Europe/Berlin")
    Profile.objects.filter(user=user).update(onboarded_at=NOW)
    deck(topics=2, cards_each=5)
    cards = list(Card.objects.order_by("id"))
    reviewed(user, cards[0:2], due=TODAY, interval=3)  # learning
    reviewed(user, cards[2:4], due=TODAY, interval=15)  # learning, mature after a pass
    reviewed(user, cards[5:7], due=TODAY, interval=30)  # mature
    reviewed(user, cards[7:8], due=TODAY + dt.timedelta(days=4), interval=30)  # not due
    return user


def fresh(user: Any) -> History:
    return History(
        standing=topic_standing(user=user, today=TODAY),
        heatmap=review_heatmap(user=user, today=TODAY),
        forecast=due_forecast(user=user, today=TODAY),
    )


def grade(user: Any, card: Card, quality: int, now: dt.datetime = NOW, **limits: Any) -> Any:
    state = ReviewState.objects.filter(user=user, card=card).first()
    return review_grade(
        user=user,
        card_id=card.pk,
        quality=quality,
        now=now,
        shown_version=state.version if state else 0,
        zone=BERLIN,
        limits=replace(LIMITS, **limits),
    )


# The statements that read the whole deck: the standing's counts by topic and state, the
# cards by due date, the cards each topic holds.
DECK_WIDE = (
    '"n_suspended"',
    'SELECT "cards_reviewstate"."due" AS "due", COUNT(',
    '"cards_card"."topic_id" AS "topic_id", COUNT(*)',
)


def deck_wide_reads(user: Any) -> list[str]:
    """The statements of a visit's history that read the whole deck."""
    with CaptureQueriesContext(connection) as queries:
        dashboard_history(user=user, today=TODAY)
    return [
        q["sql"] for q in queries.captured_queries if any(mark in q["sql"] for mark in DECK_WIDE)
    ]


def test_the_drills_grades_of_every_kind_read_as_a_fresh_read_says(learner: Any) -> None:
    cards = list(Card.objects.order_by("id"))
    assert dashboard_history(user=learner, today=TODAY) == fresh(learner)
    grade(learner, cards[0], 4)  # learning stays learning, due moves on
    grade(learner, cards[2], 5)  # learning becomes mature
    grade(learner, cards[5], 1)  # a mature card lapses: learning, and a repeat owed today
    grade(learner, cards[5], 4)  # the same-day repeat moves no schedule
    grade(learner, cards[4], 4)  # a new card's first grade: new becomes learning
    grade(learner, cards[9], 2)  # another new one, failed
    history = dashboard_history(user=learner, today=TODAY)
    assert history == fresh(learner)
    row = {s.topic.pk: s for s in history.standing}[cards[0].topic_id]
    assert (row.new, row.learning, row.mature) == (0, 4, 1)


def test_after_a_grade_the_visit_reads_the_grades_not_the_deck(learner: Any) -> None:
    cards = list(Card.objects.order_by("id"))
    assert deck_wide_reads(learner)  # the first visit reads the deck
    grade(learner, cards[1], 4)
    grade(learner, cards[3], 4)
    assert deck_wide_reads(learner) == []
    assert dashboard_history(user=learner, today=TODAY) == fresh(learner)


@pytest.mark.parametrize(
    "change",
    [
        lambda user, cards: review_undo(user=user, now=NOW, zone=BERLIN),
        lambda user, cards: data_changed(user_id=user.pk),  # any other write
    ],
    ids=["undo", "another write"],
)
def test_any_other_write_reads_the_deck_again(learner: Any, change: Any) -> None:
    cards = list(Card.objects.order_by("id"))
    dashboard_history(user=learner, today=TODAY)
    grade(learner, cards[0], 5)
    change(learner, cards)
    assert deck_wide_reads(learner)
    grade(learner, cards[1], 3)
    assert dashboard_history(user=learner, today=TODAY) == fresh(learner)


def test_a_grade_read_by_the_snapshot_is_not_counted_again(learner: Any) -> None:
    cards = list(Card.objects.order_by("id"))
    grade(learner, cards[0], 5)
    dashboard_history(user=learner, today=TODAY)  # its snapshot holds that grade
    grade(learner, cards[1], 5)
    assert dashboard_history(user=learner, today=TODAY) == fresh(learner)


def test_a_grade_that_commits_after_the_snapshot_counts_though_its_clock_read_was_before(
    learner: Any,
) -> None:
    cards = list(Card.objects.order_by("id"))
    dashboard_history(user=learner, today=TODAY)
    # A slow request: its clock read a minute before the snapshot, its write after it.
    grade(learner, cards[6], 1, now=NOW - dt.timedelta(minutes=1))
    assert ReviewLog.objects.get().reviewed_at < NOW
    assert dashboard_history(user=learner, today=TODAY) == fresh(learner)


def test_a_grade_that_suspends_a_leech_reads_the_deck_again(learner: Any) -> None:
    card = Card.objects.order_by("id")[0]
    ReviewState.objects.filter(user=learner, card=card).update(lapses=LEECH_LAPSES - 1)
    dashboard_history(user=learner, today=TODAY)
    outcome = grade(learner, card, 1, suspend_leeches=True)
    assert outcome.leech_suspended
    assert deck_wide_reads(learner)
    history = dashboard_history(user=learner, today=TODAY)
    assert history == fresh(learner)
    assert sum(s.suspended for s in history.standing) == 1


def test_another_persons_grades_leave_the_kept_reads_alone(learner: Any) -> None:
    other = person("omar", zone="Europe/Berlin")
    dashboard_history(user=learner, today=TODAY)
    grade(other, Card.objects.order_by("id")[4], 4)
    data_changed(user_id=learner.pk, graded=True)  # one's own history read again
    assert deck_wide_reads(learner) == []
    assert dashboard_history(user=learner, today=TODAY) == fresh(learner)
