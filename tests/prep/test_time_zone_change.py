"""Moving west (Berlin to Los Angeles) after studying in the morning: the day's work is
still today's, the plan's first week still holds today, nothing starts over."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from django.test import Client
from django.urls import reverse

from cards.models import Card, ReviewLog, StudyDay
from cards.queue import queue_counts
from cards.services import review_record, study_day_mark
from core.localtime import local_date
from prep.models import Plan, Profile, Track

BERLIN_MORNING = dt.datetime(2026, 11, 24, 7, 25, tzinfo=dt.UTC)  # 08:25 in Berlin


def _settings(zone: str, track: Track) -> dict[str, str]:
    return {
        "time_zone": zone,
        "reminder_time": "07:30",
        "new_cards_per_day": "10",
        "max_reviews_per_day": "150",
        "interview_date": "2027-01-04",
        "hours_per_week": "6",
        "track": str(track.pk),
    }


def test_changing_the_zone_backwards_keeps_the_day_already_studied(
    owner_client: Client, owner: Any, track: Track
) -> None:
    with time_machine.travel(BERLIN_MORNING, tick=False):
        owner_client.post(reverse("onboarding"), _settings("Europe/Berlin", track))
        berlin = Profile.objects.get(user=owner).zone
        for card in Card.objects.order_by("pk")[:3]:
            review_record(
                user=owner, card=card, quality=5, now=BERLIN_MORNING, shown_version=0, zone=berlin
            )
        study_day_mark(user=owner, local_date=dt.date(2026, 11, 24), now=BERLIN_MORNING)

    later = BERLIN_MORNING + dt.timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        response = owner_client.post(reverse("profile"), _settings("America/Los_Angeles", track))
        assert response.status_code == 302
        profile = Profile.objects.get(user=owner)
        today = local_date(later, profile.zone)
        assert today == dt.date(2026, 11, 23)

        page = owner_client.get(reverse("plan"))
        body = page.content.decode()
        assert "No plan week holds today" not in body
        assert page.context["week"] is not None
        assert page.context["streak"] == 1
        counts = queue_counts(user=owner, limits=profile.limits, today=today)
        assert counts.new_today == 3  # not a fresh allowance for a day already studied
    assert set(ReviewLog.objects.values_list("local_date", flat=True)) == {today}
    assert list(StudyDay.objects.values_list("local_date", flat=True)) == [today]
    assert Plan.objects.get(user=owner).starts_on == today


def test_changing_the_zone_forwards_moves_no_past_day(
    owner_client: Client, owner: Any, track: Track
) -> None:
    with time_machine.travel(BERLIN_MORNING, tick=False):
        owner_client.post(reverse("onboarding"), _settings("Europe/Berlin", track))
        card = Card.objects.order_by("pk").first()
        assert card is not None
        review_record(
            user=owner,
            card=card,
            quality=5,
            now=BERLIN_MORNING,
            shown_version=0,
            zone=Profile.objects.get(user=owner).zone,
        )
        owner_client.post(reverse("profile"), _settings("Pacific/Kiritimati", track))
    assert ReviewLog.objects.get().local_date == dt.date(2026, 11, 24)
