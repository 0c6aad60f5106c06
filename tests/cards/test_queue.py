"""Today's queue counts. The rule that turns raw counts into the queue is written once
(cards.queue._queue); the raw counts are read two ways, one user's in one capped statement
(the drill's) and many users' in grouped queries (the digest's). The comparison below
tests those two SQL readings against each other, at and around every limit."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.db import connection

from cards.interview import Horizon
from cards.models import Card, ReviewLog, ReviewState
from cards.queue import (
    DailyLimits,
    _counts_sql,
    _unseen_count_sql,
    counts_statement,
    queue_counts,
    queue_counts_many,
)
from cards.statements import built, unplanned
from tests.factories import CardFactory, TopicFactory, deck_with_history

TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC)


def state(user: Any, card: Card, **fields: Any) -> ReviewState:
    values: dict[str, Any] = {
        "repetitions": 2,
        "interval": 6,
        "easiness": 2.5,
        "due": TODAY - dt.timedelta(days=1),
        "introduced_on": TODAY - dt.timedelta(days=30),
        "last_reviewed_at": NOW - dt.timedelta(days=6),
        **fields,
    }
    return ReviewState.objects.create(user=user, card=card, **values)


def log(user: Any, card: Card, *, repetitions_before: int, is_repeat: bool = False) -> None:
    ReviewLog.objects.create(
        user=user,
        card=card,
        quality=4,
        reviewed_at=NOW,
        local_date=TODAY,
        is_repeat=is_repeat,
        repetitions_before=repetitions_before,
        interval_before=1,
        easiness_before=2.5,
        repetitions_after=1,
        interval_after=1,
        easiness_after=2.5,
        due_after=TODAY,
    )


@pytest.fixture
def deck(owner: Any, other_user: Any) -> dict[str, list[Card]]:
    """Eight due reviews, one suspended, two repeats, three waiting new cards, one retired
    built-in card with a due state, four unseen cards (one of them the owner's own), two
    reviews and one first answer done today; the other user holds states of their own."""
    topic = TopicFactory()
    cards = CardFactory.create_batch(20, topic=topic)
    due, repeats, waiting, unseen = cards[:8], cards[8:10], cards[10:13], cards[13:16]
    for n, card in enumerate(due):
        state(owner, card, due=TODAY - dt.timedelta(days=n))
    state(owner, cards[16], suspended=True)
    for card in repeats:
        state(owner, card, repeat_on=TODAY)
    for card in waiting:
        state(owner, card, last_reviewed_at=None, repetitions=0, due=TODAY)
    retired = CardFactory(topic=topic, retired_at=NOW)
    state(owner, retired)
    unseen.append(CardFactory(topic=topic, owner=owner))
    log(owner, cards[17], repetitions_before=2)
    log(owner, cards[18], repetitions_before=3)
    log(owner, cards[19], repetitions_before=0)
    log(owner, cards[17], repetitions_before=2, is_repeat=True)
    for card in cards[:12]:
        state(other_user, card)
    return {"due": due, "unseen": unseen}


LIMITS = [
    DailyLimits(new_cards_per_day=new, max_reviews_per_day=reviews)
    for new, reviews in itertools.product((0, 1, 3, 4, 6, 20), (0, 1, 2, 9, 10, 11, 200))
]
# Interview mode once new cards no longer fit: the new-card room depends on the reviews due.
INTERVIEW = [
    DailyLimits(
        new_cards_per_day=new,
        max_reviews_per_day=reviews,
        horizon=Horizon(interview=TODAY + dt.timedelta(days=3)),
        minutes_per_day=minutes,
    )
    for new, reviews, minutes in itertools.product((2, 10), (3, 8, 12, 40), (None, 1.0, 3.0))
]


@pytest.mark.parametrize("limits", LIMITS + INTERVIEW)
def test_one_users_capped_reading_gives_the_many_user_readings_counts(
    deck: Any, owner: Any, limits: DailyLimits
) -> None:
    # Two SQL readings of the same raw counts (capped vs grouped), one rule after both.
    many = queue_counts_many(limits={owner.pk: limits}, today=TODAY)[owner.pk]
    assert queue_counts(user=owner, limits=limits, today=TODAY) == many


def test_the_counts_see_what_each_kind_of_card_adds(deck: Any, owner: Any) -> None:
    limits = DailyLimits(new_cards_per_day=20, max_reviews_per_day=200)
    counts = queue_counts(user=owner, limits=limits, today=TODAY)
    # The retired card's state is not due; the suspended one neither.
    assert (counts.due, counts.repeat, counts.reviewed_today, counts.new_today) == (8, 2, 2, 1)
    # Three waiting, and seven unseen (the four, and three graded elsewhere with no state),
    # under a room of 20 less the one answered.
    assert counts.new == 10


def test_the_counts_are_capped_at_the_days_limits(deck: Any, owner: Any) -> None:
    limits = DailyLimits(new_cards_per_day=3, max_reviews_per_day=5)
    counts = queue_counts(user=owner, limits=limits, today=TODAY)
    assert (counts.due, counts.new) == (3, 2)


def test_a_user_with_nothing_has_nothing_to_do(db: Any, owner: Any) -> None:
    limits = DailyLimits(new_cards_per_day=20, max_reviews_per_day=200)
    counts = queue_counts(user=owner, limits=limits, today=TODAY)
    assert counts.total == 0
    assert counts == queue_counts_many(limits={owner.pk: limits}, today=TODAY)[owner.pk]


@pytest.mark.parametrize(("new_limit", "review_limit"), [(10, 200), (0, 50), (3, 0)])
def test_the_counts_statement_built_once_binds_to_any_user_and_day(
    db: Any, new_limit: int, review_limit: int
) -> None:
    limits = {"new_limit": new_limit, "review_limit": review_limit}
    texts = set()
    # User ids no constant of the statement takes (the fresh build finds them by value).
    for user_id, today in (
        (7, TODAY),
        (123_456, dt.date(2031, 2, 28)),
        (98_765, dt.date(2000, 1, 1)),
    ):
        sql, params = _counts_sql(user_id=user_id, today=today, **limits)
        if connection.vendor == "postgresql":
            fresh = built(sql, params, {"user": user_id, "day": today})
            sql = unplanned(fresh, ("user", "day")).sql
        assert counts_statement(user_id=user_id, today=today, **limits) == (sql, params)
        texts.add(sql)
    # The user and the day are parameters only: the SQL text is the same for all.
    assert len(texts) == 1


@pytest.mark.postgresql
def test_the_counts_statement_is_planned_once_not_on_every_request(owner: Any) -> None:
    # A history on past days, analysed: today is the rarest date in the statistics, so a
    # plan made for today's values looks cheaper than the generic one.
    deck_with_history(owner, now=NOW, cards=5000, logs_per_card=2)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    limits = DailyLimits(new_cards_per_day=10, max_reviews_per_day=200)
    # Prepared after five runs (the connection's threshold); planned for its values five
    # times more, then PostgreSQL keeps the generic plan or plans every run again.
    for _ in range(15):
        queue_counts(user=owner, limits=limits, today=TODAY, with_next=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'SELECT logged.%%'"
        )
        (generic, custom), *others = cursor.fetchall()
    assert not others
    assert (generic, custom) == (5, 5)


@pytest.mark.parametrize("seen", ["first", "last", "every other", "none", "all"])
@pytest.mark.parametrize("new_limit", [1, 5, 12, 40])
def test_the_own_unseen_cards_are_counted_wherever_they_sit_in_the_deck(
    db: Any, owner: Any, other_user: Any, seen: str, new_limit: int
) -> None:
    # The own unseen cards are looked for from the last position back: the count is the
    # same whichever positions were met already, and another person's cards never count.
    topic = TopicFactory(owner=owner)
    own = [CardFactory(topic=topic, owner=owner, position=i) for i in range(20)]
    CardFactory.create_batch(3, topic=TopicFactory(owner=other_user), owner=other_user)
    CardFactory.create_batch(2, topic=TopicFactory())  # built-in, unseen
    met = {
        "first": own[:12],
        "last": own[8:],
        "every other": own[::2],
        "none": [],
        "all": own,
    }[seen]
    for card in met:
        state(owner, card, due=TODAY + dt.timedelta(days=5))
    limits = DailyLimits(new_cards_per_day=new_limit, max_reviews_per_day=50)
    counts = queue_counts(user=owner, limits=limits, today=TODAY)
    assert counts.new == min(new_limit, 20 - len(met) + 2)
    assert counts == queue_counts_many(limits={owner.pk: limits}, today=TODAY)[owner.pk]


def test_the_unseen_count_names_each_owner_without_the_visibility_or(db: Any) -> None:
    # The statement is prepared: under its generic plan, the same for everyone, an
    # "owner IS NULL ... OR owner = %s" beside "owner = %s" read every card of a big deck.
    sql, params = _unseen_count_sql(user_id=7, cap=10)
    assert " OR " not in sql.upper()
    assert list(params).count(7) == 3  # the own cards' owner, and the states' user twice
