"""Exactly one reminder per local calendar day, across DST changes and far-off zones.

A simulated month for each case: the clock (time-machine) moves in 15-minute steps and
the beat sweep runs at each, as the real beat entry does every minute. Every reminder is
recorded with the instant it went out.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from prep.models import EmailDelivery
from prep.scheduled.reminders import reminders_sweep
from prep.scheduled.sending import reminders_send_batch
from tests.integration.builders import person

UTC = dt.UTC
STEP = dt.timedelta(minutes=15)

CASES = [
    # name, zone, local reminder time
    ("ny_spring", "America/New_York", dt.time(2, 30)),  # 02:30 does not exist on 2026-03-08
    ("ny_fall", "America/New_York", dt.time(1, 30)),  # 01:30 happens twice on 2026-11-01
    ("berlin", "Europe/Berlin", dt.time(8, 0)),
    ("kolkata", "Asia/Kolkata", dt.time(8, 0)),  # +05:30
    ("kiritimati", "Pacific/Kiritimati", dt.time(8, 0)),  # +14
    ("pago", "Pacific/Pago_Pago", dt.time(8, 0)),  # -11
    ("late_owl", "Pacific/Kiritimati", dt.time(23, 45)),
]


def simulate(
    start: dt.datetime, end: dt.datetime, capture: Any, prefix: str = ""
) -> dict[str, list[dt.datetime]]:
    """Run the sweep every STEP from start to end; when each user's reminders went out."""
    sent: dict[str, list[dt.datetime]] = defaultdict(list)
    with time_machine.travel(start, tick=False) as traveller:
        users = {
            name: person(prefix + name, zone=zone, at=at, remind_when_empty=True)
            for name, zone, at in CASES
        }
        names = {user.pk: name for name, user in users.items()}
        now = start
        while now < end:
            traveller.move_to(now)

            def send(ids: list[int], now: dt.datetime = now) -> None:
                reminders_send_batch(delivery_ids=ids, now=now)
                for delivery in EmailDelivery.objects.filter(
                    id__in=ids, status="sent", user_id__in=names
                ):
                    sent[names[delivery.user_id]].append(now)

            with capture(execute=True):
                reminders_sweep(now=now, send=send)
            now += STEP
    return sent


def local_days(instants: list[dt.datetime], zone: str) -> Counter[dt.date]:
    return Counter(i.astimezone(ZoneInfo(zone)).date() for i in instants)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # Around the spring-forward day (2026-03-08 in New York, 2026-03-29 in Berlin).
        (dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 31, tzinfo=UTC)),
        # Around the fall-back day (2026-10-25 in Berlin, 2026-11-01 in New York).
        (dt.datetime(2026, 10, 20, tzinfo=UTC), dt.datetime(2026, 11, 19, tzinfo=UTC)),
    ],
    ids=["spring", "fall"],
)
def test_each_user_gets_exactly_one_reminder_per_local_day_over_a_month(
    db: Any, django_capture_on_commit_callbacks: Any, start: dt.datetime, end: dt.datetime
) -> None:
    sent = simulate(start, end, django_capture_on_commit_callbacks)
    for name, zone, at in CASES:
        days = local_days(sent[name], zone)
        assert max(days.values()) == 1, f"{name} got two on one day: {days.most_common(1)}"
        # Every local day wholly inside the simulated month had its reminder.
        tz = ZoneInfo(zone)
        first = (start + dt.timedelta(days=1)).astimezone(tz).date()
        last = (end - dt.timedelta(days=1)).astimezone(tz).date()
        expected = {first + dt.timedelta(days=n) for n in range((last - first).days)}
        assert expected <= set(days), f"{name} missed {sorted(expected - set(days))[:3]}"
        # And at the chosen local time (or the end of a DST gap), within one sweep step.
        for instant in sent[name]:
            local = instant.astimezone(tz)
            wanted = dt.datetime.combine(local.date(), at, tzinfo=tz)
            assert dt.timedelta(0) <= instant - wanted.astimezone(UTC) < STEP or (
                name == "ny_spring" and local.date() == dt.date(2026, 3, 8)
            )
    assert len(mail.outbox) == sum(len(v) for v in sent.values())


def test_spring_forward_fires_at_three_and_fall_back_fires_at_the_first_half_past_one(
    db: Any, django_capture_on_commit_callbacks: Any
) -> None:
    spring = simulate(
        dt.datetime(2026, 3, 7, 12, tzinfo=UTC),
        dt.datetime(2026, 3, 9, 12, tzinfo=UTC),
        django_capture_on_commit_callbacks,
    )
    ny = ZoneInfo("America/New_York")
    on_the_day = [i for i in spring["ny_spring"] if i.astimezone(ny).date() == dt.date(2026, 3, 8)]
    assert [i.astimezone(ny).strftime("%H:%M %Z") for i in on_the_day] == ["03:00 EDT"]

    mail.outbox.clear()
    fall = simulate(
        dt.datetime(2026, 10, 31, 12, tzinfo=UTC),
        dt.datetime(2026, 11, 2, 12, tzinfo=UTC),
        django_capture_on_commit_callbacks,
        prefix="fall_",
    )
    on_the_day = [i for i in fall["ny_fall"] if i.astimezone(ny).date() == dt.date(2026, 11, 1)]
    assert [i.astimezone(ny).strftime("%H:%M %Z") for i in on_the_day] == ["01:30 EDT"]
