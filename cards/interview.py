"""Interview mode: scheduling that knows the date. Pure: no Django, no clock.

While a person has an interview date in the future (a :class:`Horizon`), whichever
scheduler they use:

* **Interval cap.** A card whose next review would fall on or after the interview keeps
  that interval only if its predicted recall on the day (:mod:`cards.memory`) is at least
  the target. Otherwise the interval is shortened to the days until its recall falls to
  the target (and to the day before the interview at the latest), so it comes back
  inside the final window and is reviewed again while it is still remembered.
* **New cards stop** when a card met today for the first time, even answered wrong at
  first, would not be expected above the target on the day (:func:`new_cards_open`) and
  the day's reviews fill its time budget; while time is left over they still come in,
  as many as it holds (:meth:`cards.queue.DailyLimits.new_cards_on`): a card met late is
  better known on the day than one never met.
* **New cards paced to the date** (:func:`new_card_pace`): the unseen cards still to
  meet, shared over the days a card met for the first time can still be learned to the
  target. The day's new cards are at least that many while the daily budget holds them
  (:meth:`cards.queue.DailyLimits.new_cards_on`), so a person with little time meets the
  whole track before the day instead of a tenth of it a day.
* **Predicted recall** of a card on the day (:func:`expected_recall`) assumes the
  schedule is kept: each review happens on its due date, and is remembered with the
  card's probability of recall then (Good) or forgotten (Again, then the same-day repeat
  to Good); the later reviews follow this rule. A card never graded counts as not known
  here; one the schedule will still bring in is predicted from the day it is met
  (:func:`new_card_recall`).
* **Keeping a card** above the target costs the reviews the schedule gives it until the
  day (:func:`reviews_to_keep`): what the "minutes a day keeps them" sentence is made of.

On and after the interview date nothing here changes anything: scheduling is normal.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from cards.memory import AGAIN_QUALITY, GOOD_QUALITY, Memory, Model

DEFAULT_TARGET = 0.9
# What a new card costs in showings on its first day: its first answer and a repeat.
NEW_CARD_SHOWINGS = 2
SM2, FSRS = "sm2", "fsrs"
# Predicted recall follows both outcomes of this many future reviews, then the likelier.
BRANCHED_REVIEWS = 3


@dataclass(frozen=True)
class Horizon:
    """The interview date (if any) and the recall the person wants on that day."""

    interview: dt.date | None = None
    target: float = DEFAULT_TARGET

    def active(self, today: dt.date) -> bool:
        return self.interview is not None and today < self.interview


def capped_interval(
    *, model: Model, memory: Memory, today: dt.date, interval: int, horizon: Horizon
) -> int:
    """``interval`` (days, from a grade on ``today`` that left ``memory``), capped so the
    card is back before the interview unless it will still be above the target then."""
    if horizon.interview is None or not horizon.active(today):
        return interval
    days_left = (horizon.interview - today).days
    if interval < days_left:
        return interval
    if model.retrievability(memory, days_left) >= horizon.target:
        return interval
    return max(1, min(interval, model.interval(memory, horizon.target), days_left - 1))


def next_interval(
    *,
    scheduler: str,
    sm2_interval: int,
    memory: Memory,
    today: dt.date,
    horizon: Horizon,
    retention: float,
    model: Model,
) -> int:
    """The days to a card's next review after a grade on ``today`` that left ``memory``
    (FSRS's state) and gave ``sm2_interval`` (SM-2's): the user's scheduler chooses,
    interview mode caps. Without an interview ahead, SM-2's interval is returned as is."""
    interval = model.interval(memory, retention) if scheduler == FSRS else sm2_interval
    return capped_interval(
        model=model, memory=memory, today=today, interval=interval, horizon=horizon
    )


def _next_due(model: Model, memory: Memory, day: dt.date, horizon: Horizon) -> dt.date:
    """When a card graded on ``day`` (leaving ``memory``) is due again on the schedule the
    predictions assume: its interval at the target, capped for the interview."""
    interval = capped_interval(
        model=model,
        memory=memory,
        today=day,
        interval=model.interval(memory, horizon.target),
        horizon=horizon,
    )
    return day + dt.timedelta(days=interval)


def _after_review(model: Model, memory: Memory, elapsed: int, remembered: bool) -> Memory:
    if remembered:
        return model.after(memory, GOOD_QUALITY, elapsed)
    # SM-2 step 7: a failed card is asked again the same day until it scores 4 or more.
    return model.after(model.after(memory, AGAIN_QUALITY, elapsed), GOOD_QUALITY, 0)


def _recall(
    model: Model, memory: Memory, last: dt.date, due: dt.date, horizon: Horizon, branches: int
) -> float:
    assert horizon.interview is not None
    if due >= horizon.interview:
        return model.recall_on(memory, last, horizon.interview)
    elapsed = (due - last).days
    p = model.retrievability(memory, elapsed)
    outcomes = [(p, True), (1 - p, False)] if branches > 0 else [(1.0, p >= 0.5)]
    total = 0.0
    for weight, remembered in outcomes:
        if weight <= 0:
            continue
        after = _after_review(model, memory, elapsed, remembered)
        following = _next_due(model, after, due, horizon)
        total += weight * _recall(model, after, due, following, horizon, max(branches - 1, 0))
    return total


