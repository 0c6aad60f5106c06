"""Readiness on interview day, per topic and overall. Pure: no Django, no clock.

**Predicted recall** is the expected share of a topic's cards remembered on the interview
day if the schedule is kept: the mean over the topic's cards (suspended ones left out) of
each card's probability of recall on that day from its FSRS memory state
(:func:`cards.interview.expected_recall`). A card not studied yet counts as not known, so
a topic nobody has studied is at 0%, never 100%.

**Measured recall** is the share of the grades of 3 or more among the topic's grades of
the last 30 days (same-day repeats left out): what the person actually remembered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cards.interview import Horizon, expected_recall
from cards.memory import Memory, Model


@dataclass(frozen=True)
class TopicCards:
    topic_id: int
    title: str
    total: int  # cards not suspended
    graded_30d: int = 0
    passed_30d: int = 0


@dataclass(frozen=True)
class CardMemory:
    topic_id: int
    memory: Memory | None
    last: dt.date | None
    due: dt.date


@dataclass(frozen=True)
class TopicReadiness:
    topic_id: int | None  # None for the overall row
    title: str
    total: int
    expected: float  # the expected number of cards remembered on the day
    below_target: int  # cards predicted below the target, unseen ones included
    graded_30d: int
    passed_30d: int

    @property
    def share(self) -> float:
        return self.expected / self.total if self.total else 0.0

    @property
    def percent(self) -> int:
        # Floored, so that a topic shows 100% only when every card is all but certain.
        return int(100 * self.share + 1e-9)

    @property
    def measured(self) -> int | None:
        return round(100 * self.passed_30d / self.graded_30d) if self.graded_30d else None

    # The names the dashboard's bars have always used.
    @property
    def ready(self) -> int:
        return round(self.expected)

    @property
    def at_risk(self) -> int:
        return self.below_target


@dataclass(frozen=True)
class Readiness:
    topics: list[TopicReadiness]
    overall: TopicReadiness

    @property
    def rows(self) -> list[TopicReadiness]:
        """The overall row, then the topics."""
        return [self.overall, *self.topics]


def readiness(
    *,
    topics: Sequence[TopicCards],
    cards: Sequence[CardMemory],
    today: dt.date,
    horizon: Horizon,
    model: Model,
) -> Readiness:
    """Per topic (most at risk first) and overall; ``cards`` are the graded, unsuspended
    cards of those topics."""
    expected = {t.topic_id: 0.0 for t in topics}
    above = dict.fromkeys(expected, 0)
    for card in cards:
        if card.topic_id not in expected:
            continue
        recall = expected_recall(
            model=model,
            memory=card.memory,
            last=card.last,
            due=card.due,
            today=today,
            horizon=horizon,
        )
        expected[card.topic_id] += recall
        above[card.topic_id] += recall >= horizon.target
    rows = [
        TopicReadiness(
            topic_id=t.topic_id,
            title=t.title,
            total=t.total,
            expected=min(expected[t.topic_id], t.total),
            below_target=max(t.total - above[t.topic_id], 0),
            graded_30d=t.graded_30d,
            passed_30d=t.passed_30d,
        )
        for t in topics
    ]
    overall = TopicReadiness(
        topic_id=None,
        title="All topics",
        total=sum(r.total for r in rows),
        expected=sum(r.expected for r in rows),
        below_target=sum(r.below_target for r in rows),
        graded_30d=sum(r.graded_30d for r in rows),
        passed_30d=sum(r.passed_30d for r in rows),
    )
    return Readiness(
        topics=sorted(rows, key=lambda r: (r.share, -r.below_target, r.title)), overall=overall
    )
