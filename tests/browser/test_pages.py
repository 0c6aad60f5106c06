"""Every page at a glance in real Chromium: the plan's rows, the zone list, and the phone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from prep.models import Profile, Track, TrackTopic
from prep.services import plan_generate
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import CardFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def planned(owner: Any) -> Any:
    """Olivia, four days before her interview: this week holds topic work and a mock."""
    track = Track.objects.create(
        slug="sys",
        title="AI system design",
        order=1,
        finale=[{"kind": "mock", "title": "Mock interview: design a RAG system", "minutes": 45}],
    )
    topic = TopicFactory(title="Model serving and inference at scale")
    for i in range(8):
        CardFactory(
            topic=topic,
            front=f"Card {i}: what does a **KV cache** hold?",
            back="| Layer | Freshness budget | Bytes per token |\n|---|---|---|\n"
            "| attention | unboundedly fresh | $2 \\cdot n_{layers} \\cdot d_{model}$ |",
            tags="serving inference",
        )
    TrackTopic.objects.create(
        track=track,
        topic=topic,
        order=0,
        weight=3,
        activities=[
            {"kind": "sketch", "title": "Sketch a serving stack with batching", "minutes": 45},
            {"kind": "drill", "title": "Drill serving cards", "minutes": 20},
        ],
    )
    today = timezone.localdate()
    Profile.objects.filter(user=owner).update(
        track=track,
        interview_date=today + dt.timedelta(days=4),
        hours_per_week=10,
        onboarded_at=timezone.now(),
        time_zone="UTC",
    )
    plan_generate(user=owner, today=today)
    return owner


def test_every_plan_badge_sits_clear_of_its_title(
    page: Any, live_server: Any, planned: Any
) -> None:
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/plan/")
    rows = page.locator(".this-week .item")
    assert rows.count() >= 2
    assert page.locator(".this-week .item .kind-mock").count() == 1
    for i in range(rows.count()):
        kind = rows.nth(i).locator(".kind").bounding_box()
        title = rows.nth(i).locator(".item-title").bounding_box()
        assert kind is not None
        assert title is not None
        assert kind["x"] + kind["width"] <= title["x"] + 0.5


def test_the_browsers_zone_comes_first_and_is_chosen_on_sign_up(
    browser: Any, live_server: Any, db: Any
) -> None:
    context = browser.new_context(timezone_id="Asia/Kolkata")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/signup/")
    first = page.locator("select[name=time_zone] option").first
    assert first.get_attribute("value") in {"Asia/Kolkata", "Asia/Calcutta"}
    assert page.input_value("select[name=time_zone]") == first.get_attribute("value")
    assert page.locator("select[name=time_zone] optgroup").first.get_attribute("label") == (
        "Your browser's zone"
    )
    context.close()


def test_the_zone_search_narrows_the_list_and_picks_a_zone_on_sign_up(
    browser: Any, live_server: Any, db: Any, artifacts: Path
) -> None:
    context = browser.new_context(timezone_id="Asia/Kolkata")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/signup/")
    search = page.get_by_role("searchbox", name="Search time zones")
    # The browser's zone is still first, and preselected.
    assert page.locator("select[name=time_zone] option").first.get_attribute("value") in {
        "Asia/Kolkata",
        "Asia/Calcutta",
    }
    search.fill("los ang")
    assert page.input_value("select[name=time_zone]") == "America/Los_Angeles"
    visible = page.evaluate(
        "[...document.querySelectorAll('select[name=time_zone] option')]"
        ".filter(o => !o.hidden).map(o => o.value)"
    )
    assert visible == ["America/Los_Angeles"]
    assert "1 zone match" in page.locator(".zone-search-status").inner_text()
    search.fill("europe")  # a region's name finds its zones
    count = page.evaluate(
        "[...document.querySelectorAll('select[name=time_zone] option')].filter(o => !o.hidden)"
        ".length"
    )
    assert count > 30
    assert page.input_value("select[name=time_zone]").startswith("Europe/")
    search.fill("berlin")
    search.press("Enter")  # picks the list, does not send the form
    assert page.url.endswith("/accounts/signup/")
    assert page.evaluate("document.activeElement.name") == "time_zone"
    assert page.input_value("select[name=time_zone]") == "Europe/Berlin"
    search.fill("")  # cleared: the whole list again, the choice kept
    assert page.locator("select[name=time_zone] option:not([hidden])").count() > 300
    assert page.input_value("select[name=time_zone]") == "Europe/Berlin"
    search.fill("zzzz")
    assert "No zone matches" in page.locator(".zone-search-status").inner_text()
    assert page.input_value("select[name=time_zone]") == "Europe/Berlin"
    page.screenshot(path=str(artifacts / "signup-zone-search.png"))
    context.close()


def test_the_profile_saves_the_zone_found_by_search(
    page: Any, live_server: Any, planned: Any
) -> None:
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/accounts/profile/")
    page.get_by_role("searchbox", name="Search time zones").fill("tokyo")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/accounts/profile/")
    assert Profile.objects.get(user=planned).time_zone == "Asia/Tokyo"


def test_without_javascript_the_zone_list_is_a_plain_grouped_select(
    browser: Any, live_server: Any, db: Any
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/signup/")
    assert page.locator("input.zone-search").count() == 0
    assert page.locator("select[name=time_zone] optgroup[label=Europe] option").count() > 30
    page.select_option("select[name=time_zone]", "Europe/Berlin")
    assert page.input_value("select[name=time_zone]") == "Europe/Berlin"
    context.close()


def _phone(browser: Any, width: int = 390, height: int = 844, dark: bool = False) -> Any:
    return browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        color_scheme="dark" if dark else "light",
    )


def test_on_a_phone_a_tap_reveals_and_the_grades_sit_on_screen(
    browser: Any, live_server: Any, planned: Any, artifacts: Path
) -> None:
    context = _phone(browser)
    page = context.new_page()
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/review/")
    assert page.locator("#card kbd").first.is_hidden()  # no keyboard hints on touch
    page.locator("#card .front").tap()
    assert page.locator("#card .answer").is_visible()
    page.screenshot(path=str(artifacts / "drill-phone-revealed.png"))
    assert page.evaluate("window.scrollY") == 0
    grades = page.locator("#card .grade")
    assert grades.count() >= 4
    for i in range(grades.count()):
        box = grades.nth(i).bounding_box()
        assert box is not None
        assert box["y"] >= 0
        assert box["y"] + box["height"] <= 844
    # The wide table scrolls in its own box, which a keyboard can reach.
    box = page.locator("#card .back .scroll").first
    assert box.get_attribute("tabindex") == "0"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shown = page.locator("#card").get_attribute("data-card")
    grades.filter(has_text="Good").first.tap()
    page.wait_for_function(
        "id => (document.querySelector('#card') || {dataset: {}}).dataset.card != id",
        arg=shown,
    )
    context.close()


def test_on_a_phone_the_bury_message_names_no_key(
    browser: Any, live_server: Any, planned: Any
) -> None:
    context = _phone(browser)
    page = context.new_page()
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/review/")
    shown = page.locator("#card").get_attribute("data-card")
    page.locator("#drill button", has_text="Bury").tap()
    page.wait_for_function(
        "id => !document.documentElement.dataset.busy && "
        "(document.querySelector('#card') || {dataset: {}}).dataset.card != id",
        arg=shown,
    )
    message = page.locator("#drill .messages .message").first
    assert message.inner_text().startswith("Card buried: it comes back tomorrow.")
    # No key to press on a touch screen: the Undo button is there instead.
    assert "undoes" not in message.inner_text()
    assert message.locator(".key-hint").count() == 1
    context.close()


PAGES = [
    "/plan/",
    "/review/",
    "/review/?show=1",
    "/cards/",
    "/cards/new/",
    "/cards/topics/",
    "/cards/import/",
    "/cards/export/",
    "/accounts/profile/",
    "/mocks/",
    "/review/custom/",
    "/review/custom/?mode=weakest",
]


@pytest.mark.parametrize("dark", [False, True])
def test_no_page_scrolls_sideways_at_360_pixels(
    browser: Any, live_server: Any, planned: Any, artifacts: Path, dark: bool
) -> None:
    from cards.models import Card

    card = Card.objects.first()
    assert card is not None
    context = _phone(browser, width=360, height=740, dark=dark)
    page = context.new_page()
    log_in(page, live_server, "olivia", PASSWORD)
    wide = {}
    for path in [*PAGES, f"/cards/{card.pk}/", f"/review/cards/{card.pk}/history/"]:
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 360:
            wide[path] = width
        # Nothing scrolls sideways inside its own strip either: every sub-navigation
        # link is whole on screen.
        for link in page.locator("nav.subnav a").all():
            box = link.bounding_box()
            assert box is not None
            if box["x"] < 0 or box["x"] + box["width"] > 360:
                wide[f"{path} {link.inner_text()}"] = round(box["x"] + box["width"])
        if not dark and path in {"/plan/", "/cards/"}:
            name = path.strip("/").replace("/", "-")
            page.screenshot(path=str(artifacts / f"phone-360-{name}.png"), full_page=True)
    assert wide == {}
    context.close()


def test_the_drill_ticks_the_weeks_drill_item_and_the_plan_shows_it(
    page: Any, live_server: Any, planned: Any
) -> None:
    from cards.models import Card, ReviewLog
    from prep.models import PlanItem

    item = (
        PlanItem.objects.filter(week__plan__user=planned, kind="drill", week__number=1)
        .order_by("order")
        .first()
    )
    assert item is not None
    card = Card.objects.filter(topic_id=item.topic_id).order_by("-pk").first()
    assert card is not None
    # All but the last few milliseconds of the item's minutes, graded earlier this week.
    today = timezone.localdate()
    ReviewLog.objects.create(
        user=planned,
        card=card,
        quality=4,
        reviewed_at=timezone.now(),
        local_date=today,
        answer_ms=item.minutes * 60_000 - 5,
        repetitions_before=1,
        interval_before=1,
        easiness_before=2.5,
        repetitions_after=2,
        interval_after=6,
        easiness_after=2.5,
        due_after=today + dt.timedelta(days=6),
    )
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/plan/")
    assert page.locator(f"#item-{item.pk}.done").count() == 0
    page.click("[data-today-start]")
    page.wait_for_url("**/review/")
    page.wait_for_timeout(50)
    page.keyboard.press("Space")
    page.keyboard.press("4")
    page.wait_for_function("() => !document.documentElement.dataset.busy")
    page.wait_for_function("() => document.querySelector('[data-count=new]').textContent == '7'")
    page.goto(f"{live_server.url}/plan/")
    assert page.locator(f"#item-{item.pk}.done").count() == 1
    assert PlanItem.objects.get(pk=item.pk).done_at is not None
