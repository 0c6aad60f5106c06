from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from prep.models import Profile
from tests.conftest import PASSWORD, link_in, signup_post

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


def test_sign_up_makes_an_inactive_account_whose_link_finishes_it(
    stranger_client: Client, eager: None
) -> None:
    response = signup_post(stranger_client, time_zone="Asia/Kolkata")
    assert response["Location"] == reverse("signup_done")
    user = get_user_model().objects.get(username="newbie")
    assert not user.is_active
    assert Profile.objects.get(user=user).time_zone == "Asia/Kolkata"
    assert stranger_client.get(reverse("profile")).status_code == 302  # not logged in
    [message] = mail.outbox
    assert message.to == ["newbie@example.com"]
    assert message.subject == "Finish creating your Cadence account"
    assert "Finish creating my account" in message.alternatives[0].content
    link = link_in(message, "/accounts/activate/")

    page = stranger_client.get(link)  # opening the link (a mail scanner) changes nothing
    assert page.status_code == 200
    assert "Finish and log in" in page.content.decode()
    user.refresh_from_db()
    assert not user.is_active

    assert stranger_client.post(link)["Location"] == reverse("onboarding")
    user.refresh_from_db()
    assert user.is_active
    assert stranger_client.get(reverse("profile")).status_code == 200
    # The link works once.
    assert Client().post(link).status_code == 400


def page_text(response: Any) -> str:
    """A page without what differs on every response (CSP nonce, CSRF token)."""
    return re.sub(r'(nonce|value|x-csrftoken)(="|": ")[^"]*"', "", response.content.decode())


def test_sign_up_answers_the_same_for_an_address_that_has_an_account(
    owner: Any, eager: None
) -> None:
    new = signup_post(Client(), username="first", email="first@example.com")
    taken = signup_post(Client(), username="second", email="OLIVIA@example.com")
    assert (taken.status_code, taken["Location"]) == (new.status_code, new["Location"])
    assert page_text(Client().get(taken["Location"])) == page_text(Client().get(new["Location"]))
    assert not get_user_model().objects.filter(username="second").exists()
    notice = mail.outbox[1]
    assert notice.to == ["olivia@example.com"]
    assert notice.subject == "You already have a Cadence account"
    assert "already has\nan account: olivia" in notice.body
    assert "/accounts/activate/" not in notice.body
    assert "/accounts/password_reset/" in notice.body
    assert "Log in" in notice.alternatives[0].content


def test_signing_up_again_before_finishing_sends_a_new_link(
    stranger_client: Client, eager: None
) -> None:
    signup_post(stranger_client)
    signup_post(Client(), username="other-name")
    assert [m.subject for m in mail.outbox] == ["Finish creating your Cadence account"] * 2
    assert get_user_model().objects.filter(email="newbie@example.com").count() == 1


def test_an_inactive_account_cannot_log_in(stranger_client: Client, eager: None) -> None:
    signup_post(stranger_client)
    response = stranger_client.post(reverse("login"), {"username": "newbie", "password": PASSWORD})
    assert response.status_code == 200


def test_sign_up_e_mails_are_throttled_per_address(eager: None, db: Any) -> None:
    for attempt in range(3):
        response = signup_post(Client(REMOTE_ADDR=f"10.2.0.{attempt}"), username=f"n{attempt}")
        assert response.status_code == 302
    refused = signup_post(Client(REMOTE_ADDR="10.2.0.9"), username="n9")
    assert refused.status_code == 429
    assert "Too many e-mails were asked for this address" in refused.content.decode()
    assert len(mail.outbox) == 3


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
    assert "already exists" not in body  # the address is not said to have an account
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


def test_password_reset_e_mails_are_throttled_per_address_and_answer_the_same(
    owner: Any, eager: None
) -> None:
    for attempt in range(10):
        client = Client(REMOTE_ADDR=f"10.3.0.{attempt}")
        for email in ("olivia@example.com", "nobody@example.com"):
            response = client.post(reverse("password_reset"), {"email": email})
            if attempt < 3:
                assert response["Location"] == reverse("password_reset_done")
            else:
                assert response.status_code == 429
                assert "Too many e-mails were asked" in response.content.decode()
    assert len(mail.outbox) == 3
    assert {m.to[0] for m in mail.outbox} == {"olivia@example.com"}


def test_password_reset_e_mails_are_throttled_per_client_address(
    owner: Any, other_user: Any, eager: None
) -> None:
    client = Client(REMOTE_ADDR="10.4.0.1")
    emails = ["olivia@example.com", "sam@example.com", "x@example.com", "sam@example.com"]
    codes = [client.post(reverse("password_reset"), {"email": e}).status_code for e in emails]
    assert codes == [302, 302, 302, 429]
    assert len(mail.outbox) == 2


def test_password_reset_for_an_unknown_address_sends_nothing(
    stranger_client: Client, db: Any
) -> None:
    response = stranger_client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_the_profile_switches_the_scheduler_and_keeps_it_when_left_out(
    owner_client: Client, owner: Any
) -> None:
    form = {
        "time_zone": "UTC",
        "reminder_time": "07:30",
        "new_cards_per_day": 10,
        "max_reviews_per_day": 150,
        "hours_per_week": "6",
        "track": "",
    }
    response = owner_client.post(
        reverse("profile"), {**form, "scheduler": "fsrs", "desired_retention": "0.92"}
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=owner)
    assert (profile.scheduler, profile.desired_retention) == ("fsrs", 0.92)
    assert profile.limits.scheduler == "fsrs"
    owner_client.post(reverse("profile"), form)
    profile.refresh_from_db()
    assert (profile.scheduler, profile.desired_retention) == ("fsrs", 0.92)
    bad = owner_client.post(reverse("profile"), {**form, "desired_retention": "0.5"})
    assert bad.status_code == 200


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


def profile_form(**fields: str) -> dict[str, object]:
    return {
        "time_zone": "Europe/Berlin",
        "reminder_time": "08:00",
        "email_reminders": "on",
        "new_cards_per_day": 15,
        "max_reviews_per_day": 120,
        "hours_per_week": "6",
        "track": "",
        **fields,
    }


def test_the_profile_says_when_a_moved_time_sends_todays_reminder_at_once(db: Any) -> None:
    import datetime as dt

    import time_machine

    from prep.services import user_create

    with time_machine.travel(dt.datetime(2026, 11, 23, 5, 0, tzinfo=dt.UTC), tick=False):
        user = user_create(
            username="early",
            email="early@example.com",
            password=PASSWORD,
            time_zone="Europe/Berlin",
        )
    client = Client()
    client.force_login(user)
    # 07:00 in Berlin, before the 08:00 reminder went out; moved to 06:00.
    with time_machine.travel(dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC), tick=False):
        response = client.post(reverse("profile"), profile_form(reminder_time="06:00"), follow=True)
        body = response.content.decode()
        assert "Today&#x27;s reminder time has already passed: it goes out now." in body
        assert "Next e-mail: Monday 23 November, 06:00 (Europe/Berlin)" in body
