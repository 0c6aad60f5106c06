"""What the e-mails say: one user's day (the daily reminder) and week (the weekly
summary), read for a whole batch of users in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q

from cards.models import ReviewLog, ReviewState
from cards.queue import queue_counts_many
from cards.scheduling import PASSING_QUALITY
from cards.selectors import streaks
from prep.models import PlanItem, PlanWeek, Profile
from prep.stats import at_risk_many


@dataclass
class DailyDigest:
    """Everything the daily reminder says about one user's day (a batch read)."""

    due: int = 0
    new: int = 0
    repeat: int = 0
    streak: int = 0
    week: PlanWeek | None = None
    items_left: list[PlanItem] = field(default_factory=list)
    days_to_go: int | None = None
    # What is at risk on the interview day, a sentence a topic (prep.readiness.at_risk).
    at_risk: list[str] = field(default_factory=list)

    @property
    def cards(self) -> int:
        return self.due + self.new + self.repeat

    @property
    def is_empty(self) -> bool:
        return self.cards == 0 and not self.items_left


def _current_weeks(user_ids: Sequence[int], today: dt.date) -> dict[int, PlanWeek]:
    weeks = (
        PlanWeek.objects.filter(
            plan__user_id__in=user_ids,
            plan__is_active=True,
            starts_on__lte=today,
            ends_on__gte=today,
        )
        .select_related("plan")
        # Into plain lists (to_attr): a related manager per week for the prefetch to fill
        # costs about a millisecond a week, as much as rendering the e-mail.
        .prefetch_related(
            Prefetch("items", queryset=PlanItem.objects.all(), to_attr="prefetched_items"),
            Prefetch("topics", to_attr="prefetched_topics"),
        )
    )
    return {week.plan.user_id: week for week in weeks}


def daily_digests(*, profiles: Sequence[Profile], today: dt.date) -> dict[int, DailyDigest]:
    """The daily reminder's numbers for many users on one local date, in a fixed number
    of queries: the drill's own counts (cards.queue), streaks, plan weeks and what is at
    risk on the interview day (prep.stats.at_risk_many)."""
    user_ids = [p.user_id for p in profiles]
    counts = queue_counts_many(limits={p.user_id: p.limits for p in profiles}, today=today)
    weeks = _current_weeks(user_ids, today)
    streak = streaks(user_ids=user_ids, today=today)
    risks = at_risk_many(profiles=profiles, today=today)
    digests = {}
    for profile in profiles:
        uid = profile.user_id
        week = weeks.get(uid)
        interview = week.plan.interview_date if week else profile.interview_date
        days_to_go = (interview - today).days if interview else None
        digests[uid] = DailyDigest(
            due=counts[uid].due,
            new=counts[uid].new,
            repeat=counts[uid].repeat,
            streak=streak.get(uid, 0),
            week=week,
            items_left=(
                [i for i in week.prefetched_items if i.done_at is None]  # type: ignore[attr-defined]
                if week
                else []
            ),
            days_to_go=days_to_go if days_to_go is not None and days_to_go >= 0 else None,
            at_risk=[r.sentence(profile.horizon.target) for r in risks.get(uid, [])],
        )
    return digests


@dataclass
class TopicRisk:
    title: str
    answered: int
    correct: int
    overdue: int

    @property
    def accuracy(self) -> int | None:
        return round(100 * self.correct / self.answered) if self.answered else None


@dataclass
class WeeklyDigest:
    week: PlanWeek
    last_week: PlanWeek | None
    planned_items: int = 0
    done_items: int = 0
    planned_minutes: int = 0
    done_minutes: int = 0
    reviews: int = 0
    correct: int = 0
    at_risk: list[TopicRisk] = field(default_factory=list)
    days_to_go: int | None = None
    # This week's items not ticked yet, and how many are (ahead of time, or kept by a
    # rebuild); today's cards, as the drill counts them (the summary is the day's e-mail).
    items_left: list[PlanItem] = field(default_factory=list)
    items_done: int = 0
    cards_today: int = 0

    @property
    def accuracy(self) -> int | None:
        return round(100 * self.correct / self.reviews) if self.reviews else None


# A topic is at risk when last week's answers on its cards were under this share correct
# (with at least RISK_MIN_ANSWERS answers), or when some of its cards are a week overdue.
RISK_ACCURACY = 0.7
RISK_MIN_ANSWERS = 3
RISK_OVERDUE_DAYS = 7
RISK_SHOWN = 5


