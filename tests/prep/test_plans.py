"""Onboarding, the plan in the database, re-planning, and the plan's pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from cards.interview import new_card_pace
from prep.models import Plan, PlanItem, PlanWeek, Profile, Track
from prep.services import PlanNotPossible, plan_generate, profile_save_and_replan
from tests.conftest import link_in, signup_post

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # Monday, 11:00 in Berlin
TODAY = dt.date(2026, 11, 23)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def onboard(client: Client, track: Track, interview: str = "2027-01-04", hours: str = "6") -> Any:
    return client.post(
        reverse("onboarding"),
        {
            "track": track.pk,
            "interview_date": interview,
            "hours_per_week": hours,
            "time_zone": "Europe/Berlin",
            "reminder_time": "07:30",
        },
    )


def test_a_new_user_is_sent_to_onboarding_first(owner_client: Client) -> None:
    assert owner_client.get(reverse("home"))["Location"] == reverse("onboarding")
    assert owner_client.get(reverse("plan"))["Location"] == reverse("onboarding")


def test_sign_up_leads_to_onboarding(stranger_client: Client, track: Track, eager: None) -> None:
    signup_post(stranger_client, username="ada", email="ada@example.com")
    response = stranger_client.post(link_in(mail.outbox[0], "/accounts/activate/"))
    assert response["Location"] == reverse("onboarding")
    assert "LLM training engineer" in stranger_client.get(reverse("onboarding")).content.decode()


def test_onboarding_makes_the_plan_and_lands_on_the_dashboard(
    owner_client: Client, owner: Any, track: Track
) -> None:
    response = onboard(owner_client, track)
    assert response["Location"] == reverse("plan")
    profile = Profile.objects.get(user=owner)
    assert profile.onboarded_at is not None
    assert str(profile.reminder_time) == "07:30:00"
    plan = Plan.objects.get(user=owner, is_active=True)
    weeks = list(plan.weeks.order_by("number"))
    assert weeks[0].starts_on == TODAY
    assert weeks[-1].ends_on == dt.date(2027, 1, 3)
    assert PlanItem.objects.filter(week__plan=plan, kind="mock").exists()
    html = owner_client.get(reverse("plan")).content.decode()
    assert "42 days to your interview" in html
    assert "Derive Attention on paper" in html
    assert owner_client.get(reverse("home"))["Location"] == reverse("plan")


@pytest.mark.parametrize(
    ("interview", "message"),
    [("2026-11-23", "after today"), ("2026-11-01", "after today"), ("", "required")],
)
def test_onboarding_refuses_a_bad_date_and_keeps_the_rest(
    owner_client: Client, owner: Any, track: Track, interview: str, message: str
) -> None:
    response = onboard(owner_client, track, interview=interview, hours="9")
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'value="9"' in html
    assert not Plan.objects.filter(user=owner).exists()


def test_each_week_fits_the_hours_given(owner_client: Client, owner: Any, track: Track) -> None:
    onboard(owner_client, track, hours="2")
    for week in PlanWeek.objects.filter(plan__user=owner).prefetch_related("items"):
        days = (week.ends_on - week.starts_on).days + 1
        assert sum(i.minutes for i in week.items.all()) <= 2 * 60 * days / 7


def test_a_too_short_horizon_says_what_it_left_out(
    owner_client: Client, owner: Any, track: Track
) -> None:
    onboard(owner_client, track, interview="2026-11-26", hours="2")
    plan = Plan.objects.get(user=owner)
    assert "left out" in plan.notes
    assert "left out" in owner_client.get(reverse("plan")).content.decode()


def test_replanning_keeps_done_items_and_never_plans_them_again(
    owner_client: Client, owner: Any, track: Track
) -> None:
    onboard(owner_client, track)
    item = (
        PlanItem.objects.filter(week__plan__user=owner, kind="derive")
        .order_by("week__number", "order")
        .first()
    )
    assert item is not None
    owner_client.post(reverse("plan_item_toggle", args=[item.pk]), {"done": "1"})
    profile = Profile.objects.get(user=owner)
    later = TODAY + dt.timedelta(days=2)
    profile_save_and_replan(
        profile=profile, fields={"interview_date": dt.date(2027, 2, 1)}, today=later
    )
    plan = Plan.objects.get(user=owner, is_active=True)
    item.refresh_from_db()
    assert item.done_at is not None
    assert item.week.plan_id == plan.pk
    same = PlanItem.objects.filter(week__plan=plan, title=item.title, topic=item.topic)
    assert same.count() == 1
    assert plan.weeks.order_by("-number").first().ends_on == dt.date(2027, 1, 31)  # type: ignore[union-attr]
    assert plan.weeks.filter(starts_on=later).exists()


def test_a_new_track_starts_a_new_plan_and_keeps_the_old_one(owner: Any, track: Track) -> None:
    profile = Profile.objects.get(user=owner)
    profile.track, profile.interview_date, profile.onboarded_at = track, dt.date(2027, 1, 4), NOW
    profile.save()
    first = plan_generate(user=owner, today=TODAY)
    other = Track.objects.create(slug="other", title="Other", finale=track.finale)
    other.track_topics.create(
        topic=track.track_topics.first().topic,
        order=0,
        weight=1,  # type: ignore[union-attr]
        activities=[{"kind": "study", "title": "Read", "minutes": 30}],
    )
    profile_save_and_replan(profile=profile, fields={"track": other}, today=TODAY)
    first.refresh_from_db()
    assert not first.is_active
    assert Plan.objects.get(user=owner, is_active=True).track == other


def test_planning_needs_a_track_and_a_future_date(owner: Any) -> None:
    with pytest.raises(PlanNotPossible):
        plan_generate(user=owner, today=TODAY)


def test_checking_an_item_off_with_htmx_returns_the_row_and_the_progress(
    owner_client: Client, owner: Any, track: Track
) -> None:
    onboard(owner_client, track)
    item = PlanItem.objects.filter(week__plan__user=owner, week__number=1).first()
    assert item is not None
    html = owner_client.post(
        reverse("plan_item_toggle", args=[item.pk]), {"done": "1"}, **HTMX
    ).content.decode()
    assert f'id="item-{item.pk}" class="item done"' in html
    assert 'id="week-progress"' in html
    assert 'hx-swap-oob="true"' in html
    assert f"{item.minutes} of" in html
    owner_client.post(reverse("plan_item_toggle", args=[item.pk]), {"done": "0"}, **HTMX)
    item.refresh_from_db()
    assert item.done_at is None


def test_another_users_plan_item_is_a_404(
    other_client: Client, owner_client: Client, owner: Any, track: Track
) -> None:
    onboard(owner_client, track)
    item = PlanItem.objects.filter(week__plan__user=owner).first()
    assert item is not None
    response = other_client.post(reverse("plan_item_toggle", args=[item.pk]), {"done": "1"})
    assert response.status_code == 404
    item.refresh_from_db()
    assert item.done_at is None


@pytest.mark.parametrize("name", ["plan", "onboarding"])
def test_plan_pages_need_a_login(stranger_client: Client, name: str) -> None:
    assert stranger_client.get(reverse(name))["Location"].startswith(reverse("login"))


def test_the_plan_page_shows_only_my_plan(
    owner_client: Client, other_client: Client, other_user: Any, track: Track
) -> None:
    onboard(owner_client, track)
    Profile.objects.filter(user=other_user).update(onboarded_at=NOW)
    html = other_client.get(reverse("plan")).content.decode()
    assert "Derive Attention on paper" not in html
    assert "No plan yet" in html


def test_the_profile_change_of_hours_rebuilds_the_plan(
    owner_client: Client, owner: Any, track: Track
) -> None:
    onboard(owner_client, track, hours="2")
    before = PlanItem.objects.filter(week__plan__user=owner).count()
    response = owner_client.post(
        reverse("profile"),
        {
            "time_zone": "Europe/Berlin",
            "reminder_time": "07:30",
            "email_reminders": "on",
            "new_cards_per_day": 10,
            "max_reviews_per_day": 150,
            "interview_date": "2027-01-04",
            "hours_per_week": "12",
            "track": track.pk,
        },
        follow=True,
    )
    assert "rebuilt" in response.content.decode()
    assert PlanItem.objects.filter(week__plan__user=owner).count() >= before


def test_a_short_run_to_the_interview_paces_new_cards_to_meet_the_whole_track(
    owner_client: Client, owner: Any, track: Track
) -> None:
    """Onboarding with the interview eight days out: the day's new cards are the pace
    that meets the track's 30 cards by the date, above a limit of 2 a day, on the plan
    page and in the drill."""
    onboard(owner_client, track, interview="2026-12-01", hours="14")
    profile = Profile.objects.get(user=owner)
    expected = new_card_pace(unseen=30, today=TODAY, horizon=profile.horizon)
    assert (profile.paced_new_cards, profile.paced_on) == (expected, TODAY)
    Profile.objects.filter(pk=profile.pk).update(new_cards_per_day=2)
    assert expected > 2
    html = owner_client.get(reverse("plan")).content.decode()
    assert f"{expected} new cards today, more than your 2 a day" in html
    assert owner_client.get(reverse("drill")).context["counts"].new == expected
    # With a limit at or above the pace, the limit stands and the page says nothing of it.
    Profile.objects.filter(pk=profile.pk).update(new_cards_per_day=expected)
    assert "more than your" not in owner_client.get(reverse("plan")).content.decode()


def test_the_pace_can_be_turned_off_on_the_profile_and_on_again(
    owner_client: Client, owner: Any, track: Track
) -> None:
    onboard(owner_client, track, interview="2026-12-01", hours="14")
    profile = Profile.objects.get(user=owner)
    Profile.objects.filter(pk=profile.pk).update(new_cards_per_day=2)
    paced = profile.paced_new_cards
    assert paced > 2
    settings = {
        "time_zone": "Europe/Berlin",
        "reminder_time": "07:30",
        "new_cards_per_day": "2",
        "max_reviews_per_day": "150",
        "interview_date": "2026-12-01",
        "hours_per_week": "14",
        "track": str(track.pk),
        "grading": profile.grading,
        "scheduler": profile.scheduler,
        "desired_retention": str(profile.desired_retention),
    }
    response = owner_client.post(reverse("profile"), settings)  # the box left unticked
    assert response.status_code == 302
    assert Profile.objects.get(pk=profile.pk).pace_new_cards is False
    assert owner_client.get(reverse("drill")).context["counts"].new == 2
    assert "more than your" not in owner_client.get(reverse("plan")).content.decode()
    owner_client.post(reverse("profile"), {**settings, "pace_new_cards": "on"})
    assert owner_client.get(reverse("drill")).context["counts"].new == paced
