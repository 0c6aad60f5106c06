"""A mock interview in real Chromium: start it from the plan, type, reload mid-phase,
finish, score, and see the related cards due tomorrow and the plan item ticked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from cards.models import ReviewState
from prep.models import MockNote, MockSession, PlanItem, Profile, Track
from prep.services import onboarding_complete, user_create
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-passphrase-42"


@pytest.fixture
def candidate(db: Any) -> Any:
    call_command("load_deck", verbosity=0)
    call_command("load_prompts", verbosity=0)
    user = user_create(
        username="grace", email="grace@example.com", password=PASSWORD, time_zone="Asia/Kolkata"
    )
    profile = Profile.objects.get(user=user)
    now = timezone.now()
    today = now.astimezone(profile.zone).date()
    # Three days to go: the plan is its finale, the mock interviews.
    onboarding_complete(
        profile=profile,
        fields={
            "track": Track.objects.get(slug="llm-training-engineer"),
            "interview_date": today + dt.timedelta(days=3),
        },
        today=today,
        now=now,
    )
    return user


def test_a_mock_from_the_plan_survives_a_reload_and_its_misses_come_due_tomorrow(
    page: Any, live_server: Any, candidate: Any, artifacts: Path
) -> None:
    log_in(page, live_server, "grace", PASSWORD)
    page.goto(f"{live_server.url}/plan/")
    item = PlanItem.objects.filter(week__plan__user=candidate, kind="mock").first()
    assert item is not None
    page.locator(f"#item-{item.pk} a.mock-link").click()
    page.wait_for_url(f"**/mocks/?item={item.pk}")
    assert "For your plan" in page.locator(".for-item h2").inner_text()
    page.locator(".for-item .prompt-row button").first.click()
    page.wait_for_url("**/mocks/*/")
    session = MockSession.objects.get(user=candidate)
    assert session.plan_item_id == item.pk

    # The clock runs in the page.
    first = page.locator("#timer .clock").inner_text()
    page.wait_for_function(
        f"() => document.querySelector('#timer .clock').textContent !== '{first}'"
    )
    notes = page.locator("#notes")
    notes.click()
    notes.type("Memory: 16 bytes a parameter, $16\\Psi$.")
    page.wait_for_selector("#save-status .saved")
    page.screenshot(path=str(artifacts / "mock-session.png"), full_page=True)

    # Reload mid-phase: nothing lost, even the words typed just before it.
    notes.press("End")
    notes.type(" Then shard it.")
    page.reload()
    page.wait_for_selector("#notes")
    page.wait_for_function(
        "() => document.querySelector('#notes').value.endsWith('Then shard it.')"
    )
    # The server has it too: sent as the page went, or saved again from this browser's copy.
    expected = "Memory: 16 bytes a parameter, $16\\Psi$. Then shard it."
    for _ in range(50):
        if MockNote.objects.get(session=session, phase=0).text == expected:
            break
        page.wait_for_timeout(100)
    assert MockNote.objects.get(session=session, phase=0).text == expected

    # Next phase, pause and resume, then finish.
    page.locator("button.primary", has_text="Next:").click()
    page.wait_for_selector("text=Phase 2 of")
    page.locator("[data-timer-toggle]").click()
    page.wait_for_selector("#timer.paused")
    page.locator("[data-timer-toggle]").click()
    page.wait_for_function("() => !document.querySelector('#timer.paused')")
    page.locator("#notes").type("Components: loader, trainer, checkpoint store.")
    page.locator("[data-finish]").first.click()
    page.wait_for_selector("text=Model answer outline")
    item.refresh_from_db()
    assert item.done_at is not None

    # Score: miss the first point, partly the second, meet the rest.
    points = page.locator(".rubric .point")
    for index in range(points.count()):
        mark = "missed" if index == 0 else "partly" if index == 1 else "met"
        points.nth(index).locator(f"input[value={mark}]").check()
    page.locator(".rubric .point").first.locator(".point-note").fill("forgot the optimiser state")
    page.screenshot(path=str(artifacts / "mock-review.png"), full_page=True)
    page.locator(".rubric-form button.primary").click()
    page.wait_for_selector("#forward")
    session.refresh_from_db()
    assert session.score is not None
    assert 0 < session.score < 1
    tomorrow = timezone.now().astimezone(Profile.objects.get(user=candidate).zone).date()
    tomorrow += dt.timedelta(days=1)
    listed = page.locator("#forward .due").all_inner_texts()
    assert listed
    assert all(text == f"due {tomorrow:%a} {tomorrow.day} {tomorrow:%b}" for text in listed)
    assert ReviewState.objects.filter(user=candidate, due=tomorrow).count() == len(listed)
    page.screenshot(path=str(artifacts / "mock-scored.png"), full_page=True)

    # The plan shows the item ticked and the score in the trend.
    page.goto(f"{live_server.url}/plan/")
    assert "done" in (page.locator(f"#item-{item.pk}").get_attribute("class") or "")
    assert f"{round(100 * session.score)}%" in page.locator(".trends").inner_text()


def test_the_mock_pages_on_a_phone(
    browser: Any, live_server: Any, candidate: Any, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        log_in(page, live_server, "grace", PASSWORD)
        page.goto(f"{live_server.url}/mocks/")
        page.screenshot(path=str(artifacts / "mock-index-phone.png"), full_page=True)
        page.locator(".prompt-row button").first.click()
        page.wait_for_url("**/mocks/*/")
        page.locator("#notes").type("Scope first.")
        page.wait_for_selector("#save-status .saved")
        # Nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(artifacts / "mock-session-phone.png"), full_page=True)
        page.locator("[data-finish]").first.click()
        page.wait_for_selector("text=Model answer outline")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(artifacts / "mock-review-phone.png"), full_page=True)
        # The history table lists it and one in progress, every column on screen.
        page.goto(f"{live_server.url}/mocks/")
        page.locator(".prompt-row button").nth(3).click()
        page.wait_for_url("**/mocks/*/")
        page.goto(f"{live_server.url}/mocks/")
        assert page.locator(".history tbody tr").count() == 2
        assert page.locator(".history a", has_text="score it").is_visible()
        assert page.locator(".history a", has_text="in progress").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(artifacts / "mock-history-phone.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_mock_pages_have_no_serious_accessibility_violation(
    browser: Any, live_server: Any, candidate: Any, scheme: str
) -> None:
    import os

    from prep.mocks import mock_finish, mock_score, mock_share_create, mock_start, share_token
    from prep.models import MockPrompt
    from tests.browser.test_accessibility import AXE, _axe

    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail("axe-core is not installed: run `make test-tools`.")
        pytest.skip("axe-core is not installed (make test-tools)")
    partner = user_create(username="hopper", email="hopper@example.com", password=PASSWORD)
    zone = Profile.objects.get(user=candidate).zone
    now = timezone.now()

    def scored(prompt: MockPrompt, marks: list[str], scorer: Any = candidate) -> Any:
        session = mock_finish(session=mock_start(user=candidate, prompt=prompt, now=now), now=now)
        rubric = {p["key"]: (marks[i % len(marks)], "") for i, p in enumerate(prompt.rubric)}
        mock_score(session=session, scorer=scorer, marks=rubric, now=now, zone=zone)
        return session

    # Every kind's tag in the history, a rising trend, cards brought forward, and a
    # partner's marks beside the owner's.
    for kind, _ in MockPrompt.Kind.choices:
        scored(MockPrompt.objects.filter(kind=kind).first(), ["missed", "partly"])
    derivation = MockPrompt.objects.filter(kind="derivation").first()
    latest = scored(derivation, ["met", "partly", "missed"])
    share = mock_share_create(session=latest, recipient=partner, now=now)
    marks = {p["key"]: ("partly", "a note") for p in derivation.rubric}
    mock_score(session=latest, scorer=partner, marks=marks, now=now, zone=zone)
    writing = mock_start(user=candidate, prompt=derivation, now=now)

    context = browser.new_context(
        viewport={"width": 1100, "height": 900}, color_scheme=scheme, bypass_csp=True
    )
    page = context.new_page()
    found: dict[str, Any] = {}
    try:
        log_in(page, live_server, "grace", PASSWORD)
        for path in ["/mocks/", f"/mocks/{latest.pk}/", f"/mocks/{writing.pk}/", "/plan/"]:
            page.goto(f"{live_server.url}{path}")
            if violations := _axe(page):
                found[path] = violations
        context.clear_cookies()
        partner_page = context.new_page()
        log_in(partner_page, live_server, "hopper", PASSWORD)
        partner_page.goto(f"{live_server.url}/mocks/shared/{share_token(share)}/")
        if violations := _axe(partner_page):
            found["the partner's page"] = violations
    finally:
        context.close()
    assert not found, found
