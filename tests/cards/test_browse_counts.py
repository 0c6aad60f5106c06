"""The browser's counts per topic and its tags are read in parts (a person's own cards
from their index, the built-in deck's kept under the deck's token): the same answers as a
plain read of every card the person sees, and kept only until a write changes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from cards import import_jobs
from cards.deckfile import CardSpec, TopicSpec
from cards.models import Card, Topic
from cards.selectors import (
    BrowseFilters,
    BrowseRows,
    browse_cards,
    browse_tags,
    own_tag_strings,
    visible_card_counts,
)
from cards.services import (
    card_create,
    card_delete,
    card_update,
    cards_delete,
    cards_move,
    cards_retag,
    deck_load,
    topic_create,
    topic_delete,
)
from tests.caches import cache_clear
from tests.factories import CardFactory
from tests.integration.builders import deck, person, reviewed

TODAY = dt.date(2026, 11, 23)
UTC = ZoneInfo("UTC")


def plain_counts(user: Any) -> dict[int, int]:
    return dict(
        Card.objects.visible_to(user)
        .order_by()
        .values_list("topic_id")
        .annotate(n=Count("id"))
        .order_by()
    )


def plain_tags(user: Any) -> list[str]:
    spelled: dict[str, str] = {}
    for card in Card.objects.visible_to(user).order_by("id"):
        for tag in card.tags.split():
            spelled.setdefault(tag.casefold(), tag)
    return [spelled[key] for key in sorted(spelled)]


@pytest.fixture
def mixed(db: Any) -> Any:
    """Built-in cards (one retired), the person's own cards in their topic and in a
    built-in one (one retired by hand, as only the admin could), and another person's."""
    user = person("bea")
    builtin = deck(topics=2, cards_each=4)
    Card.objects.filter(pk=Card.objects.filter(topic=builtin[0]).first().pk).update(  # type: ignore[union-attr]
        retired_at=timezone.now(), tags="gone"
    )
    Card.objects.filter(topic=builtin[1]).update(tags="Deck shared")
    own = topic_create(user=user, title="Mine")
    CardFactory.create_batch(3, topic=own, owner=user, tags="alpha beta")
    CardFactory.create_batch(2, topic=own, owner=user, tags="")
    CardFactory.create(topic=builtin[1], owner=user, tags="deck ALPHA")
    CardFactory.create(topic=own, owner=user, tags="late", retired_at=timezone.now())
    cleo = person("cleo")
    CardFactory.create_batch(3, topic=topic_create(user=cleo, title="Hers"), owner=cleo, tags="z")
    return user


def test_the_counts_per_topic_are_those_of_every_card_one_sees(mixed: Any) -> None:
    assert visible_card_counts(user_id=mixed.pk) == plain_counts(mixed)


def test_the_tags_are_those_of_every_card_one_sees(mixed: Any) -> None:
    assert {t.casefold() for t in browse_tags(user=mixed)} == {
        t.casefold() for t in plain_tags(mixed)
    }
    assert own_tag_strings(user_id=mixed.pk) == ["alpha beta", "deck ALPHA", "late"]


def test_a_tag_spelled_two_ways_is_one_tag(mixed: Any) -> None:
    tags = browse_tags(user=mixed)
    assert [t.casefold() for t in tags] == sorted({t.casefold() for t in tags})
    assert "gone" not in tags  # on a retired built-in card
    assert "z" not in tags  # another person's


def test_the_due_order_leaves_out_a_state_on_a_retired_built_in_card(mixed: Any) -> None:
    builtin = list(Card.objects.filter(owner__isnull=True, retired_at__isnull=True))
    reviewed(mixed, builtin, due=TODAY)
    Card.objects.filter(pk=builtin[0].pk).update(retired_at=timezone.now())
    filters = BrowseFilters(sort="due")
    wanted = [card.pk for card in browse_cards(user=mixed, filters=filters)]
    assert builtin[0].pk not in wanted
    for per_page in (1, 3, 50):
        paginator = Paginator(BrowseRows(user=mixed, filters=filters), per_page)
        assert paginator.count == len(wanted)
        got = [card.pk for n in paginator.page_range for card in paginator.page(n)]
        assert got == wanted


