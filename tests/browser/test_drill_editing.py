"""Editing from the drill: a built-in card copied and changed, back to the drill."""

from __future__ import annotations

from typing import Any

import pytest

from cards.models import Card
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import CardFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_copy_a_builtin_card_from_the_drill_edit_it_and_come_back(
    page: Any, live_server: Any, owner: Any
) -> None:
    topic = TopicFactory(title="Transformer fundamentals")
    builtin = CardFactory(topic=topic, front="Built-in front", back="Built-in back")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/review/")
    page.keyboard.press("Space")
    page.keyboard.press("e")
    page.wait_for_url(f"**/cards/{builtin.pk}/?next=drill")
    page.click("text=Copy to my cards and edit")
    page.wait_for_url(lambda url: f"/cards/{builtin.pk}/" not in url and "next=drill" in url)
    page.fill("textarea[name=back]", "My own, better back")
    page.click("button[data-save]")
    page.wait_for_url("**/review/?card=*")
    copy = Card.objects.get(owner=owner)
    assert copy.back == "My own, better back"
    assert page.locator("#card").get_attribute("data-card") == str(copy.pk)
    assert "My own, better back" in page.locator("#card .back").inner_text()
    assert not [e for e in errors if "targetError" in e]


def test_the_old_drill_editor_address_opens_the_one_editor_for_the_drill(
    page: Any, live_server: Any, owner: Any
) -> None:
    card = CardFactory(topic=TopicFactory(title="Decoding"), front="Front", back="Back")
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/review/cards/{card.pk}/edit/?next=drill")
    assert page.url.endswith(f"/cards/{card.pk}/?next=drill")
    assert page.locator("text=Back to the drill").count() == 1


def test_an_edit_made_from_the_drill_is_undone_with_u(
    page: Any, live_server: Any, owner: Any
) -> None:
    topic = TopicFactory(title="Transformer fundamentals")
    card = CardFactory(topic=topic, owner=owner, key="", front="My front", back="My **old** back")
    CardFactory(topic=topic)
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/review/?card={card.pk}")
    page.keyboard.press("Space")
    page.keyboard.press("e")
    page.wait_for_url(f"**/cards/{card.pk}/?next=drill")
    page.fill("textarea[name=back]", "A worse back")
    page.click("button[data-save]")
    page.wait_for_url("**/review/?card=*")
    assert "A worse back" in page.locator("#card .back").inner_text()
    page.keyboard.press("u")
    page.wait_for_selector("#drill .messages")
    assert "Undone: your edit of “My front”" in page.locator("#drill .messages").inner_text()
    card.refresh_from_db()
    assert card.back == "My **old** back"
    assert "<strong>old</strong>" in card.back_html
    page.keyboard.press("Space")
    assert "My old back" in page.locator("#card .back").inner_text()
