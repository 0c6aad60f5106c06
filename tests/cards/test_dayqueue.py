"""The day's reviews kept between requests (cards.dayqueue): the same queue, card for card
and count for count, as reading the database alone, through grades, failures, undo,
suspension, burial, a reset, a grade in another tab, a lost cache and a deck load."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import override_settings

from cards import dayqueue
from cards.models import Card, ReviewLog, ReviewState, Topic
from cards.queue import DailyLimits, NextCard, QueueCounts, next_card, queue_counts
from cards.services import (
    card_move,
    cards_reset,
    review_bury,
    review_grade,
    review_suspend,
    review_undo,
)
from tests.caches import cache_clear
from tests.factories import CardFactory, TopicFactory
from tests.integration.builders import person

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)
UTC = ZoneInfo("UTC")
LIMITS = DailyLimits(new_cards_per_day=3, max_reviews_per_day=14)
# Room for every review due: the count of the reviews due is not cut by the limit.
ROOMY = DailyLimits(new_cards_per_day=3, max_reviews_per_day=100)
# More reviews due than the day's reading counts (dayqueue.COUNTED times the limit).
TIGHT = DailyLimits(new_cards_per_day=3, max_reviews_per_day=3)


@pytest.fixture
def learner(settings: Any, transactional_db: Any) -> Iterator[Any]:
    # Transactional: the queue's token moves once a write commits.
    settings.CADENCE_SHARED_CACHE = True
    cache_clear()
    user = person("quinn")
    topic = TopicFactory(order=0)
    cards = CardFactory.create_batch(30, topic=topic)
    rng = random.Random(7)
    # Due reviews of every lateness and interval, a few not due, and cards never seen.
    for card in cards[:24]:
        interval = rng.choice([1, 2, 3, 6, 15, 40])
        late = rng.randint(-2, 12)
        ReviewState.objects.create(
            user=user,
            card=card,
            repetitions=3,
            interval=interval,
            easiness=2.5,
            due=TODAY - dt.timedelta(days=late),
            introduced_on=TODAY - dt.timedelta(days=60),
            last_reviewed_at=NOW - dt.timedelta(days=interval + late),
        )
    with time_machine.travel(NOW, tick=False):
        yield user
    cache_clear()


def _read(user: Any, limits: DailyLimits = LIMITS) -> tuple[QueueCounts, NextCard | None]:
    # As the drill reads them: the next review with the counts.
    counts = queue_counts(user=user, limits=limits, today=TODAY, with_next=True)
    return counts, next_card(user=user, counts=counts, today=TODAY)


def _database_alone(user: Any, limits: DailyLimits = LIMITS) -> tuple[QueueCounts, NextCard | None]:
    with override_settings(CADENCE_SHARED_CACHE=False):
        return _read(user, limits)


def _shown(shown: NextCard | None) -> tuple[int, str] | None:
    return None if shown is None else (shown.card.pk, shown.section)


def _same_queue(user: Any, limits: DailyLimits = LIMITS) -> NextCard | None:
    kept, kept_next = _read(user, limits)
    assert kept.reviews is not None, "the day's reviews were not kept"
    plain, plain_next = _database_alone(user, limits)
    assert plain.reviews is None
    assert kept == plain
    assert _shown(kept_next) == _shown(plain_next)
    return kept_next


def _grade(user: Any, shown: NextCard, quality: int, limits: DailyLimits = LIMITS) -> None:
    review_grade(
        user=user,
        card_id=shown.card.pk,
        quality=quality,
        now=NOW,
        shown_version=shown.state.version if shown.state else 0,
        zone=UTC,
        limits=limits,
    )


@pytest.mark.parametrize("limits", [LIMITS, ROOMY, TIGHT], ids=["review-limit", "roomy", "backlog"])
def test_a_morning_of_grades_and_failures_is_the_same_queue(
    learner: Any, limits: DailyLimits
) -> None:
    rng = random.Random(3)
    due = ReviewState.objects.filter(user=learner, due__lte=TODAY).count()
    assert dayqueue.COUNTED * TIGHT.max_reviews_per_day < due < ROOMY.max_reviews_per_day
    seen = 0
    while (shown := _same_queue(learner, limits)) is not None:
        _grade(learner, shown, rng.choice([1, 3, 4, 4, 5]), limits)
        seen += 1
        assert seen < 200
    # Every review due or the limit's worth, the new cards met, every failure repeated.
    counts, _ = _read(learner, limits)
    assert counts.reviewed_today == min(limits.max_reviews_per_day, due)
    assert counts.new_today == limits.new_cards_per_day
    assert counts.total == 0


@pytest.mark.parametrize("write", ["undo", "suspend", "unsuspend", "bury", "unbury", "reset"])
def test_a_write_that_puts_a_card_back_or_takes_it_out_is_seen_at_once(
    learner: Any, write: str
) -> None:
    for _ in range(3):
        shown = _same_queue(learner)
        assert shown is not None
        _grade(learner, shown, 4)
    head = _same_queue(learner)
    assert head is not None
    assert head.section == "due"
    card = head.card
    if write == "undo":
        review_undo(user=learner, now=NOW, zone=UTC)
    elif write in {"suspend", "unsuspend"}:
        review_suspend(user=learner, card=card, suspended=True, now=NOW, zone=UTC)
        if write == "unsuspend":
            _same_queue(learner)
            review_suspend(user=learner, card=card, suspended=False, now=NOW, zone=UTC)
    elif write in {"bury", "unbury"}:
        review_bury(user=learner, card=card, buried=True, now=NOW, zone=UTC)
        if write == "unbury":
            _same_queue(learner)
            review_bury(user=learner, card=card, buried=False, now=NOW, zone=UTC)
    else:
        cards_reset(user=learner, card_ids=[card.pk], now=NOW, zone=UTC)
    after = _same_queue(learner)
    assert after is not None
    if write in {"undo", "unsuspend", "unbury"}:
        # The card that came back is the most overdue again, or an earlier one is.
        assert after.section == "due"
    else:
        assert after.card.pk != card.pk


def test_a_card_graded_in_another_tab_is_passed_over(learner: Any) -> None:
    shown = _same_queue(learner)
    assert shown is not None
    kept, _ = _read(learner)
    assert kept.reviews is not None
    # Another tab grades the next few reviews of the kept order, not the one shown here.
    for state_id in kept.reviews.ids[1:4]:
        state = ReviewState.objects.select_related("card").get(pk=state_id)
        _grade(learner, NextCard(card=state.card, state=state, section="due"), 5)
    again = _same_queue(learner)
    assert again is not None
    assert again.card.pk == shown.card.pk
    _grade(learner, again, 4)
    after = _same_queue(learner)
    assert after is not None
    assert after.state is not None
    assert after.state.pk not in kept.reviews.ids[:4]


def test_a_whole_window_graded_elsewhere_reads_the_day_again(learner: Any) -> None:
    kept, _ = _read(learner)
    assert kept.reviews is not None
    assert len(kept.reviews.ids) > dayqueue.WINDOW
    for state_id in kept.reviews.ids[: dayqueue.WINDOW + 1]:
        state = ReviewState.objects.select_related("card").get(pk=state_id)
        _grade(learner, NextCard(card=state.card, state=state, section="due"), 5)
    shown = _same_queue(learner)
    assert shown is not None
    assert shown.state is not None
    assert shown.state.pk == kept.reviews.ids[dayqueue.WINDOW + 1]


def test_a_lost_cache_costs_a_reading_never_a_wrong_card(learner: Any) -> None:
    for step in range(8):
        shown = _same_queue(learner)
        assert shown is not None
        _grade(learner, shown, 4)
        if step % 3 == 0:
            cache_clear()
        elif step % 3 == 1:
            # Only the remembered start is lost: the ids are read from the first again.
            cache.delete_many([key for key in _start_keys(learner)])
    _same_queue(learner)


def _start_keys(user: Any) -> list[str]:
    return [f"cards:day-reviews:{user.pk}:{TODAY.isoformat()}:{LIMITS.max_reviews_per_day}:start"]


def test_a_retired_built_in_card_leaves_the_reviews_at_the_deck_load(learner: Any) -> None:
    from cards.versions import deck_changed

    shown = _same_queue(learner)
    assert shown is not None
    Card.objects.filter(pk=shown.card.pk).update(retired_at=NOW)
    deck_changed()  # as cards.services.deck_load does
    after = _same_queue(learner)
    assert after is not None
    assert after.card.pk != shown.card.pk


def test_another_persons_reviews_are_never_read(learner: Any) -> None:
    other = person("rhea")
    for card in Card.objects.all()[:10]:
        ReviewState.objects.create(
            user=other,
            card=card,
            repetitions=3,
            interval=1,
            due=TODAY - dt.timedelta(days=50),
            introduced_on=TODAY - dt.timedelta(days=80),
            last_reviewed_at=NOW - dt.timedelta(days=51),
        )
    kept, _ = _read(learner)
    assert kept.reviews is not None
    mine = set(ReviewState.objects.filter(user=learner).values_list("id", flat=True))
    assert set(kept.reviews.ids) <= mine
    _same_queue(other)
    _same_queue(learner)


# With the day's reviews kept, the drill reads the user, then the counts and the next
# review in one statement; a grade also reads the state with its card, writes it with the
# log (one statement on PostgreSQL, two and a savepoint's pair under pytest elsewhere) and
# looks for the week's open drill item of the card's topic.
KEPT_GET_QUERIES = 2
KEPT_GRADE_QUERIES = 5 if connection.vendor == "postgresql" else 8


def test_the_drill_reads_the_kept_reviews_in_a_bounded_number_of_queries(
    learner: Any, client: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(learner)
    htmx = {"HX-Request": "true"}
    client.get("/review/", headers=htmx)  # reads the day's reviews
    with django_assert_max_num_queries(KEPT_GET_QUERIES):
        response = client.get("/review/", headers=htmx)
    assert response.status_code == 200
    for _ in range(3):
        with django_assert_max_num_queries(KEPT_GRADE_QUERIES):
            response = client.post(
                "/review/grade/",
                {**_on_screen(response.content.decode()), "quality": 4},
                headers=htmx,
            )
        assert response.status_code == 200
    assert ReviewLog.objects.filter(user=learner).count() == 3


def _on_screen(html: str) -> dict[str, str]:
    found = {name: re.search(rf'name="{name}" value="(\d+)"', html) for name in ("card", "version")}
    assert all(found.values()), "the drill showed no card"
    return {name: match.group(1) for name, match in found.items() if match}


# --- the unseen cards' order, kept (dayqueue.day_unseen) -----------------------------------

NEW_ONLY = DailyLimits(new_cards_per_day=12, max_reviews_per_day=50)


@pytest.fixture
def newcomer(settings: Any, transactional_db: Any) -> Iterator[tuple[Any, list[int]]]:
    """Someone with no state yet (no rollover brought cards in): 45 own cards in three
    topics, and the plan week's topic, the second, to meet first."""
    settings.CADENCE_SHARED_CACHE = True
    cache_clear()
    user = person("nova")
    topics = [TopicFactory(owner=user, order=i) for i in range(3)]
    for i in range(45):
        CardFactory(topic=topics[i % 3], owner=user, position=i)
    with time_machine.travel(NOW, tick=False):
        yield user, [topics[1].pk]
    cache_clear()


