"""The plan as an iCalendar feed (RFC 5545), for Google Calendar, Apple Calendar & co."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from prep.models import Plan, PlanItem, Profile


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

    interview = Event()
    interview.add("uid", f"plan-{plan.pk}-interview@cadence")
    interview.add("dtstamp", stamp)
    interview.add("dtstart", plan.interview_date)
    interview.add("dtend", plan.interview_date + dt.timedelta(days=1))
    interview.add("summary", f"Interview day ({plan.track.title})")
    calendar.add_component(interview)
    return bytes(calendar.to_ical())
