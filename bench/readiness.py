"""Does interview mode make a person readier? Simulated learners, printed figures.

    .venv/bin/python bench/readiness.py [--learners 20] [--seed 1]

Not a test: it prints a table. For each horizon (14, 28, 42 days to the interview), daily
budget (15 and 30 minutes at 8 s a showing) and strategy, the same simulated learners
study the built-in deck of the "LLM training engineer" track (its topics' cards):

* **sm2**: SM-2 as it is today (no interview date known to the scheduler);
* **sm2+interview**: SM-2 with interview mode (capped intervals, new cards paced to the
  date and stopping when they can no longer be learned, the time budget in the rollover,
  the final sweep);
* **fsrs+interview**: FSRS at 0.90 desired retention with interview mode.

**The learner.** Each learner's true memory is FSRS-6 with its own parameters, drawn around
the published defaults (each weight times a log-normal factor, sigma 0.25 for the initial
stabilities w0-w3 and 0.10 for the rest; the decay w20 kept in 0.10..0.50). The app under
test never sees them: it schedules with the published defaults, as for a new user.

**Grades.** A card never seen is known with probability 0.35 (prior knowledge). A seen
card is recalled with its true probability R. A recall is graded 5 if R >= 0.9, 4 if
R >= 0.6, else 3; a failure 2 if R >= 0.5, 1 if R >= 0.2, else 0. SM-2 step 7 repeats a
card graded below 4 the same day (recalled, grade 5). Every showing costs 8 s; the day's
session stops when the budget is spent, and what is left waits for the next day.

**The day.** The nightly rollover as ``cards.rollover`` does it (new cards in deck order
up to 10 a day, in interview mode at least the pace that meets the whole track by the
date as far as the day's budget holds them; the backlog spread, and in interview mode the
budget, lowest recall first, and the final sweep of the cards below the target), then
the session as ``cards.queue`` orders it: due reviews most overdue first, new cards,
same-day repeats. Grades go through the same pure functions
``cards.services.review_record`` calls (``cards.scheduling.next_state``,
``cards.interview.next_interval``, ``cards.memory.Model.after``); the database shell
around them is mirrored here.

**Figures.** *true*: the learners' true expected share of the track's cards recalled on
interview day (unseen cards count 0), mean over learners. *reviews*: all showings over
the run. *busiest*: the most showings on one day (mean over learners). *pred err*: the
dashboard's predicted readiness (``prep.readiness``, with the inputs
``prep.stats.interview_readiness`` gives it: the studied cards' memory states, and the new
cards the daily limit still brings in before the day with the share the app saw known at
first sight) minus the truth, mean absolute in points, predicted 7 days before the
interview (in the morning, after the night's rollover) and on the day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import statistics
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The queue and rollover modules hold the pure rules beside their database shells: Django
# is set up (no database is touched).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
import django  # noqa: E402

django.setup()

from cards.deckfile import read_deck  # noqa: E402
from cards.interview import (  # noqa: E402
    FSRS,
    SM2,
    Horizon,
    new_card_pace,
    next_interval,
)
from cards.memory import DEFAULT_PARAMETERS, Memory, Model  # noqa: E402
from cards.queue import DailyLimits, DueCard, overdue_order  # noqa: E402
from cards.rollover import final_sweep_cards, spread, sweep, sweep_days  # noqa: E402
from cards.scheduling import SAME_DAY_REPEAT_BELOW, Sm2State, next_state  # noqa: E402
from prep.readiness import (  # noqa: E402
    CardMemory,
    TopicCards,
    known_at_first,
    readiness,
)
from prep.stats import upcoming_new_card_days  # noqa: E402
from prep.trackfile import read_tracks  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TRACK = "llm-training-engineer"
SECONDS_PER_SHOWING = 8
NEW_PER_DAY = 10
# --no-new-card-stop: interview mode without its new-card stop, to measure what it costs;
# --no-pace: without new cards paced to the date.
NEW_CARD_STOP = True
PACE = True
MAX_REVIEWS = 150  # the profile's default cap
FIRST_RECALL = 0.35
START = dt.date(2027, 3, 1)
APP = Model()


def deck() -> list[tuple[int, str]]:
    """(card number, topic slug) of the track's cards, in deck order."""
    (track,) = [t for t in read_tracks(ROOT / "prep" / "tracks") if t.slug == TRACK]
    wanted = {t.topic for t in track.topics}
    cards: list[tuple[int, str]] = []
    for topic in read_deck(ROOT / "cards" / "deck"):
        if topic.slug in wanted:
            cards.extend((len(cards), topic.slug) for _ in topic.cards)
    return [(n, slug) for n, (_, slug) in enumerate(cards)]


