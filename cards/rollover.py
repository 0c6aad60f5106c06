"""The nightly rollover: prepare a user's queue when their local day begins.

``prep.scheduled.rollover.rollovers_run_due`` calls :func:`rollover_prepare` once per user
per local date, just after local midnight. It does two things, both idempotent (running it
twice on one date changes nothing the second time):

1. **New cards.** It brings in the unseen cards of the current plan week's topics (topic
   order, then deck order), up to the user's new-card limit: a ``ReviewState`` with
   ``last_reviewed_at`` NULL, ``due`` and ``introduced_on`` that date, which
   ``cards.queue`` shows as new. Cards introduced earlier and not seen yet count against
   the limit, as do new cards already answered that day. Without a plan week nothing is
   introduced, and the queue falls back to the deck order on its own.

2. **Spreading a backlog.** When more reviews are due (on or before the date) than the
   day's cap (``max_reviews_per_day`` less the reviews already done that day), the cap's
   worth stay today and the surplus moves to the following days, each filled up to the
   cap together with the cards already due then; nothing is dropped, and every card is
   reviewed at most as late as the cap allows. The cards kept today are the most overdue,
   by the queue's own rule (:func:`cards.queue.overdue_order`).

   Moving a card's due date does not change its SM-2 state (repetitions, interval,
   easiness) nor its ``version``: a card already on screen can still be graded. A moved
   card counts as due on its new date from then on.

The drill never depends on this having run: ``cards.queue`` caps the reviews and finds new
cards by itself; this makes the day's queue what the plan asks for and keeps a backlog
from growing into a wall.

The spreading is a pure function (:func:`spread`), tested without a database.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db.models import Count

from cards.models import ReviewState
from cards.queue import DailyLimits, Done, DueCard, done_on, overdue_order, unseen_cards


def spread(
    *,
    cards: Sequence[DueCard],
    day: dt.date,
    cap: int,
    later_cap: int,
    already_due: Mapping[dt.date, int],
) -> dict[int, dt.date]:
    """Which due cards move, and to what date, so that ``day`` keeps ``cap`` reviews.

    ``cards`` are the reviews due on or before ``day``; ``already_due`` counts the reviews
    due on each later date, which take cards up to ``later_cap`` in all. Returns
    ``{state_id: new due date}`` for the moved cards only; the surplus keeps its order
    (the first of it goes to the earliest date with room).
    """
    if cap < 0 or later_cap < 1:
        raise ValueError("cap must not be negative and later_cap must be positive")
    ordered = sorted(cards, key=lambda c: overdue_order(c, day))
    moves: dict[int, dt.date] = {}
    taken: dict[dt.date, int] = defaultdict(int)
    target = day + dt.timedelta(days=1)
    for card in ordered[cap:]:
        while already_due.get(target, 0) + taken[target] >= later_cap:
            target += dt.timedelta(days=1)
        taken[target] += 1
        moves[card.state_id] = target
    return moves


@dataclass(frozen=True)
class Prepared:
    introduced: int = 0
    moved: int = 0


def rollover_prepare(
    *, user_id: int, day: dt.date, limits: DailyLimits, topic_ids: Sequence[int]
) -> Prepared:
    """Prepare ``user_id``'s queue for local date ``day`` (see the module docstring).

    Call inside a transaction; a handful of queries whatever the deck or backlog size
    (one UPDATE per date the backlog moves to).
    """
    done = done_on(user_ids=[user_id], day=day).get(user_id, Done())
    states = ReviewState.objects.filter(user_id=user_id)

    introduced = 0
    if topic_ids:
        waiting = states.waiting_new().count()
        room = limits.new_cards_on(day) - done.new - waiting
        if room > 0:
            cards = list(
                unseen_cards(user_id)
                .filter(topic_id__in=list(topic_ids))
                .order_by("topic__order", "topic_id", "position", "id")
                .values_list("id", flat=True)[:room]
            )
            # ignore_conflicts: a card graded for the first time at this very moment keeps
            # the state its grade made.
            ReviewState.objects.bulk_create(
                [
                    ReviewState(user_id=user_id, card_id=card_id, due=day, introduced_on=day)
                    for card_id in cards
                ],
                ignore_conflicts=True,
            )
            introduced = len(cards)

    cap = max(limits.max_reviews_per_day - done.reviewed, 0)
    due_now = states.due_on(day)
    if due_now.count() <= cap:
        return Prepared(introduced=introduced)
    cards_due = [
        DueCard(state_id=s, card_id=c, due=d, interval=i, position=p)
        for s, c, d, i, p in due_now.values_list(
            "id", "card_id", "due", "interval", "card__position"
        )
    ]
    later = dict(
        states.reviewed()
        .filter(due__gt=day)
        .values("due")
        .annotate(n=Count("id"))
        .values_list("due", "n")
    )
    moves = spread(
        cards=cards_due,
        day=day,
        cap=cap,
        later_cap=max(limits.max_reviews_per_day, 1),
        already_due=later,
    )
    by_date: dict[dt.date, list[int]] = defaultdict(list)
    for state_id, new_due in moves.items():
        by_date[new_due].append(state_id)
    for new_due, ids in by_date.items():
        ReviewState.objects.filter(id__in=ids).update(due=new_due)
    return Prepared(introduced=introduced, moved=len(moves))
