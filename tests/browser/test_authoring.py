"""A person writes, finds, changes and imports cards in real Chromium."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from cards.models import Card, ReviewState, Topic
from tests.browser.conftest import log_in
from tests.cards.conftest import build_anki_package, png
from tests.conftest import PASSWORD
from tests.factories import CardFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def library(owner: Any) -> None:
    fundamentals = TopicFactory(title="Transformer fundamentals")
    serving = TopicFactory(title="Inference and serving")
    mine = TopicFactory(owner=owner, title="My RLHF notes", slug="my-rlhf-notes")
    CardFactory(
        topic=fundamentals,
        front="Why scale attention logits by $\\frac{1}{\\sqrt{d_k}}$?",
        tags="attention formula",
    )
    CardFactory(topic=fundamentals, front="What do multiple heads buy you?", tags="attention")
    CardFactory(topic=serving, front="What is **continuous batching**?", tags="serving batching")
    CardFactory(
        topic=serving, front="Where does the KV cache live, and how big is it?", tags="serving"
    )
    today = dt.datetime.now(dt.UTC).date()
    for i, front in enumerate(
        [
            "What does the reward model's loss $-\\log\\sigma(r_w - r_l)$ reward?",
            "PPO's clipped objective: what is clipped?",
            "DPO vs PPO: when does DPO win?",
        ]
    ):
        card = CardFactory(owner=owner, key="", topic=mine, front=front, tags="rlhf")
        if i < 2:
            ReviewState.objects.create(
                user=owner,
                card=card,
                repetitions=3,
                interval=6 if i else 30,
                due=today + dt.timedelta(days=4 + i * 10),
                introduced_on=today,
                last_reviewed_at=dt.datetime.now(dt.UTC),
                suspended=False,
            )


def test_write_a_card_with_a_live_preview_then_find_and_suspend_it(
    page: Any, live_server: Any, owner: Any, library: None, artifacts: Path
) -> None:
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/cards/")
    assert page.locator("nav.nav a[aria-current=page]").inner_text() == "Cards"
    assert page.locator("table.card-table tbody tr").count() == 7
    page.screenshot(path=str(artifacts / "cards-browser.png"), full_page=True)

    # The filters swap the results without a page load.
    page.evaluate("window.__cadenceMarker = 'still here'")
    page.fill("input[name=q]", "batching")
    page.wait_for_function(
        "() => document.querySelectorAll('table.card-table tbody tr').length === 1"
    )
    assert page.evaluate("window.__cadenceMarker") == "still here"
    assert "q=batching" in page.url

    page.goto(f"{live_server.url}/cards/new/")
    page.select_option("select[name=topic]", label="My RLHF notes")
    page.fill(
        "textarea[name=front]",
        "What does the KL penalty $\\beta\\,\\mathrm{KL}(\\pi\\|\\pi_\\text{ref})$ prevent?",
    )
    page.fill(
        "textarea[name=back]",
        "Reward hacking: the policy drifts off the reference.\n\n"
        "$$r = r_\\phi - \\beta \\log\\frac{\\pi}{\\pi_\\text{ref}}$$",
    )
    page.fill("input[name=tags]", "rlhf, kl")
    page.wait_for_selector("#preview .back math[display=block] mfrac")
    assert "Reward hacking" in page.locator("#preview").inner_text()
    page.screenshot(path=str(artifacts / "cards-editor.png"), full_page=True)
    page.click("button[data-save]")
    page.wait_for_url("**/cards/*/")
    card = Card.objects.get(owner=owner, tags="rlhf kl")
    assert card.topic.title == "My RLHF notes"

    # Select it in the browser and suspend it.
    page.goto(f"{live_server.url}/cards/?tag=kl")
    page.check(f"input[name=ids][value='{card.pk}']")
    page.select_option("select[name=action]", "suspend")
    page.click("button[data-apply]")
    page.wait_for_selector("text=Suspended 1 card.")
    assert ReviewState.objects.get(user=owner, card=card).suspended


def test_import_an_anki_package_with_a_preview(
    page: Any, live_server: Any, owner: Any, library: None, artifacts: Path, tmp_path: Path
) -> None:
    package = build_anki_package(tmp_path / "anki", legacy=False, image=png(24, 16))
    path = tmp_path / "interview.apkg"
    path.write_bytes(package)
    broken = tmp_path / "broken.apkg"
    broken.write_bytes(b"not a zip")

    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/cards/import/")
    page.set_input_files("input[name=file]", str(broken))
    page.click("text=Read the file")
    assert "not an Anki package" in page.locator(".field .error").inner_text()
    page.screenshot(path=str(artifacts / "cards-import-refused.png"), full_page=True)

    page.set_input_files("input[name=file]", str(path))
    page.click("text=Read the file")
    page.wait_for_selector("[data-to-add]")
    assert page.locator("[data-to-add]").inner_text() == "5"
    page.screenshot(path=str(artifacts / "cards-import-preview.png"), full_page=True)
    page.click("button[data-confirm]")
    page.wait_for_selector("text=Imported 5 cards")
    page.screenshot(path=str(artifacts / "cards-import-done.png"), full_page=True)
    assert Card.objects.filter(owner=owner).count() == 8
    assert Topic.objects.filter(owner=owner, title="Interview::Attention").exists()

    # The imported image shows in the card.
    card = Card.objects.get(owner=owner, front__startswith="What does **attention**")
    page.goto(f"{live_server.url}/cards/{card.pk}/")
    image = page.locator("#preview img")
    image.wait_for()
    assert page.evaluate("img => img.naturalWidth", image.element_handle()) == 24


def test_the_browser_reads_well_on_a_phone_in_dark_mode(
    browser: Any, live_server: Any, owner: Any, library: None, artifacts: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="dark", device_scale_factor=2
    )
    page = context.new_page()
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/cards/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "cards-browser-phone-dark.png"), full_page=True)
    context.close()


def test_a_tag_chip_fills_the_tag_field_and_another_filter_keeps_it(
    page: Any, live_server: Any, owner: Any, library: None
) -> None:
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/cards/")
    page.locator("#results a.tag", has_text="serving").first.click()
    expect(page.locator("#results tbody tr")).to_have_count(2)
    assert page.input_value("input[name=tag]") == "serving"
    page.select_option("select[name=owner]", "builtin")
    page.wait_for_url("**owner=builtin**")
    assert "tag=serving" in page.url
    expect(page.locator("#results tbody tr")).to_have_count(2)
