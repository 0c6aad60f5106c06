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
from typing import Any

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery, Sum

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
    many were ticked. For one person and one topic (a grade's) one query reads the items
    with the time spent; otherwise one, plus one per distinct week span among the items.
    Then the tick, when one is reached."""
    items = _drills_reached(user_ids=user_ids, on=on, topic_ids=topic_ids, done_at__isnull=True)
    ticked = [item.pk for item, reached in items if reached]
    if not ticked:
        return 0
    return PlanItem.objects.filter(pk__in=ticked, done_at__isnull=True).update(
        done_at=now, ticked_by_drill=True
    )


def plan_drills_untick(*, user_id: int, on: dt.date, topic_ids: Sequence[int]) -> int:
    """Take back the drill's own ticks in the week holding ``on`` whose minutes the
    grades no longer reach (an undone grade); a hand tick stays. Returns how many."""
    items = _drills_reached(
        user_ids=[user_id], on=on, topic_ids=topic_ids, done_at__isnull=False, ticked_by_drill=True
    )
    short = [item.pk for item, reached in items if not reached]
    if not short:
        return 0
    return PlanItem.objects.filter(pk__in=short, ticked_by_drill=True).update(
        done_at=None, ticked_by_drill=False
    )


def _drills_reached(
    *, user_ids: Sequence[int], on: dt.date, topic_ids: Sequence[int] | None, **state: bool
) -> list[tuple[PlanItem, bool]]:
    """The drill items of the active plans' week holding ``on`` (of ``topic_ids``), each
    with whether its minutes are reached."""
    if len(user_ids) == 1 and topic_ids is not None and len(topic_ids) == 1:
        # A grade's or an undo's: one person, one topic, on every drill request. The time
        # spent is read with the items, in one statement.
        one = _one_topics_drills(connection.vendor, tuple(sorted(state.items())))
        items = one.all(user=user_ids[0], day=on, topic=topic_ids[0])
        return [(item, (item.spent_ms or 0) / 60_000 >= item.minutes) for item in items]
    found = list(drills_queryset(user_ids=user_ids, on=on, topic_ids=topic_ids, **state))
    reached = _reached(found)
    return [(item, reached[item.pk]) for item in found]


def drills_queryset(
    *,
    user_ids: Sequence[int],
    on: dt.date,
    topic_ids: Sequence[int] | None,
    spent: bool = False,
    **state: bool,
) -> QuerySet[PlanItem]:
    """The drill items of the active plans' week holding ``on`` (of ``topic_ids``), with
    their weeks and plans; ``spent``: each with ``spent_ms``, the milliseconds its person
    spent grading its topic's cards in its week (None: none)."""
    topics = {} if topic_ids is None else {"topic_id__in": list(topic_ids)}
    items = PlanItem.objects.filter(
        **topics,
        **state,
        week__plan__user_id__in=list(user_ids),
        week__plan__is_active=True,
        week__starts_on__lte=on,
        week__ends_on__gte=on,
        kind=PlanItem.Kind.DRILL,
        topic__isnull=False,
    ).select_related("week__plan")
    if not spent:
        return items
    return items.annotate(spent_ms=Subquery(_spent_ms()))


def _spent_ms() -> QuerySet[Any, Any]:
    """For the item of the outer query: the milliseconds its person spent grading its
    topic's cards in its week, as :func:`_reached` counts them."""
    return (
        ReviewLog.objects.filter(
            user_id=OuterRef("week__plan__user_id"),
            local_date__gte=OuterRef("week__starts_on"),
            local_date__lte=OuterRef("week__ends_on"),
            answer_ms__isnull=False,
            card__topic_id=OuterRef("topic_id"),
        )
        .order_by()
        .values("user_id")
        .annotate(ms=Sum("answer_ms"))
        .values("ms")
    )


@functools.lru_cache(maxsize=16)
def _one_topics_drills(vendor: str, state: tuple[tuple[str, bool], ...]) -> Loader:
    """:func:`drills_queryset` for one person and one topic, built once (cards.statements)."""
    return loader(
        drills_queryset(
            user_ids=[ANY_ID], on=ANY_DAY, topic_ids=[ANY_OTHER_ID], spent=True, **dict(state)
        ),
        chain=(
            (PlanItem, None),
            (PlanWeek, PlanItem._meta.get_field("week")),
            (Plan, PlanWeek._meta.get_field("plan")),
        ),
        stand_ins={"user": ANY_ID, "day": ANY_DAY, "topic": ANY_OTHER_ID},
        annotations=("spent_ms",),
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
