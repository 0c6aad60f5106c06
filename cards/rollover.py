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

3. **Interview mode** (an interview date ahead). The day's reviews are also sized to the
   drill's daily minutes at the user's measured seconds per review
   (:meth:`cards.queue.DailyLimits.review_cap`), less, while cards are left to meet, the
   time of the day's new cards (at most ``NEW_CARD_TIME_SHARE`` of it,
   :meth:`cards.queue.DailyLimits.reviews_kept`), and the cards kept today are the most at
   risk (lowest probability of recall today), the rest spread as above, never dropped.
   Then the **final sweep** over the last days: every studied card not due again before
   the interview whose predicted recall on the day is below the target comes back once
   more, weakest first (:func:`sweep`), into the room the daily budget leaves, over it if
   need be (never dropped). A card that will be above the target on the day is left where
   it is: one more look at it costs the person's time and adds next to nothing to the day.
   (The interval cap leaves no card graded in interview mode below the target past the
   interview; the sweep catches the others: cards graded before the date was set or moved,
   and cards a backlog spread pushed past it.) The sweep's length is the days those cards
   take at the daily budget (at least one, at most ``MAX_SWEEP_DAYS``): it grows with the
   cards and shrinks with the time the user has.

4. **New cards paced to the date** (interview mode, with a track). The day's new cards
   are at least the unseen cards of the track shared over the days a new card can still
   be learned to the target by the interview (:func:`cards.interview.new_card_pace`), so
   the whole track is met in time, within the daily budget
   (:meth:`cards.queue.DailyLimits.new_cards_on`); the profile's own limit is the least.
   The pace is returned (``Prepared.paced``) for the caller to keep with the profile.

The drill never depends on this having run: ``cards.queue`` caps the reviews and finds new
cards by itself; this makes the day's queue what the plan asks for and keeps a backlog
from growing into a wall.

The spreading is a pure function (:func:`spread`), tested without a database.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from django.db.models import Count

from cards.interview import Horizon, new_card_pace
from cards.memory import Memory, Model
from cards.models import ReviewState, ReviewStateQuerySet, waiting_new_on_q
from cards.queue import (
    DailyLimits,
    Done,
    DueCard,
    done_on,
    overdue_order,
    unseen_cards,
)
from cards.selectors import memory_model, seconds_per_review
from cards.versions import data_changed

MAX_SWEEP_DAYS = 7


def spread(
    *,
    cards: Sequence[DueCard],
    day: dt.date,
    cap: int,
    later_cap: int,
    already_due: Mapping[dt.date, int],
    at_risk_first: bool = False,
) -> dict[int, dt.date]:
    """Which due cards move, and to what date, so that ``day`` keeps ``cap`` reviews.

    ``cards`` are the reviews due on or before ``day``; ``already_due`` counts the reviews
    due on each later date, which take cards up to ``later_cap`` in all. Returns
    ``{state_id: new due date}`` for the moved cards only; the surplus keeps its order
    (the first of it goes to the earliest date with room). ``at_risk_first`` (interview
    mode) orders by the lowest recall today first, then most overdue.
    """
    if cap < 0 or later_cap < 1:
        raise ValueError("cap must not be negative and later_cap must be positive")
    if at_risk_first:
        ordered = sorted(cards, key=lambda c: (c.recall, overdue_order(c, day)))
    else:
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


