"""Daily reminders and weekly summaries: each profile's next instant, the claim of the due
ones, and the sweep that hands them to the sender (see the package docstring)."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from core.occurrences import next_occurrence, occurrence_on
from prep.models import EmailDelivery, PlanWeek, Profile
from prep.scheduled.claims import (
    DeliveryRow,
    claim,
    claim_sql,
    deliveries_insert,
    profiles_reschedule,
)

logger = logging.getLogger(__name__)

MIDNIGHT = dt.time(0, 0)
Status = EmailDelivery.Status
Kind = EmailDelivery.Kind


def reminder_schedule_next(*, profile: Profile, now: dt.datetime) -> Profile:
    """Set the profile's next reminder instant and next rollover from its zone and time.

    Called whenever a profile is created or edited. A date already claimed is never
    scheduled again, so moving the reminder time later on the same day does not give that
    day a second e-mail. With both e-mails off there is no reminder instant (the sweep
    never looks at the profile); the rollover always runs.

    A change that would skip a date still owed (the time moved from 08:00 to 06:00 at
    07:00, or into a zone where today's time has passed) does not skip it silently: if the
    new time on that date is within ``CADENCE_REMINDER_MAX_DELAY`` the date stays due and
    the next sweep sends it at once; if not, it is recorded ``skipped`` with the reason.
    """
    zone = profile.zone
    fresh = (
        Profile.objects.filter(pk=profile.pk)
        .values("last_reminder_on", "last_rollover_on", "next_reminder_on")
        .first()
    ) or {
        "last_reminder_on": profile.last_reminder_on,
        "last_rollover_on": None,
        "next_reminder_on": None,
    }
    last_reminder = fresh["last_reminder_on"]
    last_rollover = fresh["last_rollover_on"]
    owed_on: dt.date | None = fresh["next_reminder_on"]
    if owed_on is not None and last_reminder is not None and owed_on <= last_reminder:
        owed_on = None  # that date was claimed already
    if profile.email_reminders or profile.weekly_summary:
        passed_at = occurrence_on(owed_on, profile.reminder_time, zone) if owed_on else None
        max_delay = dt.timedelta(seconds=settings.CADENCE_REMINDER_MAX_DELAY)
        if owed_on and passed_at is not None and passed_at <= now < passed_at + max_delay:
            # Still owed and still in time: due now, the next sweep sends it.
            profile.next_reminder_at, profile.next_reminder_on = passed_at, owed_on
        else:
            if owed_on and passed_at is not None and passed_at <= now:
                _record_skipped(profile=profile, day=owed_on, due_at=passed_at, now=now)
                last_reminder = owed_on
            reminder = next_occurrence(
                zone=zone,
                at=profile.reminder_time,
                after=now,
                not_before=last_reminder + dt.timedelta(days=1) if last_reminder else None,
            )
            profile.next_reminder_at, profile.next_reminder_on = reminder.at, reminder.local_date
    else:
        profile.next_reminder_at = profile.next_reminder_on = None
    rollover = next_occurrence(
        zone=zone,
        at=MIDNIGHT,
        after=now,
        not_before=last_rollover + dt.timedelta(days=1) if last_rollover else None,
    )
    profile.next_rollover_at, profile.next_rollover_on = rollover.at, rollover.local_date
    Profile.objects.filter(pk=profile.pk).update(
        next_reminder_at=profile.next_reminder_at,
        next_reminder_on=profile.next_reminder_on,
        next_rollover_at=profile.next_rollover_at,
        next_rollover_on=profile.next_rollover_on,
    )
    return profile


def _record_skipped(
    *, profile: Profile, day: dt.date, due_at: dt.datetime, now: dt.datetime
) -> None:
    """A date the new reminder time or zone left behind, too late to send: recorded, and
    claimed (the marker moves to it) so no later change can send it after all."""
    reason = (
        f"the reminder time or zone changed after {profile.reminder_time:%H:%M} on {day} had "
        "passed, too late to send"
    )
    kinds = [Kind.DAILY] if profile.email_reminders else []
    if (
        profile.weekly_summary
        and PlanWeek.objects.filter(
            plan__user_id=profile.user_id, plan__is_active=True, starts_on=day
        ).exists()
    ):
        kinds.append(Kind.WEEKLY)
    EmailDelivery.objects.bulk_create(
        [
            EmailDelivery(
                user_id=profile.user_id,
                kind=kind,
                local_date=day,
                due_at=due_at,
                status=Status.SKIPPED,
                claimed_at=now,
                enqueued_at=now,
                error=reason,
            )
            for kind in kinds
        ],
        ignore_conflicts=True,
    )
    Profile.objects.filter(pk=profile.pk).filter(
        Q(last_reminder_on__isnull=True) | Q(last_reminder_on__lt=day)
    ).update(last_reminder_on=day)
    profile.last_reminder_on = day
    logger.info("reminder of %s for %s skipped: %s", profile.user_id, day, reason)


def email_unsubscribe(*, profile: Profile, kind: str, now: dt.datetime) -> Profile:
    """Turn one kind of e-mail off (the unsubscribe link). Idempotent; an e-mail of that
    kind already queued is skipped when its turn comes."""
    flag = {Kind.DAILY: "email_reminders", Kind.WEEKLY: "weekly_summary"}[Kind(kind)]
    Profile.objects.filter(pk=profile.pk).update(**{flag: False})
    setattr(profile, flag, False)
    return reminder_schedule_next(profile=profile, now=now)


def schedules_fill_missing(*, now: dt.datetime, batch_size: int = 500) -> int:
    """Give a schedule to profiles that have none (made outside the services, or before
    reminders existed). Bounded per call; the next sweep does the rest."""
    missing = list(
        Profile.objects.filter(
            Q(next_rollover_at__isnull=True)
            | Q(next_reminder_at__isnull=True) & (Q(email_reminders=True) | Q(weekly_summary=True))
        )[:batch_size]
    )
    for profile in missing:
        reminder_schedule_next(profile=profile, now=now)
    return len(missing)


@dataclass(frozen=True)
class ClaimBatch:
    profile_ids: list[int]
    delivery_ids: list[int]  # the deliveries to send (queued)
    expired: int = 0  # rows recorded expired at the claim (too late to send)


def _owed_dates(
    *,
    zone: zoneinfo.ZoneInfo,
    at: dt.time,
    first_on: dt.date,
    first_at: dt.datetime,
    now: dt.datetime,
) -> tuple[list[tuple[dt.date, dt.datetime]], dt.datetime, dt.date]:
    """Every (local date, instant) owed a reminder from the claimed one up to ``now``, and
    the first occurrence after ``now`` (the profile's next). After an outage longer than a
    day the sweep owes more than the date it claimed: each gets its own row."""
    owed = [(first_on, first_at)]
    while True:
        upcoming = next_occurrence(
            zone=zone, at=at, after=owed[-1][1], not_before=owed[-1][0] + dt.timedelta(days=1)
        )
        if upcoming.at > now:
            return owed, upcoming.at, upcoming.local_date
        owed.append((upcoming.local_date, upcoming.at))


def reminders_claim_due(*, now: dt.datetime, batch_size: int) -> ClaimBatch:
    """Claim one batch of due profiles: the profiles claimed and the deliveries to send.

    Runs in its own transaction: the claim, the profiles' next instants and the delivery
    rows commit together or not at all. Every local date owed since the claimed one (an
    outage longer than a day) gets a row too, and the profile moves past all of them. A
    date whose reminder is already more than ``CADENCE_REMINDER_MAX_DELAY`` late is
    recorded as expired, not sent; one still within it is sent, however long the outage.
    """
    sql = claim_sql(
        marker="last_reminder_on",
        next_on="next_reminder_on",
        next_at="next_reminder_at",
        batch_size=batch_size,
    )
    max_delay = dt.timedelta(seconds=settings.CADENCE_REMINDER_MAX_DELAY)
    with transaction.atomic():
        claimed = claim(sql, now)
        if not claimed:
            return ClaimBatch(profile_ids=[], delivery_ids=[])
        owed_by_profile: dict[int, list[tuple[dt.date, dt.datetime]]] = {}
        rescheduled: list[tuple[int, dt.datetime | None, dt.date | None, dt.date]] = []
        for c in claimed:
            zone = zoneinfo.ZoneInfo(c.time_zone)
            next_at: dt.datetime | None = None
            next_on: dt.date | None = None
            owed = [(c.local_date, c.due_at)]
            if c.email_reminders or c.weekly_summary:
                owed, next_at, next_on = _owed_dates(
                    zone=zone, at=c.reminder_time, first_on=c.local_date, first_at=c.due_at, now=now
                )
            owed_by_profile[c.profile_id] = owed
            # The marker moves to the last date owed: none of them can be claimed again.
            rescheduled.append((c.profile_id, next_at, next_on, owed[-1][0]))
        weekly_starts = set(
            PlanWeek.objects.filter(
                plan__is_active=True,
                plan__user_id__in=[c.user_id for c in claimed if c.weekly_summary],
                starts_on__in={day for owed in owed_by_profile.values() for day, _ in owed},
            ).values_list("plan__user_id", "starts_on")
        )
        rows: list[DeliveryRow] = []
        for c in claimed:
            for day, due_at in owed_by_profile[c.profile_id]:
                status = Status.EXPIRED if now - due_at > max_delay else Status.QUEUED
                # On a plan week's first day the weekly summary, which also gives the day's
                # cards, is that day's one e-mail: never two in the same minute.
                if c.weekly_summary and (c.user_id, day) in weekly_starts:
                    rows.append((c.user_id, Kind.WEEKLY, day, due_at, status))
                elif c.email_reminders:
                    rows.append((c.user_id, Kind.DAILY, day, due_at, status))
        profiles_reschedule(
            rescheduled, columns=["next_reminder_at", "next_reminder_on", "last_reminder_on"]
        )
        delivery_ids = deliveries_insert(rows, now)
    expired = sum(1 for row in rows if row[4] == Status.EXPIRED)
    if expired:
        logger.warning("%d reminders expired before they could be sent", expired)
    return ClaimBatch(
        profile_ids=[c.profile_id for c in claimed], delivery_ids=delivery_ids, expired=expired
    )


def reminders_claim_batch(
    *, now: dt.datetime, send: Callable[[list[int]], None], batch_size: int | None = None
) -> ClaimBatch:
    """Claim one batch of due reminders and hand its deliveries to ``send`` once the claim
    has committed (a worker that dies in between leaves them queued, for the sweep's
    safety net). The sweep's step, and the whole of a fanned-out claim task."""
    with transaction.atomic():
        batch = reminders_claim_due(
            now=now, batch_size=batch_size or settings.CADENCE_REMINDER_BATCH
        )
        if batch.delivery_ids:
            transaction.on_commit(partial(send, batch.delivery_ids))
    return batch


def reminders_due_batches(*, now: dt.datetime, batch_size: int, max_batches: int) -> int:
    """How many claim batches the profiles due now fill (at most ``max_batches``): one
    bounded count on the index the claim uses."""
    due = (
        Profile.objects.filter(next_reminder_at__lte=now)
        .filter(Q(last_reminder_on__isnull=True) | Q(last_reminder_on__lt=F("next_reminder_on")))
        .order_by()
        .values("id")[: batch_size * max_batches]
        .count()
    )
    return -(-due // batch_size)


@dataclass
class SweepResult:
    claimed_batches: int = 0
    fanned_out: int = 0  # claim tasks handed to the workers instead
    deliveries: int = 0
    requeued: int = 0
    unknown: int = 0
    expired: int = 0
    scheduled: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


Sender = Callable[[list[int]], None]


def deliveries_recover(*, now: dt.datetime, send: Sender, batch_size: int) -> SweepResult:
    """The sweep's safety net for deliveries a task lost (see the module docstring)."""
    result = SweepResult()
    sending_timeout = dt.timedelta(seconds=settings.CADENCE_REMINDER_SENDING_TIMEOUT)
    requeue_after = dt.timedelta(seconds=settings.CADENCE_REMINDER_REQUEUE_AFTER)
    max_delay = dt.timedelta(seconds=settings.CADENCE_REMINDER_MAX_DELAY)
    result.unknown = EmailDelivery.objects.filter(
        status=Status.SENDING, sending_at__lt=now - sending_timeout
    ).update(status=Status.UNKNOWN, error="the sender stopped while handing it over")
    if result.unknown:
        logger.warning(
            "%d e-mails were with the mail server when their sender died; "
            "not resent (at most once)",
            result.unknown,
        )
    result.expired = EmailDelivery.objects.filter(
        status=Status.QUEUED, due_at__lt=now - max_delay
    ).update(status=Status.EXPIRED)
    while True:
        with transaction.atomic():
            stale = list(
                EmailDelivery.objects.select_for_update(skip_locked=True)
                .filter(status=Status.QUEUED, enqueued_at__lt=now - requeue_after)
                .order_by("enqueued_at", "id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not stale:
                break
            EmailDelivery.objects.filter(id__in=stale, status=Status.QUEUED).update(enqueued_at=now)
            transaction.on_commit(partial(send, stale))
        result.requeued += len(stale)
    if result.requeued:
        logger.warning("%d queued e-mails had lost their task; queued again", result.requeued)
    return result


def reminders_sweep(
    *,
    now: dt.datetime,
    send: Sender,
    batch_size: int | None = None,
    max_batches: int = 1000,
    stop: Callable[[], bool] = lambda: False,
    fan_out: Callable[[int], None] | None = None,
) -> SweepResult:
    """Claim every due reminder, batch by batch, and hand each batch to ``send`` once its
    claim has committed; then recover what lost tasks left behind.

    With ``fan_out`` the sweep claims nothing itself: it counts the batches due and asks
    ``fan_out`` for that many claim tasks, each running :func:`reminders_claim_batch`, so
    the workers claim in parallel instead of one task claiming a morning's batches in a
    row. The claim is the same conditional UPDATE (two tasks take disjoint batches, a
    task with nothing left to take claims nothing); a claim task that is lost leaves its
    profiles due, and the next sweep counts them again."""
    batch_size = batch_size or settings.CADENCE_REMINDER_BATCH
    result = SweepResult()
    result.scheduled = schedules_fill_missing(now=now)
    if fan_out is not None:
        result.fanned_out = reminders_due_batches(
            now=now, batch_size=batch_size, max_batches=max_batches
        )
        if result.fanned_out:
            fan_out(result.fanned_out)
    for _ in range(0 if fan_out is not None else max_batches):
        if stop():
            break
        batch = reminders_claim_batch(now=now, send=send, batch_size=batch_size)
        if not batch.profile_ids:
            break
        result.claimed_batches += 1
        result.deliveries += len(batch.delivery_ids)
        result.expired += batch.expired
    recovered = deliveries_recover(now=now, send=send, batch_size=batch_size)
    result.requeued = recovered.requeued
    result.unknown = recovered.unknown
    result.expired += recovered.expired
    return result


# --- What an e-mail says ----------------------------------------------------------------