def learner_model(rng: random.Random) -> Model:
    weights = []
    for i, w in enumerate(DEFAULT_PARAMETERS):
        sigma = 0.25 if i < 4 else 0.10
        weights.append(w * math.exp(rng.gauss(0, sigma)))
    weights[20] = min(max(weights[20], 0.10), 0.50)
    return Model(parameters=tuple(weights))


@dataclass
class Card:
    number: int
    topic: str
    introduced: bool = False
    sm2: Sm2State = field(default_factory=Sm2State.new)
    memory: Memory | None = None  # the app's
    memory_on: dt.date | None = None
    due: dt.date = START
    repeat_on: dt.date | None = None
    true: Memory | None = None
    true_last: dt.date | None = None
    first_quality: int | None = None  # what the app saw at the first grade
    first_on: dt.date | None = None


def grade_for(recall: float, remembered: bool) -> int:
    if remembered:
        return 5 if recall >= 0.9 else 4 if recall >= 0.6 else 3
    return 2 if recall >= 0.5 else 1 if recall >= 0.2 else 0


@dataclass
class Run:
    true: float
    reviews: int
    busiest: int
    predicted_week_before: float
    predicted_on_day: float


def predicted(cards: list[Card], today: dt.date, horizon: Horizon, limits: DailyLimits) -> float:
    """The dashboard's prediction (prep.stats.interview_readiness's inputs, mirrored)."""
    topics = list(dict.fromkeys(c.topic for c in cards))  # deck order: new cards' order
    due: dict[dt.date, int] = {}
    for c in cards:
        if c.memory is not None:
            day = max(c.due, today)
            due[day] = due.get(day, 0) + 1
    met_today = sum(c.first_on == today for c in cards)
    unseen = [c for c in cards if c.memory is None]
    firsts = [c.first_quality for c in cards if c.first_quality is not None]
    result = readiness(
        topics=[
            TopicCards(
                topic_id=i,
                title=t,
                total=sum(c.topic == t for c in cards),
                unseen=sum(c.topic == t for c in unseen),
            )
            for i, t in enumerate(topics)
        ],
        cards=[
            CardMemory(topic_id=topics.index(c.topic), memory=c.memory, last=c.memory_on, due=c.due)
            for c in cards
            if c.memory is not None
        ],
        today=today,
        horizon=horizon,
        model=APP,
        upcoming=upcoming_new_card_days(
            limits=limits,
            horizon=horizon,
            today=today,
            unseen=len(unseen),
            due_on=due,
            met_today=met_today,
            seconds_per_review=SECONDS_PER_SHOWING,
            model=APP,
        ),
        known_at_first=known_at_first(met=len(firsts), known=sum(q >= 3 for q in firsts)),
    )
    return result.overall.share


def simulate(*, strategy: str, horizon_days: int, minutes: int, truth: Model, seed: int) -> Run:
    rng = random.Random(seed)
    cards = [Card(number=n, topic=t) for n, t in deck()]
    interview = START + dt.timedelta(days=horizon_days)
    interview_mode = strategy != "sm2"
    horizon = Horizon(interview=interview if interview_mode else None)
    scheduler = FSRS if strategy.startswith("fsrs") else SM2
    limits = DailyLimits(
        new_cards_per_day=NEW_PER_DAY,
        max_reviews_per_day=MAX_REVIEWS,
        horizon=horizon,
        scheduler=scheduler,
        minutes_per_day=minutes,
    )
    # The dashboard always knows the date (it shows readiness only with one).
    shown_horizon = Horizon(interview=interview)
    total = busiest = 0
    week_before = 0.0
    for offset in range(horizon_days):
        today = START + dt.timedelta(days=offset)
        limits = rollover(cards, today, limits)
        if today == interview - dt.timedelta(days=7):
            # The dashboard that morning: after the night's rollover, before the drill.
            week_before = predicted(cards, today, shown_horizon, limits)
        shown = session(cards, today, limits, truth, rng, seconds=minutes * 60)
        total += shown
        busiest = max(busiest, shown)
    on_day = predicted(cards, interview, shown_horizon, limits)
    true = sum(truth.recall_on(c.true, c.true_last, interview) for c in cards) / len(cards)
    return Run(true, total, busiest, week_before, on_day)


