"""After the interview date: scheduling is normal again, and the plan and the profile ask
"keep going?" (a new date, or practice without one), the answer kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from prep.models import Plan, Profile, Track
from prep.services import InterviewNotPassed, interview_after_choose, plan_generate

# The interview was on Friday 4 December; it is now Monday 7 December in Berlin.
INTERVIEW = dt.date(2026, 12, 4)
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 7)
ASKED = "has passed. Keep going?"


@pytest.fixture
def interviewed(owner: Any, track: Track) -> Plan:
    """The owner planned to an interview that is now behind them."""
    Profile.objects.filter(user=owner).update(
        track=track, interview_date=INTERVIEW, onboarded_at=NOW
    )
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC), tick=False):
        plan = plan_generate(user=owner, today=dt.date(2026, 11, 2))
    return plan


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def page(client: Client, name: str = "plan") -> str:
    response = client.get(reverse(name))
    assert response.status_code == 200
    return response.content.decode()


def test_the_plan_and_the_profile_ask_to_keep_going_once_the_date_has_passed(
    owner_client: Client, interviewed: Plan
) -> None:
    plan_page = page(owner_client)
    assert f"Your interview on Friday 4 December {ASKED}" in plan_page
    # Nothing talks about the interview as if it were ahead.
    assert "to your interview" not in plan_page
    assert "Interview day" not in plan_page
    assert "Set an interview date to see how ready each topic will be." in plan_page
    assert ASKED in page(owner_client, "profile")


def test_nobody_is_asked_while_the_interview_is_ahead(
    owner_client: Client, interviewed: Plan, owner: Any
) -> None:
    Profile.objects.filter(user=owner).update(interview_date=TODAY + dt.timedelta(days=9))
    assert ASKED not in page(owner_client)
    profile = Profile.objects.get(user=owner)
    with pytest.raises(InterviewNotPassed):
        interview_after_choose(
            profile=profile, keep_going_without_date=True, new_date=None, today=TODAY
        )


def test_keeping_on_without_a_date_is_stored_and_the_plan_says_so(
    owner_client: Client, interviewed: Plan, owner: Any
) -> None:
    response = owner_client.post(reverse("keep_going"), {"choice": "keep", "next": "plan"})
    assert response.status_code == 302
    profile = Profile.objects.get(user=owner)
    assert profile.interview_date is None
    assert profile.after_interview == Profile.AfterInterview.KEEP
    assert profile.past_interview_date == INTERVIEW
    assert not profile.limits.horizon.active(TODAY)  # interview mode is off
    plan_page = page(owner_client)
    assert ASKED not in plan_page
    assert "Practising without an interview date" in plan_page
    assert "Since 4 December, your cards follow their normal schedule." in plan_page


def test_a_new_date_is_stored_and_the_plan_runs_to_it_from_today(
    owner_client: Client, interviewed: Plan, owner: Any
) -> None:
    new_date = TODAY + dt.timedelta(days=30)
    response = owner_client.post(
        reverse("keep_going"),
        {"choice": "new-date", "interview_date": new_date.isoformat(), "next": "profile"},
    )
    assert response["Location"] == reverse("profile")
    profile = Profile.objects.get(user=owner)
    assert (profile.interview_date, profile.after_interview, profile.past_interview_date) == (
        new_date,
        Profile.AfterInterview.NEW_DATE,
        INTERVIEW,
    )
    active = Plan.objects.get(user=owner, is_active=True)
    assert active.interview_date == new_date
    # The weeks already lived are kept; the ones from today run to the new date.
    assert active.weeks.filter(starts_on__lte=TODAY, ends_on__gte=TODAY).exists()
    assert active.weeks.order_by("number").last().ends_on < new_date
    assert "30 days to your interview" in page(owner_client)


def test_a_new_date_that_is_not_ahead_is_refused_and_nothing_changes(
    owner_client: Client, interviewed: Plan, owner: Any
) -> None:
    response = owner_client.post(
        reverse("keep_going"), {"choice": "new-date", "interview_date": "2026-12-06"}, follow=True
    )
    assert "The interview date must be after today." in response.content.decode()
    profile = Profile.objects.get(user=owner)
    assert (profile.interview_date, profile.after_interview) == (INTERVIEW, "")


def test_a_new_date_on_the_profile_form_answers_the_question_too(
    owner_client: Client, interviewed: Plan, owner: Any
) -> None:
    form = page(owner_client, "profile")
    assert ASKED in form
    profile = Profile.objects.get(user=owner)
    data = {
        "time_zone": profile.time_zone,
        "reminder_time": "08:00",
        "email_reminders": "on",
        "new_cards_per_day": 10,
        "max_reviews_per_day": 150,
        "grading": "six",
        "interview_date": (TODAY + dt.timedelta(days=20)).isoformat(),
        "hours_per_week": 6,
        "track": profile.track_id,
    }
    assert owner_client.post(reverse("profile"), data).status_code == 302
    profile.refresh_from_db()
    assert profile.after_interview == Profile.AfterInterview.NEW_DATE
    assert profile.past_interview_date == INTERVIEW


def test_only_ones_own_profile_answers_and_strangers_are_sent_to_log_in(
    other_client: Client, stranger_client: Client, interviewed: Plan, owner: Any
) -> None:
    response = stranger_client.post(reverse("keep_going"), {"choice": "keep"})
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    # The other user has no interview behind them: their answer changes nothing of anyone's.
    other_client.post(reverse("keep_going"), {"choice": "keep"})
    profile = Profile.objects.get(user=owner)
    assert (profile.interview_date, profile.after_interview) == (INTERVIEW, "")
