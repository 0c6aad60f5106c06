"""Mock-interview pages over HTTP: every URL's access check, plain-form flows, htmx
autosave replies, bad input, the partner's view and the Markdown export."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from prep.mocks import mock_finish, mock_share_create, mock_share_revoke, mock_start, share_token
from prep.models import MockMark, MockNote, MockPrompt, MockSession

HTMX = {"HTTP_HX_REQUEST": "true"}
ALL_MET = {f"mark-{k}": "met" for k in ("proj", "scale", "mask", "cost", "heads", "shapes")}


@pytest.fixture
def session(owner: Any, prompt: MockPrompt, now: dt.datetime) -> MockSession:
    return mock_start(user=owner, prompt=prompt, now=now)


@pytest.fixture
def finished(session: MockSession, now: dt.datetime) -> MockSession:
    return mock_finish(session=session, now=now)


def _owner_urls(pk: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("mock_session", args=[pk])),
        ("post", reverse("mock_note", args=[pk, 0])),
        ("post", reverse("mock_phase", args=[pk])),
        ("post", reverse("mock_timer", args=[pk])),
        ("post", reverse("mock_finish", args=[pk])),
        ("post", reverse("mock_score", args=[pk])),
        ("get", reverse("mock_export", args=[pk])),
        ("post", reverse("mock_share", args=[pk])),
        ("post", reverse("mock_share_revoke", args=[pk, 1])),
    ]


def test_every_session_url_is_a_404_for_another_user(
    other_client: Client, finished: MockSession
) -> None:
    for method, url in _owner_urls(finished.pk):
        response = getattr(other_client, method)(url, {"text": "x", "version": "0", "to": "1"})
        assert response.status_code == 404, url
    assert not MockNote.objects.filter(session=finished).exclude(version=0).exists()


def test_every_mock_url_sends_a_stranger_to_log_in(
    stranger_client: Client, finished: MockSession, other_user: Any, now: dt.datetime
) -> None:
    token = share_token(mock_share_create(session=finished, recipient=other_user, now=now))
    urls = [
        ("get", reverse("mock_index")),
        ("post", reverse("mock_begin")),
        ("get", reverse("mock_shared", args=[token])),
        *_owner_urls(finished.pk),
    ]
    for method, url in urls:
        response = getattr(stranger_client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url


def test_a_plan_item_of_another_user_is_a_404_on_the_picker(
    other_client: Client, owner: Any, track: Any
) -> None:
    from prep.models import PlanItem, Profile
    from prep.services import plan_generate

    Profile.objects.filter(user=owner).update(track=track, interview_date=dt.date(2027, 1, 20))
    plan_generate(user=owner, today=dt.date(2026, 11, 23))
    item = PlanItem.objects.filter(week__plan__user=owner).first()
    assert item is not None
    assert other_client.get(reverse("mock_index"), {"item": item.pk}).status_code == 404


def test_a_session_runs_on_plain_forms_from_start_to_score(
    owner_client: Client, owner: Any, prompt: MockPrompt
) -> None:
    response = owner_client.get(reverse("mock_index"))
    assert "Derive attention" in response.text
    response = owner_client.post(reverse("mock_begin"), {"prompt": prompt.key})
    session = MockSession.objects.get(user=owner)
    assert response["Location"] == reverse("mock_session", args=[session.pk])
    page = owner_client.get(response["Location"])
    assert "Phase 1 of 3: Projections" in page.text
    assert "5 min" in page.text  # the time box, without JavaScript
    owner_client.post(
        reverse("mock_phase", args=[session.pk]),
        {"phase": "0", "version": "0", "text": "Q = XW", "to": "1"},
    )
    session.refresh_from_db()
    assert session.phase == 1
    assert MockNote.objects.get(session=session, phase=0).text == "Q = XW"
    owner_client.post(reverse("mock_timer", args=[session.pk]), {"paused": "1"})
    session.refresh_from_db()
    assert session.is_paused
    owner_client.post(
        reverse("mock_finish", args=[session.pk]),
        {"phase": "1", "version": "0", "text": "S = QK^T"},
    )
    review = owner_client.get(reverse("mock_session", args=[session.pk]))
    assert "Model answer outline" in review.text
    assert "Q = XW" in review.text
    response = owner_client.post(
        reverse("mock_score", args=[session.pk]), {**ALL_MET, "mark-proj": "missed"}
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.score == pytest.approx(0.7)
    review = owner_client.get(reverse("mock_session", args=[session.pk]))
    assert "Cards brought forward" in review.text
    export = owner_client.get(reverse("mock_export", args=[session.pk]))
    assert export["Content-Type"].startswith("text/markdown")
    assert "## Phase 1: Projections" in export.text
    assert "Q = XW" in export.text
    assert "Score (olivia): 70%" in export.text


def test_autosave_replies_with_the_new_version_or_409_with_the_saved_text(
    owner_client: Client, session: MockSession
) -> None:
    url = reverse("mock_note", args=[session.pk, 0])
    saved = owner_client.post(url, {"text": "tab A", "version": "0"}, **HTMX)
    assert saved.status_code == 200
    assert 'id="note-version" value="1"' in saved.text
    assert "Saved" in saved.text
    stale = owner_client.post(url, {"text": "tab B", "version": "0"}, **HTMX)
    assert stale.status_code == 409
    assert "changed in another tab" in stale.text
    assert "tab A" in stale.text
    assert 'data-conflict-version="1"' in stale.text
    assert MockNote.objects.get(session=session, phase=0).text == "tab A"


def test_a_stale_plain_form_save_shows_both_texts_and_keeps_the_saved_one(
    owner_client: Client, session: MockSession
) -> None:
    url = reverse("mock_note", args=[session.pk, 0])
    owner_client.post(url, {"text": "first", "version": "0"})
    page = owner_client.post(url, {"text": "second", "version": "0"})
    assert page.status_code == 409
    assert "first" in page.text
    assert "second" in page.text
    assert MockNote.objects.get(session=session, phase=0).text == "first"


def test_an_oversized_note_gets_a_clear_error_and_changes_nothing(
    owner_client: Client, session: MockSession
) -> None:
    url = reverse("mock_note", args=[session.pk, 0])
    response = owner_client.post(url, {"text": "x" * 20_001, "version": "0"}, **HTMX)
    assert response.status_code == 400
    assert "limited to 20,000 characters" in response.text
    assert MockNote.objects.get(session=session, phase=0).version == 0


def test_a_mark_for_a_point_that_does_not_exist_gets_a_clear_error(
    owner_client: Client, finished: MockSession
) -> None:
    response = owner_client.post(
        reverse("mock_score", args=[finished.pk]), {**ALL_MET, "mark-nope": "met"}
    )
    assert response.status_code == 400
    assert "This rubric has no point" in response.text
    assert not MockMark.objects.exists()


def test_a_partner_reads_and_scores_through_a_live_link_only(
    owner_client: Client,
    other_client: Client,
    finished: MockSession,
    other_user: Any,
    now: dt.datetime,
) -> None:
    from prep.services import user_create

    owner_client.post(reverse("mock_share", args=[finished.pk]), {"username": "SAM"})
    share = finished.shares.get()
    url = reverse("mock_shared", args=[share_token(share)])
    page = other_client.get(url)
    assert page.status_code == 200
    assert "shared with you by olivia" in page.text
    assert reverse("mock_export", args=[finished.pk]) not in page.text  # read and score only
    assert other_client.post(url, {**ALL_MET, "mark-cost": "missed"}).status_code == 302
    assert MockMark.objects.filter(scorer=other_user).count() == 6
    # Both scores show on the owner's page once the owner has scored too.
    owner_client.post(reverse("mock_score", args=[finished.pk]), ALL_MET)
    review = owner_client.get(reverse("mock_session", args=[finished.pk]))
    assert "Your score <b>100%</b>" in review.text
    assert "sam's score <b>80%</b>" in review.text
    # Someone else with the link, a tampered link, a revoked link: 404.
    third = Client()
    third.force_login(user_create(username="tess", email="t@example.com", password="a-pass-4242"))
    assert third.get(url).status_code == 404
    assert other_client.get(url[:-3] + "xx/").status_code == 404
    mock_share_revoke(share=share, now=now)
    assert other_client.get(url).status_code == 404
    assert other_client.post(url, ALL_MET).status_code == 404


def test_the_owner_following_their_own_share_link_lands_on_their_session(
    owner_client: Client,
    finished: MockSession,
    other_user: Any,
    now: dt.datetime,
) -> None:
    share = mock_share_create(session=finished, recipient=other_user, now=now)
    url = reverse("mock_shared", args=[share_token(share)])
    response = owner_client.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("mock_session", args=[finished.pk])
    # Revoked, the link is dead for its owner too; a tampered one never named anything.
    mock_share_revoke(share=share, now=now)
    assert owner_client.get(url).status_code == 404
    assert owner_client.get(url[:-3] + "xx/").status_code == 404


def test_the_owner_revokes_a_share_from_the_page(
    owner_client: Client,
    other_client: Client,
    finished: MockSession,
    other_user: Any,
    now: dt.datetime,
) -> None:
    share = mock_share_create(session=finished, recipient=other_user, now=now)
    url = reverse("mock_shared", args=[share_token(share)])
    owner_client.post(reverse("mock_share_revoke", args=[finished.pk, share.pk]))
    assert other_client.get(url).status_code == 404


def _onboarded(owner: Any, track: Any, *, days_to_interview: int) -> dt.date:
    """The owner on ``track`` with an interview that many days off; their local today."""
    from django.utils import timezone

    from prep.models import Profile
    from prep.services import onboarding_complete

    profile = Profile.objects.get(user=owner)
    today = timezone.now().astimezone(profile.zone).date()
    onboarding_complete(
        profile=profile,
        fields={"track": track, "interview_date": today + dt.timedelta(days=days_to_interview)},
        today=today,
        now=timezone.now(),
    )
    return today


def test_the_plan_page_links_mock_items_and_shows_the_trend(
    owner_client: Client, owner: Any, track: Any, finished: MockSession
) -> None:
    from django.utils import timezone

    from prep.mocks import mock_score
    from prep.models import Profile

    _onboarded(owner, track, days_to_interview=3)
    profile = Profile.objects.get(user=owner)
    mock_score(
        session=finished,
        scorer=owner,
        marks={k.removeprefix("mark-"): ("met", "") for k in ALL_MET},
        now=timezone.now(),
        zone=profile.zone,
    )
    page = owner_client.get(reverse("plan"))
    assert f"{reverse('mock_index')}?item=" in page.text
    assert "Derivation" in page.text
    assert "100%" in page.text


def test_math_in_a_rubric_point_and_a_phase_hint_is_typeset_like_the_drill(
    owner_client: Client, owner: Any, prompt: MockPrompt, now: dt.datetime
) -> None:
    prompt.phases[0]["hint"] = "the shapes of $XW_Q$"
    prompt.rubric[1]["text"] = "Divides by $\\sqrt{d_k}$ and says **why**"
    prompt.save()
    session = mock_start(user=owner, prompt=prompt, now=now)
    page = owner_client.get(reverse("mock_session", args=[session.pk]))
    assert "$XW_Q$" not in page.text
    assert '<p class="muted small">the shapes of <math' in page.text
    mock_finish(session=session, now=now)
    review = owner_client.get(reverse("mock_session", args=[session.pk]))
    assert "$\\sqrt{d_k}$" not in review.text
    assert "<msqrt>" in review.text
    assert "<strong>why</strong></legend>" in review.text
    assert "<legend><p>" not in review.text


def test_pausing_from_a_tab_whose_session_finished_elsewhere_loads_the_review(
    owner_client: Client, finished: MockSession
) -> None:
    # htmx would follow a plain redirect and swap the whole review page into the timer.
    url = reverse("mock_timer", args=[finished.pk])
    response = owner_client.post(url, {"paused": "1"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("mock_session", args=[finished.pk])
    assert "<html" not in response.text
    review = owner_client.get(response["HX-Redirect"])
    assert "This session is finished." in review.text
    # Without htmx it stays a plain redirect.
    plain = owner_client.post(url, {"paused": "1"})
    assert plain.status_code == 302


def test_a_note_too_large_to_read_gets_a_clear_page_and_changes_nothing(
    owner_client: Client, session: MockSession, settings: Any
) -> None:
    # Past DATA_UPLOAD_MAX_MEMORY_SIZE Django refuses the body before any view (the CSRF
    # check reads it first): the 400 page must still say what happened.
    settings.DEBUG = False
    url = reverse("mock_note", args=[session.pk, 0])
    body = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = owner_client.post(url, {"text": body, "version": "0"})
    assert response.status_code == 400
    assert "Nothing was saved or changed." in response.text
    assert "20,000 characters" in response.text
    note = MockNote.objects.get(session=session, phase=0)
    assert (note.version, note.text) == (0, "")


def test_the_picker_filters_by_kind_and_by_this_plan_weeks_topics(
    owner_client: Client, owner: Any, track: Any, prompt: MockPrompt
) -> None:
    from prep.selectors import current_week_topic_ids

    today = _onboarded(owner, track, days_to_interview=40)
    week_topics = current_week_topic_ids(user=owner, today=today)
    assert week_topics
    assert prompt.topic_id not in week_topics
    on_week = MockPrompt.objects.create(
        key="mk-week",
        kind=MockPrompt.Kind.SYSTEM_DESIGN,
        title="Design the system of the week",
        seed="003",
        source="Seed 003",
        topic_id=week_topics[0],
        body="Design it.",
        phases=prompt.phases,
        rubric=prompt.rubric,
        outline="- it",
        card_keys=prompt.card_keys,
    )

    def titles(**query: str) -> list[str]:
        page = owner_client.get(reverse("mock_index"), query)
        assert page.status_code == 200
        return re.findall(r'<span class="prompt-title">([^<]+)</span>', page.text)

    assert set(titles()) == {prompt.title, on_week.title}
    assert titles(week="1") == [on_week.title]
    assert titles(kind="derivation") == [prompt.title]
    assert titles(kind="system-design", week="1") == [on_week.title]
    assert titles(kind="derivation", week="1") == []
    assert set(titles(kind="no-such-kind")) == {prompt.title, on_week.title}


def test_a_phase_past_its_time_box_shows_the_cue_without_javascript(
    owner_client: Client, owner: Any, prompt: MockPrompt
) -> None:
    from django.utils import timezone

    cue = "Past this phase's time box"
    late = mock_start(user=owner, prompt=prompt, now=timezone.now() - dt.timedelta(minutes=6))
    page = owner_client.get(reverse("mock_session", args=[late.pk]))
    assert cue in page.text
    assert 'class="timer over"' in page.text
    fresh = mock_start(user=owner, prompt=prompt, now=timezone.now())
    page = owner_client.get(reverse("mock_session", args=[fresh.pk]))
    assert cue not in page.text
    assert "of 5:00" in page.text  # the time box is printed


def test_sharing_names_one_person_even_when_two_names_differ_only_in_case(
    owner_client: Client, finished: MockSession, other_user: Any
) -> None:
    from prep.services import user_create

    capital = user_create(username="Sam", email="big-sam@example.com", password="a-pass-4242")
    url = reverse("mock_share", args=[finished.pk])
    owner_client.post(url, {"username": "Sam"})
    owner_client.post(url, {"username": "sam"})
    assert sorted(finished.shares.values_list("recipient__username", flat=True)) == ["Sam", "sam"]
    finished.shares.all().delete()
    # Neither is named exactly: refused, with nobody given the link.
    response = owner_client.post(url, {"username": "SAM"}, follow=True)
    assert "type it exactly" in response.text
    assert not finished.shares.exists()
    # With one match in any case, the case does not matter.
    capital.delete()
    owner_client.post(url, {"username": "SAM"})
    assert list(finished.shares.values_list("recipient", flat=True)) == [other_user.pk]


def test_the_history_pages_through_every_session(
    owner_client: Client, owner: Any, prompt: MockPrompt, now: dt.datetime, monkeypatch: Any
) -> None:
    from prep import mock_views

    monkeypatch.setattr(mock_views, "HISTORY_PAGE_SIZE", 2)
    sessions = [
        mock_start(user=owner, prompt=prompt, now=now + dt.timedelta(minutes=i)) for i in range(5)
    ]
    seen: list[int] = []
    for page in (1, 2, 3):
        response = owner_client.get(reverse("mock_index"), {"kind": "derivation", "page": page})
        rows = response.text.split('<table class="history">')[1].split("</table>")[0]
        seen += [int(pk) for pk in re.findall(r'href="/mocks/(\d+)/"', rows)[::2]]
        assert f"Page {page} of 3 · 5 sessions" in response.text
        if page < 3:
            assert f'href="?kind=derivation&amp;page={page + 1}#history-title"' in response.text
    assert seen == [s.pk for s in reversed(sessions)]  # newest first, none left off


def test_the_cards_brought_forward_show_their_front_typeset_like_the_drill(
    owner_client: Client, owner: Any, finished: MockSession
) -> None:
    from cards.models import Card

    Card.objects.filter(key="c-proj").update(front="What shape is $XW_Q$ for one head?")
    owner_client.post(reverse("mock_score", args=[finished.pk]), {**ALL_MET, "mark-proj": "missed"})
    review = owner_client.get(reverse("mock_session", args=[finished.pk]))
    forward = review.text.split('id="forward"')[1].split("</section>")[0]
    assert "What shape is" in forward
    assert "$XW_Q$" not in forward
    assert "<math" in forward


def test_pausing_from_a_tab_left_on_an_earlier_phase_reloads_on_the_running_one(
    owner_client: Client, session: MockSession, now: dt.datetime
) -> None:
    from prep.mocks import mock_phase_go

    mock_phase_go(session=session, phase=1, now=now)  # another tab moved on
    url = reverse("mock_timer", args=[session.pk])
    response = owner_client.post(url, {"paused": "1", "phase": "0"}, **HTMX)
    assert response["HX-Redirect"] == reverse("mock_session", args=[session.pk])
    session.refresh_from_db()
    assert not session.is_paused  # the other tab's clock was not touched
    # On the phase that runs, pausing works in place.
    response = owner_client.post(url, {"paused": "1", "phase": "1"}, **HTMX)
    assert 'id="timer"' in response.text
    session.refresh_from_db()
    assert session.is_paused