def expected_recall(
    *,
    model: Model,
    memory: Memory | None,
    last: dt.date | None,
    due: dt.date,
    today: dt.date,
    horizon: Horizon,
) -> float:
    """The probability that a card is remembered on the interview day if the schedule is
    kept (see the module docstring); 0 for a card never graded."""
    if memory is None or last is None or horizon.interview is None:
        return 0.0
    if today >= horizon.interview:
        return model.recall_on(memory, last, today)
    return _recall(model, memory, last, max(due, today), horizon, BRANCHED_REVIEWS)


def new_card_recall(
    *, model: Model, met_on: dt.date, horizon: Horizon, known_at_first: float = 0.0
) -> float:
    """The probability that a card first met on ``met_on`` is remembered on the interview
    day if the schedule is kept: known at first sight with probability ``known_at_first``
    (graded Good), otherwise answered wrong and repeated to Good the same day; then on
    schedule (:func:`expected_recall`). 0 for a card met on or after the interview."""
    if horizon.interview is None or met_on >= horizon.interview:
        return 0.0
    total = 0.0
    paths = ((known_at_first, (GOOD_QUALITY,)), (1 - known_at_first, (AGAIN_QUALITY, GOOD_QUALITY)))
    for weight, grades in paths:
        if weight <= 0:
            continue
        memory: Memory | None = None
        for quality in grades:
            memory = model.after(memory, quality, 0)
        assert memory is not None
        due = _next_due(model, memory, met_on, horizon)
        total += weight * expected_recall(
            model=model, memory=memory, last=met_on, due=due, today=met_on, horizon=horizon
        )
    return total


def new_cards_open(*, model: Model, today: dt.date, horizon: Horizon) -> bool:
    """Whether a card met for the first time today can still be learned to the target by
    the interview: answered wrong, repeated to Good the same day, then on schedule."""
    if not horizon.active(today):
        return True
    return new_card_recall(model=model, met_on=today, horizon=horizon) >= horizon.target


def new_card_days_open(*, today: dt.date, horizon: Horizon, model: Model | None = None) -> int:
    """The days from ``today`` (included) on which a card met for the first time can still
    be learned to the target by the interview (:func:`new_cards_open`); 0 without one."""
    if not horizon.active(today):
        return 0
    last = _last_open_day(horizon, model or Model())
    return (last - today).days + 1 if last >= today else 0


@functools.lru_cache(maxsize=256)
def _last_open_day(horizon: Horizon, model: Model) -> dt.date:
    """The last day a new card can be met and still learned to the target (``date.min``
    if none). Closing is for good, the later a card is met the less it is known on the
    day, and the closed days are the last few: counted from the day back."""
    assert horizon.interview is not None
    last = horizon.interview - dt.timedelta(days=1)
    while not new_cards_open(model=model, today=last, horizon=horizon):
        last -= dt.timedelta(days=1)
        if (horizon.interview - last).days > MAX_CLOSED_DAYS:
            return dt.date.min
    return last


def new_card_pace(
    *, unseen: int, today: dt.date, horizon: Horizon, model: Model | None = None
) -> int:
    """The new cards a day that meet ``unseen`` cards in the days still open to them
    (:func:`new_card_days_open`), rounded up; 0 when none is open or nothing is left."""
    days = new_card_days_open(today=today, horizon=horizon, model=model)
    if days <= 0 or unseen <= 0:
        return 0
    return -(-unseen // days)


# No target is so high that a card met this long before the day cannot reach it.
MAX_CLOSED_DAYS = 60

# A card needs at most this many reviews to the interview in :func:`reviews_to_keep`.
MAX_KEEP_REVIEWS = 30


def reviews_to_keep(
    *,
    model: Model,
    memory: Memory,
    last: dt.date,
    due: dt.date,
    today: dt.date,
    horizon: Horizon,
) -> int:
    """The reviews a studied card gets before the interview if the schedule is kept and
    each is remembered (Good): what keeping it above the target costs. A card due after
    the interview but below the target then comes back once in the final sweep."""
    if not horizon.active(today):
        return 0
    assert horizon.interview is not None
    day = max(due, today)
    if day >= horizon.interview:
        below = model.recall_on(memory, last, horizon.interview) < horizon.target
        return int(below)
    return len(review_dates(model=model, memory=memory, last=last, due=day, horizon=horizon))


def review_dates(
    *, model: Model, memory: Memory, last: dt.date, due: dt.date, horizon: Horizon
) -> list[dt.date]:
    """The days before the interview a card last graded ``last`` and due ``due`` is
    reviewed if the schedule is kept and each review is remembered (Good)."""
    assert horizon.interview is not None
    dates: list[dt.date] = []
    day = due
    while day < horizon.interview and len(dates) < MAX_KEEP_REVIEWS:
        memory = model.after(memory, GOOD_QUALITY, (day - last).days)
        last = day
        dates.append(day)
        day = _next_due(model, memory, day, horizon)
    return dates


@functools.lru_cache(maxsize=256)
def new_card_review_dates(
    *, model: Model, met_on: dt.date, horizon: Horizon
) -> tuple[dt.date, ...]:
    """The showings of a card met for the first time on ``met_on``, before the interview,
    if the schedule is kept: its first day (answered wrong, repeated to Good), then each
    review remembered (:func:`review_dates`). The days the drill's time goes to it."""
    if not horizon.active(met_on):
        return ()
    memory = model.after(model.after(None, AGAIN_QUALITY, 0), GOOD_QUALITY, 0)
    due = _next_due(model, memory, met_on, horizon)
    later = review_dates(model=model, memory=memory, last=met_on, due=due, horizon=horizon)
    return (met_on,) * NEW_CARD_SHOWINGS + tuple(later)
