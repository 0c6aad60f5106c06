"""The reminder and summary e-mails: both parts, headers, and the unsubscribe link."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from django.core import mail, signing
from django.test import Client

from cards.models import Card, ReviewLog, Topic
from prep.emails import unsubscribe_read, unsubscribe_token
from prep.models import EmailDelivery, PlanItem, Profile
from prep.scheduled.reminders import reminders_claim_due
from prep.scheduled.sending import reminders_send_batch
from tests.integration.builders import deck, person, plan, reviewed

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 08:00 in Berlin
TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(dt.datetime(2026, 11, 23, 6, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def learner(db: Any, frozen: None, settings: Any) -> Any:
    settings.SITE_URL = "https://cadence.example.org"
    user = person("lena", zone="Europe/Berlin")
    topics = deck(topics=2, cards_each=6)
    topics[0].title = "RLHF & reward <models>"
    topics[0].save()
    reviewed(user, list(Card.objects.order_by("position")[:12]), due=TODAY)
    plan(
        user,
        starts_on=dt.date(2026, 11, 16),
        interview=dt.date(2026, 12, 2),
        weeks=[
            ("Attention", [topics[1]], [("Derive attention", 45), ("Drill attention", 20)]),
            ("RLHF", [topics[0]], [("Sketch the RLHF pipeline", 60), ("Mock: RLHF", 45)]),
        ],
    )
    return user


@pytest.fixture
def daily_learner(learner: Any) -> Any:
    """The learner with the weekly summary off: today starts a plan week, when the summary
    is the day's one e-mail in place of the daily reminder."""
    Profile.objects.filter(user=learner).update(weekly_summary=False)
    return learner


def send_today() -> list[EmailMessage]:
    ids = reminders_claim_due(now=NOW, batch_size=10).delivery_ids
    reminders_send_batch(delivery_ids=ids, now=NOW)
    return [
        message_from_bytes(m.message().as_bytes(), _class=EmailMessage, policy=policy.default)
        for m in mail.outbox
    ]


def by_subject(messages: list[EmailMessage], start: str) -> EmailMessage:
    return next(m for m in messages if str(m["Subject"]).startswith(start))


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def test_the_daily_reminder_says_the_day_in_its_subject(daily_learner: Any) -> None:
    daily = by_subject(send_today(), "12 cards due")
    assert daily["Subject"] == "12 cards due · RLHF & reward <models> week · 9 days to go"
    assert daily["To"] == "lena@example.com"


def test_the_daily_reminder_has_a_plain_and_an_html_part_saying_the_same(
    daily_learner: Any,
) -> None:
    daily = by_subject(send_today(), "12 cards due")
    assert daily.get_content_type() == "multipart/alternative"
    text, html = parts(daily)
    for part in (text, html):
        assert "12 review" in part or "12</td>" in part
        assert "Sketch the RLHF pipeline" in part
        assert "9 days" in part
        assert "https://cadence.example.org/review/" in part
    # Plain text is not HTML-escaped; the HTML part is.
    assert "This week (RLHF), still to do:" in text
    assert "<models>" not in html
    assert "Start today's review: https://cadence.example.org/review/" in text
    assert html.count('href="https://cadence.example.org/review/"') == 1


def test_the_daily_reminder_lists_only_what_is_left_of_the_week(daily_learner: Any) -> None:
    PlanItem.objects.filter(title="Sketch the RLHF pipeline").update(done_at=NOW)
    text, _ = parts(by_subject(send_today(), "12 cards due"))
    assert "Sketch the RLHF pipeline" not in text
    assert "Mock: RLHF" in text


