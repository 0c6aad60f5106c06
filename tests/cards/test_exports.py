"""Exports: CSV and .apkg round trips, the FSRS review log, and who may download what."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from cards.deckfile import read_deck
from cards.exports import REVLOG_COLUMNS
from cards.imports.delimited import from_spreadsheet_safe, spreadsheet_safe
from cards.models import Card
from cards.rendering import render_markdown
from cards.services import card_create, review_record, review_undo, topic_create
from tests.cards.conftest import upload
from tests.factories import CardFactory, TopicFactory

NOON_BERLIN = dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC)


def rows(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def import_all(client: Client, name: str, data: bytes) -> None:
    response = upload(client, name, data)
    assert response.status_code == 302, response.content.decode()[-1500:]
    client.post(response["Location"] + "confirm/")


def test_the_cards_csv_round_trips_through_the_importer(
    owner_client: Client, owner: Any, other_client: Client, other_user: Any
) -> None:
    topic = topic_create(user=owner, title="Inference, serving")
    originals = [
        ('Why "continuous" batching?', "Higher utilisation;\nlower latency.", "serving batching"),
        ("Formula for $\\sqrt{d_k}$?", "$$\\frac{1}{\\sqrt{d_k}}$$", ""),
        ("Über-caching, 100 €", "- a\n- b, c", "cache"),
    ]
    for front, back, tags in originals:
        card_create(user=owner, topic=topic, front=front, back=back, tags=tags)
    response = owner_client.get(reverse("export_cards_csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())
    assert rows_from(body)[0] == ["front", "back", "tags", "topic"]

    import_all(other_client, "cards.csv", body)
    got = Card.objects.filter(owner=other_user).select_related("topic").order_by("position")
    assert [(c.front, c.back, c.tags, c.topic.title) for c in got] == [
        (f, b, t, "Inference, serving") for f, b, t in originals
    ]


def rows_from(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_cells_a_spreadsheet_would_run_as_formulas_get_an_apostrophe_and_round_trip(
    owner_client: Client, owner: Any, other_client: Client, other_user: Any
) -> None:
    topic = topic_create(user=owner, title='=HYPERLINK("https://evil.example","x")')
    originals = [
        ("=1+1", "+cmd|' /C calc'!A0", "safe"),
        ("-2 is negative", "@SUM(A1:A2)", ""),
        ("'=already quoted", "=B1", ""),
        ("Plain front", "- a list\n- item", ""),
    ]
    for front, back, tags in originals:
        card_create(user=owner, topic=topic, front=front, back=back, tags=tags)
    body = b"".join(owner_client.get(reverse("export_cards_csv")).streaming_content)
    rows = rows_from(body)[1:]
    assert [row[:2] for row in rows] == [
        ["'=1+1", "'+cmd|' /C calc'!A0"],
        ["'-2 is negative", "'@SUM(A1:A2)"],
        ["''=already quoted", "'=B1"],
        ["Plain front", "'- a list\n- item"],
    ]
    assert {row[3] for row in rows} == {"'" + topic.title}

    import_all(other_client, "cards.csv", body)
    got = Card.objects.filter(owner=other_user).select_related("topic").order_by("position")
    assert [(c.front, c.back, c.topic.title) for c in got] == [
        (f, b, topic.title) for f, b, _ in originals
    ]


@pytest.mark.parametrize("cell", ["=x", "+x", "-x", "@x", "\tx", "\rx", "'=x", "''+x"])
def test_spreadsheet_safe_prefixes_formula_cells_and_the_import_undoes_it(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell
    assert from_spreadsheet_safe(spreadsheet_safe(cell)) == cell
    assert spreadsheet_safe("x=1") == "x=1"
    assert from_spreadsheet_safe("'quoted") == "'quoted"


def test_the_whole_built_in_deck_round_trips_through_an_apkg(
    owner_client: Client, owner: Any, other_client: Client, other_user: Any
) -> None:
    """Every card of the deck (math, code, tables, lists) survives export then import."""
    count = 0
    for spec in read_deck(Path("cards/deck")):
        topic = topic_create(user=owner, title=spec.title)
        for card in spec.cards:
            card_create(
                user=owner, topic=topic, front=card.front, back=card.back, tags=" ".join(card.tags)
            )
            count += 1
    package = owner_client.get(reverse("export_apkg")).content
    import_all(other_client, "deck.apkg", package)

    theirs = list(
        Card.objects.filter(owner=other_user).select_related("topic").order_by("position")
    )
    mine = list(Card.objects.filter(owner=owner).select_related("topic").order_by("position"))
    assert len(theirs) == len(mine) == count

    def same(text: str) -> str:
        return re.sub(r"\s+", " ", render_markdown(text)).strip()

    for original, copy in zip(mine, theirs, strict=True):
        assert (copy.topic.title, copy.tags) == (original.topic.title, original.tags)
        assert same(copy.front) == same(original.front), original.front
        assert same(copy.back) == same(original.back), original.back


def test_an_apkg_is_a_zip_with_one_deck_per_topic(owner_client: Client, owner: Any) -> None:
    for title in ("Serving", "RLHF"):
        card_create(
            user=owner, topic=topic_create(user=owner, title=title), front=title, back="b", tags=""
        )
    data = owner_client.get(reverse("export_apkg")).content
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert {"collection.anki2", "media"} <= set(archive.namelist())


@time_machine.travel(NOON_BERLIN, tick=False)
def test_the_review_log_is_in_the_fsrs_optimizer_layout(owner_client: Client, owner: Any) -> None:
    card, other = CardFactory(), CardFactory()
    zone = owner.profile.zone
    version = 0
    minute = dt.timedelta(minutes=1)
    week = dt.timedelta(days=7)
    # The 5-minute one is a same-day repeat of the failed grade before it (SM-2 step 7).
    for offset, quality, answer_ms in [
        (0 * week, 4, 3000),
        (1 * week, 1, 3001),
        (1 * week + 5 * minute, 4, None),
        (2 * week, 2, 3002),
        (3 * week, 5, 3003),
    ]:
        outcome = review_record(
            user=owner,
            card=card,
            quality=quality,
            now=NOON_BERLIN + offset,
            shown_version=version,
            zone=zone,
            answer_ms=answer_ms,
        )
        version = outcome.state.version
    # A new card failed, then repeated the same day before it ever passed: Learning.
    first = review_record(
        user=owner, card=other, quality=2, now=NOON_BERLIN, shown_version=0, zone=zone
    )
    review_record(
        user=owner,
        card=other,
        quality=4,
        now=NOON_BERLIN + 3 * minute,
        shown_version=first.state.version,
        zone=zone,
    )

    response = owner_client.get(reverse("export_revlog_csv"))
    assert response["Content-Disposition"] == (
        'attachment; filename="cadence-revlog-Europe_Berlin.csv"'
    )
    table = rows(response)
    assert tuple(table[0]) == REVLOG_COLUMNS
    by_card = [row for row in table[1:] if row[0] == str(card.pk)]
    start = int(NOON_BERLIN.timestamp() * 1000)
    ms_week = 7 * 24 * 3600 * 1000
    assert start == 1_795_431_600_000
    assert by_card == [
        [str(card.pk), str(start), "3", "0", "3000"],
        [str(card.pk), str(start + ms_week), "1", "2", "3001"],
        [str(card.pk), str(start + ms_week + 5 * 60 * 1000), "3", "3", "0"],
        [str(card.pk), str(start + 2 * ms_week), "1", "2", "3002"],
        [str(card.pk), str(start + 3 * ms_week), "4", "2", "3003"],
    ]
    assert [row for row in table[1:] if row[0] == str(other.pk)] == [
        [str(other.pk), str(start), "1", "0", "0"],
        [str(other.pk), str(start + 3 * 60 * 1000), "3", "1", "0"],
    ]


@time_machine.travel(NOON_BERLIN, tick=False)
def test_the_review_log_holds_only_the_users_own_reviews(
    owner_client: Client, owner: Any, other_user: Any
) -> None:
    card = CardFactory()
    review_record(
        user=other_user, card=card, quality=5, now=NOON_BERLIN, shown_version=0, zone=dt.UTC
    )
    review_record(user=owner, card=card, quality=2, now=NOON_BERLIN, shown_version=0, zone=dt.UTC)
    review_undo(user=owner, now=NOON_BERLIN, zone=dt.UTC)
    assert rows(owner_client.get(reverse("export_revlog_csv"))) == [list(REVLOG_COLUMNS)]


# --- Access ---------------------------------------------------------------------------


def test_an_export_holds_only_the_users_own_cards_or_the_built_in_deck(
    owner_client: Client, owner: Any, other_user: Any
) -> None:
    mine = card_create(
        user=owner, topic=topic_create(user=owner, title="Mine"), front="Mine", back="m", tags=""
    )
    theirs = CardFactory(
        owner=other_user, key="", front="Theirs", topic=TopicFactory(owner=other_user)
    )
    builtin = CardFactory(front="Built in")

    only_mine = rows(owner_client.get(reverse("export_cards_csv")))
    assert [row[0] for row in only_mine[1:]] == [mine.front]
    everything = rows(owner_client.get(reverse("export_cards_csv") + "?scope=all"))
    fronts = {row[0] for row in everything[1:]}
    assert fronts == {mine.front, builtin.front}
    assert theirs.front not in fronts

    package = owner_client.get(reverse("export_apkg") + "?scope=all").content
    assert b"Theirs" not in zipfile.ZipFile(io.BytesIO(package)).read("collection.anki2")
    # Another user's topic id in the query selects nothing of theirs.
    leaked = rows(
        owner_client.get(reverse("export_cards_csv") + f"?scope=all&topic={theirs.topic_id}")
    )
    assert leaked == [["front", "back", "tags", "topic"]]


@pytest.mark.parametrize("name", ["export", "export_apkg", "export_cards_csv", "export_revlog_csv"])
def test_a_stranger_cannot_export(stranger_client: Client, name: str) -> None:
    response = stranger_client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_export_page_explains_the_revlog_layout_and_time_zone(owner_client: Client) -> None:
    html = owner_client.get(reverse("export")).content.decode()
    assert "card_id, review_time, review_rating, review_state, review_duration" in html
    assert "Europe/Berlin" in html


# --- Media ----------------------------------------------------------------------------


def test_imported_images_are_served_to_their_owner_only(
    owner_client: Client,
    other_client: Client,
    stranger_client: Client,
    owner: Any,
    media_root: Path,
) -> None:
    folder = media_root / str(owner.pk)
    folder.mkdir(parents=True)
    (folder / "abc123-cat.png").write_bytes(b"\x89PNG fake")
    (folder / "notes.svg").write_text("<svg onload='alert(1)'/>")
    url = reverse("card_media", args=[owner.pk, "abc123-cat.png"])
    response = owner_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"]
    assert other_client.get(url).status_code == 404
    assert stranger_client.get(url)["Location"].startswith(reverse("login"))
    for name in ["notes.svg", "missing.png", "..png"]:
        assert owner_client.get(reverse("card_media", args=[owner.pk, name])).status_code == 404
