"""Anki's scheduling and review log in Cadence's SM-2 terms. Pure: no Django.

The mapping (README, "Moving from Anki"):

* A **review** card (type 2) keeps its interval, its ease as the SM-2 E-Factor (Anki's
  factor / 1000, never below SM-2's 1.3), its lapses, and as repetitions Anki's count of
  answers (``reps``). Its due date is Anki's due day counted from the collection's
  creation day, that day taken in the importing person's time zone.
* A **learning** card (type 1) has not graduated: SM-2's first repetition is still ahead
  (repetitions 0, interval 0), due today. A **relearning** card (type 3) lapsed: SM-2
  restarts it at I(1) (repetitions 1, interval 1), due today, ease and lapses kept.
* **Suspended** (queue -1) stays suspended. A **buried** card (queue -2, -3), which Anki
  shows again the next day, is buried for the importing person's local today (Cadence's
  bury), its due date kept: back in the queue tomorrow, as in Anki.
* A new card (type 0) stays new unless suspended: Cadence introduces it as it does any.

The review log: Anki's buttons as SM-2 qualities, Again 1, Hard 3, Good 4, Easy 5 (the
export maps them back: 0-2 Again, 3 Hard, 4 Good, 5 Easy). Each answer keeps its time,
answer time, interval and ease; an answer after another on the same local day is a
same-day repeat. Rescheduling rows (ease 0) are not answers and are left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from cards.imports.common import AnkiSchedule
from cards.scheduling import INITIAL_EASINESS, MIN_EASINESS

QUALITY_FOR_EASE = {1: 1, 2: 3, 3: 4, 4: 5}
NEW, LEARNING, REVIEW, RELEARNING = 0, 1, 2, 3
SUSPENDED = -1
BURIED = (-2, -3)
# Due days further out than this are not a real schedule (a damaged row).
MAX_DAYS = 36_500


def stays_suspended(schedule: AnkiSchedule) -> bool:
    return schedule.queue == SUSPENDED


def stays_buried(schedule: AnkiSchedule) -> bool:
    """Buried in Anki and kept buried for today (a new card stays simply new)."""
    return schedule.type != NEW and schedule.queue in BURIED


@dataclass(frozen=True)
class ImportedState:
    repetitions: int
    interval: int
    easiness: float
    due: dt.date
    lapses: int
    last_reviewed_at: dt.datetime | None
    suspended: bool
    introduced_on: dt.date
    buried_on: dt.date | None = None


@dataclass(frozen=True)
class ImportedReview:
    quality: int
    reviewed_at: dt.datetime
    local_date: dt.date
    is_repeat: bool
    answer_ms: int
    repetitions_before: int
    interval_before: int
    easiness_before: float
    due_before: dt.date | None
    repetitions_after: int
    interval_after: int
    easiness_after: float
    due_after: dt.date


def easiness(factor: int, default: float = INITIAL_EASINESS) -> float:
    return max(MIN_EASINESS, factor / 1000) if factor > 0 else default


def _instant(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def reviews(history: tuple[tuple[int, ...], ...], *, zone: ZoneInfo) -> list[ImportedReview]:
    """Anki's revlog rows for one card, oldest first, as review log rows."""
    result: list[ImportedReview] = []
    ease_now = INITIAL_EASINESS
    previous: ImportedReview | None = None
    for count, (rid, ease, ivl, last_ivl, factor, taken, _type) in enumerate(history):
        at = _instant(rid)
        day = at.astimezone(zone).date()
        # Negative intervals are learning steps in seconds: less than a day.
        after = min(max(ivl, 0), MAX_DAYS)
        ease_after = easiness(factor, ease_now)
        review = ImportedReview(
            quality=QUALITY_FOR_EASE[ease],
            reviewed_at=at,
            local_date=day,
            is_repeat=previous is not None and previous.local_date == day,
            answer_ms=max(taken, 0),
            repetitions_before=count,
            interval_before=min(max(last_ivl, 0), MAX_DAYS),
            easiness_before=ease_now,
            due_before=previous.due_after if previous else None,
            repetitions_after=count + 1,
            interval_after=after,
            easiness_after=ease_after,
            due_after=day + dt.timedelta(days=after),
        )
        result.append(review)
        previous, ease_now = review, ease_after
    return result


def state(
    schedule: AnkiSchedule,
    history: tuple[tuple[int, ...], ...],
    *,
    zone: ZoneInfo,
    now: dt.datetime,
) -> ImportedState | None:
    """The card's review state, or None for a card that stays new."""
    today = now.astimezone(zone).date()
    suspended = stays_suspended(schedule)
    last = _instant(history[-1][0]) if history else None
    first_day = _instant(history[0][0]).astimezone(zone).date() if history else None
    ease = easiness(schedule.factor)
    if schedule.type == NEW:
        if not suspended:
            return None
        return ImportedState(0, 0, ease, today, 0, None, True, today)
    if schedule.type == REVIEW:
        interval = min(max(schedule.interval, 1), MAX_DAYS)
        if schedule.created:
            created = _instant(schedule.created * 1000).astimezone(zone).date()
            due = created + dt.timedelta(days=min(max(schedule.due, 0), MAX_DAYS))
        else:
            due = today
        repetitions = max(schedule.reps, 1)
    elif schedule.type == RELEARNING:
        interval, due, repetitions = 1, today, 1
    else:
        interval, due, repetitions = 0, today, 0
    if last is None:
        # No history came with it: reviewed on the day its interval started, if not later.
        last = min(dt.datetime.combine(due - dt.timedelta(days=interval), dt.time(), zone), now)
    return ImportedState(
        repetitions=repetitions,
        interval=interval,
        easiness=ease,
        due=due,
        lapses=max(schedule.lapses, 0),
        last_reviewed_at=last,
        suspended=suspended,
        introduced_on=min(first_day or last.astimezone(zone).date(), today),
        buried_on=today if stays_buried(schedule) else None,
    )
