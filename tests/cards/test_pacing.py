"""Interview mode paces new cards to the date: the track's unseen cards shared over the
days a card met for the first time can still be learned, within the day's budget."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from cards.interview import Horizon, new_card_days_open, new_card_pace, new_cards_open
from cards.memory import Model
from cards.models import Card, ReviewState
from cards.queue import DailyLimits, queue_counts
from cards.rollover import rollover_prepare
from tests.integration.builders import deck, reviewed

DAY = dt.date(2027, 3, 1)


def test_the_open_days_end_where_a_card_met_could_no_longer_be_learned() -> None:
    horizon = Horizon(interview=DAY + dt.timedelta(days=14))
    days = new_card_days_open(today=DAY, horizon=horizon)
    assert 0 < days < 14
    last_open = DAY + dt.timedelta(days=days - 1)
    assert new_cards_open(model=Model(), today=last_open, horizon=horizon)
    assert not new_cards_open(
        model=Model(), today=last_open + dt.timedelta(days=1), horizon=horizon
    )
    assert new_card_days_open(today=last_open + dt.timedelta(days=1), horizon=horizon) == 0
    assert new_card_days_open(today=DAY, horizon=Horizon()) == 0


def test_the_pace_shares_the_unseen_cards_over_the_open_days_rounded_up() -> None:
    horizon = Horizon(interview=DAY + dt.timedelta(days=14))
    days = new_card_days_open(today=DAY, horizon=horizon)
    assert new_card_pace(unseen=354, today=DAY, horizon=horizon) == -(-354 // days)
    assert new_card_pace(unseen=0, today=DAY, horizon=horizon) == 0
    assert new_card_pace(unseen=354, today=DAY, horizon=Horizon()) == 0
    assert new_card_pace(unseen=354, today=horizon.interview, horizon=horizon) == 0


def paced_limits(
    interview: dt.date, *, paced: int, on: dt.date, minutes: float = 15
) -> DailyLimits:
    return DailyLimits(
        new_cards_per_day=10,
        max_reviews_per_day=500,
        horizon=Horizon(interview=interview),
        minutes_per_day=minutes,  # 112 showings at 8 s
        paced_new_cards=paced,
        paced_on=on,
    )


def test_the_pace_raises_the_days_new_cards_as_far_as_the_budget_holds_them() -> None:
    limits = paced_limits(DAY + dt.timedelta(days=14), paced=30, on=DAY)
    assert limits.new_cards_on(DAY, reviews_due=0) == 30
    # 112 showings less 60 reviews leave 26 (two showings a new card).
    assert limits.new_cards_on(DAY, reviews_due=60) == 26
    # Never below the person's own limit while new cards are open.
    assert limits.new_cards_on(DAY, reviews_due=110) == 10
    assert limits.new_cards_ceiling(DAY) == 30
    # The pace is the rollover's of that day only; a pace below the limit changes nothing.
    assert limits.new_cards_on(DAY + dt.timedelta(days=1), reviews_due=0) == 10
    assert limits.new_cards_ceiling(DAY + dt.timedelta(days=1)) == 10
    assert (
        paced_limits(DAY + dt.timedelta(days=14), paced=4, on=DAY).new_cards_on(DAY, reviews_due=0)
        == 10
    )
    # No new cards at all, the person's choice, stands.
    none = replace(limits, new_cards_per_day=0)
    assert (none.new_cards_on(DAY, reviews_due=0), none.new_cards_ceiling(DAY)) == (0, 0)
    # On and after the interview: as without one.
    after = paced_limits(DAY, paced=30, on=DAY)
    assert after.new_cards_on(DAY, reviews_due=0) == 10


def test_the_rollover_paces_the_tracks_cards_and_the_drill_shows_them(owner: Any) -> None:
    topics = deck(topics=3, cards_each=40)
    interview = DAY + dt.timedelta(days=10)
    limits = DailyLimits(
        new_cards_per_day=5,
        max_reviews_per_day=500,
        horizon=Horizon(interview=interview),
        minutes_per_day=30,
    )
    track = [t.pk for t in topics[:2]]  # 80 cards to meet; the third topic is not the track's
    prepared = rollover_prepare(
        user_id=owner.pk, day=DAY, limits=limits, topic_ids=[topics[0].pk], track_topic_ids=track
    )
    expected = new_card_pace(unseen=80, today=DAY, horizon=limits.horizon)
    assert expected > limits.new_cards_per_day
    assert prepared.paced == expected
    # Brought in from the week's topic, and all of them in the day's queue.
    assert prepared.introduced == expected
    assert ReviewState.objects.filter(user=owner, card__topic=topics[0]).count() == expected
    kept = replace(limits, paced_new_cards=prepared.paced, paced_on=DAY)
    assert queue_counts(user=owner, limits=kept, today=DAY).new == expected
    # Idempotent: the same night again brings in nothing more.
    again = rollover_prepare(
        user_id=owner.pk, day=DAY, limits=kept, topic_ids=[topics[0].pk], track_topic_ids=track
    )
    assert (again.introduced, again.paced) == (0, expected)
    # Without a track (or an interview) there is no pace.
    plain = rollover_prepare(user_id=owner.pk, day=DAY, limits=limits, topic_ids=[])
    assert plain.paced == 0


def test_with_cards_left_to_meet_a_full_day_of_reviews_leaves_time_for_new_ones() -> None:
    interview = DAY + dt.timedelta(days=30)
    five_minutes = DailyLimits(
        new_cards_per_day=10,
        max_reviews_per_day=500,
        horizon=Horizon(interview=interview),
        minutes_per_day=5,  # 37 showings at 8 s
    )
    assert five_minutes.review_cap(day=DAY, seconds_per_review=8) == 37
    # 30% of the day (11 showings) stays for new cards; the rest of the reviews move on.
    assert five_minutes.reviews_kept(day=DAY, seconds_per_review=8, cards_to_meet=True) == 26
    assert five_minutes.reviews_kept(day=DAY, seconds_per_review=8, cards_to_meet=False) == 37
    # Plenty of time: the new cards' two showings each, no more.
    hour = replace(five_minutes, minutes_per_day=60)
    assert hour.reviews_kept(day=DAY, seconds_per_review=8, cards_to_meet=True) == 450 - 20
    # Once a new card could no longer be learned by the date, reviews keep the whole day.
    late = interview - dt.timedelta(days=1)
    assert five_minutes.reviews_kept(day=late, seconds_per_review=8, cards_to_meet=True) == 37
    # No interview: the review limit, as always.
    plain = DailyLimits(new_cards_per_day=10, max_reviews_per_day=150)
    assert plain.reviews_kept(day=DAY, seconds_per_review=8, cards_to_meet=True) == 150


def test_the_rollover_moves_reviews_to_leave_the_new_cards_their_time(owner: Any) -> None:
    topics = deck(topics=1, cards_each=60)
    cards = list(Card.objects.order_by("id"))
    reviewed(owner, cards[:50], due=DAY)  # 50 due; 10 cards never met
    limits = DailyLimits(
        new_cards_per_day=10,
        max_reviews_per_day=500,
        horizon=Horizon(interview=DAY + dt.timedelta(days=30)),
        minutes_per_day=5,
    )
    prepared = rollover_prepare(user_id=owner.pk, day=DAY, limits=limits, topic_ids=[topics[0].pk])
    assert prepared.moved == 50 - 26
    counts = queue_counts(user=owner, limits=limits, today=DAY)
    assert (counts.due, counts.new) == (26, 10)
    assert ReviewState.objects.filter(user=owner, due=DAY + dt.timedelta(days=1)).count() == 24