def _new_read(user: Any, topics: list[int]) -> tuple[QueueCounts, NextCard | None]:
    counts = queue_counts(user=user, limits=NEW_ONLY, today=TODAY, with_next=True)
    return counts, next_card(user=user, counts=counts, today=TODAY, priority_topic_ids=topics)


def _same_new_card(user: Any, topics: list[int]) -> NextCard | None:
    kept, kept_next = _new_read(user, topics)
    with override_settings(CADENCE_SHARED_CACHE=False):
        plain, plain_next = _new_read(user, topics)
    assert kept == plain
    assert _shown(kept_next) == _shown(plain_next)
    return kept_next


def test_a_morning_of_first_answers_meets_the_cards_in_the_same_order(
    newcomer: tuple[Any, list[int]],
) -> None:
    user, topics = newcomer
    rng = random.Random(5)
    met = []
    while (shown := _same_new_card(user, topics)) is not None:
        if shown.section == "new":
            met.append(shown.card)
        _grade(user, shown, rng.choice([2, 4, 5]), NEW_ONLY)
        assert len(met) <= NEW_ONLY.new_cards_per_day
    assert len(met) == NEW_ONLY.new_cards_per_day
    # The plan week's topic first, in deck order.
    assert all(card.topic_id == topics[0] for card in met)
    assert [card.position for card in met] == sorted(card.position for card in met)