def test_scheduled_emails_carry_one_click_unsubscribe_headers(daily_learner: Any) -> None:
    daily = by_subject(send_today(), "12 cards due")
    link = daily["List-Unsubscribe"]
    assert link.startswith("<https://cadence.example.org/email/unsubscribe/")
    assert daily["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert daily["Auto-Submitted"] == "auto-generated"
    assert (
        daily["Message-ID"] == f"<cadence.daily.{daily_learner.pk}.2026-11-23@cadence.example.org>"
    )
    text, html = parts(daily)
    assert link.strip("<>") in text
    assert link.strip("<>") in html


def test_the_weekly_summary_reports_last_week_and_this_week(learner: Any) -> None:
    PlanItem.objects.filter(title="Derive attention").update(done_at=NOW)
    first_topic = Topic.objects.get(title__startswith="RLHF")
    cards = list(Card.objects.filter(topic=first_topic))
    for i, card in enumerate(cards[:4]):
        ReviewLog.objects.create(
            user=learner,
            card=card,
            quality=1 if i < 3 else 5,
            reviewed_at=NOW,
            local_date=TODAY - dt.timedelta(days=2),
            repetitions_before=1,
            interval_before=1,
            easiness_before=2.5,
            repetitions_after=0,
            interval_after=1,
            easiness_after=2.5,
            due_after=TODAY,
        )
    weekly = by_subject(send_today(), "Week 2")
    assert weekly["Subject"] == "Week 2: RLHF · last week 1/2 done · 9 days to go"
    assert "/email/unsubscribe/" in weekly["List-Unsubscribe"]
    text, html = parts(weekly)
    assert "1 of 2 items done (45 of 65 min)" in text
    assert "4 answered, 25% correct" in text
    assert "RLHF & reward <models>: 25% correct of 4 answers" in text
    assert "Sketch the RLHF pipeline (60 min)" in text
    assert "RLHF &amp; reward &lt;models&gt;" in html
    assert "25%</strong> correct" in html


def test_the_unsubscribe_page_opens_without_logging_in_and_asks_first(
    learner: Any, stranger_client: Client
) -> None:
    token = unsubscribe_token(user_id=learner.pk, kind="daily")
    response = stranger_client.get(f"/email/unsubscribe/{token}/")
    assert response.status_code == 200
    assert b"Stop daily reminders?" in response.content
    assert Profile.objects.get(user=learner).email_reminders


def test_one_click_unsubscribe_works_without_a_session_or_csrf_token(learner: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    token = unsubscribe_token(user_id=learner.pk, kind="daily")
    response = client.post(
        f"/email/unsubscribe/{token}/",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    profile = Profile.objects.get(user=learner)
    assert not profile.email_reminders
    assert profile.weekly_summary  # only the kind the link names
    # Still scheduled: the weekly summary rides on the same instant.
    assert profile.next_reminder_at is not None


def test_the_link_in_a_sent_email_unsubscribes(learner: Any, stranger_client: Client) -> None:
    weekly = by_subject(send_today(), "Week 2")
    path = weekly["List-Unsubscribe"].strip("<>").removeprefix("https://cadence.example.org")
    assert stranger_client.post(path).status_code == 200
    profile = Profile.objects.get(user=learner)
    assert (profile.email_reminders, profile.weekly_summary) == (True, False)


def test_unsubscribing_from_both_stops_the_schedule(learner: Any, stranger_client: Client) -> None:
    for kind in ("daily", "weekly"):
        stranger_client.post(
            f"/email/unsubscribe/{unsubscribe_token(user_id=learner.pk, kind=kind)}/"
        )
    profile = Profile.objects.get(user=learner)
    assert profile.next_reminder_at is None
    assert reminders_claim_due(now=NOW, batch_size=10).profile_ids == []


def test_a_queued_reminder_is_not_sent_after_unsubscribing(
    daily_learner: Any, stranger_client: Client
) -> None:
    ids = reminders_claim_due(now=NOW, batch_size=10).delivery_ids
    stranger_client.post(
        f"/email/unsubscribe/{unsubscribe_token(user_id=daily_learner.pk, kind='daily')}/"
    )
    reminders_send_batch(delivery_ids=ids, now=NOW)
    assert mail.outbox == []
    assert EmailDelivery.objects.get(kind="daily").status == EmailDelivery.Status.SKIPPED


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace(t.split(".")[0], str(int(t.split(".")[0]) + 1), 1),  # another user
        lambda t: t.replace(".daily:", ".weekly:"),  # another kind
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # a forged signature
        lambda t: signing.Signer().sign(t.split(":")[0]),  # signed, but not for this purpose
        lambda t: "garbage",
    ],
)
def test_a_tampered_link_changes_nothing(
    learner: Any, other_user: Any, stranger_client: Client, tamper: Any
) -> None:
    token = tamper(unsubscribe_token(user_id=learner.pk, kind="daily"))
    assert unsubscribe_read(token) is None
    response = stranger_client.post(f"/email/unsubscribe/{token}/")
    assert response.status_code == 404
    assert b"This link does not work" in response.content
    assert Profile.objects.filter(email_reminders=False).count() == 0
    assert Profile.objects.filter(weekly_summary=False).count() == 0


def test_a_link_for_a_deleted_account_says_it_does_not_work(
    learner: Any, stranger_client: Client
) -> None:
    token = unsubscribe_token(user_id=learner.pk, kind="daily")
    learner.delete()
    assert stranger_client.get(f"/email/unsubscribe/{token}/").status_code == 404


def test_the_profile_page_turns_reminders_back_on(learner: Any, client: Client) -> None:
    Profile.objects.filter(user=learner).update(email_reminders=False, weekly_summary=False)
    Profile.objects.filter(user=learner).update(next_reminder_at=None)
    client.force_login(learner)
    page = client.get("/accounts/profile/")
    assert b'name="email_reminders"' in page.content
    form = page.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: v for k, v in data.items() if v not in (None, False)}
    data.update(email_reminders="on", weekly_summary="on", reminder_time="08:00")
    response = client.post("/accounts/profile/", data)
    assert response.status_code == 302, response.content
    profile = Profile.objects.get(user=learner)
    assert profile.email_reminders
    assert profile.weekly_summary
    assert profile.next_reminder_at == NOW


