"""Writes to profiles, tracks and plans. Views, tasks and commands call these."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cards.deckfile import DeckFormatError
from cards.models import Topic
from cards.services import calendar_rezone
from core.localtime import local_date
from prep.models import Plan, PlanItem, PlanWeek, Profile, Track, TrackTopic
from prep.planning import Activity, DoneItem, TrackTemplate, generate_plan
from prep.planning import TrackTopic as PlanTrackTopic
from prep.scheduled.reminders import reminder_schedule_next
from prep.scheduled.rollover import pace_refresh
from prep.trackfile import TrackSpec


@dataclass(frozen=True)
class TrackLoadResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0

    def __str__(self) -> str:
        return (
            f"tracks: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.retired} retired"
        )


# (topic id, order, weight, activities): one track topic as stored.
_TopicRow = tuple[int, int, int, list[dict[str, object]]]


@transaction.atomic
def tracks_load(*, tracks: Sequence[TrackSpec], now: dt.datetime) -> TrackLoadResult:
    """Bring the plan tracks in line with their files (after the deck is loaded)."""
    topics = {t.slug: t for t in Topic.objects.filter(owner__isnull=True, retired_at__isnull=True)}
    for spec in tracks:
        missing = [t.topic for t in spec.topics if t.topic not in topics]
        if missing:
            raise DeckFormatError(spec.path, 2, f"unknown topic(s): {', '.join(missing)}")

    existing = {t.slug: t for t in Track.objects.all()}
    current_rows: dict[int, list[_TopicRow]] = {}
    for row in TrackTopic.objects.order_by("track_id", "order").values_list(
        "track_id", "topic_id", "order", "weight", "activities"
    ):
        current_rows.setdefault(row[0], []).append(row[1:])
    added = updated = unchanged = 0
    for spec in tracks:
        values = {
            "title": spec.title,
            "summary": spec.summary,
            "description": spec.description,
            "source": spec.source,
            "order": spec.order,
            "retired_at": None,
            "finale": [vars(a) for a in spec.finale],
        }
        rows: list[_TopicRow] = [
            (topics[entry.topic].pk, index, entry.weight, [vars(a) for a in entry.activities])
            for index, entry in enumerate(spec.topics)
        ]
        track = existing.get(spec.slug)
        same_rows = track is not None and current_rows.get(track.pk, []) == rows
        if track is None:
            track = Track.objects.create(slug=spec.slug, **values)
            added += 1
        else:
            changed = [name for name, value in values.items() if getattr(track, name) != value]
            if not changed and same_rows:
                # A second load of the same files writes nothing.
                unchanged += 1
                continue
            for name in changed:
                setattr(track, name, values[name])
            if changed:
                track.save(update_fields=changed)
            updated += 1
        if not same_rows:
            # Track topics have no history of their own; plans copy what they need.
            TrackTopic.objects.filter(track=track).delete()
            TrackTopic.objects.bulk_create(
                TrackTopic(
                    track=track, topic_id=topic_id, order=order, weight=weight, activities=acts
                )
                for topic_id, order, weight, acts in rows
            )
    retired = (
        Track.objects.filter(retired_at__isnull=True)
        .exclude(slug__in=[t.slug for t in tracks])
        .update(retired_at=now)
    )
    return TrackLoadResult(added=added, updated=updated, unchanged=unchanged, retired=retired)


def profile_for(user: User) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    password: str,
    time_zone: str = "UTC",
    is_active: bool = True,
) -> User:
    user: User = get_user_model().objects.create_user(
        username=username, email=email, password=password, is_active=is_active
    )
    profile = Profile.objects.create(user=user, time_zone=time_zone)
    reminder_schedule_next(profile=profile, now=timezone.now())
    return user


@transaction.atomic
def profile_update(*, profile: Profile, fields: dict[str, object]) -> Profile:
    old_zone = profile.zone
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.full_clean()
    # Only the fields the person changed: the sweeps move the schedule columns, and a
    # stale profile saved whole would move them back.
    profile.save(update_fields=list(fields))
    if profile.zone != old_zone:
        _calendar_rezone(profile=profile, now=timezone.now())
    # The time, zone or e-mail choices may have changed: the next reminder moves with them.
    reminder_schedule_next(profile=profile, now=timezone.now())
    return profile


def _calendar_rezone(*, profile: Profile, now: dt.datetime) -> None:
    """A zone to the west can make today an earlier date than the one already begun: the
    day's work keeps counting as today's, and a plan that began "tomorrow" begins today."""
    today = local_date(now, profile.zone)
    calendar_rezone(user=profile.user, zone=profile.zone, now=now)
    plan = Plan.objects.filter(user=profile.user, is_active=True, starts_on__gt=today).first()
    if plan is None:
        return
    first = plan.weeks.order_by("number").first()
    if first is not None and first.starts_on > today:
        first.starts_on = today
        first.save(update_fields=["starts_on"])
    plan.starts_on = today
    plan.save(update_fields=["starts_on", "updated_at"])


class PlanNotPossible(ValueError):
    """The profile lacks what a plan needs (a track, an interview date after today)."""


def _template(track: Track) -> TrackTemplate:
    entries = TrackTopic.objects.filter(track=track).select_related("topic").order_by("order")
    return TrackTemplate(
        topics=tuple(
            PlanTrackTopic(
                topic_id=entry.topic_id,
                title=entry.topic.title,
                weight=entry.weight,
                activities=tuple(
                    Activity(kind=a["kind"], title=a["title"], minutes=a["minutes"])
                    for a in entry.activities
                ),
            )
            for entry in entries
        ),
        finale=tuple(
            Activity(kind=a["kind"], title=a["title"], minutes=a["minutes"]) for a in track.finale
        ),
    )


@transaction.atomic
def plan_generate(*, user: User, today: dt.date) -> Plan:
    """Lay out (or re-lay) the user's plan from today to their interview date.

    Re-planning keeps history: weeks that ended before today stay as they are; the
    current and later weeks are planned again from today, and every item already done is
    kept (attached to the new first week) and never planned twice.
    """
    profile = Profile.objects.select_for_update(of=("self",)).select_related("track").get(user=user)
    if profile.track is None or profile.track.retired_at is not None:
        raise PlanNotPossible("Choose a track first.")
    if profile.interview_date is None or profile.interview_date <= today:
        raise PlanNotPossible("Set an interview date after today.")

    plan = Plan.objects.select_for_update().filter(user=user, is_active=True).first()
    if plan is not None and plan.track_id != profile.track_id:
        # A new track is a new plan; the old one stays as history.
        plan.is_active = False
        plan.save(update_fields=["is_active", "updated_at"])
        plan = None
    rebuilding = plan is not None
    if plan is None:
        plan = Plan.objects.create(
            user=user,
            track=profile.track,
            starts_on=today,
            interview_date=profile.interview_date,
            hours_per_week=profile.hours_per_week,
        )
    done_items = list(
        PlanItem.objects.filter(week__plan=plan, done_at__isnull=False).select_related("week")
    )
    kept_done = [item for item in done_items if item.week.ends_on >= today]
    # Same date and hours: a rebuild, which plans no topic the plan had left out.
    same_terms = (
        rebuilding
        and plan.interview_date == profile.interview_date
        and plan.hours_per_week == profile.hours_per_week
    )
    topic_ids = (
        set(
            PlanItem.objects.filter(week__plan=plan, topic__isnull=False).values_list(
                "topic_id", flat=True
            )
        )
        if same_terms
        else None
    )
    replaced = PlanWeek.objects.filter(plan=plan, ends_on__gte=today)
    open_items = PlanItem.objects.filter(week__in=replaced, done_at__isnull=True)
    # A rebuild on the same terms keeps every open item's minutes: only what was ticked
    # moves the plan, never the durations the person has been reading.
    kept: dict[tuple[str, str, int | None], int] | None = (
        {
            (kind, title, topic_id): minutes
            for kind, title, topic_id, minutes in open_items.values_list(
                "kind", "title", "topic_id", "minutes"
            )
        }
        if same_terms
        else None
    )
    open_items.delete()
    # Out of the way of the new weeks' numbers until their done items have moved.
    replaced.update(number=F("number") + 10_000)
    last_past = PlanWeek.objects.filter(plan=plan, ends_on__lt=today).order_by("-number").first()
    first_number = last_past.number + 1 if last_past else 1

    draft = generate_plan(
        template=_template(profile.track),
        start=today,
        interview=profile.interview_date,
        hours_per_week=profile.hours_per_week,
        done=[DoneItem(i.kind, i.title, i.topic_id, i.minutes) for i in done_items],
        spent=sum(i.minutes for i in kept_done),
        topic_ids=topic_ids,
        kept=kept,
    )
    weeks = PlanWeek.objects.bulk_create(
        PlanWeek(
            plan=plan,
            number=first_number + offset,
            starts_on=week.starts_on,
            ends_on=week.ends_on,
            title=week.title,
        )
        for offset, week in enumerate(draft.weeks)
    )
    PlanWeek.topics.through.objects.bulk_create(
        PlanWeek.topics.through(planweek_id=week.pk, topic_id=topic_id)
        for week, week_draft in zip(weeks, draft.weeks, strict=True)
        for topic_id in dict.fromkeys(week_draft.topic_ids)
    )
    PlanItem.objects.bulk_create(
        PlanItem(
            week=week,
            topic_id=item.topic_id,
            kind=item.kind,
            title=item.title,
            minutes=item.minutes,
            order=index + 1,
        )
        for week, week_draft in zip(weeks, draft.weeks, strict=True)
        for index, item in enumerate(week_draft.items)
    )
    # What was already done this week (or ahead of time) stays, in the new first week.
    PlanItem.objects.filter(pk__in=[i.pk for i in kept_done]).update(week=weeks[0], order=0)
    PlanWeek.objects.filter(plan=plan, number__gte=10_000).delete()

    plan.interview_date = profile.interview_date
    plan.hours_per_week = profile.hours_per_week
    plan.notes = draft.notes
    plan.save(update_fields=["interview_date", "hours_per_week", "notes", "updated_at"])
    # New cards paced to the new date from today, not from the next nightly rollover.
    pace_refresh(profile=profile, day=today)
    return plan


def plan_item_set_done(*, user: User, item_id: int, done: bool, now: dt.datetime) -> PlanItem:
    """Check an item off (or undo that). Another user's item is PlanItem.DoesNotExist."""
    item = PlanItem.objects.select_related("week").get(
        pk=item_id, week__plan__user=user, week__plan__is_active=True
    )
    item.done_at = now if done else None
    item.ticked_by_drill = False
    item.save(update_fields=["done_at", "ticked_by_drill"])
    return item


