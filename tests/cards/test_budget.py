"""Interview mode in the nightly rollover: the day's time budget, the overflow spread most
at-risk first (never dropped), and the final sweep."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cards.interview import Horizon
from cards.memory import Model
from cards.models import Card, ReviewLog, ReviewState
from cards.queue import DailyLimits, DueCard
from cards.rollover import MAX_SWEEP_DAYS, rollover_prepare, spread, sweep, sweep_days
from tests.integration.builders import deck, reviewed

DAY = dt.date(2027, 3, 1)


def test_the_overflow_keeps_the_lowest_recall_today_and_moves_the_rest() -> None:
    cards = [
        DueCard(state_id=i, card_id=i, due=DAY, interval=5, recall=recall)
        for i, recall in enumerate([0.95, 0.40, 0.80, 0.60, 0.99])
    ]
    moves = spread(cards=cards, day=DAY, cap=2, later_cap=2, already_due={}, at_risk_first=True)
    assert set(moves) == {0, 2, 4}  # 0.40 and 0.60 stay today
    assert moves[2] == moves[0] == DAY + dt.timedelta(days=1)
    assert moves[4] == DAY + dt.timedelta(days=2)


def test_the_sweep_is_longer_with_more_cards_and_shorter_with_more_time() -> None:
    assert sweep_days(cards=10, cap=100) == 1
    assert sweep_days(cards=250, cap=100) == 3
    assert sweep_days(cards=250, cap=250) == 1
    assert sweep_days(cards=10_000, cap=100) == MAX_SWEEP_DAYS


def test_the_sweep_puts_the_weakest_first_into_the_room_left_and_drops_none() -> None:
    days = [DAY, DAY + dt.timedelta(days=1)]
    recalls = {1: 0.8, 2: 0.3, 3: 0.5, 4: 0.7, 5: 0.6}
    moves = sweep(recalls=recalls, days=days, cap=3, already_due={DAY: 1, days[1]: 2})
    assert [s for s in sorted(moves, key=lambda s: recalls[s])] == [2, 3, 5, 4, 1]
    assert (moves[2], moves[3], moves[5]) == (DAY, DAY, days[1])
    assert set(moves) == set(recalls)  # over the cap rather than dropped


def limits(interview: dt.date, minutes: float, cap: int = 500) -> DailyLimits:
    return DailyLimits(
        new_cards_per_day=0,
        max_reviews_per_day=cap,
        horizon=Horizon(interview=interview),
        minutes_per_day=minutes,
    )


def memorise(states: list[ReviewState], *, stability: float, on: dt.date) -> None:
    for state in states:
        state.stability, state.difficulty, state.memory_on = stability, 5.0, on
    ReviewState.objects.bulk_update(states, ["stability", "difficulty", "memory_on"])


def test_the_day_holds_the_minutes_at_the_measured_pace_and_the_rest_waits(owner: Any) -> None:
    (topic,) = deck(topics=1, cards_each=30)
    cards = list(Card.objects.order_by("id"))
    weak = reviewed(owner, cards[:10], due=DAY)
    strong = reviewed(owner, cards[10:], due=DAY)
    memorise(weak, stability=1.0, on=DAY - dt.timedelta(days=5))
    memorise(strong, stability=50.0, on=DAY - dt.timedelta(days=5))
    # Answers of 12 s measured: 2 minutes hold 10 reviews.
    ReviewLog.objects.bulk_create(
        ReviewLog(
            user=owner,
            card=cards[0],
            quality=4,
            reviewed_at=dt.datetime(2027, 2, 20, 9, tzinfo=dt.UTC),
            local_date=dt.date(2027, 2, 20),
            answer_ms=12_000,
            repetitions_before=1,
            interval_before=1,
            easiness_before=2.5,
            repetitions_after=2,
            interval_after=6,
            easiness_after=2.5,
            due_after=DAY,
        )
        for _ in range(5)
    )
    prepared = rollover_prepare(
        user_id=owner.pk,
        day=DAY,
        limits=limits(DAY + dt.timedelta(days=40), minutes=2),
        topic_ids=[topic.pk],
    )
    assert prepared.moved == 20
    today = set(ReviewState.objects.filter(user=owner, due=DAY).values_list("id", flat=True))
    assert today == {s.pk for s in weak}
    assert ReviewState.objects.filter(user=owner).count() == 30
    later = list(ReviewState.objects.filter(user=owner, due__gt=DAY).values_list("due", flat=True))
    assert max(later) == DAY + dt.timedelta(days=2)


def test_without_an_interview_the_budget_and_the_sweep_do_nothing(owner: Any) -> None:
    (topic,) = deck(topics=1, cards_each=12)
    states = reviewed(owner, list(Card.objects.all()), due=DAY)
    memorise(states, stability=1.0, on=DAY - dt.timedelta(days=5))
    prepared = rollover_prepare(
        user_id=owner.pk,
        day=DAY,
        limits=DailyLimits(new_cards_per_day=0, max_reviews_per_day=500, minutes_per_day=0.1),
        topic_ids=[topic.pk],
    )
    assert (prepared.moved, prepared.swept) == (0, 0)


def test_the_final_sweep_brings_back_cards_that_would_be_below_target(owner: Any) -> None:
    (topic,) = deck(topics=1, cards_each=12)
    cards = list(Card.objects.order_by("id"))
    interview = DAY + dt.timedelta(days=2)
    after = interview + dt.timedelta(days=30)
    weak = reviewed(owner, cards[:6], due=after)
    strong = reviewed(owner, cards[6:], due=after)
    memorise(weak, stability=3.0, on=DAY - dt.timedelta(days=10))
    memorise(strong, stability=500.0, on=DAY - dt.timedelta(days=10))
    assert Model().retrievability(weak[0].memory, 12) < 0.9
    # Far from the day: no sweep yet (6 cards fit in one day at this budget).
    early = rollover_prepare(
        user_id=owner.pk,
        day=DAY - dt.timedelta(days=5),
        limits=limits(interview, minutes=10),
        topic_ids=[topic.pk],
    )
    assert early.swept == 0
    prepared = rollover_prepare(
        user_id=owner.pk,
        day=interview - dt.timedelta(days=1),
        limits=limits(interview, 10),
        topic_ids=[topic.pk],
    )
    # The weak ones only: the strong ones stay after the day, though the day's 75 reviews
    # would hold them (a look at a card known on the day is time for nothing).
    assert prepared.swept == 6
    assert set(
        ReviewState.objects.filter(pk__in=[s.pk for s in weak]).values_list("due", flat=True)
    ) == {interview - dt.timedelta(days=1)}
    assert set(
        ReviewState.objects.filter(pk__in=[s.pk for s in strong]).values_list("due", flat=True)
    ) == {after}


def test_the_final_sweep_brings_every_weak_card_back_over_the_budget_if_need_be(
    owner: Any,
) -> None:
    deck(topics=1, cards_each=12)
    cards = list(Card.objects.order_by("id"))
    interview = DAY + dt.timedelta(days=1)
    after = interview + dt.timedelta(days=30)
    weak = reviewed(owner, cards[:9], due=after)
    strong = reviewed(owner, cards[9:], due=after)
    memorise(weak, stability=3.0, on=DAY - dt.timedelta(days=10))
    memorise(strong, stability=500.0, on=DAY - dt.timedelta(days=10))
    # One minute at 8 s a review: 7 reviews today, yet all 9 weak cards come back (never
    # dropped), and none of the strong ones.
    prepared = rollover_prepare(
        user_id=owner.pk, day=DAY, limits=limits(interview, minutes=1), topic_ids=[]
    )
    assert prepared.swept == 9
    assert ReviewState.objects.filter(pk__in=[s.pk for s in weak], due=DAY).count() == 9
    assert ReviewState.objects.filter(pk__in=[s.pk for s in strong], due=DAY).count() == 0