def test_non_ascii_names_and_text_survive_the_trip(daily_learner: Any, settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = "Cadence Prüfung <cadence@example.org>"
    daily_learner.first_name = "Zoë"
    daily_learner.save()
    Topic.objects.filter(title__startswith="RLHF").update(title="Präferenzen")
    daily = by_subject(send_today(), "12 cards due")
    assert daily["Subject"] == "12 cards due · Präferenzen week · 9 days to go"
    assert daily["From"].addresses[0].display_name == "Cadence Prüfung"
    assert daily["From"].addresses[0].addr_spec == "cadence@example.org"
    text, html = parts(daily)
    assert text.startswith("Hi Zoë,")
    assert "Hi Zoë," in html


def test_long_headers_are_kept_whole_not_encoded(learner: Any) -> None:
    ids = reminders_claim_due(now=NOW, batch_size=10).delivery_ids
    reminders_send_batch(delivery_ids=ids, now=NOW)
    raw = mail.outbox[0].message().as_bytes()
    (line,) = [h for h in raw.split(b"\r\n") if h.startswith(b"List-Unsubscribe:")]
    assert b"=?" not in line
    assert line.startswith(b"List-Unsubscribe: <https://cadence.example.org/email/unsubscribe/")
    assert all(len(h) <= 998 for h in raw.split(b"\r\n"))


def test_the_weekly_summary_lists_only_what_is_left_and_counts_todays_reviews(
    learner: Any,
) -> None:
    PlanItem.objects.filter(title="Sketch the RLHF pipeline").update(done_at=NOW)
    card = Card.objects.order_by("position").first()
    for _ in range(3):
        ReviewLog.objects.create(
            user=learner,
            card=card,
            quality=5,
            reviewed_at=NOW,
            local_date=TODAY,
            repetitions_before=1,
            interval_before=1,
            easiness_before=2.5,
            repetitions_after=2,
            interval_after=6,
            easiness_after=2.6,
            due_after=TODAY + dt.timedelta(days=6),
        )
    messages = send_today()
    assert len(messages) == 1  # the week's first day: one e-mail, not two
    text, html = parts(by_subject(messages, "Week 2"))
    this_week = text.split("THIS WEEK", 1)[1]
    assert "Sketch the RLHF pipeline" not in this_week
    assert "Mock: RLHF (45 min)" in this_week
    assert "1 item already done" in this_week
    assert "3 answered, 100% correct" in text
    assert "none in the last seven days" not in text
    assert "Today: 12 cards to review" in text
    assert "https://cadence.example.org/review/" in html


def test_a_daily_reminder_with_no_cards_points_to_the_plan_not_a_review(
    daily_learner: Any,
) -> None:
    Profile.objects.filter(user=daily_learner).update(remind_when_empty=True)
    from cards.models import ReviewState

    ReviewState.objects.filter(user=daily_learner).update(due=TODAY + dt.timedelta(days=3))
    Profile.objects.filter(user=daily_learner).update(new_cards_per_day=0)
    text, html = parts(send_today()[0])
    assert "No cards due today" in text
    assert "Start today's review" not in text
    assert "Start today's review" not in html
    assert "Open your plan: https://cadence.example.org/plan/" in text
    assert 'href="https://cadence.example.org/plan/"' in html


def _graded(user: Any, topic: Topic, *, minutes: int, day: dt.date) -> None:
    """Grades of ``topic``'s cards on ``day`` taking ``minutes`` in all, as the drill logs them."""
    cards = list(Card.objects.filter(topic=topic)[:2])
    for card in cards:
        ReviewLog.objects.create(
            user=user,
            card=card,
            quality=4,
            reviewed_at=NOW,
            local_date=day,
            answer_ms=minutes * 60_000 // len(cards),
            repetitions_before=1,
            interval_before=1,
            easiness_before=2.5,
            repetitions_after=2,
            interval_after=6,
            easiness_after=2.5,
            due_after=day + dt.timedelta(days=6),
        )


def test_the_weekly_summary_counts_the_drill_items_the_drill_completed_as_done(
    learner: Any,
) -> None:
    rlhf = Topic.objects.get(title__startswith="RLHF")
    attention = Topic.objects.exclude(pk=rlhf.pk).get()
    # Last week's drill, done by grading on its last day; nobody opened the plan page since.
    PlanItem.objects.filter(title="Drill attention").update(kind="drill", topic=attention)
    _graded(learner, attention, minutes=20, day=TODAY - dt.timedelta(days=1))
    # This week's drill, done this morning before the summary goes out.
    this_week = PlanItem.objects.get(title="Mock: RLHF").week
    drill = PlanItem.objects.create(
        week=this_week, topic=rlhf, kind="drill", title="Drill RLHF cards", minutes=15, order=9
    )
    _graded(learner, rlhf, minutes=15, day=TODAY)

    weekly = by_subject(send_today(), "Week 2")

    text, html = parts(weekly)
    assert "1 of 2 items done (20 of 65 min)" in text
    left = text.split("THIS WEEK", 1)[1]
    assert "Drill RLHF cards" not in left
    assert "Drill RLHF cards" not in html.split("This week", 1)[1]
    assert "1 item already done" in left
    assert PlanItem.objects.get(pk=drill.pk).done_at is not None


def test_the_daily_reminder_does_not_list_a_drill_the_drill_completed(
    daily_learner: Any,
) -> None:
    rlhf = Topic.objects.get(title__startswith="RLHF")
    this_week = PlanItem.objects.get(title="Mock: RLHF").week
    PlanItem.objects.create(
        week=this_week, topic=rlhf, kind="drill", title="Drill RLHF cards", minutes=15, order=9
    )
    _graded(daily_learner, rlhf, minutes=15, day=TODAY)

    text, html = parts(send_today()[0])

    assert "Mock: RLHF" in text
    assert "Drill RLHF cards" not in text
    assert "Drill RLHF cards" not in html


def test_a_drill_half_done_is_still_listed(daily_learner: Any) -> None:
    rlhf = Topic.objects.get(title__startswith="RLHF")
    this_week = PlanItem.objects.get(title="Mock: RLHF").week
    PlanItem.objects.create(
        week=this_week, topic=rlhf, kind="drill", title="Drill RLHF cards", minutes=30, order=9
    )
    _graded(daily_learner, rlhf, minutes=15, day=TODAY)
    text, _ = parts(send_today()[0])
    assert "Drill RLHF cards" in text
