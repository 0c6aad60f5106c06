"""Interoperability with the real Anki (the `anki` package from PyPI, a test dependency).

Anki's own Collection builds .apkg files (the legacy collection.anki21 layout and the
current zstd-compressed collection.anki21b) with Basic, reversed and Cloze notes and an
image; Cadence imports them through its pages. Then Cadence's own .apkg export is imported
into an Anki Collection and every field, deck, tag, image and schedule is checked.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cards.exports import markdown_to_anki_html
from cards.media import media_folder
from cards.models import Card, ReviewState
from cards.services import card_create, cards_suspend, review_record, topic_create
from tests.cards.conftest import upload
from tests.factories import CardFactory

EXPECTED = [
    # (front, back, topic, tags)
    (
        "What does **attention** compute? $\\frac{QK^\\top}{\\sqrt{d_k}}$",
        "A weighted sum of values.\\\n![]({image})\\\nCosts \\$5 a day",
        "Interview::Attention",
        "attention ML",
    ),
    ("KV cache", "Keys and values kept from earlier tokens", "Interview::Attention", ""),
    ("Keys and values kept from earlier tokens", "KV cache", "Interview::Attention", ""),
    (
        "**[...]** keeps two moment estimates per weight",
        "**Adam** keeps two moment estimates per weight\\\n"
        "$$m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t$$",
        "Optimisers",
        "optimisers",
    ),
    (
        "Adam keeps **[how many]** per weight",
        "Adam keeps **two moment estimates** per weight\\\n"
        "$$m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t$$",
        "Optimisers",
        "optimisers",
    ),
]


@pytest.mark.parametrize("layout", ["legacy", "latest"])
def test_an_apkg_exported_by_anki_imports_with_cloze_reverse_and_image(
    owner_client: Client, owner: Any, anki_packages: dict[str, bytes], layout: str
) -> None:
    package = anki_packages[layout]
    names = set(zipfile.ZipFile(BytesIO(package)).namelist())
    assert ("collection.anki21b" in names) == (layout == "latest")

    response = upload(owner_client, f"anki-{layout}.apkg", package)
    assert response.status_code == 302, response.content.decode()[-2000:]
    preview = owner_client.get(response["Location"]).content.decode()
    assert "data-to-add>5<" in preview
    owner_client.post(response["Location"] + "confirm/")

    cards = list(Card.objects.filter(owner=owner).select_related("topic").order_by("position"))
    image_url = cards[0].back.split("](")[1].split(")")[0]
    assert image_url.startswith(f"/cards/media/{owner.pk}/")
    assert image_url.endswith("-attention-diagram.png")
    got = [(c.front, c.back, c.topic.title, c.tags) for c in cards]
    assert got == [
        (front, back.replace("{image}", image_url), topic, tags)
        for front, back, topic, tags in EXPECTED
    ]

    # The image is kept, shown to its owner only, and the card renders it.
    served = owner_client.get(image_url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == anki_packages["image"]
    page = owner_client.get(reverse("card_change", args=[cards[0].pk])).content.decode()
    assert f'<img src="{image_url}"' in page
    assert "<mfrac>" in page  # the MathJax math is MathML now


def test_the_same_anki_package_twice_adds_nothing_the_second_time(
    owner_client: Client, owner: Any, anki_packages: dict[str, bytes]
) -> None:
    for _ in range(2):
        response = upload(owner_client, "deck.apkg", anki_packages["latest"])
        owner_client.post(response["Location"] + "confirm/")
    assert Card.objects.filter(owner=owner).count() == 5


def anki_collection(folder: Path) -> Collection:
    folder.mkdir(parents=True, exist_ok=True)
    return Collection(str(folder / "collection.anki2"))


def test_cadences_apkg_opens_in_anki_with_every_field_deck_tag_image_and_schedule(
    owner_client: Client, owner: Any, anki_packages: dict[str, bytes], tmp_path: Path
) -> None:
    # Cards with math, code, a table, an image (from an import) and a schedule.
    response = upload(owner_client, "deck.apkg", anki_packages["legacy"])
    owner_client.post(response["Location"] + "confirm/")
    topic = topic_create(user=owner, title="Distributed training")
    written = [
        card_create(
            user=owner,
            topic=topic,
            front="ZeRO-3 vs FSDP: what does each **shard**? $P_\\text{os+g+p}$",
            back=(
                "Both shard parameters, gradients and optimizer state:\n\n"
                "$$M = \\frac{16\\Psi}{N_d}$$\n\n"
                "```python\nmodel = FSDP(model)\n```\n\n| stage | shards |\n| --- | --- |\n"
                "| 1 | $P_{os}$ |"
            ),
            tags="zero fsdp",
        ),
        card_create(
            user=owner, topic=topic, front="A literal \\$5 price?", back="Yes: \\$5.", tags=""
        ),
    ]
    builtin = CardFactory(front="Built-in *card*", back="Not in a mine-only export")
    now = timezone.now()
    zone = owner.profile.zone
    review_record(user=owner, card=written[0], quality=5, now=now, shown_version=0, zone=zone)
    cards_suspend(user=owner, card_ids=[written[1].pk], suspended=True, now=now, zone=zone)
    state = ReviewState.objects.get(user=owner, card=written[0])

    export = owner_client.get(reverse("export_apkg") + "?scheduling=1")
    assert export.status_code == 200
    assert export["Content-Disposition"] == 'attachment; filename="cadence-cards.apkg"'
    path = tmp_path / "cadence.apkg"
    path.write_bytes(export.content)

    col = anki_collection(tmp_path / "anki")
    try:
        col.import_anki_package(
            ImportAnkiPackageRequest(
                package_path=str(path), options=ImportAnkiPackageOptions(with_scheduling=True)
            )
        )
        mine = list(Card.objects.filter(owner=owner).select_related("topic").order_by("pk"))
        assert builtin.pk not in {c.pk for c in mine}
        note_ids = col.find_notes("")
        assert len(note_ids) == len(mine) == 7
        notes = {col.get_note(nid).guid: col.get_note(nid) for nid in note_ids}
        import genanki

        media_dir = Path(col.media.dir())
        for card in mine:
            note = notes[genanki.guid_for("cadence-card", card.pk)]
            assert note.note_type()["name"] == "Cadence"  # type: ignore[index]
            assert note.keys() == ["Front", "Back"]
            assert note["Front"] == markdown_to_anki_html(card.front, user_id=owner.pk, media=set())
            assert note["Back"] == markdown_to_anki_html(card.back, user_id=owner.pk, media=set())
            assert sorted(note.tags) == sorted(card.tag_list)
            (anki_card,) = note.cards()
            assert col.decks.name(anki_card.did) == card.topic.title
        # Math as MathJax, code and tables as HTML, the image in Anki's media folder.
        zero = notes[genanki.guid_for("cadence-card", written[0].pk)]
        assert "\\(P_\\text{os+g+p}\\)" in zero["Front"]
        assert "<div>\\[M = \\frac{16\\Psi}{N_d}\\]</div>" in zero["Back"]
        assert '<pre><code class="language-python">model = FSDP(model)' in zero["Back"]
        assert "<td>\\(P_{os}\\)</td>" in zero["Back"]
        assert notes[genanki.guid_for("cadence-card", written[1].pk)]["Front"] == (
            "<p>A literal $5 price?</p>"
        )
        with_image = next(c for c in mine if "![](" in c.back)
        image_note = notes[genanki.guid_for("cadence-card", with_image.pk)]
        name = image_note["Back"].split('src="')[1].split('"')[0]
        assert (media_dir / name).read_bytes() == anki_packages["image"]
        assert (media_folder(owner.pk) / name).is_file()

        # The schedule: interval, ease, reviews and the due date (Anki re-bases due days
        # on its own "today", which rolls over at 4 a.m.: allow that one day).
        reviewed = notes[genanki.guid_for("cadence-card", written[0].pk)].cards()[0]
        assert (reviewed.type, reviewed.queue) == (2, 2)
        assert reviewed.ivl == state.interval == 1
        assert reviewed.factor == round(state.easiness * 1000)
        assert reviewed.reps == 1
        local_today = timezone.localdate(now, zone)
        expected_days = (state.due - local_today).days
        assert abs((reviewed.due - col.sched.today) - expected_days) <= 1
        suspended = notes[genanki.guid_for("cadence-card", written[1].pk)].cards()[0]
        assert suspended.queue == -1
        new = notes[genanki.guid_for("cadence-card", mine[1].pk)].cards()[0]
        assert (new.type, new.queue) == (0, 0)
    finally:
        col.close()


def test_cadences_apkg_round_trips_through_cadence(
    owner_client: Client, owner: Any, other_client: Client, other_user: Any
) -> None:
    topic = topic_create(user=owner, title="RLHF")
    originals = [
        ("What does the KL penalty do?", "Keeps $\\pi_\\theta$ near $\\pi_{ref}$.", "rlhf kl"),
        ("List DPO's inputs", "- prompt\n- chosen\n- rejected", "dpo"),
        ("Code?", "```python\nloss = -F.logsigmoid(beta * margin)\n```", ""),
        ("Display math", "$$\\mathcal{L} = -\\log \\sigma(r_w - r_l)$$", ""),
        ("A *literal* \\$ sign and a_b", "**Bold** and `code`", ""),
    ]
    for front, back, tags in originals:
        card_create(user=owner, topic=topic, front=front, back=back, tags=tags)
    package = owner_client.get(reverse("export_apkg")).content

    response = upload(other_client, "from-olivia.apkg", package)
    other_client.post(response["Location"] + "confirm/")
    imported = list(
        Card.objects.filter(owner=other_user).select_related("topic").order_by("position")
    )
    assert [(c.front, c.back, c.tags, c.topic.title) for c in imported] == [
        (f, b, t, "RLHF") for f, b, t in originals
    ]


def test_an_anki_collection_anki2_package_from_genanki_imports(
    owner_client: Client, owner: Any
) -> None:
    topic = topic_create(user=owner, title="Old layout")
    card_create(user=owner, topic=topic, front="Front", back="Back", tags="")
    package = owner_client.get(reverse("export_apkg")).content
    assert "collection.anki2" in zipfile.ZipFile(BytesIO(package)).namelist()
    Card.objects.filter(owner=owner).delete()
    response = upload(owner_client, "old.apkg", package)
    owner_client.post(response["Location"] + "confirm/")
    assert Card.objects.get(owner=owner).front == "Front"


def test_exports_are_dated_by_the_users_day(owner: Any) -> None:
    from cards.exports import ANKI_COLLECTION_CREATED, schedule_for

    state = ReviewState(
        due=dt.date(2026, 12, 1),
        interval=6,
        easiness=2.36,
        lapses=1,
        last_reviewed_at=timezone.now(),
        suspended=False,
    )
    schedule = schedule_for(state, today=dt.date(2026, 11, 25), reps=3)
    assert schedule is not None
    assert schedule.due - (dt.date(2026, 11, 25) - ANKI_COLLECTION_CREATED.date()).days == 6
    assert (schedule.interval, schedule.factor, schedule.reps, schedule.lapses) == (6, 2360, 3, 1)


def test_a_card_buried_today_opens_in_anki_buried(
    owner_client: Client, owner: Any, tmp_path: Path
) -> None:
    from cards.services import review_bury

    topic = topic_create(user=owner, title="Attention")
    buried, kept = (
        card_create(user=owner, topic=topic, front=front, back="b", tags="")
        for front in ("Buried today", "Not buried")
    )
    now = timezone.now()
    zone = owner.profile.zone
    for card in (buried, kept):
        review_record(user=owner, card=card, quality=5, now=now, shown_version=0, zone=zone)
    review_bury(user=owner, card=buried, buried=True, now=now, zone=zone)

    export = owner_client.get(reverse("export_apkg") + "?scheduling=1")
    path = tmp_path / "cadence.apkg"
    path.write_bytes(export.content)
    col = anki_collection(tmp_path / "anki")
    try:
        col.import_anki_package(
            ImportAnkiPackageRequest(
                package_path=str(path), options=ImportAnkiPackageOptions(with_scheduling=True)
            )
        )
        queues = {
            col.get_note(nid)["Front"]: col.get_note(nid).cards()[0].queue
            for nid in col.find_notes("")
        }
    finally:
        col.close()
    # -3: Anki's "buried by the user", shown again on Anki's next day.
    assert queues == {"<p>Buried today</p>": -3, "<p>Not buried</p>": 2}