def feed_token_rotate(*, profile: Profile) -> str:
    """Turn the calendar feed on with a new secret URL; any old URL stops working."""
    profile.feed_token = secrets.token_urlsafe(32)
    profile.save(update_fields=["feed_token"])
    return profile.feed_token


def feed_token_revoke(*, profile: Profile) -> None:
    profile.feed_token = ""
    profile.save(update_fields=["feed_token"])


PLAN_FIELDS = ("interview_date", "hours_per_week", "track")


@transaction.atomic
def profile_save_and_replan(
    *, profile: Profile, fields: dict[str, object], today: dt.date
) -> Plan | None:
    """Save profile settings; a change to the date, hours or track re-plans from today.
    A new date (or none) in place of one that has passed answers "keep going?" too."""
    changed = any(getattr(profile, name) != fields[name] for name in PLAN_FIELDS if name in fields)
    pacing = "pace_new_cards" in fields and fields["pace_new_cards"] != profile.pace_new_cards
    if (
        profile.interview_passed(today)
        and "interview_date" in fields
        and fields["interview_date"] != profile.interview_date
    ):
        fields = {**fields, **_after_interview(profile, new_date=fields["interview_date"])}
    profile_update(profile=profile, fields=fields)
    plannable = bool(profile.onboarded_at and profile.track and profile.interview_date)
    if changed and plannable and profile.interview_date > today:  # type: ignore[operator]
        return plan_generate(user=profile.user, today=today)
    if pacing:
        pace_refresh(profile=profile, day=today)
    return None


