"""The memory model: FSRS-6 (``fsrs-rs-python``), for every card whatever the scheduler.

Pure: no Django, no clock, no database. Plain values in and out.

Every grade moves a card's memory state, its **stability** S (days until recall falls to
90%) and **difficulty** D (1..10), one step at a time (:func:`Model.after`): a grade needs
the state before it and the days since the previous grade, never the whole history. From
a state, the **retrievability** R (the probability of recall) ``t`` days after the last
grade is FSRS-6's power forgetting curve, ``R = (1 + f·t/S)^(-w20)`` with ``f`` chosen so
that ``R(S) = 0.9``.

SM-2 grades become FSRS ratings by :func:`rating_for`, the one mapping (the review-log
export uses it too): 0-2 Again, 3 Hard, 4 Good, 5 Easy. Same-day grades (SM-2 step 7's
repeats) count too, with zero days elapsed: FSRS-6 has a short-term rule for them, and
this is what the library's own ``memory_state`` does with a history that holds them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import fsrs_rs_python

from cards.scheduling import PASSING_QUALITY

DEFAULT_PARAMETERS: tuple[float, ...] = tuple(fsrs_rs_python.DEFAULT_PARAMETERS)
DEFAULT_RETENTION = 0.9
AGAIN, HARD, GOOD, EASY = 1, 2, 3, 4
# The SM-2 qualities that stand for a plain failure and a plain success.
AGAIN_QUALITY, GOOD_QUALITY = 1, 4


def rating_for(quality: int) -> int:
    """SM-2 quality 0-5 as an FSRS rating: 0-2 Again, 3 Hard, 4 Good, 5 Easy."""
    if not 0 <= quality <= 5:
        raise ValueError(f"quality must be in 0..5, not {quality}")
    return AGAIN if quality < PASSING_QUALITY else quality - 1


@dataclass(frozen=True, slots=True)
class Memory:
    stability: float
    difficulty: float


@dataclass(frozen=True, slots=True)
class Grade:
    """One grade of a card's history: its quality and the user's local date."""

    quality: int
    on: dt.date


@lru_cache(maxsize=64)
def _fsrs(parameters: tuple[float, ...]) -> fsrs_rs_python.FSRS:
    return fsrs_rs_python.FSRS(list(parameters))


@dataclass(frozen=True)
class Model:
    """FSRS-6 with one set of parameters (the published defaults unless fitted)."""

    parameters: tuple[float, ...] = DEFAULT_PARAMETERS

    @property
    def decay(self) -> float:
        return -self.parameters[20]

    @property
    def factor(self) -> float:
        return float(0.9 ** (1 / self.decay) - 1)

    def after(self, memory: Memory | None, quality: int, days_elapsed: int) -> Memory:
        """The state after grading ``quality``, ``days_elapsed`` days after the last grade."""
        current = (
            None
            if memory is None
            else fsrs_rs_python.MemoryState(memory.stability, memory.difficulty)
        )
        # The retention given here only sets the intervals returned beside the states.
        states = _fsrs(self.parameters).next_states(
            current, DEFAULT_RETENTION, max(days_elapsed, 0)
        )
        rating = rating_for(quality)
        chosen = {AGAIN: states.again, HARD: states.hard, GOOD: states.good, EASY: states.easy}
        state = chosen[rating].memory
        return Memory(stability=state.stability, difficulty=state.difficulty)

    def replay(self, grades: Sequence[Grade]) -> Memory | None:
        """The state after a whole history, one grade at a time (in date order)."""
        memory: Memory | None = None
        previous: dt.date | None = None
        for grade in grades:
            elapsed = 0 if previous is None else (grade.on - previous).days
            memory = self.after(memory, grade.quality, elapsed)
            previous = grade.on
        return memory

    def recalls(self, grades: Sequence[Grade]) -> list[float | None]:
        """The probability of recall the model gave at each grade of a history, from the
        state before it (None at the first)."""
        result: list[float | None] = []
        memory: Memory | None = None
        previous: dt.date | None = None
        for grade in grades:
            elapsed = 0 if previous is None else (grade.on - previous).days
            result.append(None if memory is None else self.retrievability(memory, elapsed))
            memory = self.after(memory, grade.quality, elapsed)
            previous = grade.on
        return result

    def retrievability(self, memory: Memory | None, days: float) -> float:
        """The probability of recall ``days`` after the last grade (0 for an unseen card)."""
        if memory is None:
            return 0.0
        return float((1 + self.factor * max(days, 0.0) / memory.stability) ** self.decay)

    def interval(self, memory: Memory, retention: float) -> int:
        """Whole days until recall falls to ``retention`` (at least one)."""
        days = memory.stability / self.factor * (float(retention ** (1 / self.decay)) - 1)
        return max(1, round(days))

    def recall_on(self, memory: Memory | None, last: dt.date | None, day: dt.date) -> float:
        """The probability of recall on local date ``day`` of a card last graded ``last``."""
        if memory is None or last is None:
            return 0.0
        return self.retrievability(memory, (day - last).days)


def parameters_valid(parameters: Sequence[float]) -> bool:
    return len(parameters) == len(DEFAULT_PARAMETERS) and all(math.isfinite(p) for p in parameters)


# Fewer reviews than this and a personal fit is noise: the published defaults stay.
MIN_FIT_REVIEWS = 400


@dataclass(frozen=True)
class Fit:
    parameters: tuple[float, ...]
    reviews: int  # the reviews it was fitted on (each a grade after a day or more)
    log_loss_before: float
    rmse_before: float
    log_loss_after: float
    rmse_after: float


def training_items(histories: Iterable[Sequence[Grade]]) -> list[fsrs_rs_python.FSRSItem]:
    """One item per grade given a day or more after the previous one, with the card's
    history up to it: the form FSRS is trained and evaluated on."""
    items = []
    for grades in histories:
        reviews: list[fsrs_rs_python.FSRSReview] = []
        previous: dt.date | None = None
        for grade in grades:
            elapsed = 0 if previous is None else (grade.on - previous).days
            reviews.append(fsrs_rs_python.FSRSReview(rating_for(grade.quality), elapsed))
            previous = grade.on
            if len(reviews) > 1 and elapsed > 0:
                items.append(fsrs_rs_python.FSRSItem(list(reviews)))
    return items


def fit(histories: Iterable[Sequence[Grade]], *, start: Model | None = None) -> Fit:
    """Parameters fitted to these card histories (fsrs-rs's optimiser), with the log loss
    and RMSE of the starting parameters and of the fitted ones on the same reviews."""
    start = start or Model()
    items = training_items(histories)
    before = _fsrs(start.parameters).evaluate(items)
    fitted = tuple(_fsrs(start.parameters).compute_parameters(items))
    after = _fsrs(fitted).evaluate(items)
    return Fit(
        parameters=fitted,
        reviews=len(items),
        log_loss_before=before.log_loss,
        rmse_before=before.rmse_bins,
        log_loss_after=after.log_loss,
        rmse_after=after.rmse_bins,
    )
