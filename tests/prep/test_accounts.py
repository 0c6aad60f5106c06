from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from prep.models import Profile
from tests.conftest import PASSWORD

PUBLIC_PAGES = ["login", "signup", "password_reset", "password_reset_done"]
PRIVATE_PAGES = ["onboarding", "profile", "password_change"]


@pytest.mark.parametrize("name", PRIVATE_PAGES)
def test_a_stranger_is_sent_to_log_in(stranger_client: Client, name: str) -> None:
    response = stranger_client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_the_public_pages_open_logged_out(stranger_client: Client, name: str) -> None:
    assert stranger_client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", PRIVATE_PAGES)
def test_a_user_opens_their_own_pages(owner_client: Client, name: str) -> None:
    assert owner_client.get(reverse(name)).status_code == 200


def test_the_admin_is_for_staff_only(owner_client: Client) -> None:
    response = owner_client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_sign_up_creates_the_account_and_profile_and_logs_in(stranger_client: Client) -> None:
    response = stranger_client.post(
        reverse("signup"),
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "time_zone": "Asia/Kolkata",
        },
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="newbie")
    assert Profile.objects.get(user=user).time_zone == "Asia/Kolkata"
    assert stranger_client.get(reverse("profile")).status_code == 200


def test_sign_up_with_bad_input_says_why_and_keeps_what_was_typed(
    stranger_client: Client, owner: Any
) -> None:
    response = stranger_client.post(
        reverse("signup"),
        {
            "username": "newbie",
            "email": "olivia@example.com",
            "password1": "short",
            "password2": "different",
            "time_zone": "Mars/Olympus",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "already exists" in body
    assert "Select a valid choice" in body
    assert 'value="newbie"' in body
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_log_in_and_out(owner: Any, stranger_client: Client) -> None:
    response = stranger_client.post(reverse("login"), {"username": "olivia", "password": PASSWORD})
    assert response.status_code == 302
    assert stranger_client.get(reverse("profile")).status_code == 200
    stranger_client.post(reverse("logout"))
    assert stranger_client.get(reverse("profile")).status_code == 302


def test_a_wrong_password_is_refused(owner: Any, stranger_client: Client) -> None:
    response = stranger_client.post(reverse("login"), {"username": "olivia", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_password_reset_sends_a_link_that_sets_a_new_password(
    stranger_client: Client, owner: Any, settings: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        response = stranger_client.post(reverse("password_reset"), {"email": "olivia@example.com"})
    finally:
        app.conf.task_always_eager = False
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["olivia@example.com"]
    assert message.subject == "Reset your Cadence password"
    link = next(line for line in message.body.splitlines() if "/reset/" in line).strip()
    path = link.split("://", 1)[1].split("/", 1)[1]
    form_page = stranger_client.get("/" + path, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0]
    done = stranger_client.post(
        set_url, {"new_password1": "a-brand-new-pass-42", "new_password2": "a-brand-new-pass-42"}
    )
    assert done.status_code == 302
    logged_in = stranger_client.post(
        reverse("login"), {"username": "olivia", "password": "a-brand-new-pass-42"}
    )
    assert logged_in.status_code == 302


def test_password_reset_for_an_unknown_address_sends_nothing(
    stranger_client: Client, db: Any
) -> None:
    response = stranger_client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_the_profile_saves_valid_settings(owner_client: Client, owner: Any) -> None:
    response = owner_client.post(
        reverse("profile"),
        {
            "time_zone": "Pacific/Kiritimati",
            "reminder_time": "07:30",
            "email_reminders": "on",
            "new_cards_per_day": 15,
            "max_reviews_per_day": 120,
            "interview_date": "2027-01-15",
            "hours_per_week": "8.5",
            "track": "",
        },
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=owner)
    assert profile.time_zone == "Pacific/Kiritimati"
    assert str(profile.reminder_time) == "07:30:00"
    assert profile.weekly_summary is False
    assert float(profile.hours_per_week) == 8.5


def test_the_profile_rejects_bad_input_and_keeps_the_old_values(
    owner_client: Client, owner: Any
) -> None:
    response = owner_client.post(
        reverse("profile"),
        {
            "time_zone": "Not/AZone",
            "reminder_time": "25:99",
            "new_cards_per_day": -3,
            "max_reviews_per_day": 0,
            "hours_per_week": "abc",
        },
    )
    assert response.status_code == 200
    assert response.content.decode().count('class="error"') >= 4
    assert Profile.objects.get(user=owner).time_zone == "Europe/Berlin"


def test_a_user_only_ever_edits_their_own_profile(
    owner_client: Client, owner: Any, other_user: Any
) -> None:
    owner_client.post(
        reverse("profile"),
        {
            "time_zone": "Asia/Tokyo",
            "reminder_time": "08:00",
            "new_cards_per_day": 5,
            "max_reviews_per_day": 50,
            "hours_per_week": 4,
        },
    )
    assert Profile.objects.get(user=other_user).time_zone == "America/Los_Angeles"
    assert Profile.objects.get(user=owner).time_zone == "Asia/Tokyo"


def test_the_demo_account_is_made_once_with_a_plan(db: Any, tmp_path: Any, settings: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    from prep.models import Plan, Track

    settings.DATA_DIR = tmp_path
    Track.objects.create(
        slug="t", title="Track", finale=[{"kind": "mock", "title": "Mock", "minutes": 60}]
    )
    first, second = StringIO(), StringIO()
    call_command("ensure_demo_user", stdout=first)
    call_command("ensure_demo_user", stdout=second)
    assert first.getvalue() == second.getvalue()
    password = first.getvalue().split(" / ")[1].strip()
    response = Client().post(reverse("login"), {"username": "demo", "password": password})
    assert response.status_code == 302
    assert Plan.objects.filter(user__username="demo", is_active=True).exists()
