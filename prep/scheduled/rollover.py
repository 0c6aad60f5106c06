"""The nightly rollover's sweep: claim the profiles whose local day has begun and prepare
each one's queue (:func:`cards.rollover.rollover_prepare`) in the claim's transaction."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from cards.rollover import rollover_prepare
from core.occurrences import next_occurrence
from prep.models import LIMIT_FIELDS, Profile
from prep.scheduled.claims import claim, claim_sql, profiles_reschedule
from prep.scheduled.reminders import MIDNIGHT, schedules_fill_missing
from prep.selectors import current_week_topic_ids


@dataclass
class RolloverResult:
    profiles: int = 0
    introduced: int = 0
    moved: int = 0


def rollovers_run_due(
    *,
    now: dt.datetime,
    batch_size: int = 50,
    time_budget: float | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> RolloverResult:
    """Prepare the day's review queue of every profile whose local day has rolled over.

    Each batch is claimed, prepared and rescheduled in one transaction. Stops after
    ``time_budget`` seconds (the next sweep goes on where this one stopped).
    """
    started = time.monotonic()
    result = RolloverResult()
    sql = claim_sql(
        marker="last_rollover_on",
        next_on="next_rollover_on",
        next_at="next_rollover_at",
        batch_size=batch_size,
    )
    schedules_fill_missing(now=now)
    while not stop() and (time_budget is None or time.monotonic() - started < time_budget):
        with transaction.atomic():
            claimed = claim(sql, now)
            if not claimed:
                break
            limits = {
                profile.pk: profile.limits
                for profile in Profile.objects.filter(id__in=[c.profile_id for c in claimed]).only(
                    *LIMIT_FIELDS
                )
            }
            rescheduled: list[tuple[int, dt.date, dt.datetime, dt.date]] = []
            for c in claimed:
                zone = zoneinfo.ZoneInfo(c.time_zone)
                # Late (the sweep was down): prepare the user's current day, not a past one.
                day = max(c.local_date, now.astimezone(zone).date())
                prepared = rollover_prepare(
                    user_id=c.user_id,
                    day=day,
                    limits=limits[c.profile_id],
                    topic_ids=current_week_topic_ids(user=c.user_id, today=day),
                )
                result.introduced += prepared.introduced
                result.moved += prepared.moved
                upcoming = next_occurrence(
                    zone=zone, at=MIDNIGHT, after=now, not_before=day + dt.timedelta(days=1)
                )
                rescheduled.append((c.profile_id, day, upcoming.at, upcoming.local_date))
            profiles_reschedule(
                rescheduled, columns=["last_rollover_on", "next_rollover_at", "next_rollover_on"]
            )
        result.profiles += len(claimed)
    return result
