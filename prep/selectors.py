"""Reads of plans and study days that several screens, e-mails and tasks share."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import F, Prefetch, Sum, Window
from django.db.models.functions import RowNumber
from django.urls import reverse

from cards.models import ReviewLog
from prep.models import PlanItem, PlanWeek, TrackTopic


def current_week_topic_ids(*, user: User | int, today: dt.date) -> list[int]:
    """The topics of the active plan's week that holds ``today`` (empty without a plan)."""
    return list(
        PlanWeek.topics.through.objects.filter(
            planweek__plan__user=user,
            planweek__plan__is_active=True,
            planweek__starts_on__lte=today,
            planweek__ends_on__gte=today,
        ).values_list("topic_id", flat=True)
    )


def track_topic_ids_many(*, track_ids: Collection[int]) -> dict[int, list[int]]:
    """Each track's topic ids (track id → ids), in one query."""
    result: dict[int, list[int]] = {track_id: [] for track_id in track_ids}
    for track_id, topic_id in TrackTopic.objects.filter(track_id__in=list(track_ids)).values_list(
        "track_id", "topic_id"
    ):
        result[track_id].append(topic_id)
    return result


def current_week(*, user: User | int, today: dt.date) -> PlanWeek | None:
    """The active plan's week holding ``today``, with its items and topics loaded."""
    return (
        PlanWeek.objects.filter(
            plan__user=user, plan__is_active=True, starts_on__lte=today, ends_on__gte=today
        )
        .select_related("plan__track")
        .prefetch_related(
            Prefetch("items", queryset=PlanItem.objects.select_related("topic")), "topics"
        )
        .first()
    )


# --- Today: the day's cards and one slice of the week's plan -----------------------------

# Without enough answers of their own, a card is taken to cost this long.
DEFAULT_SECONDS_PER_CARD = 20
MEASURED_ANSWERS = 200
MIN_MEASURED = 10


def seconds_per_card(*, user: User | int) -> int:
    """The person's own pace: the median time to answer over their recent grades."""
    times = [
        ms
        for ms in ReviewLog.objects.filter(user=user, answer_ms__isnull=False, is_repeat=False)
        .order_by("-reviewed_at")
        .values_list("answer_ms", flat=True)[:MEASURED_ANSWERS]
        if ms is not None
    ]
    return _pace(times)


def _pace(times: list[int]) -> int:
    if len(times) < MIN_MEASURED:
        return DEFAULT_SECONDS_PER_CARD
    return max(2, round(statistics.median(times) / 1000))


def seconds_per_card_many(*, user_ids: Sequence[int]) -> dict[int, int]:
    """:func:`seconds_per_card` of many users in one query (each user's recent grades
    numbered by a window function)."""
    rows = (
        ReviewLog.objects.filter(
            user_id__in=list(user_ids), answer_ms__isnull=False, is_repeat=False
        )
        .annotate(
            recent=Window(
                RowNumber(), partition_by=[F("user_id")], order_by=F("reviewed_at").desc()
            )
        )
        .filter(recent__lte=MEASURED_ANSWERS)
        .values_list("user_id", "answer_ms")
    )
    times: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
    for user_id, ms in rows:
        if ms is not None:
            times[user_id].append(ms)
    return {user_id: _pace(found) for user_id, found in times.items()}


def drill_minutes(*, user: User | int, week: PlanWeek) -> dict[int, float]:
    """Minutes spent grading each topic's cards during ``week`` (what a drill item counts)."""
    rows = (
        ReviewLog.objects.filter(
            user=user,
            local_date__range=(week.starts_on, week.ends_on),
            answer_ms__isnull=False,
        )
        .values("card__topic_id")
        .annotate(ms=Sum("answer_ms"))
    )
    return {row["card__topic_id"]: (row["ms"] or 0) / 60_000 for row in rows}


@dataclass(frozen=True)
class PlanStep:
    """The plan's next activity, sized to today: the week's minutes left over its days left."""

    item: PlanItem
    minutes: int
    url: str


@dataclass(frozen=True)
class Today:
    reviews: int
    new: int
    card_minutes: int
    step: PlanStep | None
    week_minutes_left: int
    days_left_in_week: int

    @property
    def total_minutes(self) -> int:
        return self.card_minutes + (self.step.minutes if self.step else 0)


def plan_item_url(item: PlanItem) -> str:
    """Where a plan item is done: a drill in the drill; a mock interview on the mocks page
    with the prompts that match it; a topic's study, derivation, sketch or review beside
    the topic's cards; the finale's review of every topic in custom study's weakest cards."""
    if item.kind == PlanItem.Kind.DRILL:
        return reverse("drill")
    if item.kind == PlanItem.Kind.MOCK:
        return f"{reverse('mock_index')}?item={item.pk}"
    if item.topic_id is not None:
        return f"{reverse('card_browser')}?topic={item.topic_id}"
    if item.kind == PlanItem.Kind.REVIEW:
        return f"{reverse('custom_study')}?mode=weakest"
    return reverse("plan") + "#week-title"


def plan_step(*, week: PlanWeek, today: dt.date, spent: dict[int, float]) -> PlanStep | None:
    """The first item of ``week`` not done yet, with today's share of the week's time."""
    items = list(week.items.all())
    # A drill item the drill has already filled is done, ticked or not yet.
    left = [
        i
        for i in items
        if i.done_at is None
        and not (i.kind == PlanItem.Kind.DRILL and spent.get(i.topic_id or 0, 0) >= i.minutes)
    ]
    if not left:
        return None
    days = (week.ends_on - today).days + 1
    share = math.ceil(sum(i.minutes for i in left) / days / 5) * 5
    item = left[0]
    return PlanStep(
        item=item,
        minutes=min(item.minutes, max(share, 5)),
        url=plan_item_url(item),
    )


def today_load(
    *,
    user: User | int,
    week: PlanWeek | None,
    today: dt.date,
    reviews: int,
    new: int,
) -> Today:
    """The "Today" box: the queue in minutes at the person's pace, and one plan step."""
    pace = seconds_per_card(user=user)
    left = [i for i in week.items.all() if i.done_at is None] if week else []
    step = (
        plan_step(week=week, today=today, spent=drill_minutes(user=user, week=week))
        if week
        else None
    )
    return Today(
        reviews=reviews,
        new=new,
        card_minutes=math.ceil((reviews + new) * pace / 60),
        step=step,
        week_minutes_left=sum(i.minutes for i in left),
        days_left_in_week=(week.ends_on - today).days + 1 if week else 0,
    )
