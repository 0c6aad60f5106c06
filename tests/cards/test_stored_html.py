"""Card HTML is rendered when the text is written, so no request renders a card it shows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cards import rendering
from cards.models import Card, Topic
from cards.rendering import RENDER_VERSION, render_markdown
from cards.services import card_copy_to_own, card_create, card_update
from tests.cards.conftest import upload
from tests.cards.test_deck_loader import load, write_deck
from tests.factories import CardFactory

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def stored(card: Card) -> tuple[str, str, int]:
    card.refresh_from_db()
    return card.front_html, card.back_html, card.html_version


def expected(card: Card) -> tuple[str, str, int]:
    return render_markdown(card.front), render_markdown(card.back), RENDER_VERSION


@pytest.fixture
def no_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str) -> str:
        raise AssertionError(f"rendered during the request: {text[:40]!r}")

    monkeypatch.setattr("cards.templatetags.cards_tags._render", refuse)


def test_loading_the_deck_stores_every_cards_html(db: Any, tmp_path: Path) -> None:
    write_deck(tmp_path)
    load(tmp_path)
    cards = list(Card.objects.filter(owner__isnull=True))
    assert cards
    for card in cards:
        assert stored(card) == expected(card)
        assert "<" in card.front_html


def test_writing_a_card_stores_its_html(owner: Any) -> None:
    topic = Topic.objects.create(owner=owner, slug="mine", title="Mine")
    card = card_create(
        user=owner, topic=topic, front="Why $\\sqrt{d_k}$?", back="**Variance**", tags=""
    )
    assert stored(card) == expected(card)
    card_update(card=card, front="Now $x^2$", back="Changed", tags="")
    assert stored(card) == expected(card)
    assert "<math" in card.front_html


def test_a_copied_built_in_card_and_an_imported_one_store_their_html(
    owner: Any, owner_client: Client
) -> None:
    builtin = CardFactory(front="Built-in $a+b$", back="back")
    copy = card_copy_to_own(user=owner, card=builtin, now=NOW, zone=dt.UTC)  # type: ignore[arg-type]
    assert stored(copy) == expected(copy)
    response = upload(owner_client, "mine.csv", b"Imported $y$,Answer **here**\n")
    owner_client.post(response["Location"] + "confirm/")
    imported = Card.objects.get(owner=owner, front="Imported $y$")
    assert stored(imported) == expected(imported)


def test_the_drill_and_the_browser_show_stored_html_without_rendering(
    owner: Any, owner_client: Client, tmp_path: Path, no_rendering: None
) -> None:
    write_deck(tmp_path)
    load(tmp_path)
    drill = owner_client.get(reverse("drill") + "?show=1")
    assert drill.status_code == 200
    shown = Card.objects.filter(owner__isnull=True).order_by("position").first()
    assert shown is not None
    assert shown.front_html in drill.content.decode()
    assert owner_client.get(reverse("card_browser")).status_code == 200


def test_html_from_an_older_renderer_is_rendered_afresh_and_stored_again_on_load(
    owner_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_deck(tmp_path)
    load(tmp_path)
    Card.objects.update(front_html="<p>stale</p>")
    monkeypatch.setattr(rendering, "RENDER_VERSION", RENDER_VERSION + 1)
    monkeypatch.setattr("cards.templatetags.cards_tags.RENDER_VERSION", RENDER_VERSION + 1)
    monkeypatch.setattr("cards.services.RENDER_VERSION", RENDER_VERSION + 1)
    page = owner_client.get(reverse("drill")).content.decode()
    assert "stale" not in page
    load(tmp_path)
    assert not Card.objects.filter(front_html="<p>stale</p>").exists()
    assert set(Card.objects.values_list("html_version", flat=True)) == {RENDER_VERSION + 1}
