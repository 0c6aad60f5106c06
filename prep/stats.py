"""The numbers on the dashboard. Aggregates come from the database (GROUP BY the local
date or the topic), a fixed handful of queries whatever the length of the history."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from cards.interview import Horizon, new_card_pace, new_card_review_dates
from cards.memory import Memory, Model
from cards.models import LEARNING, MATURE, MATURE_DAYS, Card, ReviewLog, ReviewState, Topic
from cards.queue import DailyLimits, Done, QueueCounts, done_on, queue_counts
from cards.scheduling import PASSING_QUALITY
from cards.selectors import (
    memory_model,
    memory_models,
    seconds_per_review,
    visible_card_counts,
)
from cards.versions import (
    READ_SECONDS,
    cached_per_version,
    data_version,
    queue_version_with,
    tokens_shared,
)
from prep.models import Profile, TrackTopic
from prep.readiness import (
    CardMemory,
    Readiness,
    TopicCards,
    TopicRisk,
    at_risk,
    known_at_first,
    new_card_days,
    readiness,
)
from prep.selectors import seconds_per_card_many

HEATMAP_WEEKS = 26
FORECAST_DAYS = 30


@dataclass(frozen=True)
class TopicStanding:
    topic: Topic
    total: int
    new: int
    learning: int
    mature: int
    suspended: int
    graded_30d: int
    passed_30d: int

    @property
    def accuracy(self) -> int | None:
        return round(100 * self.passed_30d / self.graded_30d) if self.graded_30d else None

    def share(self, part: int) -> float:
        return 100 * part / self.total if self.total else 0.0

    @property
    def new_pct(self) -> float:
        return self.share(self.new)

    @property
    def learning_pct(self) -> float:
        return self.share(self.learning)

    @property
    def mature_pct(self) -> float:
        return self.share(self.mature)


def _state_counts(*, user: User) -> dict[int, dict[str, int]]:
    """The person's suspended, learning and mature cards per topic. Their own cards and
    the built-in ones joined apart: joined to both at once (an OR) the planner read every
    person's cards; apart, each join reads one owner's from the (owner, topic, id) index."""
    states: dict[int, dict[str, int]] = {}
    base = ReviewState.objects.filter(user=user, card__retired_at__isnull=True)
    for owned in (base.filter(card__owner=user), base.filter(card__owner__isnull=True)):
        for row in owned.values("card__topic_id").annotate(
            n_suspended=Count("id", filter=Q(suspended=True)),
            n_learning=Count("id", filter=LEARNING),
            n_mature=Count("id", filter=MATURE),
        ):
            counts = states.setdefault(row["card__topic_id"], {})
            for name in ("n_suspended", "n_learning", "n_mature"):
                counts[name] = counts.get(name, 0) + row[name]
    return states


def _per_owner[Q_: QuerySet[Any, Any]](states: Q_, *, user_id: int) -> list[Q_]:
    """One person's states (``states``, of reviewed cards only) as two reads: those on
    their own cards, joined through the (owner, topic, id) index, and those on built-in
    cards. Together the same rows as ``states``; read at once, the join to the cards
    table read every person's cards. (A person has states on those two kinds only.)"""
    return [
        states.filter(card__owner_id=user_id, card__retired_at__isnull=True),
        states.filter(card__owner__isnull=True),
    ]