def sweep_days(*, cards: int, cap: int) -> int:
    """The final sweep's length: the days ``cards`` reviews take at ``cap`` a day."""
    return min(max(1, -(-cards // max(cap, 1))), MAX_SWEEP_DAYS)


def sweep(
    *,
    recalls: Mapping[int, float],
    days: Sequence[dt.date],
    cap: int,
    already_due: Mapping[dt.date, int],
) -> dict[int, dt.date]:
    """Where the sweep's cards go (``{state_id: recall on the day}``): weakest first, each
    to the earliest of ``days`` with room under ``cap``; with no room left, round the
    days again over the cap (never dropped)."""
    ordered = sorted(recalls, key=lambda state_id: (recalls[state_id], state_id))
    taken: dict[dt.date, int] = defaultdict(int)
    moves: dict[int, dt.date] = {}
    for index, state_id in enumerate(ordered):
        target = next(
            (d for d in days if already_due.get(d, 0) + taken[d] < cap),
            days[index % len(days)],
        )
        taken[target] += 1
        moves[state_id] = target
    return moves


@dataclass(frozen=True)
class Prepared:
    introduced: int = 0
    moved: int = 0
    swept: int = 0
    paced: int = 0  # the day's paced new cards (interview mode), 0 without


def rollover_prepare(
    *,
    user_id: int,
    day: dt.date,
    limits: DailyLimits,
    topic_ids: Sequence[int],
    track_topic_ids: Sequence[int] = (),
) -> Prepared:
    """Prepare ``user_id``'s queue for local date ``day`` (see the module docstring).

    ``topic_ids`` are the plan week's topics (where new cards come from first),
    ``track_topic_ids`` the track's (whose unseen cards set the pace in interview mode).
    Call inside a transaction; a handful of queries whatever the deck or backlog size
    (one UPDATE per date the backlog moves to).
    """
    done = done_on(user_ids=[user_id], day=day).get(user_id, Done())
    pace = seconds_per_review(user_id=user_id)
    states = ReviewState.objects.filter(user_id=user_id)
    interview_mode = limits.horizon.active(day)

    paced = paced_new_cards(
        user_id=user_id, day=day, horizon=limits.horizon, track_topic_ids=track_topic_ids
    )
    if paced:
        limits = replace(limits, paced_new_cards=paced, paced_on=day)

    introduced = 0
    if topic_ids:
        # A waiting card buried today is not shown today: another takes its place.
        waiting = states.filter(waiting_new_on_q(day)).count()
        due_today = states.due_on(day).count()
        allowed = limits.new_cards_on(day, reviews_due=due_today, seconds_per_review=pace)
        room = allowed - done.new - waiting
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

    day_cap = limits.review_cap(day=day, seconds_per_review=pace)
    kept = limits.reviews_kept(
        day=day,
        seconds_per_review=pace,
        cards_to_meet=interview_mode
        and (states.waiting_new().exists() or unseen_cards(user_id).exists()),
    )
    model = memory_model(user_id=user_id)
    moved = _spread_backlog(
        states=states,
        day=day,
        cap=max(kept - done.reviewed, 0),
        day_cap=kept,
        model=model,
        at_risk=interview_mode,
    )
    swept = 0
    if interview_mode:
        swept = _final_sweep(states=states, day=day, limits=limits, day_cap=day_cap, model=model)
    if introduced or moved or swept:
        # The dashboard's cached standing and forecast of this day are out of date.
        data_changed(user_id=user_id)
    return Prepared(introduced=introduced, moved=moved, swept=swept, paced=paced)


def paced_new_cards(
    *, user_id: int, day: dt.date, horizon: Horizon, track_topic_ids: Sequence[int]
) -> int:
    """Interview mode's new cards a day on local date ``day`` (:func:`new_card_pace`): the
    track's cards not met yet (unseen, or brought in and not answered) over the days still
    open to them; 0 without an interview ahead or a track. Two counts."""
    if not horizon.active(day) or not track_topic_ids:
        return 0
    topics = list(track_topic_ids)
    to_meet = (
        unseen_cards(user_id).filter(topic_id__in=topics).count()
        + ReviewState.objects.filter(user_id=user_id, card__topic_id__in=topics)
        .waiting_new()
        .count()
    )
    return new_card_pace(unseen=to_meet, today=day, horizon=horizon)


def _later_due(states: ReviewStateQuerySet, day: dt.date) -> dict[dt.date, int]:
    return dict(
        states.reviewed()
        .filter(due__gt=day)
        .values("due")
        .annotate(n=Count("id"))
        .values_list("due", "n")
    )


def _move(moves: Mapping[int, dt.date]) -> None:
    by_date: dict[dt.date, list[int]] = defaultdict(list)
    for state_id, new_due in moves.items():
        by_date[new_due].append(state_id)
    for new_due, ids in by_date.items():
        ReviewState.objects.filter(id__in=ids).update(due=new_due)


def _spread_backlog(
    *,
    states: ReviewStateQuerySet,
    day: dt.date,
    cap: int,
    day_cap: int,
    model: Model,
    at_risk: bool,
) -> int:
    due_now = states.due_on(day)
    if due_now.count() <= cap:
        return 0
    cards_due = [
        DueCard(
            state_id=s,
            card_id=c,
            due=d,
            interval=i,
            recall=model.recall_on(_memory(st, df), on, day) if at_risk else 1.0,
        )
        for s, c, d, i, st, df, on in due_now.values_list(
            "id",
            "card_id",
            "due",
            "interval",
            "stability",
            "difficulty",
            "memory_on",
        )
    ]
    moves = spread(
        cards=cards_due,
        day=day,
        cap=cap,
        later_cap=max(day_cap, 1),
        already_due=_later_due(states, day),
        at_risk_first=at_risk,
    )
    _move(moves)
    return len(moves)


def _memory(stability: float | None, difficulty: float | None) -> Memory | None:
    if stability is None or difficulty is None:
        return None
    return Memory(stability=stability, difficulty=difficulty)


def _final_sweep(
    *,
    states: ReviewStateQuerySet,
    day: dt.date,
    limits: DailyLimits,
    day_cap: int,
    model: Model,
) -> int:
    interview = limits.horizon.interview
    assert interview is not None
    below = final_sweep_cards(
        recalls=(
            (state_id, model.recall_on(_memory(stability, difficulty), memory_on, interview))
            for state_id, stability, difficulty, memory_on in (
                states.reviewed()
                .filter(due__gte=interview, stability__isnull=False)
                .values_list("id", "stability", "difficulty", "memory_on")
            )
        ),
        target=limits.horizon.target,
    )
    days_left = (interview - day).days
    if not below or days_left > sweep_days(cards=len(below), cap=day_cap):
        return 0
    moves = sweep(
        recalls=below,
        days=[day + dt.timedelta(days=n) for n in range(days_left)],
        cap=day_cap,
        already_due={day: states.due_on(day).count(), **_later_due(states, day)},
    )
    _move(moves)
    return len(moves)


def final_sweep_cards(*, recalls: Iterable[tuple[int, float]], target: float) -> dict[int, float]:
    """The final sweep's cards: of the studied ones not due again before the interview
    (``(state_id, recall on the day)``), those below the target."""
    return {state_id: recall for state_id, recall in recalls if recall < target}
