"""The dashboard's history (standing, heatmap, forecast) is cached per person and local
day, and every write of theirs makes the next visit compute it again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cards import import_jobs
from cards.models import Card, ReviewState
from cards.queue import DailyLimits, QueueCounts, queue_counts
from cards.rollover import rollover_prepare
from cards.services import (
    card_create,
    card_update,
    cards_bring_forward,
    cards_delete,
    cards_reset,
    cards_suspend,
    review_bury,
    review_record,
    review_suspend,
    review_undo,
)
from cards.versions import data_changed
from prep.models import Profile
from prep.stats import (
    History,
    dashboard_history,
    dashboard_queue_counts,
    due_forecast,
    review_heatmap,
    topic_standing,
)
from tests.caches import cache_clear, shared_cache
from tests.factories import CardFactory
from tests.integration.builders import deck, person, reviewed

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def cached_at_now(settings: Any) -> Iterator[None]:
    with shared_cache(settings), time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def learner(transactional_db: Any) -> Any:
    # Transactional: the token moves once a write commits, which a test inside one
    # transaction never does.
    user = person("lena", zone="Europe/Berlin")
    Profile.objects.filter(user=user).update(onboarded_at=NOW)
    deck(topics=2, cards_each=4)
    reviewed(user, list(Card.objects.order_by("id")[:4]), due=TODAY)
    return user


def history_queries(user: Any) -> tuple[History, int]:
    with CaptureQueriesContext(connection) as queries:
        history = dashboard_history(user=user, today=TODAY)
    return history, len(queries)


def grade(user: Any, card: Card, quality: int = 4) -> None:
    state = ReviewState.objects.filter(user=user, card=card).first()
    review_record(
        user=user,
        card=card,
        quality=quality,
        now=NOW,
        shown_version=state.version if state else 0,
        zone=BERLIN,
    )


def test_a_second_visit_the_same_day_reads_the_history_from_the_cache(learner: Any) -> None:
    first, computed = history_queries(learner)
    again, cached = history_queries(learner)
    assert computed > 0
    assert cached == 0
    assert again == first


def test_a_grade_and_its_undo_each_show_on_the_next_visit(learner: Any) -> None:
    before, _ = history_queries(learner)
    grade(learner, Card.objects.order_by("id")[5])
    graded, _ = history_queries(learner)
    assert graded.heatmap.total == before.heatmap.total + 1
    assert graded.forecast.total == before.forecast.total + 1  # a new card, now reviewed
    review_undo(user=learner, now=NOW, zone=BERLIN)
    undone, _ = history_queries(learner)
    assert undone.heatmap.total == before.heatmap.total
    assert undone.forecast.total == before.forecast.total


@pytest.mark.parametrize(
    "change",
    [
        lambda user, cards: review_suspend(
            user=user, card=cards[0], suspended=True, now=NOW, zone=BERLIN
        ),
        lambda user, cards: cards_suspend(
            user=user, card_ids=[c.pk for c in cards[:2]], suspended=True, now=NOW, zone=BERLIN
        ),
        lambda user, cards: cards_reset(
            user=user, card_ids=[c.pk for c in cards[:2]], now=NOW, zone=BERLIN
        ),
    ],
    ids=["suspend", "suspend many", "reset"],
)
def test_suspending_or_resetting_cards_shows_on_the_next_visit(learner: Any, change: Any) -> None:
    cards = list(Card.objects.order_by("id")[:4])
    before, _ = history_queries(learner)
    change(learner, cards)
    after, _ = history_queries(learner)
    assert after.forecast.total < before.forecast.total
    assert after == History(
        standing=topic_standing(user=learner, today=TODAY),
        heatmap=review_heatmap(user=learner, today=TODAY),
        forecast=due_forecast(user=learner, today=TODAY),
    )


def test_bringing_cards_forward_shows_on_the_next_visit(learner: Any) -> None:
    later = list(Card.objects.order_by("id")[:2])
    ReviewState.objects.filter(user=learner, card__in=later).update(due=TODAY + dt.timedelta(40))
    before, _ = history_queries(learner)
    cards_bring_forward(user=learner, card_ids=[c.pk for c in later], due_by=TODAY)
    after, _ = history_queries(learner)
    assert after.forecast.total == before.forecast.total + 2


def test_a_new_card_of_ones_own_counts_on_the_next_visit(learner: Any) -> None:
    before, _ = history_queries(learner)
    topic = Card.objects.order_by("id")[0].topic
    card_create(user=learner, topic=topic, front="Why?", back="Because.", tags="")
    after, _ = history_queries(learner)
    assert sum(s.total for s in after.standing) == sum(s.total for s in before.standing) + 1


def test_another_persons_grades_leave_ones_cached_history_alone(learner: Any) -> None:
    other = person("omar", zone="Europe/Berlin")
    history_queries(learner)
    grade(other, Card.objects.order_by("id")[0])
    _, queries = history_queries(learner)
    assert queries == 0


def test_a_lost_cache_only_costs_a_recompute(learner: Any) -> None:
    before, _ = history_queries(learner)
    cache_clear()  # the tokens and the entries: Redis restarted empty
    after, queries = history_queries(learner)
    assert queries > 0
    assert after == before


def test_without_a_shared_cache_nothing_is_cached(learner: Any, settings: Any) -> None:
    settings.CADENCE_SHARED_CACHE = False
    history_queries(learner)
    _, queries = history_queries(learner)
    assert queries > 0


@pytest.mark.parametrize("cards", [20, 300])
def test_the_dashboard_and_browser_run_boundedly_many_queries_at_any_deck_size(
    learner: Any, cards: int, django_assert_max_num_queries: Any
) -> None:
    topic = Card.objects.order_by("id")[0].topic
    CardFactory.create_batch(cards, topic=topic, owner=learner)
    reviewed(learner, list(Card.objects.filter(owner=learner)), due=TODAY)
    client = Client()
    client.force_login(learner)
    pages = {
        # The plan's first visit reads the deck in one snapshot with the grades it holds
        # (on PostgreSQL, its isolation level set first).
        reverse("plan"): (23 if connection.vendor == "postgresql" else 22, 12),
        # The built-in deck's counts and tags are read once per version of the deck.
        reverse("card_browser"): (12, 6),
        reverse("card_browser") + "?sort=due&page=3": (12, 6),
    }
    for url, (first, repeat) in pages.items():
        # The first visit after a write (the token moved), then a repeat visit.
        data_changed(user_id=learner.pk)
        with django_assert_max_num_queries(first):
            assert client.get(url).status_code == 200
        with django_assert_max_num_queries(repeat):
            assert client.get(url).status_code == 200


def test_burying_a_card_shows_on_the_next_visit(learner: Any) -> None:
    before, _ = history_queries(learner)
    review_bury(
        user=learner, card=Card.objects.order_by("id")[0], buried=True, now=NOW, zone=BERLIN
    )
    _, queries = history_queries(learner)
    assert queries > 0
    assert before == dashboard_history(user=learner, today=TODAY)


def test_the_nights_rollover_bringing_in_new_cards_shows_on_the_next_visit(
    learner: Any,
) -> None:
    history_queries(learner)
    topic_ids = list(Card.objects.values_list("topic_id", flat=True).distinct())
    prepared = rollover_prepare(
        user_id=learner.pk,
        day=TODAY,
        limits=DailyLimits(new_cards_per_day=2, max_reviews_per_day=100),
        topic_ids=topic_ids,
    )
    assert prepared.introduced == 2
    after, queries = history_queries(learner)
    assert queries > 0
    assert after == History(
        standing=topic_standing(user=learner, today=TODAY),
        heatmap=review_heatmap(user=learner, today=TODAY),
        forecast=due_forecast(user=learner, today=TODAY),
    )


# --- The drill's counts as the dashboard shows them --------------------------------------

LIMITS = DailyLimits(new_cards_per_day=3, max_reviews_per_day=100)


def shown_counts(user: Any, limits: DailyLimits = LIMITS) -> tuple[QueueCounts, int]:
    with CaptureQueriesContext(connection) as queries:
        counts = dashboard_queue_counts(user=user, limits=limits, today=TODAY)
    return counts, len(queries)


def test_the_dashboards_queue_counts_are_kept_until_a_write(learner: Any) -> None:
    first, computed = shown_counts(learner)
    again, kept = shown_counts(learner)
    # The counts, and the day's reviews in order, read once for the drill too.
    assert (computed, kept) == (2, 0)
    assert again == first == queue_counts(user=learner, limits=LIMITS, today=TODAY)
    assert again.reviews is None  # kept on their own, not in every copy of the counts


def test_other_limits_or_another_day_are_counted_anew(learner: Any) -> None:
    shown_counts(learner)
    more = DailyLimits(new_cards_per_day=4, max_reviews_per_day=100)
    counts, queries = shown_counts(learner, more)
    assert queries == 1
    assert counts.new == queue_counts(user=learner, limits=more, today=TODAY).new
    with CaptureQueriesContext(connection) as queries_tomorrow:
        dashboard_queue_counts(user=learner, limits=LIMITS, today=TODAY + dt.timedelta(1))
    assert len(queries_tomorrow) == 2  # and tomorrow's reviews in order


def _import_one(user: Any) -> None:
    job = import_jobs.import_start(
        user=user, filename="one.csv", data=b"front,back\nImported?,Yes.\n", now=NOW
    )
    import_jobs.import_confirm(job=job, now=NOW, zone=BERLIN)


def _grade_and_undo(user: Any, card: Card) -> None:
    grade(user, card)
    review_undo(user=user, now=NOW, zone=BERLIN)


QUEUE_WRITES: dict[str, Any] = {
    "grade": lambda user, cards: grade(user, cards[0], quality=5),
    "undo": lambda user, cards: _grade_and_undo(user, cards[0]),
    "suspend": lambda user, cards: review_suspend(
        user=user, card=cards[0], suspended=True, now=NOW, zone=BERLIN
    ),
    "bury": lambda user, cards: review_bury(
        user=user, card=cards[1], buried=True, now=NOW, zone=BERLIN
    ),
    "reset": lambda user, cards: cards_reset(
        user=user, card_ids=[c.pk for c in cards[:2]], now=NOW, zone=BERLIN
    ),
    "new card": lambda user, cards: card_create(
        user=user, topic=cards[0].topic, front="Why?", back="Because.", tags=""
    ),
    "edit": lambda user, cards: card_update(
        card=card_create(user=user, topic=cards[0].topic, front="Q", back="A", tags=""),
        front="Q2",
        back="A2",
        tags="",
    ),
    "import": lambda user, cards: _import_one(user),
    "delete": lambda user, cards: cards_delete(
        user=user,
        card_ids=[card_create(user=user, topic=cards[0].topic, front="Q", back="A", tags="").pk],
    ),
    "rollover": lambda user, cards: rollover_prepare(
        user_id=user.pk,
        day=TODAY,
        limits=DailyLimits(new_cards_per_day=2, max_reviews_per_day=100),
        topic_ids=list(Card.objects.values_list("topic_id", flat=True).distinct()),
    ),
}


@pytest.mark.parametrize("write", list(QUEUE_WRITES), ids=list(QUEUE_WRITES))
def test_every_write_shows_in_the_dashboards_queue_counts(learner: Any, write: str) -> None:
    cards = list(Card.objects.order_by("id")[:4])
    shown_counts(learner)
    QUEUE_WRITES[write](learner, cards)
    counts, queries = shown_counts(learner)
    # Counted again, and the day's reviews in order read again: each of these writes moves
    # the queue's token (this grade is review_record's; the drill's keeps the reviews:
    # tests/cards/test_dayqueue.py).
    assert queries == 2
    assert counts == queue_counts(user=learner, limits=LIMITS, today=TODAY)
