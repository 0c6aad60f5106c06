"""A person drills with the keyboard only, in real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cards.models import Card, ReviewLog, ReviewState
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import CardFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def deck(owner: Any) -> list[Card]:
    topic = TopicFactory(title="Transformer fundamentals")
    cards = [
        CardFactory(
            topic=topic,
            front="Why scale by $\\frac{1}{\\sqrt{d_k}}$?",
            back="$$\\operatorname{Var}(q \\cdot k) = d_k$$\n\nso the logits stay unit-variance.",
        )
    ]
    cards += [
        CardFactory(topic=topic, front=f"Card {i} front", back=f"Card {i} **back**")
        for i in range(2, 7)
    ]
    return cards


def test_drill_five_cards_by_keyboard_without_a_page_load(
    page: Any, live_server: Any, owner: Any, deck: list[Card], artifacts: Path
) -> None:
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/review/")
    page.evaluate("window.__cadenceMarker = 'still here'")

    # Math is typeset as MathML, not left as TeX source.
    front = page.locator("#card .front")
    assert front.locator("math msqrt").count() == 1
    assert "\\sqrt" not in front.inner_text()
    box = front.locator("math").bounding_box()
    assert box is not None
    assert box["height"] > 10

    assert page.locator("#card .answer").is_hidden()
    page.keyboard.press("Space")
    assert page.locator("#card .answer").is_visible()
    assert page.locator("#card .back math[display=block]").count() == 1
    page.screenshot(path=str(artifacts / "drill-revealed.png"), full_page=True)

    grades = [4, 5, 3, 2, 4]
    for number, quality in enumerate(grades):
        shown = int(page.locator("#card").get_attribute("data-card"))
        if number:
            page.keyboard.press("Enter")
        page.keyboard.press(str(quality))
        page.wait_for_function(
            "id => !document.documentElement.dataset.busy && "
            "(!document.querySelector('#card') || "
            "document.querySelector('#card').dataset.card != id)",
            arg=str(shown),
        )

    assert page.evaluate("window.__cadenceMarker") == "still here"  # no full page load
    logs = list(ReviewLog.objects.filter(user=owner).order_by("reviewed_at", "id"))
    assert [log.quality for log in logs] == grades
    assert page.locator("[data-count=new]").inner_text() == "1"
    assert page.locator("[data-count=repeat]").inner_text() == "2"  # graded 3 and 2

    # The schedule in the database is SM-2's for what was pressed.
    intervals = {
        log.card_id: ReviewState.objects.get(user=owner, card_id=log.card_id).interval
        for log in logs
    }
    assert sorted(intervals.values()) == [1, 1, 1, 1, 1]
    states = {s.card_id: s for s in ReviewState.objects.filter(user=owner)}
    assert states[logs[0].card_id].easiness == 2.5
    assert states[logs[1].card_id].easiness == 2.6
    assert round(states[logs[2].card_id].easiness, 2) == 2.36
    assert states[logs[3].card_id].easiness == 2.5
    assert states[logs[3].card_id].lapses == 0

    # Undo brings the last card back, and its state is gone as if never graded.
    last = logs[-1].card_id
    page.keyboard.press("u")
    page.wait_for_function(
        "id => !document.documentElement.dataset.busy && "
        "document.querySelector('#card')?.dataset.card == id",
        arg=str(last),
    )
    assert not ReviewState.objects.filter(user=owner, card_id=last).exists()
    assert ReviewLog.objects.filter(user=owner).count() == 4
    assert page.evaluate("window.__cadenceMarker") == "still here"
    page.screenshot(path=str(artifacts / "drill-after-undo.png"), full_page=True)


def test_the_shortcut_sheet_opens_with_question_mark(
    page: Any, live_server: Any, owner: Any, deck: list[Card]
) -> None:
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/review/")
    page.keyboard.press("?")
    assert page.locator("dialog#shortcuts").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("dialog#shortcuts").is_hidden()


def test_the_drill_works_without_javascript(
    browser: Any, live_server: Any, owner: Any, deck: list[Card]
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/review/")
    page.click("text=Show answer")
    page.click("button.grade.q5")
    page.wait_for_url(f"{live_server.url}/review/")
    assert ReviewLog.objects.get(user=owner).quality == 5
    context.close()


def test_the_drill_reads_well_on_a_phone_in_dark_mode(
    browser: Any, live_server: Any, owner: Any, deck: list[Card], artifacts: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="dark", device_scale_factor=2
    )
    page = context.new_page()
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/review/?show=1")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 19, 26)"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling
    page.screenshot(path=str(artifacts / "drill-phone-dark.png"), full_page=True)
    context.close()


def test_four_buttons_by_keyboard_and_by_tap(
    browser: Any, page: Any, live_server: Any, owner: Any, deck: list[Card]
) -> None:
    owner.profile.grading = "four"
    owner.profile.save(update_fields=["grading"])
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/review/")
    assert page.locator("#card .grade").count() == 4

    def graded(count: int) -> None:
        page.wait_for_function(
            "n => !document.documentElement.dataset.busy && "
            "document.querySelector('[data-count=new]').textContent == String(6 - n)",
            arg=count,
        )

    page.keyboard.press("Space")
    page.keyboard.press("1")  # Again
    graded(1)
    page.keyboard.press("Space")  # reveal
    page.keyboard.press("Space")  # Good
    graded(2)
    assert [log.quality for log in ReviewLog.objects.order_by("id")] == [1, 4]

    phone = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    tap = phone.new_page()
    log_in(tap, live_server, "olivia", PASSWORD)
    tap.goto(f"{live_server.url}/review/")
    tap.locator("#card .front").tap()
    tap.locator("#card .grade", has_text="Easy").tap()
    tap.wait_for_function("() => !document.documentElement.dataset.busy")
    tap.wait_for_function("() => document.querySelector('[data-count=new]').textContent == '3'")
    assert [log.quality for log in ReviewLog.objects.order_by("id")] == [1, 4, 5]
    phone.close()


def test_b_buries_the_card_and_u_brings_it_back_saying_so(
    page: Any, live_server: Any, owner: Any, deck: list[Card]
) -> None:
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/review/")
    page.evaluate("window.__cadenceMarker = 'still here'")
    buried = page.locator("#card").get_attribute("data-card")
    page.keyboard.press("b")
    page.wait_for_function(
        "id => !document.documentElement.dataset.busy && "
        "document.querySelector('#card')?.dataset.card != id",
        arg=buried,
    )
    assert "Card buried: it comes back tomorrow" in page.locator("#drill .messages").inner_text()
    assert page.locator("#drill .messages .key-hint kbd").inner_text() == "U"  # a keyboard
    assert page.locator("[data-count=new]").inner_text() == str(len(deck) - 1)
    assert ReviewState.objects.get(user=owner, card_id=buried).buried_on is not None
    page.keyboard.press("u")
    page.wait_for_function(
        "id => !document.documentElement.dataset.busy && "
        "document.querySelector('#card')?.dataset.card == id",
        arg=buried,
    )
    assert "Undone: burying" in page.locator("#drill .messages").inner_text()
    assert ReviewState.objects.get(user=owner, card_id=buried).buried_on is None
    assert page.evaluate("window.__cadenceMarker") == "still here"
