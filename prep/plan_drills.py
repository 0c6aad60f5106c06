"""The drill feeds the plan: a week's "Drill ⟨topic⟩ cards" items are ticked once the
time spent grading the topic's cards that week reaches their minutes.

Ticked where the time is spent (after each grade in the drill) and again before the
reminders and summaries are built, so that no page, e-mail or feed shows as undone a
drill the person has already done, wherever the grades came from (custom study, an
import's history)."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Sequence

from django.db import connection
from django.db.models import QuerySet, Sum

from cards.models import ReviewLog
from cards.statements import ANY_DAY, ANY_ID, ANY_OTHER_ID, Loader, loader
from prep.models import Plan, PlanItem, PlanWeek


def plan_drills_tick(
    *,
    user_ids: Sequence[int],
    on: dt.date,
    now: dt.datetime,
    topic_ids: Sequence[int] | None = None,
) -> int:
    """Tick the open drill items of the active plan's week holding ``on``, for each user,
    whose minutes their grades of the topic's cards in that week have reached. Returns how
    many were ticked. Two queries, plus one per distinct week span among the users; one
    when no open drill item is left (of ``topic_ids``, when given: a grade's topic)."""
    items = _drills(user_ids=user_ids, on=on, topic_ids=topic_ids, done_at__isnull=True)
    reached = _reached(items)
    ticked = [item.pk for item in items if reached[item.pk]]
    if not ticked:
        return 0
    return PlanItem.objects.filter(pk__in=ticked, done_at__isnull=True).update(
        done_at=now, ticked_by_drill=True
    )


def plan_drills_untick(*, user_id: int, on: dt.date, topic_ids: Sequence[int]) -> int:
    """Take back the drill's own ticks in the week holding ``on`` whose minutes the
    grades no longer reach (an undone grade); a hand tick stays. Returns how many."""
    items = _drills(
        user_ids=[user_id], on=on, topic_ids=topic_ids, done_at__isnull=False, ticked_by_drill=True
    )
    reached = _reached(items)
    short = [item.pk for item in items if not reached[item.pk]]
    if not short:
        return 0
    return PlanItem.objects.filter(pk__in=short, ticked_by_drill=True).update(
        done_at=None, ticked_by_drill=False
    )


def _drills(
    *, user_ids: Sequence[int], on: dt.date, topic_ids: Sequence[int] | None, **state: bool
) -> list[PlanItem]:
    """The drill items of the active plans' week holding ``on`` (of ``topic_ids``)."""
    if len(user_ids) == 1 and topic_ids is not None and len(topic_ids) == 1:
        # A grade's or an undo's: one person, one topic, on every drill request.
        one = _one_topics_drills(connection.vendor, tuple(sorted(state.items())))
        return one.all(user=user_ids[0], day=on, topic=topic_ids[0])
    return list(drills_queryset(user_ids=user_ids, on=on, topic_ids=topic_ids, **state))


def drills_queryset(
    *, user_ids: Sequence[int], on: dt.date, topic_ids: Sequence[int] | None, **state: bool
) -> QuerySet[PlanItem]:
    topics = {} if topic_ids is None else {"topic_id__in": list(topic_ids)}
    return PlanItem.objects.filter(
        **topics,
        **state,
        week__plan__user_id__in=list(user_ids),
        week__plan__is_active=True,
        week__starts_on__lte=on,
        week__ends_on__gte=on,
        kind=PlanItem.Kind.DRILL,
        topic__isnull=False,
    ).select_related("week__plan")


@functools.lru_cache(maxsize=16)
def _one_topics_drills(vendor: str, state: tuple[tuple[str, bool], ...]) -> Loader:
    """:func:`drills_queryset` for one person and one topic, built once (cards.statements)."""
    return loader(
        drills_queryset(user_ids=[ANY_ID], on=ANY_DAY, topic_ids=[ANY_OTHER_ID], **dict(state)),
        chain=(
            (PlanItem, None),
            (PlanWeek, PlanItem._meta.get_field("week")),
            (Plan, PlanWeek._meta.get_field("plan")),
        ),
        stand_ins={"user": ANY_ID, "day": ANY_DAY, "topic": ANY_OTHER_ID},
    )


def _reached(items: Sequence[PlanItem]) -> dict[int, bool]:
    """Whether each item's minutes are reached by the time its person spent grading its
    topic's cards in its week: one query per distinct week span."""
    by_span: dict[tuple[dt.date, dt.date], list[PlanItem]] = defaultdict(list)
    for item in items:
        by_span[(item.week.starts_on, item.week.ends_on)].append(item)
    reached = {}
    for (starts_on, ends_on), span_items in by_span.items():
        spent: dict[tuple[int, int | None], float] = {
            (row["user_id"], row["card__topic_id"]): (row["ms"] or 0) / 60_000
            for row in ReviewLog.objects.filter(
                user_id__in={i.week.plan.user_id for i in span_items},
                local_date__range=(starts_on, ends_on),
                answer_ms__isnull=False,
            )
            .values("user_id", "card__topic_id")
            .annotate(ms=Sum("answer_ms"))
            .order_by()
        }
        for i in span_items:
            reached[i.pk] = spent.get((i.week.plan.user_id, i.topic_id), 0) >= i.minutes
    return reached
