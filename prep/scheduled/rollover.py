"""The nightly rollover's sweep: claim the profiles whose local day has begun and prepare
each one's queue (:func:`cards.rollover.rollover_prepare`) in the claim's transaction."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from cards.rollover import Prepared, paced_new_cards, rollover_prepare
from core.occurrences import next_occurrence
from prep.models import LIMIT_FIELDS, Profile
from prep.scheduled.claims import claim, claim_sql, profiles_reschedule
from prep.scheduled.reminders import MIDNIGHT, schedules_fill_missing
from prep.selectors import current_week_topic_ids, track_topic_ids_many


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
            profiles = {
                profile.pk: profile
                for profile in Profile.objects.filter(id__in=[c.profile_id for c in claimed]).only(
                    *LIMIT_FIELDS, "track_id"
                )
            }
            track_topics = track_topic_ids_many(
                track_ids={p.track_id for p in profiles.values() if p.track_id is not None}
            )
            paced: list[Profile] = []
            rescheduled: list[tuple[int, dt.date, dt.datetime, dt.date]] = []
            for c in claimed:
                zone = zoneinfo.ZoneInfo(c.time_zone)
                # Late (the sweep was down): prepare the user's current day, not a past one.
                day = max(c.local_date, now.astimezone(zone).date())
                profile = profiles[c.profile_id]
                prepared = rollover_prepare(
                    user_id=c.user_id,
                    day=day,
                    limits=profile.limits,
                    topic_ids=current_week_topic_ids(user=c.user_id, today=day),
                    track_topic_ids=track_topics.get(profile.track_id or 0, ())
                    if profile.pace_new_cards
                    else (),
                )
                if (profile.paced_new_cards, profile.paced_on) != (prepared.paced, day):
                    profile.paced_new_cards, profile.paced_on = prepared.paced, day
                    paced.append(profile)
                result.introduced += prepared.introduced
                result.moved += prepared.moved
                upcoming = next_occurrence(
                    zone=zone, at=MIDNIGHT, after=now, not_before=day + dt.timedelta(days=1)
                )
                rescheduled.append((c.profile_id, day, upcoming.at, upcoming.local_date))
            profiles_reschedule(
                rescheduled, columns=["last_rollover_on", "next_rollover_at", "next_rollover_on"]
            )
            Profile.objects.bulk_update(paced, ["paced_new_cards", "paced_on"])
        result.profiles += len(claimed)
    return result


def pace_refresh(*, profile: Profile, day: dt.date) -> int:
    """Work out and keep the paced new cards of ``profile``'s local date ``day`` now (a new
    plan: a new date, time or track), as the nightly rollover does."""
    paced = paced_new_cards(
        user_id=profile.user_id,
        day=day,
        horizon=profile.horizon,
        track_topic_ids=_track_topic_ids(profile),
    )
    Profile.objects.filter(pk=profile.pk).update(paced_new_cards=paced, paced_on=day)
    profile.paced_new_cards, profile.paced_on = paced, day
    return paced


def rollover_one(*, profile: Profile, day: dt.date) -> Prepared:
    """Prepare one person's local date ``day`` now (``run_rollovers --user``): idempotent
    as the nightly one is."""
    with transaction.atomic():
        prepared = rollover_prepare(
            user_id=profile.user_id,
            day=day,
            limits=profile.limits,
            topic_ids=current_week_topic_ids(user=profile.user_id, today=day),
            track_topic_ids=_track_topic_ids(profile),
        )
        Profile.objects.filter(pk=profile.pk).update(paced_new_cards=prepared.paced, paced_on=day)
    profile.paced_new_cards, profile.paced_on = prepared.paced, day
    return prepared


def _track_topic_ids(profile: Profile) -> list[int]:
    """The topics whose unseen cards set the pace: none when the person turned it off."""
    if profile.track_id is None or not profile.pace_new_cards:
        return []
    return track_topic_ids_many(track_ids=[profile.track_id])[profile.track_id]