def rollover(cards: list[Card], today: dt.date, limits: DailyLimits) -> DailyLimits:
    """The night of ``today``; returns the limits with the day's pace, as the profile
    keeps it."""
    if PACE:
        paced = new_card_pace(
            unseen=sum(c.memory is None for c in cards), today=today, horizon=limits.horizon
        )
        limits = replace(limits, paced_new_cards=paced, paced_on=today)
    waiting = sum(c.introduced and c.memory is None for c in cards)
    due_today = sum(c.memory is not None and c.due <= today for c in cards)
    allowed = (
        limits.new_cards_on(today, reviews_due=due_today)
        if NEW_CARD_STOP
        else limits.new_cards_per_day
    )
    room = allowed - waiting
    for card in cards:
        if room <= 0:
            break
        if not card.introduced:
            card.introduced, card.due = True, today
            room -= 1
    cap = limits.review_cap(day=today, seconds_per_review=SECONDS_PER_SHOWING)
    kept = limits.reviews_kept(
        day=today,
        seconds_per_review=SECONDS_PER_SHOWING,
        cards_to_meet=any(c.memory is None for c in cards),
    )
    at_risk = limits.horizon.active(today)
    seen = [c for c in cards if c.memory is not None]
    due = [c for c in seen if c.due <= today and c.repeat_on != today]
    if len(due) > kept:
        moves = spread(
            cards=[
                DueCard(
                    state_id=c.number,
                    card_id=c.number,
                    due=c.due,
                    interval=c.sm2.interval,
                    recall=APP.recall_on(c.memory, c.memory_on, today) if at_risk else 1.0,
                )
                for c in due
            ],
            day=today,
            cap=kept,
            later_cap=kept,
            already_due=_later(seen, today),
            at_risk_first=at_risk,
        )
        for c in cards:
            c.due = moves.get(c.number, c.due)
    interview = limits.horizon.interview
    if at_risk and interview is not None:
        below = final_sweep_cards(
            recalls=(
                (c.number, APP.recall_on(c.memory, c.memory_on, interview))
                for c in seen
                if c.due >= interview
            ),
            target=limits.horizon.target,
        )
        days_left = (interview - today).days
        if below and days_left <= sweep_days(cards=len(below), cap=cap):
            already = _later(seen, today)
            already[today] = sum(c.due <= today for c in seen)
            moves = sweep(
                recalls=below,
                days=[today + dt.timedelta(days=n) for n in range(days_left)],
                cap=cap,
                already_due=already,
            )
            for c in cards:
                c.due = moves.get(c.number, c.due)
    return limits


def _later(seen: list[Card], today: dt.date) -> dict[dt.date, int]:
    counts: dict[dt.date, int] = {}
    for c in seen:
        if c.due > today:
            counts[c.due] = counts.get(c.due, 0) + 1
    return counts


def session(
    cards: list[Card],
    today: dt.date,
    limits: DailyLimits,
    truth: Model,
    rng: random.Random,
    *,
    seconds: int,
) -> int:
    budget = seconds // SECONDS_PER_SHOWING
    shown = 0
    due = sorted(
        (c for c in cards if c.memory is not None and c.due <= today and c.repeat_on != today),
        key=lambda c: overdue_order(
            DueCard(c.number, c.number, c.due, c.sm2.interval, c.number), today
        ),
    )[: limits.max_reviews_per_day]
    new = [c for c in cards if c.introduced and c.memory is None]
    for card in [*due, *new]:
        if shown >= budget:
            return shown
        show(card, today, limits, truth, rng)
        shown += 1
    while shown < budget:
        repeats = [c for c in cards if c.repeat_on == today]
        if not repeats:
            break
        for card in repeats:
            if shown >= budget:
                break
            show(card, today, limits, truth, rng)
            shown += 1
    return shown


