from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from cards.deckfile import DeckFormatError, normalize_tags, parse_topic, read_deck
from cards.models import Card, ReviewLog, ReviewState, Topic
from cards.services import deck_load

TOPIC = """---
slug: attention
title: Attention
summary: Shapes first.
order: 10
---

## att-formula
kind: qa
tags: Attention, formula
source: Seed 002 (Q1); Vaswani et al. 2017

What does attention compute?

???

$$\\operatorname{softmax}\\left(\\frac{QK^\\top}{\\sqrt{d_k}}\\right)V$$

## att-scale
kind: derivation
source: Seed 002 (Q2)

Why divide by $\\sqrt{d_k}$?

???

{scale_answer}

```python
## not a card heading, this is code
???
```
"""

TRACK = """---
slug: starter
title: Starter
order: 1
topics:
  - topic: attention
    weight: 2
    activities:
      - {kind: derive, title: "Derive attention", minutes: 45}
finale:
  - {kind: mock, title: "Mock interview", minutes: 60}
---
A starter track.
"""


def write_deck(
    folder: Path, scale_answer: str = "The dot product's variance grows with d_k."
) -> Path:
    deck = folder / "deck"
    deck.mkdir(exist_ok=True)
    (deck / "010-attention.md").write_text(TOPIC.replace("{scale_answer}", scale_answer))
    tracks = folder / "tracks"
    tracks.mkdir(exist_ok=True)
    (tracks / "starter.md").write_text(TRACK)
    return deck


def load(folder: Path) -> str:
    from io import StringIO

    out = StringIO()
    call_command("load_deck", deck_dir=folder / "deck", track_dir=folder / "tracks", stdout=out)
    return out.getvalue()


def test_it_parses_cards_with_their_fields_and_ignores_markers_in_code() -> None:
    topic = parse_topic(TOPIC.replace("{scale_answer}", "Variance."))
    assert topic.slug == "attention"
    assert [c.key for c in topic.cards] == ["att-formula", "att-scale"]
    first, second = topic.cards
    assert first.kind == "qa"
    assert first.tags == ("Attention", "formula")
    assert first.front == "What does attention compute?"
    assert second.kind == "derivation"
    assert "## not a card heading" in second.back


def test_a_code_card_keeps_its_kind_and_its_code() -> None:
    text = (
        "---\nslug: code\ntitle: Code\norder: 150\n---\n## code-relu\nkind: code\n"
        "source: Seed 002 (Round 2)\n\nWrite ReLU.\n\n???\n\n"
        "```python runnable\ndef relu(x):\n    # ???\n    return max(x, 0)\n```\n"
    )
    (card,) = parse_topic(text).cards
    assert card.kind == "code"
    assert card.back.startswith("```python runnable\ndef relu(x):")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "front-matter"),
        ("---\nslug: a\ntitle: A\n---\n", "order"),
        ("---\nslug: a\ntitle: A\norder: 1\n---\n## c1\nsource: s\n\nfront only\n", "exactly one"),
        ("---\nslug: a\ntitle: A\norder: 1\n---\n## c1\n\nq\n\n???\n\na\n", "no source"),
        ("---\nslug: a\ntitle: A\norder: 1\n---\n## Bad Id\nsource: s\n\nq\n???\na\n", "card id"),
        (
            "---\nslug: a\ntitle: A\norder: 1\n---\n## c1\nkind: essay\nsource: s\n\nq\n???\na\n",
            "kind",
        ),
        ("---\nslug: a\ntitle: A\norder: 1\n---\n## c1\nsource: s\n\n???\na\n", "empty front"),
    ],
)
def test_a_malformed_file_is_rejected_with_its_line(text: str, message: str) -> None:
    with pytest.raises(DeckFormatError, match=message):
        parse_topic(text, "topic.md")


def test_duplicate_ids_across_files_are_rejected(tmp_path: Path) -> None:
    deck = write_deck(tmp_path)
    (deck / "020-copy.md").write_text(
        TOPIC.replace("{scale_answer}", "x").replace("slug: attention", "slug: other")
    )
    with pytest.raises(DeckFormatError, match="also used"):
        read_deck(deck)


@pytest.mark.django_db
def test_load_deck_creates_topics_cards_and_tracks(tmp_path: Path) -> None:
    write_deck(tmp_path)
    output = load(tmp_path)
    assert "cards: 2 added" in output
    assert "tracks: 1 added" in output
    assert Topic.objects.get().slug == "attention"
    assert Card.objects.filter(owner__isnull=True).count() == 2
    assert Card.objects.get(key="att-formula").tags == "Attention formula"