def test_the_order_is_read_once_and_cards_met_elsewhere_are_passed_over(
    newcomer: tuple[Any, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    user, topics = newcomer
    reads = []
    read = dayqueue._read_unseen
    monkeypatch.setattr(
        dayqueue, "_read_unseen", lambda *args: reads.append(args[0]) or read(*args)
    )
    first = _same_new_card(user, topics)
    assert first is not None
    assert len(reads) == 1
    kept = dayqueue.day_unseen(user_id=user.pk, name=reads[0].split(":", 3)[3], read=list)
    assert kept is not None
    # Another tab answers the next cards of the order, past a whole window.
    for card_id in kept.ids[: dayqueue.WINDOW + 2]:
        card = Card.objects.get(pk=card_id)
        _grade(user, NextCard(card=card, state=None, section="new"), 5, NEW_ONLY)
    shown = _same_new_card(user, topics)
    assert shown is not None
    assert shown.card.pk == kept.ids[dayqueue.WINDOW + 2]
    # Read again once, for the window found wholly met; then kept again.
    assert len(reads) == 2
    _same_new_card(user, topics)
    assert len(reads) == 2


def test_a_card_moved_into_the_weeks_topic_takes_its_place_at_once(
    newcomer: tuple[Any, list[int]],
) -> None:
    user, topics = newcomer
    first = _same_new_card(user, topics)
    assert first is not None
    assert first.card.topic_id == topics[0]
    earliest = Card.objects.filter(owner=user).exclude(topic_id=topics[0]).order_by("position")[0]
    assert earliest.position < first.card.position
    card_move(card=earliest, topic=Topic.objects.get(pk=topics[0]))
    shown = _same_new_card(user, topics)
    assert shown is not None
    assert shown.card.pk == earliest.pk
