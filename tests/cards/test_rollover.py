"""cards.rollover: the nightly rollover (new cards in, backlog spread out)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cards.models import Card, ReviewState
from cards.queue import DailyLimits, DueCard, next_card, overdue_order, queue_counts
from cards.rollover import rollover_prepare, spread
from prep.models import Profile
from tests.integration.builders import deck, reviewed

DAY = dt.date(2026, 11, 23)


def due_card(state_id: int, *, days_late: int, interval: int) -> DueCard:
    return DueCard(
        state_id=state_id,
        card_id=state_id,
        due=DAY - dt.timedelta(days=days_late),
        interval=interval,
    )


# --- The order and the spreading, pure --------------------------------------------------


def test_the_card_most_overdue_for_its_interval_comes_first() -> None:
    three_late_on_two = due_card(1, days_late=3, interval=2)
    ten_late_on_thirty = due_card(2, days_late=10, interval=30)
    on_time = due_card(3, days_late=0, interval=1)
    ordered = sorted(
        [ten_late_on_thirty, on_time, three_late_on_two], key=lambda c: overdue_order(c, DAY)
    )
    assert [c.state_id for c in ordered] == [1, 2, 3]


def test_ties_go_to_the_earlier_due_date_then_the_shorter_interval() -> None:
    a = due_card(1, days_late=2, interval=2)  # 1.0 behind
    b = due_card(2, days_late=4, interval=4)  # 1.0 behind, due earlier
    c = due_card(3, days_late=0, interval=6)
    d = due_card(4, days_late=0, interval=1)
    assert [x.state_id for x in sorted([a, b, c, d], key=lambda x: overdue_order(x, DAY))] == [
        2,
        1,
        4,
        3,
    ]


def test_nothing_moves_when_the_backlog_fits_the_cap() -> None:
    cards = [due_card(i, days_late=i, interval=1) for i in range(5)]
    assert spread(cards=cards, day=DAY, cap=5, later_cap=5, already_due={}) == {}


def test_the_surplus_fills_the_next_days_up_to_the_cap_in_order() -> None:
    cards = [due_card(i, days_late=10 - i, interval=1) for i in range(10)]
    already = {DAY + dt.timedelta(days=1): 2}
    moves = spread(cards=cards, day=DAY, cap=4, later_cap=4, already_due=already)
    # The four most overdue stay today (ids 0..3); tomorrow has room for 2, then 4 a day.
    assert set(moves) == set(range(4, 10))
    assert [moves[i] for i in range(4, 10)] == [
        DAY + dt.timedelta(days=1),
        DAY + dt.timedelta(days=1),
        DAY + dt.timedelta(days=2),
        DAY + dt.timedelta(days=2),
        DAY + dt.timedelta(days=2),
        DAY + dt.timedelta(days=2),
    ]


@given(
    lates=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 90)), max_size=80),
    cap=st.integers(0, 20),
    later_cap=st.integers(1, 20),
    already=st.dictionaries(st.integers(1, 10), st.integers(0, 25), max_size=10),
)
def test_spreading_keeps_the_cap_and_drops_nothing(
    lates: list[tuple[int, int]], cap: int, later_cap: int, already: dict[int, int]
) -> None:
    cards = [due_card(i, days_late=late, interval=ivl) for i, (late, ivl) in enumerate(lates)]
    already_due = {DAY + dt.timedelta(days=k): n for k, n in already.items()}
    moves = spread(cards=cards, day=DAY, cap=cap, later_cap=later_cap, already_due=already_due)
    assert len(cards) - len(moves) == min(len(cards), cap)
    per_day = Counter(moves.values())
    for day, count in per_day.items():
        assert day > DAY
        # A later day is filled only where it had room; none goes past the cap.
        assert already_due.get(day, 0) + count <= max(later_cap, already_due.get(day, 0))
    kept = {c.state_id for c in cards} - set(moves)
    worst_kept = max((overdue_order(c, DAY) for c in cards if c.state_id in kept), default=None)
    best_moved = min((overdue_order(c, DAY) for c in cards if c.state_id in moves), default=None)
    if worst_kept is not None and best_moved is not None:
        assert worst_kept < best_moved


# --- rollover_prepare, with the database -----------------------------------------------


def prepare(user: Any, *, topic_ids: list[int], new: int = 3, cap: int = 150) -> Any:
    return rollover_prepare(
        user_id=user.pk,
        day=DAY,
        limits=DailyLimits(new_cards_per_day=new, max_reviews_per_day=cap),
        topic_ids=topic_ids,
    )


def test_it_brings_in_the_plan_weeks_new_cards_up_to_the_limit(owner: Any) -> None:
    first, second = deck(topics=2, cards_each=5)
    prepared = prepare(owner, topic_ids=[second.pk], new=3)
    states = ReviewState.objects.filter(user=owner)
    assert prepared.introduced == 3
    assert {s.card.topic_id for s in states} == {second.pk}
    assert all(
        s.last_reviewed_at is None and s.due == DAY and s.introduced_on == DAY for s in states
    )
    # Deck order within the topic.
    expected = list(Card.objects.filter(topic=second).order_by("position")[:3])
    assert sorted(s.card_id for s in states) == sorted(c.pk for c in expected)


def test_running_it_twice_on_a_day_changes_nothing(owner: Any) -> None:
    (topic,) = deck(topics=1, cards_each=8)
    reviewed(owner, list(Card.objects.all()[:6]), due=DAY - dt.timedelta(days=3))
    first = prepare(owner, topic_ids=[topic.pk], new=2, cap=2)
    before = list(ReviewState.objects.order_by("id").values_list("card_id", "due"))
    second = prepare(owner, topic_ids=[topic.pk], new=2, cap=2)
    assert (first.introduced, first.moved) == (2, 4)
    assert (second.introduced, second.moved) == (0, 0)
    assert list(ReviewState.objects.order_by("id").values_list("card_id", "due")) == before


def test_cards_still_waiting_from_yesterday_count_against_the_limit(owner: Any) -> None:
    (topic,) = deck(topics=1, cards_each=8)
    yesterday = DAY - dt.timedelta(days=1)
    for card in Card.objects.all()[:2]:
        ReviewState.objects.create(user=owner, card=card, due=yesterday, introduced_on=yesterday)
    assert prepare(owner, topic_ids=[topic.pk], new=3).introduced == 1


def test_a_waiting_card_buried_today_leaves_its_place_to_another(owner: Any) -> None:
    (topic,) = deck(topics=1, cards_each=8)
    yesterday = DAY - dt.timedelta(days=1)
    for card in Card.objects.all()[:2]:
        ReviewState.objects.create(user=owner, card=card, due=yesterday, introduced_on=yesterday)
    # Buried after local midnight, before the night's rollover ran: not shown today.
    ReviewState.objects.filter(user=owner).filter(pk=ReviewState.objects.first().pk).update(  # type: ignore[union-attr]
        buried_on=DAY
    )
    assert prepare(owner, topic_ids=[topic.pk], new=3).introduced == 2


def test_without_a_plan_week_no_card_is_brought_in(owner: Any) -> None:
    deck(topics=1, cards_each=3)
    assert prepare(owner, topic_ids=[]).introduced == 0
    assert not ReviewState.objects.filter(user=owner).exists()


def test_a_backlog_over_the_cap_is_spread_and_the_drill_shows_the_cap(owner: Any) -> None:
    (topic,) = deck(topics=1, cards_each=12)
    cards = list(Card.objects.order_by("position"))
    reviewed(owner, cards[:4], due=DAY - dt.timedelta(days=8), interval=4)  # 2.0 behind
    reviewed(owner, cards[4:10], due=DAY - dt.timedelta(days=1), interval=10)  # 0.1 behind
    profile = Profile.objects.get(user=owner)
    profile.max_reviews_per_day = 5
    profile.new_cards_per_day = 0
    profile.save()

    prepared = prepare(owner, topic_ids=[], new=0, cap=5)

    assert prepared.moved == 5
    today = ReviewState.objects.filter(user=owner, due__lte=DAY)
    assert set(today.values_list("card_id", flat=True)) >= {c.pk for c in cards[:4]}
    assert today.count() == 5
    assert ReviewState.objects.filter(user=owner, due=DAY + dt.timedelta(days=1)).count() == 5
    counts = queue_counts(user=owner, limits=profile.limits, today=DAY)
    assert counts.due == 5
    shown = next_card(user=owner, counts=counts, today=DAY)
    assert shown is not None
    assert shown.card.pk in {c.pk for c in cards[:4]}


def test_moving_a_card_keeps_its_sm2_state_and_version(owner: Any) -> None:
    deck(topics=1, cards_each=3)
    states = reviewed(owner, list(Card.objects.all()), due=DAY, interval=6)
    before = {s.pk: (s.repetitions, s.interval, s.easiness, s.version) for s in states}
    prepare(owner, topic_ids=[], new=0, cap=1)
    after = {
        s.pk: (s.repetitions, s.interval, s.easiness, s.version)
        for s in ReviewState.objects.filter(user=owner)
    }
    assert after == before
