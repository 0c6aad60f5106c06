"""The plan as an iCalendar feed (RFC 5545), for Google Calendar, Apple Calendar & co."""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from prep.models import Plan, PlanItem, PlanWeek, Profile

# A day's block is the week's planned minutes over its days, in 5-minute steps, and at
# least this long (the day's cards take time too).
MIN_BLOCK_MINUTES = 15


def _study_blocks(
    *, plan: Plan, week: PlanWeek, items: list[PlanItem], profile: Profile
) -> list[Event]:
    """One timed event a day, at the reminder time in the person's zone (in UTC, so each
    day's instant is right across a DST change)."""
    days = (week.ends_on - week.starts_on).days + 1
    per_day = math.ceil(sum(i.minutes for i in items) / days / 5) * 5
    length = dt.timedelta(minutes=max(MIN_BLOCK_MINUTES, per_day))
    blocks = []
    for offset in range(days):
        day = week.starts_on + dt.timedelta(days=offset)
        start = dt.datetime.combine(day, profile.reminder_time, tzinfo=profile.zone)
        block = Event()
        block.add("uid", f"plan-{plan.pk}-day-{day.isoformat()}@cadence")
        block.add("dtstart", start.astimezone(dt.UTC))
        block.add("dtend", (start + length).astimezone(dt.UTC))
        block.add("summary", f"Study: today's cards and week {week.number}'s plan")
        block.add("description", f"{settings.SITE_URL}/plan/")
        block.add("url", f"{settings.SITE_URL}/plan/")
        blocks.append(block)
    return blocks


def plan_calendar(*, plan: Plan | None, profile: Profile) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Cadence//Interview plan//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Cadence: interview plan")
    calendar.add("x-wr-timezone", profile.time_zone)
    stamp = timezone.now()
    if plan is None:
        return bytes(calendar.to_ical())

    weeks = plan.weeks.prefetch_related("items").order_by("number")
    for week in weeks:
        items: list[PlanItem] = list(week.items.all())
        event = Event()
        event.add("uid", f"plan-{plan.pk}-week-{week.pk}@cadence")
        event.add("dtstamp", stamp)
        # All-day events: DTEND is exclusive.
        event.add("dtstart", week.starts_on)
        event.add("dtend", week.ends_on + dt.timedelta(days=1))
        event.add(
            "summary", f"Week {week.number}: {week.title}" if week.title else f"Week {week.number}"
        )
        lines = [
            f"{'[x]' if item.done_at else '[ ]'} {item.title} ({item.minutes} min)"
            for item in items
        ]
        total = sum(item.minutes for item in items)
        event.add(
            "description",
            "\n".join([*lines, "", f"{total} min planned", f"{settings.SITE_URL}/plan/"]),
        )
        event.add("url", f"{settings.SITE_URL}/plan/")
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
        for block in _study_blocks(plan=plan, week=week, items=items, profile=profile):
            block.add("dtstamp", stamp)
            calendar.add_component(block)

    interview = Event()
    interview.add("uid", f"plan-{plan.pk}-interview@cadence")
    interview.add("dtstamp", stamp)
    interview.add("dtstart", plan.interview_date)
    interview.add("dtend", plan.interview_date + dt.timedelta(days=1))
    interview.add("summary", f"Interview day ({plan.track.title})")
    calendar.add_component(interview)
    return bytes(calendar.to_ical())