def weekly_digests(*, user_ids: Sequence[int], today: dt.date) -> dict[int, WeeklyDigest]:
    """The weekly summary of every given user whose active plan has a week starting today."""
    item_prefetch = Prefetch("items", queryset=PlanItem.objects.select_related("topic"))
    weeks = {
        w.plan.user_id: w
        for w in PlanWeek.objects.filter(
            plan__user_id__in=user_ids, plan__is_active=True, starts_on=today
        )
        .select_related("plan")
        .prefetch_related(item_prefetch, "topics")
    }
    if not weeks:
        return {}
    # The week before is the one that ended in the last seven days (weeks are contiguous;
    # a re-planned plan keeps its past weeks).
    previous_by_plan: dict[int, PlanWeek] = {}
    for week in (
        PlanWeek.objects.filter(
            plan_id__in=[w.plan_id for w in weeks.values()],
            ends_on__lt=today,
            ends_on__gte=today - dt.timedelta(days=7),
        )
        .order_by("ends_on", "number")
        .prefetch_related("items")
    ):
        previous_by_plan[week.plan_id] = week  # the latest wins
    # "The last seven days" include today: the summary goes out at the reminder time, and
    # the reviews done this morning before it count.
    start, end = today - dt.timedelta(days=6), today
    limits = {p.user_id: p.limits for p in Profile.objects.filter(user_id__in=list(weeks))}
    counts = queue_counts_many(limits=limits, today=today)
    reviewed = {
        row["user_id"]: row
        for row in ReviewLog.objects.filter(
            user_id__in=list(weeks), local_date__range=(start, end), is_repeat=False
        )
        .values("user_id")
        .annotate(n=Count("id"), correct=Count("id", filter=Q(quality__gte=PASSING_QUALITY)))
    }
    risks: dict[int, dict[int, TopicRisk]] = defaultdict(dict)
    for answers in (
        ReviewLog.objects.filter(
            user_id__in=list(weeks), local_date__range=(start, end), is_repeat=False
        )
        .values("user_id", "card__topic_id", "card__topic__title")
        .annotate(n=Count("id"), correct=Count("id", filter=Q(quality__gte=PASSING_QUALITY)))
    ):
        risks[answers["user_id"]][answers["card__topic_id"]] = TopicRisk(
            title=answers["card__topic__title"],
            answered=answers["n"],
            correct=answers["correct"],
            overdue=0,
        )
    for overdue in (
        ReviewState.objects.filter(
            user_id__in=list(weeks), due__lte=today - dt.timedelta(days=RISK_OVERDUE_DAYS)
        )
        .reviewed()
        .values("user_id", "card__topic_id", "card__topic__title")
        .annotate(n=Count("id"))
    ):
        risk = risks[overdue["user_id"]].setdefault(
            overdue["card__topic_id"],
            TopicRisk(title=overdue["card__topic__title"], answered=0, correct=0, overdue=0),
        )
        risk.overdue = overdue["n"]

    digests = {}
    for user_id, week in weeks.items():
        last = previous_by_plan.get(week.plan_id)
        last_items = list(last.items.all()) if last else []
        done = [i for i in last_items if i.done_at is not None]
        at_risk = [
            r
            for r in risks.get(user_id, {}).values()
            if r.overdue
            or (r.answered >= RISK_MIN_ANSWERS and r.correct < RISK_ACCURACY * r.answered)
        ]
        at_risk.sort(key=lambda r: (r.accuracy if r.accuracy is not None else 101, -r.overdue))
        totals = reviewed.get(user_id, {"n": 0, "correct": 0})
        days_to_go = (week.plan.interview_date - today).days
        this_week = list(week.items.all())
        digests[user_id] = WeeklyDigest(
            week=week,
            last_week=last,
            planned_items=len(last_items),
            done_items=len(done),
            planned_minutes=sum(i.minutes for i in last_items),
            done_minutes=sum(i.minutes for i in done),
            reviews=totals["n"],
            correct=totals["correct"],
            at_risk=at_risk[:RISK_SHOWN],
            days_to_go=days_to_go if days_to_go >= 0 else None,
            items_left=[i for i in this_week if i.done_at is None],
            items_done=sum(1 for i in this_week if i.done_at is not None),
            cards_today=counts[user_id].total if user_id in counts else 0,
        )
    return digests
