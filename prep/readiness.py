"""Readiness on interview day, per topic and overall. Pure: no Django, no clock.

**Predicted recall** is the expected share of a topic's cards remembered on the interview
day if the schedule is kept: the mean over the topic's cards (suspended ones left out) of
each card's probability of recall on that day from its FSRS memory state
(:func:`cards.interview.expected_recall`). Keeping the schedule also means meeting the new
cards the daily limit still brings in before the interview (:func:`new_card_days`): each
counts with the recall a card met on its day is expected to have on the interview day
(:func:`cards.interview.new_card_recall`, known at first sight as often as the person's
own first answers were). A card the schedule will not reach by then counts as not known,
so a topic nobody has studied or will study is at 0%, never 100%.

**At risk** (:func:`at_risk`): the studied cards whose recall on the interview day, with
no more review, would be below the target, by topic, with the minutes a day their reviews
until then take at the person's own pace (:func:`cards.interview.reviews_to_keep`).

**Measured recall** is the share of the grades of 3 or more among the topic's grades of
the last 30 days (same-day repeats left out): what the person actually remembered.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cards.interview import (
    NEW_CARD_SHOWINGS,
    Horizon,
    expected_recall,
    new_card_recall,
    reviews_to_keep,
)
from cards.memory import Memory, Model


@dataclass(frozen=True)
class TopicCards:
    topic_id: int
    title: str
    total: int  # cards not suspended
    graded_30d: int = 0
    passed_30d: int = 0
    # Cards not studied yet (new, introduced or not): the ones new_card_days may bring in.
    unseen: int = 0


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
    # The part of ``expected`` from the cards studied already (the rest: cards still to
    # be met on schedule): what is earned so far.
    studied: float = 0.0

    @property
    def share(self) -> float:
        return self.expected / self.total if self.total else 0.0

    @property
    def studied_percent(self) -> int:
        return int(100 * self.studied / self.total + 1e-9) if self.total else 0

    @property
    def later_percent(self) -> int:
        """The bar's second part: what the cards still to be met add."""
        return max(self.percent - self.studied_percent, 0)

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


# Fewer first answers than this and the share known at first sight is noise: 0 is assumed
# (every new card answered wrong at first), as for new_cards_open.
MIN_FIRST_ANSWERS = 20


def known_at_first(*, met: int, known: int) -> float:
    """The share of new cards the person knew at first sight (their first grade 3 or
    more) out of ``met`` first answers; 0 under MIN_FIRST_ANSWERS."""
    return known / met if met >= MIN_FIRST_ANSWERS else 0.0


