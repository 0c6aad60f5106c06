"""When a user's next daily event happens, in UTC. Pure: no Django, no clock.

A daily event (the reminder at the user's chosen local time, or the nightly rollover at
local midnight) happens once per *local calendar date*. Given the user's zone, the local
time of day and an instant, :func:`next_occurrence` returns the first occurrence after
that instant and the local date it belongs to.

Daylight saving, exactly:

- **A local time that does not exist** (the spring-forward gap, 02:30 in New York on
  2026-03-08) happens at the first valid instant after it: the end of the gap (03:00 EDT
  that day). It never moves to another date and never happens twice.
- **A local time that exists twice** (the fall-back overlap, 01:30 in New York on
  2026-11-01) happens once, at its first occurrence (``fold=0``, 01:30 EDT).
- **A local date the zone skipped altogether** (Pacific/Apia jumped over 2011-12-30) has
  no occurrence; the next date takes it.

Dates are the unit: the caller passes ``not_before``, the first local date still owed an
occurrence (the day after the last one claimed), so changing the reminder time or the zone
can never give one local date two reminders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

# Far more than any zone's transition needs; guards the search, never reached in practice.
_MAX_DAYS_AHEAD = 7


@dataclass(frozen=True)
class Occurrence:
    at: dt.datetime  # UTC
    local_date: dt.date


def _utc(local: dt.datetime) -> dt.datetime:
    return local.astimezone(dt.UTC)


def _exists(local: dt.datetime, zone: ZoneInfo) -> bool:
    """Whether this wall-clock reading happens in ``zone`` (it does not in a gap)."""
    back = _utc(local).astimezone(zone)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def _end_of_gap(local: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The instant a spring-forward gap containing ``local`` ends (UTC).

    Read with the offset before the transition (fold=0) the wall time lands after the
    transition; with the offset after it (fold=1), before. The transition lies between:
    bisect, by whole seconds, for the first second with the later offset.
    """
    before = int(_utc(local.replace(fold=1)).timestamp())
    after = int(_utc(local.replace(fold=0)).timestamp())
    later_offset = dt.datetime.fromtimestamp(after, zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if dt.datetime.fromtimestamp(middle, zone).utcoffset() == later_offset:
            after = middle
        else:
            before = middle
    return dt.datetime.fromtimestamp(after, dt.UTC)


def occurrence_on(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of local time ``at`` on local date ``day``, or None if ``day`` was
    skipped by the zone."""
    local = dt.datetime.combine(day, at.replace(tzinfo=None, fold=0, microsecond=0), tzinfo=zone)
    instant = _utc(local) if _exists(local, zone) else _end_of_gap(local, zone)
    if instant.astimezone(zone).date() != day:
        # A gap at the very end of a day, or a whole day skipped: not this date's.
        return None
    return instant


def next_occurrence(
    *, zone: ZoneInfo, at: dt.time, after: dt.datetime, not_before: dt.date | None = None
) -> Occurrence:
    """The first occurrence of local time ``at`` strictly after ``after``, on a local date
    no earlier than ``not_before``."""
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    day = after.astimezone(zone).date()
    if not_before is not None and not_before > day:
        day = not_before
    for _ in range(_MAX_DAYS_AHEAD):
        instant = occurrence_on(day, at, zone)
        if instant is not None and instant > after:
            return Occurrence(at=instant, local_date=day)
        day += dt.timedelta(days=1)
    raise ValueError(f"no occurrence of {at} in {zone.key} within {_MAX_DAYS_AHEAD} days")