def topic_standing(
    *, user: User, today: dt.date, reads: DeckReads | None = None
) -> list[TopicStanding]:
    """Each topic's cards by where they stand, and the last 30 days' recall. ``reads``:
    the deck's reads made already (:func:`deck_reads`); else read now."""
    topics = list(Topic.objects.visible_to(user))
    reads = reads or _deck_reads(user=user)
    totals, states = reads.totals, reads.states
    # Per card, then per topic in Python: joining the log to the cards table made the
    # planner scan every user's cards (the log has no topic of its own).
    recent = list(
        ReviewLog.objects.filter(
            user=user, is_repeat=False, local_date__gt=today - dt.timedelta(days=30)
        )
        .values("card_id")
        .annotate(graded=Count("id"), passed=Count("id", filter=Q(quality__gte=PASSING_QUALITY)))
        .order_by()
    )
    topic_of = dict(
        Card.objects.filter(id__in=[row["card_id"] for row in recent]).values_list("id", "topic_id")
    )
    grades: dict[int, dict[str, int]] = {}
    for by_card in recent:
        topic_grades = grades.setdefault(topic_of[by_card["card_id"]], {"graded": 0, "passed": 0})
        topic_grades["graded"] += by_card["graded"]
        topic_grades["passed"] += by_card["passed"]
    standing = []
    for topic in topics:
        total = totals.get(topic.pk, 0)
        if not total:
            continue
        row: Mapping[str, Any] = states.get(topic.pk) or {}
        suspended, learning, mature = (
            row.get("n_suspended", 0),
            row.get("n_learning", 0),
            row.get("n_mature", 0),
        )
        grade_row: Mapping[str, Any] = grades.get(topic.pk) or {}
        standing.append(
            TopicStanding(
                topic=topic,
                total=total - suspended,
                new=total - suspended - learning - mature,
                learning=learning,
                mature=mature,
                suspended=suspended,
                graded_30d=grade_row.get("graded", 0),
                passed_30d=grade_row.get("passed", 0),
            )
        )
    return standing


@dataclass(frozen=True)
class HeatCell:
    day: dt.date
    count: int
    level: int  # 0 (none) to 4
    x: int
    y: int


@dataclass(frozen=True)
class Heatmap:
    cells: list[HeatCell]
    weeks: list[tuple[dt.date, int]]  # (Monday, reviews that week) for the text version
    months: list[tuple[int, str]]  # (x, label)
    total: int
    active_days: int
    width: int
    height: int