def show(card: Card, today: dt.date, limits: DailyLimits, truth: Model, rng: random.Random) -> None:
    if card.true is None:
        recall = FIRST_RECALL
    else:
        recall = truth.recall_on(card.true, card.true_last, today)
    quality = grade_for(recall, rng.random() < recall)
    elapsed = (today - card.true_last).days if card.true_last else 0
    card.true, card.true_last = truth.after(card.true, quality, elapsed), today
    # The app: cards.services.review_record's rules.
    app_elapsed = (today - card.memory_on).days if card.memory_on else 0
    memory = APP.after(card.memory, quality, app_elapsed)
    if card.repeat_on == today:
        if quality >= SAME_DAY_REPEAT_BELOW:
            card.repeat_on = None
    else:
        sm2 = next_state(card.sm2, quality)
        interval = next_interval(
            scheduler=limits.scheduler,
            sm2_interval=sm2.interval,
            memory=memory,
            today=today,
            horizon=limits.horizon,
            retention=limits.desired_retention,
            model=APP,
        )
        card.sm2 = Sm2State(sm2.repetitions, interval, sm2.easiness)
        card.due = today + dt.timedelta(days=interval)
        card.repeat_on = today if quality < SAME_DAY_REPEAT_BELOW else None
    if card.memory is None:
        card.first_quality, card.first_on = quality, today
    card.memory, card.memory_on = memory, today


STRATEGIES = ("sm2", "sm2+interview", "fsrs+interview")


def main() -> None:
    global NEW_PER_DAY, NEW_CARD_STOP, PACE  # a benchmark's knobs
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--new-per-day", type=int, default=NEW_PER_DAY)
    parser.add_argument("--no-new-card-stop", action="store_true")
    parser.add_argument("--no-pace", action="store_true")
    parser.add_argument(
        "--minutes",
        type=lambda text: [int(m) for m in text.split(",")],
        default=[15, 30],
        help="daily budgets, comma-separated (default 15,30)",
    )
    args = parser.parse_args()
    NEW_PER_DAY, NEW_CARD_STOP = args.new_per_day, not args.no_new_card_stop
    PACE = not args.no_pace
    rng = random.Random(args.seed)
    learners = [(learner_model(rng), rng.randrange(2**31)) for _ in range(args.learners)]
    print(
        f"{len(deck())} cards ({TRACK}), {args.learners} learners, {SECONDS_PER_SHOWING} s a "
        f"showing, {NEW_PER_DAY} new cards a day"
        f"{'' if NEW_CARD_STOP else ', interview mode without the new-card stop'}"
        f"{'' if PACE else ', interview mode without the pace'}\n"
    )
    header = (
        f"{'days':>4} {'min':>3}  {'strategy':<15} {'true %':>7} {'reviews':>8} "
        f"{'busiest':>7} {'err d-7':>8} {'err d-0':>8}"
    )
    print(header)
    print("-" * len(header))
    for horizon_days in (14, 28, 42):
        for minutes in args.minutes:
            for strategy in STRATEGIES:
                runs = [
                    simulate(
                        strategy=strategy,
                        horizon_days=horizon_days,
                        minutes=minutes,
                        truth=truth,
                        seed=seed,
                    )
                    for truth, seed in learners
                ]
                true = statistics.mean(r.true for r in runs)
                err7 = statistics.mean(abs(r.predicted_week_before - r.true) for r in runs)
                err0 = statistics.mean(abs(r.predicted_on_day - r.true) for r in runs)
                print(
                    f"{horizon_days:>4} {minutes:>3}  {strategy:<15} {100 * true:>7.1f} "
                    f"{statistics.mean(r.reviews for r in runs):>8.0f} "
                    f"{statistics.mean(r.busiest for r in runs):>7.0f} "
                    f"{100 * err7:>8.1f} {100 * err0:>8.1f}"
                )
        print()


if __name__ == "__main__":
    main()
