"""The user's calendar. Pure: no Django.

Everything is stored in UTC; a user's "day" is their local calendar date in their own
IANA time zone, so "today" for one user may be tomorrow or yesterday for another at the
same UTC instant.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def local_date(now: dt.datetime, zone: ZoneInfo) -> dt.date:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(zone).date()


def local_day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants a local calendar day starts and ends at (23 or 25 hours on DST days)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
