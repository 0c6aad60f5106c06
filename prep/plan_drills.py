"""The drill feeds the plan: a week's "Drill ⟨topic⟩ cards" items are ticked once the
time spent grading the topic's cards that week reaches their minutes.

Ticked where the time is spent (after each grade in the drill) and again before the
reminders and summaries are built, so that no page, e-mail or feed shows as undone a
drill the person has already done, wherever the grades came from (custom study, an
import's history)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Sum

from cards.models import ReviewLog
from prep.models import PlanItem


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
    topics = {} if topic_ids is None else {"topic_id__in": list(topic_ids)}
    open_drills = list(
        PlanItem.objects.filter(
            **topics,
            week__plan__user_id__in=list(user_ids),
            week__plan__is_active=True,
            week__starts_on__lte=on,
            week__ends_on__gte=on,
            kind=PlanItem.Kind.DRILL,
            done_at__isnull=True,
            topic__isnull=False,
        ).select_related("week__plan")
    )
    if not open_drills:
        return 0
    by_span: dict[tuple[dt.date, dt.date], list[PlanItem]] = defaultdict(list)
    for item in open_drills:
        by_span[(item.week.starts_on, item.week.ends_on)].append(item)
    ticked = []
    for (starts_on, ends_on), items in by_span.items():
        spent: dict[tuple[int, int | None], float] = {
            (row["user_id"], row["card__topic_id"]): (row["ms"] or 0) / 60_000
            for row in ReviewLog.objects.filter(
                user_id__in={i.week.plan.user_id for i in items},
                local_date__range=(starts_on, ends_on),
                answer_ms__isnull=False,
            )
            .values("user_id", "card__topic_id")
            .annotate(ms=Sum("answer_ms"))
            .order_by()
        }
        ticked += [
            i.pk for i in items if spent.get((i.week.plan.user_id, i.topic_id), 0) >= i.minutes
        ]
    if not ticked:
        return 0
    return PlanItem.objects.filter(pk__in=ticked, done_at__isnull=True).update(done_at=now)