@pytest.mark.django_db
def test_loading_twice_changes_nothing(tmp_path: Path) -> None:
    write_deck(tmp_path)
    load(tmp_path)
    before = list(Card.objects.values_list("id", "key", "front", "back", "updated_at"))
    output = load(tmp_path)
    assert "0 added, 0 updated, 2 unchanged, 0 retired" in output
    assert list(Card.objects.values_list("id", "key", "front", "back", "updated_at")) == before


def give_history(user: Any, card: Card) -> ReviewState:
    moment = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    state = ReviewState.objects.create(
        user=user,
        card=card,
        repetitions=2,
        interval=6,
        easiness=2.6,
        due=dt.date(2026, 11, 26),
        last_reviewed_at=moment,
        introduced_on=dt.date(2026, 11, 14),
    )
    ReviewLog.objects.create(
        user=user,
        card=card,
        quality=5,
        reviewed_at=moment,
        local_date=moment.date(),
        repetitions_before=1,
        interval_before=1,
        easiness_before=2.5,
        repetitions_after=2,
        interval_after=6,
        easiness_after=2.6,
        due_after=state.due,
    )
    return state


@pytest.mark.django_db
def test_an_edited_card_is_updated_in_place_and_keeps_everyones_history(
    tmp_path: Path, owner: Any
) -> None:
    write_deck(tmp_path)
    load(tmp_path)
    card = Card.objects.get(key="att-scale")
    state = give_history(owner, card)

    write_deck(tmp_path, scale_answer="Unit variance keeps softmax out of saturation.")
    output = load(tmp_path)

    assert "1 updated" in output
    card.refresh_from_db()
    assert card.back.startswith("Unit variance keeps softmax")
    assert Card.objects.count() == 2
    reloaded = ReviewState.objects.get(pk=state.pk)
    assert (reloaded.card_id, reloaded.interval, reloaded.due) == (card.pk, 6, state.due)
    assert ReviewLog.objects.filter(card=card, user=owner).count() == 1


@pytest.mark.django_db
def test_a_removed_card_is_retired_not_deleted_and_comes_back_if_restored(
    tmp_path: Path, owner: Any
) -> None:
    deck = write_deck(tmp_path)
    load(tmp_path)
    card = Card.objects.get(key="att-scale")
    give_history(owner, card)

    text = (deck / "010-attention.md").read_text()
    (deck / "010-attention.md").write_text(text[: text.index("## att-scale")])
    assert "1 retired" in load(tmp_path)
    card.refresh_from_db()
    assert card.retired_at is not None
    assert ReviewLog.objects.filter(card=card).count() == 1
    assert ReviewState.objects.filter(card=card).count() == 1
    assert not Card.objects.visible_to(owner).filter(pk=card.pk).exists()

    write_deck(tmp_path)
    load(tmp_path)
    card.refresh_from_db()
    assert card.retired_at is None
    assert Card.objects.filter(key="att-scale").count() == 1


@pytest.mark.django_db
def test_a_bad_file_stops_the_load_and_changes_nothing(tmp_path: Path) -> None:
    deck = write_deck(tmp_path)
    load(tmp_path)
    (deck / "010-attention.md").write_text(TOPIC.replace("{scale_answer}", "new text"))
    (deck / "020-broken.md").write_text("---\nslug: broken\ntitle: B\norder: 2\n---\n## x\n\nq\n")
    with pytest.raises(CommandError, match="020-broken.md"):
        load(tmp_path)
    assert "new text" not in Card.objects.get(key="att-scale").back


@pytest.mark.django_db
def test_a_track_naming_an_unknown_topic_is_rejected(tmp_path: Path) -> None:
    write_deck(tmp_path)
    (tmp_path / "tracks" / "starter.md").write_text(
        TRACK.replace("topic: attention", "topic: nope")
    )
    with pytest.raises(CommandError, match="unknown topic"):
        load(tmp_path)
    assert not Card.objects.exists()


@pytest.mark.django_db
def test_the_shipped_deck_and_tracks_load(now: dt.datetime) -> None:
    from django.conf import settings

    from prep.models import Track

    call_command("load_deck", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Card.objects.filter(owner__isnull=True).count() == sum(
        len(t.cards) for t in read_deck(settings.CADENCE_DECK_DIR)
    )
    assert Track.objects.exists()
    assert deck_load(topics=read_deck(settings.CADENCE_DECK_DIR), now=now).cards_added == 0


def test_tags_keep_their_spelling_and_are_one_tag_whatever_the_case() -> None:
    assert normalize_tags("Übung übung ÜBUNG ml::Attention ml::attention") == (
        "Übung",
        "ml::Attention",
    )
    assert normalize_tags(["RLHF", "注意力", "rlhf"]) == ("RLHF", "注意力")
