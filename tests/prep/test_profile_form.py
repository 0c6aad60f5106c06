"""The profile's interview date and hours are checked as onboarding checks them; a zone
change that would skip today's reminder is handled as the reminder schedule says."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from prep.models import EmailDelivery, Profile

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # Monday, 11:00 in Berlin


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _settings(**changes: str) -> dict[str, str]:
    return {
        "time_zone": "Europe/Berlin",
        "reminder_time": "07:30",
        "new_cards_per_day": "10",
        "max_reviews_per_day": "150",
        "interview_date": "2027-01-15",
        "hours_per_week": "6",
        "track": "",
        **changes,
    }


@pytest.mark.parametrize("day", ["2026-11-23", "2026-11-01"])
def test_the_profile_refuses_an_interview_date_today_or_past_with_onboardings_message(
    owner_client: Client, owner: Any, day: str
) -> None:
    response = owner_client.post(reverse("profile"), _settings(interview_date=day))
    assert response.status_code == 200
    assert "The interview date must be after today." in response.content.decode()
    assert Profile.objects.get(user=owner).interview_date is None


def test_onboarding_and_the_profile_say_the_same_about_a_past_date(
    owner_client: Client,
) -> None:
    onboarding = owner_client.post(reverse("onboarding"), _settings(interview_date="2026-11-01"))
    assert "The interview date must be after today." in onboarding.content.decode()


def test_a_past_date_already_saved_does_not_block_other_settings(
    owner_client: Client, owner: Any
) -> None:
    Profile.objects.filter(user=owner).update(interview_date=dt.date(2026, 11, 20))
    response = owner_client.post(
        reverse("profile"), _settings(interview_date="2026-11-20", new_cards_per_day="12")
    )
    assert response.status_code == 302
    assert Profile.objects.get(user=owner).new_cards_per_day == 12


@pytest.mark.parametrize("url", ["profile", "onboarding"])
@pytest.mark.parametrize("hours", ["1000", "0", "80.5"])
def test_hours_out_of_range_say_the_range(owner_client: Client, url: str, hours: str) -> None:
    response = owner_client.post(reverse(url), _settings(hours_per_week=hours))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Enter between 1 and 80 hours a week." in body
    assert "digits" not in body


@pytest.mark.parametrize("url", ["profile", "onboarding"])
def test_the_hours_field_shows_its_limits(owner_client: Client, url: str) -> None:
    body = owner_client.get(reverse(url)).content.decode()
    assert 'min="1"' in body
    assert 'max="80"' in body
    assert "1 to 80" in body


def test_the_zone_list_offers_canonical_zones_grouped_by_region(owner_client: Client) -> None:
    body = owner_client.get(reverse("profile")).content.decode()
    assert '<optgroup label="Europe">' in body
    assert '<option value="Europe/Berlin" selected>Berlin</option>' in body
    for odd in ("Factory", "localtime", "US/Eastern", "Etc/GMT+5", "posixrules"):
        assert f'value="{odd}"' not in body
    assert body.count("<option value=") < 450


def test_a_zone_the_browser_reports_by_an_older_name_is_accepted(
    owner_client: Client, owner: Any
) -> None:
    response = owner_client.post(reverse("profile"), _settings(time_zone="Asia/Calcutta"))
    assert response.status_code == 302
    assert Profile.objects.get(user=owner).time_zone == "Asia/Calcutta"
    body = owner_client.get(reverse("profile")).content.decode()
    assert '<option value="Asia/Calcutta" selected>' in body


def test_a_one_day_week_is_labelled_by_its_day(owner_client: Client, owner: Any) -> None:
    from prep.models import Plan, PlanWeek, Track

    track = Track.objects.create(slug="t", title="T", order=1)
    Profile.objects.filter(user=owner).update(onboarded_at=NOW, track=track)
    plan = Plan.objects.create(
        user=owner,
        track=track,
        starts_on=dt.date(2026, 11, 23),
        interview_date=dt.date(2026, 11, 24),
        hours_per_week=6,
    )
    PlanWeek.objects.create(
        plan=plan, number=1, starts_on=dt.date(2026, 11, 23), ends_on=dt.date(2026, 11, 23)
    )
    body = owner_client.get(reverse("plan")).content.decode()
    assert "Mon 23 Nov" in body
    assert "Mon 23 Nov – Mon 23 Nov" not in body


def test_the_profiles_checkbox_labels_end_without_a_colon(owner_client: Client) -> None:
    body = owner_client.get(reverse("profile")).content.decode()
    for label in (
        "Daily reminder e-mail",
        "Weekly summary e-mail",
        "Send the daily e-mail even when nothing is due",
    ):
        assert f">{label}</label>" in body, label
        assert f"{label}:" not in body
    assert 'for="id_email_reminders">' in body
    assert "Time zone:</label>" in body  # other fields keep theirs


# --- A zone change that would skip today's reminder (prep.scheduled.reminders) -----------


def _reminder_at_noon_in_berlin(owner_client: Client, owner: Any) -> None:
    """Today's reminder due at 12:00 Berlin (11:00 UTC), an hour from now, set by the form."""
    response = owner_client.post(
        reverse("profile"), _settings(reminder_time="12:00", email_reminders="on")
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=owner)
    assert (profile.next_reminder_on, profile.next_reminder_at) == (
        dt.date(2026, 11, 23),
        dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC),
    )


def test_a_zone_change_that_puts_todays_reminder_just_behind_keeps_it_due_now(
    owner_client: Client, owner: Any
) -> None:
    _reminder_at_noon_in_berlin(owner_client, owner)
    # 12:00 in Dubai was 08:00 UTC: two hours ago, within the six-hour delay.
    response = owner_client.post(
        reverse("profile"),
        _settings(time_zone="Asia/Dubai", reminder_time="12:00", email_reminders="on"),
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=owner)
    assert (profile.next_reminder_on, profile.next_reminder_at) == (
        dt.date(2026, 11, 23),
        dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC),
    )
    assert not EmailDelivery.objects.filter(user=owner).exists()


def test_a_zone_change_that_puts_todays_reminder_too_far_behind_records_it_skipped(
    owner_client: Client, owner: Any
) -> None:
    _reminder_at_noon_in_berlin(owner_client, owner)
    # 12:00 in Tokyo was 03:00 UTC: seven hours ago, past the six-hour delay.
    response = owner_client.post(
        reverse("profile"),
        _settings(time_zone="Asia/Tokyo", reminder_time="12:00", email_reminders="on"),
    )
    assert response.status_code == 302
    [row] = EmailDelivery.objects.filter(user=owner)
    assert (row.kind, row.local_date, row.status) == (
        EmailDelivery.Kind.DAILY,
        dt.date(2026, 11, 23),
        EmailDelivery.Status.SKIPPED,
    )
    profile = Profile.objects.get(user=owner)
    assert profile.next_reminder_on == dt.date(2026, 11, 24)