# --- Kept until a write changes them ---------------------------------------------------


@pytest.fixture
def shared(settings: Any, transactional_db: Any) -> Iterator[Any]:
    # Transactional: tokens move once a write commits.
    settings.CADENCE_SHARED_CACHE = True
    cache_clear()
    user = person("bea")
    deck(topics=1, cards_each=3)
    own = topic_create(user=user, title="Mine")
    CardFactory.create_batch(3, topic=own, owner=user, tags="first")
    yield user
    cache_clear()


def browsed(user: Any) -> tuple[int, list[str], list[int]]:
    rows = BrowseRows(user=user, filters=BrowseFilters())
    return rows.count(), browse_tags(user=user), [card.pk for card in rows[:100]]


def uncached(user: Any) -> tuple[int, list[str], list[int]]:
    with override_settings(CADENCE_SHARED_CACHE=False):
        return browsed(user)


def _import(user: Any) -> None:
    job = import_jobs.import_start(
        user=user,
        filename="more.csv",
        data=b"front,back,tags\nImported?,Yes.,imported\n",
        now=timezone.now(),
    )
    import_jobs.import_confirm(job=job, now=timezone.now(), zone=UTC)


def _deck_load(user: Any) -> None:
    topic = Topic.objects.get(owner__isnull=True)
    spec = TopicSpec(
        slug=topic.slug,
        title=topic.title,
        summary=topic.summary,
        order=topic.order,
        cards=(CardSpec("new-key", "qa", ("fresh",), "", "New built-in?", "Yes.", 1),),
    )
    deck_load(topics=[spec], now=timezone.now())


def _own(user: Any) -> list[Card]:
    return list(Card.objects.filter(owner=user).order_by("id"))


WRITES: dict[str, Callable[[Any], object]] = {
    "create": lambda u: card_create(
        user=u, topic=_own(u)[0].topic, front="New?", back="Yes.", tags="second"
    ),
    "edit": lambda u: card_update(card=_own(u)[0], front="Q", back="A", tags="renamed"),
    "retag": lambda u: cards_retag(
        user=u, card_ids=[c.pk for c in _own(u)], add="more", remove="first"
    ),
    "move": lambda u: cards_move(
        user=u, card_ids=[_own(u)[0].pk], topic=topic_create(user=u, title="Other")
    ),
    "delete one": lambda u: card_delete(card=_own(u)[0]),
    "delete many": lambda u: cards_delete(user=u, card_ids=[c.pk for c in _own(u)[:2]]),
    "delete topic": lambda u: topic_delete(topic=_own(u)[0].topic),
    "import": _import,
    "deck load": _deck_load,
}


@pytest.mark.parametrize("write", list(WRITES), ids=list(WRITES))
def test_every_write_of_cards_shows_on_the_next_visit(shared: Any, write: str) -> None:
    before = browsed(shared)
    with CaptureQueriesContext(connection) as queries:
        assert browsed(shared) == before
    # Kept: neither the counts nor the tags are read again, only the page.
    assert not any("COUNT(" in q["sql"] or "RECURSIVE" in q["sql"] for q in queries)
    WRITES[write](shared)
    after = browsed(shared)
    assert after == uncached(shared)
    assert after != before


def test_another_persons_cards_leave_ones_counts_and_tags_kept(shared: Any) -> None:
    browsed(shared)
    cleo = person("cleo")
    card_create(
        user=cleo, topic=topic_create(user=cleo, title="Hers"), front="Q", back="A", tags="z"
    )
    rows = BrowseRows(user=shared, filters=BrowseFilters())
    with CaptureQueriesContext(connection) as queries:
        rows.count()
        browse_tags(user=shared)
    assert len(queries) == 0