def _after_interview(profile: Profile, *, new_date: object) -> dict[str, object]:
    Choice = Profile.AfterInterview
    return {
        "past_interview_date": profile.interview_date,
        "after_interview": Choice.NEW_DATE if new_date else Choice.KEEP,
    }


class InterviewNotPassed(Exception):
    """The profile's interview date is still ahead (or there is none): nothing to answer."""


@transaction.atomic
def interview_after_choose(
    *, profile: Profile, keep_going_without_date: bool, new_date: dt.date | None, today: dt.date
) -> Plan | None:
    """Answer "keep going?" once the interview date has passed: a new date (the plan is
    rebuilt to it from today, everything done kept), or practice with no date (interview
    mode off, the daily limits as they are). The answer and the date that passed are kept.
    Returns the new plan, if any."""
    if not profile.interview_passed(today):
        raise InterviewNotPassed
    if keep_going_without_date == (new_date is not None):
        raise ValueError("either a new date or keep going without one")
    fields = {"interview_date": new_date, **_after_interview(profile, new_date=new_date)}
    profile_update(profile=profile, fields=fields)
    if new_date is not None and profile.onboarded_at and profile.track_id:
        return plan_generate(user=profile.user, today=today)
    return None


def profile_extra_new_cards_set(*, profile: Profile, extra: int, now: dt.datetime) -> Profile:
    """Custom study's "extra new cards today": ``extra`` more new cards than the daily limit
    on the person's current local date only (asked again, it replaces the day's extra)."""
    profile.extra_new_cards = extra
    profile.extra_new_on = local_date(now, profile.zone)
    profile.full_clean()
    profile.save(update_fields=["extra_new_cards", "extra_new_on"])
    return profile


@transaction.atomic
def onboarding_complete(
    *, profile: Profile, fields: dict[str, object], today: dt.date, now: dt.datetime
) -> Plan:
    profile_update(profile=profile, fields=fields)
    profile.onboarded_at = now
    profile.save(update_fields=["onboarded_at"])
    return plan_generate(user=profile.user, today=today)