def new_card_days(
    *,
    today: dt.date,
    horizon: Horizon,
    unseen: int,
    allowance: Callable[[dt.date, int], int],
    cap: Callable[[dt.date], int] | None = None,
    load: Mapping[dt.date, int] | None = None,
    showings: Callable[[dt.date], Sequence[dt.date]] | None = None,
) -> list[dt.date]:
    """The day each of the next ``unseen`` new cards is met if the schedule is kept: up to
    ``allowance(day, left)`` a day (the day's new-card limit less those already met, with
    ``left`` of the cards still unmet that morning, which interview mode paces) from today
    to the day before the interview; the cards left after that are not met.

    With a daily ``cap`` on showings (interview mode's time budget), a day meets only the
    new cards the time left holds, two showings each: the time left is the cap less the
    reviews of studied cards that day (``load``) and the ``showings(met_on)`` of the cards
    this projection has met already."""
    days: list[dt.date] = []
    if horizon.interview is None:
        return days
    projected: dict[dt.date, int] = defaultdict(int)
    load = load or {}
    day = today
    while day < horizon.interview and len(days) < unseen:
        left = unseen - len(days)
        n = min(allowance(day, left), left)
        if cap is not None:
            busy = load.get(day, 0) + projected[day]
            n = min(n, (cap(day) - busy) // NEW_CARD_SHOWINGS)
        n = max(n, 0)
        days.extend([day] * n)
        if showings is not None and n:
            for shown_on in showings(day):
                projected[shown_on] += n
        day += dt.timedelta(days=1)
    return days


def readiness(
    *,
    topics: Sequence[TopicCards],
    cards: Sequence[CardMemory],
    today: dt.date,
    horizon: Horizon,
    model: Model,
    upcoming: Sequence[dt.date] = (),
    known_at_first: float = 0.0,
) -> Readiness:
    """Per topic (most at risk first) and overall; ``cards`` are the graded, unsuspended
    cards of those topics. ``upcoming`` are the days the next new cards are met
    (:func:`new_card_days`), taken by the topics' unseen cards in the order of ``topics``
    (the order new cards come in)."""
    expected = {t.topic_id: 0.0 for t in topics}
    above = dict.fromkeys(expected, 0)
    studied = dict.fromkeys(expected, 0.0)
    recall_if_met: dict[dt.date, float] = {}
    future = iter(upcoming)
    for topic in topics:
        # The count first: zip() takes from its first iterator before it finds the second
        # exhausted, which would drop a day at every topic's end.
        for _, day in zip(range(topic.unseen), future, strict=False):
            if day not in recall_if_met:
                recall_if_met[day] = new_card_recall(
                    model=model, met_on=day, horizon=horizon, known_at_first=known_at_first
                )
            expected[topic.topic_id] += recall_if_met[day]
            above[topic.topic_id] += recall_if_met[day] >= horizon.target
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
        studied[card.topic_id] += recall
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
            studied=min(studied[t.topic_id], t.total),
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
        studied=sum(r.studied for r in rows),
    )
    return Readiness(
        topics=sorted(rows, key=lambda r: (r.share, -r.below_target, r.title)), overall=overall
    )


@dataclass(frozen=True)
class TopicRisk:
    topic_id: int
    title: str
    cards: int  # studied cards below the target on the day without more review
    minutes_a_day: int  # what their reviews until the interview take, a day

    def sentence(self, target: float) -> str:
        return (
            f"{self.cards} card{'s' if self.cards != 1 else ''} of {self.title} will be below "
            f"{round(100 * target)}% on the day; {self.minutes_a_day} minute"
            f"{'s' if self.minutes_a_day != 1 else ''} a day keeps "
            f"{'them' if self.cards != 1 else 'it'}"
        )


AT_RISK_SHOWN = 3


def at_risk(
    *,
    titles: Mapping[int, str],
    cards: Sequence[CardMemory],
    today: dt.date,
    horizon: Horizon,
    model: Model,
    seconds_per_card: float,
    shown: int = AT_RISK_SHOWN,
) -> list[TopicRisk]:
    """The topics (of ``titles``) with the most studied cards whose recall on the
    interview day, with no more review, is below the target; each with the minutes a day
    the schedule's reviews of those cards take until then. Empty without a date ahead."""
    if horizon.interview is None or not horizon.active(today):
        return []
    days_left = (horizon.interview - today).days
    count: dict[int, int] = {}
    reviews: dict[int, int] = {}
    for card in cards:
        if card.topic_id not in titles or card.memory is None or card.last is None:
            continue
        if model.recall_on(card.memory, card.last, horizon.interview) >= horizon.target:
            continue
        count[card.topic_id] = count.get(card.topic_id, 0) + 1
        reviews[card.topic_id] = reviews.get(card.topic_id, 0) + reviews_to_keep(
            model=model,
            memory=card.memory,
            last=card.last,
            due=card.due,
            today=today,
            horizon=horizon,
        )
    ranked = sorted(count, key=lambda t: (-count[t], titles[t], t))[:shown]
    return [
        TopicRisk(
            topic_id=t,
            title=titles[t],
            cards=count[t],
            minutes_a_day=max(1, math.ceil(reviews[t] * seconds_per_card / 60 / days_left)),
        )
        for t in ranked
    ]