def review_heatmap(*, user: User, today: dt.date, cell: int = 13, gap: int = 3) -> Heatmap:
    first = today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=HEATMAP_WEEKS - 1)
    counts = dict(
        ReviewLog.objects.filter(user=user, local_date__gte=first, local_date__lte=today)
        .values("local_date")
        .annotate(n=Count("id"))
        .values_list("local_date", "n")
    )
    peak = max(counts.values(), default=0)
    cells, weeks, months = [], [], []
    step = cell + gap
    for week in range(HEATMAP_WEEKS):
        monday = first + dt.timedelta(weeks=week)
        weeks.append((monday, sum(counts.get(monday + dt.timedelta(days=d), 0) for d in range(7))))
        if week == 0 or monday.month != (monday - dt.timedelta(weeks=1)).month:
            months.append((week * step, monday.strftime("%b")))
        for weekday in range(7):
            day = monday + dt.timedelta(days=weekday)
            if day > today:
                break
            count = counts.get(day, 0)
            level = 0 if not count else min(4, 1 + (4 * count - 1) // max(peak, 1))
            cells.append(
                HeatCell(day=day, count=count, level=level, x=week * step, y=18 + weekday * step)
            )
    return Heatmap(
        cells=cells,
        weeks=weeks,
        months=months,
        total=sum(counts.values()),
        active_days=len(counts),
        width=HEATMAP_WEEKS * step,
        height=18 + 7 * step,
    )


@dataclass(frozen=True)
class ForecastBar:
    day: dt.date
    count: int
    x: int
    y: int
    height: int


@dataclass(frozen=True)
class Forecast:
    bars: list[ForecastBar]
    peak: int
    total: int
    width: int
    height: int


def due_forecast(
    *,
    user: User,
    today: dt.date,
    bar: int = 14,
    gap: int = 4,
    chart_height: int = 90,
    reads: DeckReads | None = None,
) -> Forecast:
    """Cards due on each of the next 30 days; anything overdue counts on today.
    ``reads``: the deck's reads made already (:func:`deck_reads`); else read now."""
    last = today + dt.timedelta(days=FORECAST_DAYS - 1)
    by_due = (reads or _deck_reads(user=user, due_by=last)).due
    counts: dict[dt.date, int] = {}
    for due, n in by_due.items():
        if due > last or not n:
            continue
        day = max(due, today)
        counts[day] = counts.get(day, 0) + n
    peak = max(counts.values(), default=0)
    bars = []
    for offset in range(FORECAST_DAYS):
        day = today + dt.timedelta(days=offset)
        count = counts.get(day, 0)
        height = round(chart_height * count / peak) if peak else 0
        if count and height < 2:
            height = 2
        bars.append(
            ForecastBar(
                day=day, count=count, x=offset * (bar + gap), y=chart_height - height, height=height
            )
        )
    return Forecast(
        bars=bars,
        peak=peak,
        total=sum(counts.values()),
        width=FORECAST_DAYS * (bar + gap),
        height=chart_height,
    )


CALIBRATION_MIN_REVIEWS = 100


@dataclass(frozen=True)
class CalibrationBin:
    low: int  # percent
    high: int
    reviews: int
    predicted: float  # mean predicted recall, 0..1
    actual: float  # share graded 3 or more
    cx: float
    cy: float
    r: float

    @property
    def predicted_pct(self) -> int:
        return round(100 * self.predicted)

    @property
    def actual_pct(self) -> int:
        return round(100 * self.actual)


@dataclass(frozen=True)
class Calibration:
    bins: list[CalibrationBin]
    reviews: int
    size: int
    predicted: float
    actual: float

    @property
    def predicted_pct(self) -> int:
        return round(100 * self.predicted)

    @property
    def actual_pct(self) -> int:
        return round(100 * self.actual)


def calibration(*, user: User, size: int = 200) -> Calibration | None:
    """Predicted against actual recall over the user's own history, by tenths of the
    predicted recall; None under CALIBRATION_MIN_REVIEWS predicted grades."""
    rows = list(
        ReviewLog.objects.filter(user=user, is_repeat=False, predicted_recall__isnull=False)
        .order_by()
        .values_list("predicted_recall", "quality")
    )
    if len(rows) < CALIBRATION_MIN_REVIEWS:
        return None
    grouped: dict[int, list[tuple[float, bool]]] = {}
    for recall, quality in rows:
        assert recall is not None
        grouped.setdefault(min(int(recall * 10), 9), []).append(
            (recall, quality >= PASSING_QUALITY)
        )
    biggest = max(len(group) for group in grouped.values())
    bins = []
    for tenth in sorted(grouped):
        group = grouped[tenth]
        predicted = sum(r for r, _ in group) / len(group)
        actual = sum(ok for _, ok in group) / len(group)
        bins.append(
            CalibrationBin(
                low=10 * tenth,
                high=10 * tenth + 10,
                reviews=len(group),
                predicted=predicted,
                actual=actual,
                cx=round(predicted * size, 1),
                cy=round((1 - actual) * size, 1),
                r=round(3 + 7 * (len(group) / biggest) ** 0.5, 1),
            )
        )
    return Calibration(
        bins=bins,
        reviews=len(rows),
        size=size,
        predicted=sum(r for r, _ in rows if r is not None) / len(rows),
        actual=sum(q >= PASSING_QUALITY for _, q in rows) / len(rows),
    )


def upcoming_new_card_days(
    *,
    limits: DailyLimits,
    horizon: Horizon,
    today: dt.date,
    unseen: int,
    due_on: Mapping[dt.date, int],
    met_today: int,
    seconds_per_review: float,
    model: Model,
) -> list[dt.date]:
    """The days the schedule meets the next ``unseen`` new cards (prep.readiness's
    ``new_card_days``) under ``limits``: each day's new-card limit (today's pace the
    rollover's, a later day's from what is left then) less ``met_today``, in the time the
    day's budget leaves after the reviews due then (``due_on``) and the cards met before;
    to the interview of ``horizon`` (the dashboard's, which is the limits' own)."""
    return new_card_days(
        today=today,
        horizon=horizon,
        unseen=unseen,
        cap=lambda day: limits.review_cap(day=day, seconds_per_review=seconds_per_review),
        load=due_on,
        showings=lambda day: new_card_review_dates(model=model, met_on=day, horizon=horizon),
        allowance=lambda day, left: (
            limits.new_cards_on(
                day,
                reviews_due=due_on.get(day, 0),
                seconds_per_review=seconds_per_review,
                paced=None
                if day == today
                else new_card_pace(unseen=left, today=day, horizon=horizon),
            )
            - (met_today if day == today else 0)
        ),
    )


def interview_readiness(
    *, user: User, profile: Profile, standing: list[TopicStanding], today: dt.date
) -> Readiness | None:
    """Predicted and measured recall of the track's topics (every topic without a track);
    None without an interview date ahead. A handful of queries whatever the deck size."""
    horizon = profile.horizon
    if not horizon.active(today):
        return None
    track_order = (
        dict(TrackTopic.objects.filter(track=profile.track).values_list("topic_id", "order"))
        if profile.track_id
        else {}
    )
    chosen = [s for s in standing if not track_order or s.topic.pk in track_order]
    # New cards come in the plan's order: the track's topics in turn, then deck order.
    chosen.sort(key=lambda s: (track_order.get(s.topic.pk, 0), s.topic.order, s.topic.pk))
    cards = [
        CardMemory(
            topic_id=topic_id,
            memory=(
                Memory(stability, difficulty)
                if stability is not None and difficulty is not None
                else None
            ),
            last=memory_on,
            due=due,
        )
        for owned in _per_owner(
            ReviewState.objects.filter(user=user, card__topic_id__in=[s.topic.pk for s in chosen])
            .reviewed()
            .values_list("card__topic_id", "stability", "difficulty", "memory_on", "due"),
            user_id=user.pk,
        )
        for topic_id, stability, difficulty, memory_on, due in owned
    ]
    due_on: dict[dt.date, int] = {}
    for card in cards:
        day = max(card.due, today)
        due_on[day] = due_on.get(day, 0) + 1
    limits = profile.limits
    met_today = done_on(user_ids=[user.pk], day=today).get(user.pk, Done()).new
    pace = seconds_per_review(user_id=user.pk)
    firsts = ReviewLog.objects.filter(user=user, is_repeat=False, repetitions_before=0).aggregate(
        met=Count("id"), known=Count("id", filter=Q(quality__gte=PASSING_QUALITY))
    )
    topics = [
        TopicCards(
            topic_id=s.topic.pk,
            title=s.topic.title,
            total=s.total,
            graded_30d=s.graded_30d,
            passed_30d=s.passed_30d,
            unseen=s.new,
        )
        for s in chosen
    ]
    model = memory_model(user_id=user.pk)
    return readiness(
        topics=topics,
        cards=cards,
        today=today,
        horizon=horizon,
        model=model,
        upcoming=upcoming_new_card_days(
            limits=limits,
            horizon=horizon,
            today=today,
            unseen=sum(t.unseen for t in topics),
            due_on=due_on,
            met_today=met_today,
            seconds_per_review=pace,
            model=model,
        ),
        known_at_first=known_at_first(met=firsts["met"], known=firsts["known"]),
    )


def at_risk_many(*, profiles: Sequence[Profile], today: dt.date) -> dict[int, list[TopicRisk]]:
    """The at-risk topics (prep.readiness.at_risk) of every profile with an interview
    ahead, for the plan page and the daily e-mail: four queries however many users and
    cards (states, track topics, fitted parameters, paces)."""
    active = [p for p in profiles if p.horizon.active(today)]
    result: dict[int, list[TopicRisk]] = {p.user_id: [] for p in profiles}
    if not active:
        return result
    user_ids = [p.user_id for p in active]
    cards: dict[int, list[CardMemory]] = {uid: [] for uid in user_ids}
    titles: dict[int, dict[int, str]] = {uid: {} for uid in user_ids}
    states = (
        ReviewState.objects.filter(user_id__in=user_ids)
        .reviewed()
        .values_list(
            "user_id",
            "card__topic_id",
            "card__topic__title",
            "stability",
            "difficulty",
            "memory_on",
            "due",
        )
    )
    # One person (the plan page): their cards and the built-in ones read apart. Many (the
    # daily e-mail's batches): one read of them all.
    parts = _per_owner(states, user_id=user_ids[0]) if len(user_ids) == 1 else [states]
    for user_id, topic_id, title, stability, difficulty, memory_on, due in (
        row for part in parts for row in part
    ):
        if stability is None or difficulty is None:
            continue
        titles[user_id][topic_id] = title
        cards[user_id].append(
            CardMemory(
                topic_id=topic_id,
                memory=Memory(stability, difficulty),
                last=memory_on,
                due=due,
            )
        )
    track_topics: dict[int, set[int]] = {}
    for track_id, topic_id in TrackTopic.objects.filter(
        track_id__in={p.track_id for p in active if p.track_id}
    ).values_list("track_id", "topic_id"):
        track_topics.setdefault(track_id, set()).add(topic_id)
    models = memory_models(user_ids=user_ids)
    paces = seconds_per_card_many(user_ids=user_ids)
    for profile in active:
        uid = profile.user_id
        wanted = track_topics.get(profile.track_id or 0)
        result[uid] = at_risk(
            titles={t: title for t, title in titles[uid].items() if not wanted or t in wanted},
            cards=cards[uid],
            today=today,
            horizon=profile.horizon,
            model=models[uid],
            seconds_per_card=paces[uid],
        )
    return result


@dataclass(frozen=True)
class History:
    """The dashboard's reads of the whole history and deck: what grows with them."""

    standing: list[TopicStanding]
    heatmap: Heatmap
    forecast: Forecast


HISTORY_SECONDS = 26 * 60 * 60


def dashboard_queue_counts(*, user: User, limits: DailyLimits, today: dt.date) -> QueueCounts:
    """The drill's counts (cards.queue.queue_counts) as the dashboard shows them, kept
    under the person's token (cards.versions: every write of their cards, states or log
    moves it, the nightly rollover's too), their local day and their limits."""
    described = hashlib.sha256(repr(limits).encode()).hexdigest()[:32]
    return cached_per_version(
        user_id=user.pk,
        name=f"queue-counts:{today.isoformat()}:{described}",
        # The day's reviews the counts read are kept on their own (cards.dayqueue).
        compute=lambda: replace(queue_counts(user=user, limits=limits, today=today), reviews=None),
    )


def dashboard_history(*, user: User, today: dt.date) -> History:
    """The topic standing, heatmap and forecast, computed once per person, local day and
    version of their data (cards.versions: every write moves it), when the cache is one
    every process shares; else computed on every call. A lost entry is recomputed."""
    if not tokens_shared():
        return _history(user=user, today=today)
    key = f"prep:history:{user.pk}:{today.isoformat()}:{data_version(user_id=user.pk)}"
    found = cache.get(key)
    if not isinstance(found, History):
        found = _history(user=user, today=today)
        cache.set(key, found, timeout=HISTORY_SECONDS)
    return found


def _history(*, user: User, today: dt.date) -> History:
    reads = deck_reads(user=user)
    return History(
        standing=topic_standing(user=user, today=today, reads=reads),
        heatmap=review_heatmap(user=user, today=today),
        forecast=due_forecast(user=user, today=today, reads=reads),
    )


# --- What the dashboard reads of the whole deck, kept across the drill's grades ---------

# A grade's request reads the clock before its write, which commits well within this.
GRADE_COMMIT_SECONDS = 10 * 60


@dataclass(frozen=True)
class DeckReads:
    """What the standing and the forecast read of a person's whole deck: the cards each
    topic holds, the suspended, learning and mature ones per topic, and the reviewed
    live cards by due date."""

    totals: dict[int, int]
    states: dict[int, dict[str, int]]
    due: dict[dt.date, int]


def _deck_reads(*, user: User, due_by: dt.date | None = None) -> DeckReads:
    due = ReviewState.objects.filter(user=user).reviewed()
    if due_by is not None:
        due = due.filter(due__lte=due_by)
    return DeckReads(
        totals=visible_card_counts(user_id=user.pk),
        states=_state_counts(user=user),
        due=dict(due.values("due").annotate(n=Count("id")).values_list("due", "n")),
    )


@dataclass(frozen=True)
class _KeptReads:
    """:class:`DeckReads` as one snapshot saw them, with the drill's grades that snapshot
    held among those made since ``since``."""

    version: str
    reads: DeckReads
    since: dt.datetime
    seen: frozenset[int]


def deck_reads(*, user: User) -> DeckReads:
    """:class:`DeckReads`, which grow with the deck. With a shared cache they are read
    once per version of the person's day queue (cards.versions: every write of their
    cards, states or log moves it, except the drill's grade) and brought up to date with
    the drill's grades made since, from the log: a grade's row says what it moved (the
    interval and due date before and after), and its card's topic is read for it. So a
    visit after a morning's drilling reads that morning's grades, not the deck."""
    if not tokens_shared() or connection.in_atomic_block:
        # Inside a caller's transaction the reads would not be one snapshot.
        return _deck_reads(user=user)
    key = f"prep:deck-reads:{user.pk}"
    version, found = queue_version_with(user_id=user.pk, keys=[key])
    kept = found.get(key)
    if not isinstance(kept, _KeptReads) or kept.version != version:
        kept = _deck_snapshot(user=user, version=version)
        cache.set(key, kept, timeout=READ_SECONDS)
        return kept.reads  # as fresh as any read: a grade since moves the caller's token
    return _with_grades_since(kept, user=user)


def _grades_since(user: User, since: dt.datetime) -> QuerySet[ReviewLog]:
    """The drill's grades of a schedule since ``since`` (a same-day repeat moves none)."""
    return ReviewLog.objects.filter(
        user=user,
        # The local date bounds the index read: it is within a day of the UTC one.
        local_date__gte=since.date() - dt.timedelta(days=1),
        reviewed_at__gte=since,
        is_repeat=False,
    ).order_by()


def _deck_snapshot(*, user: User, version: str) -> _KeptReads:
    since = timezone.now() - dt.timedelta(seconds=GRADE_COMMIT_SECONDS)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The reads and the grades they hold, one snapshot (SQLite's transaction is).
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        reads = _deck_reads(user=user)
        seen = frozenset(_grades_since(user, since).values_list("id", flat=True))
    return _KeptReads(version=version, reads=reads, since=since, seen=seen)


def _class(due: dt.date | None, interval: int) -> str | None:
    """Where a card stood (cards.models.LEARNING, MATURE), from a log row's side."""
    if due is None:
        return None  # not reviewed: a new card
    return "n_mature" if interval >= MATURE_DAYS else "n_learning"


def _with_grades_since(kept: _KeptReads, *, user: User) -> DeckReads:
    grades = [
        row
        for row in _grades_since(user, kept.since).values_list(
            "id", "card_id", "due_before", "interval_before", "due_after", "interval_after"
        )
        if row[0] not in kept.seen
    ]
    if not grades:
        return kept.reads
    topic_of = dict(
        Card.objects.filter(id__in={row[1] for row in grades}).values_list("id", "topic_id")
    )
    states = {topic: dict(counts) for topic, counts in kept.reads.states.items()}
    due = dict(kept.reads.due)
    for _, card_id, due_before, interval_before, due_after, interval_after in grades:
        counts = states.setdefault(topic_of[card_id], {})
        before = _class(due_before, interval_before)
        if before is not None and due_before is not None:
            counts[before] = counts.get(before, 0) - 1
            due[due_before] = due.get(due_before, 0) - 1
        after = _class(due_after, interval_after)
        assert after is not None
        assert due_after is not None
        counts[after] = counts.get(after, 0) + 1
        due[due_after] = due.get(due_after, 0) + 1
    return DeckReads(totals=kept.reads.totals, states=states, due=due)
