"""The card browser's paginated read gives the cards its query gives, in the same order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cards.models import Card, ReviewState, Topic
from cards.selectors import BrowseFilters, BrowseRows, browse_cards, browse_tags
from cards.services import card_create, cards_retag
from tests.caches import shared_cache
from tests.factories import CardFactory
from tests.integration.builders import deck, person, reviewed

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def browsing(db: Any) -> Any:
    user = person("bea")
    topics = deck(topics=3, cards_each=9)
    CardFactory.create_batch(7, topic=topics[1], owner=user, tags="mine extra")
    cards = list(Card.objects.order_by("id"))
    reviewed(user, cards[::2], due=TODAY)
    ReviewState.objects.filter(user=user, card__in=cards[::6]).update(
        suspended=True, due=TODAY - dt.timedelta(days=3)
    )
    ReviewState.objects.filter(user=user, card__in=cards[::4]).update(interval=30)
    return user


@pytest.mark.parametrize(
    "filters",
    [
        BrowseFilters(),
        BrowseFilters(sort="due"),
        BrowseFilters(sort="new"),
        BrowseFilters(state="new"),
        BrowseFilters(state="mature", sort="due"),
        BrowseFilters(state="suspended"),
        BrowseFilters(owner="mine", tag="extra"),
        BrowseFilters(due_from=TODAY - dt.timedelta(days=5), due_to=TODAY),
    ],
)
def test_each_page_holds_the_cards_the_query_gives_in_its_order(
    browsing: Any, filters: BrowseFilters
) -> None:
    wanted = [card.pk for card in browse_cards(user=browsing, filters=filters)]
    paginator = Paginator(BrowseRows(user=browsing, filters=filters), 5)
    assert paginator.count == len(wanted)
    got = [card.pk for number in paginator.page_range for card in paginator.page(number)]
    assert got == wanted
    first = paginator.page(1).object_list
    if first:
        assert hasattr(first[0], "state_due")  # the state annotations come along


@pytest.fixture
def shared_cache_on(settings: Any) -> Any:
    with shared_cache(settings):
        yield


def test_the_count_and_tags_are_kept_until_ones_cards_change(
    transactional_db: Any, shared_cache_on: None
) -> None:
    user = person("bea")
    topic = deck(topics=1, cards_each=3)[0]
    mine = card_create(user=user, topic=topic, front="Q", back="A", tags="first")
    rows = BrowseRows(user=user, filters=BrowseFilters())
    assert (rows.count(), browse_tags(user=user)) == (4, ["first"])
    with CaptureQueriesContext(connection) as queries:
        assert (rows.count(), browse_tags(user=user)) == (4, ["first"])
    assert len(queries) == 0
    cards_retag(user=user, card_ids=[mine.pk], add="second", remove="")
    card_create(user=user, topic=topic, front="Q2", back="A2", tags="")
    assert browse_tags(user=user) == ["first", "second"]
    assert BrowseRows(user=user, filters=BrowseFilters()).count() == 5


@pytest.fixture
def shuffled_deck(db: Any) -> Any:
    """Topics whose deck order runs against their ids, and cards whose positions run
    against theirs, with one retired built-in card and another person's card in a topic."""
    user = person("bea")
    topics = deck(topics=4, cards_each=6)
    for order, topic in zip((3, 1, 1, 0), topics, strict=True):
        Topic.objects.filter(pk=topic.pk).update(order=order)
    for card in Card.objects.all():
        Card.objects.filter(pk=card.pk).update(position=100 - card.pk % 7)
    Card.objects.filter(pk=Card.objects.order_by("id")[3].pk).update(retired_at=timezone.now())
    CardFactory.create_batch(5, topic=topics[2], owner=user, position=2)
    cleo = person("cleo")
    CardFactory.create(topic=topics[2], owner=cleo)
    # Studied cards due on a few days, some on the same day, one suspended; another
    # person's states on the same cards.
    cards = list(Card.objects.visible_to(user).order_by("-id"))
    for i, card in enumerate(cards[::3]):
        reviewed(user, [card], due=TODAY + dt.timedelta(days=i % 3))
    ReviewState.objects.filter(user=user, card=cards[0]).update(suspended=True)
    reviewed(cleo, cards[1::2], due=TODAY - dt.timedelta(days=9))
    return user


@pytest.mark.parametrize(
    "filters",
    [
        BrowseFilters(),
        BrowseFilters(q="a"),
        BrowseFilters(owner="mine"),
        BrowseFilters(tag="x"),
        BrowseFilters(sort="due"),
        BrowseFilters(sort="due", owner="builtin"),
    ],
)
@pytest.mark.parametrize("per_page", [1, 4, 7, 50])
def test_a_page_read_from_its_index_matches_the_sorted_query(
    shuffled_deck: Any, filters: BrowseFilters, per_page: int
) -> None:
    wanted = [card.pk for card in browse_cards(user=shuffled_deck, filters=filters)]
    paginator = Paginator(BrowseRows(user=shuffled_deck, filters=filters), per_page)
    assert paginator.count == len(wanted)
    got = [card.pk for number in paginator.page_range for card in paginator.page(number)]
    assert got == wanted


def test_a_page_in_deck_order_reads_only_the_topics_it_overlaps(shuffled_deck: Any) -> None:
    rows = BrowseRows(user=shuffled_deck, filters=BrowseFilters())
    rows.count()
    with CaptureQueriesContext(connection) as queries:
        page = rows[2:4]  # inside the first topic in deck order
    assert len(page) == 2
    # The first topic's ids and the page's rows (the counts per topic are kept): nothing
    # of the others.
    assert len(queries) == 2
    with CaptureQueriesContext(connection) as queries:
        assert len(rows[4:9]) == 5  # the last of the first topic and the next one's start
    assert len(queries) == 3


def test_a_page_in_due_order_reads_the_studied_cards_then_the_rest(shuffled_deck: Any) -> None:
    rows = BrowseRows(user=shuffled_deck, filters=BrowseFilters(sort="due"))
    studied = ReviewState.objects.filter(user=shuffled_deck).count()
    assert rows.count() > studied > 2
    with CaptureQueriesContext(connection) as queries:
        assert len(rows[0:2]) == 2
    # Their ids and the rows: neither how many are studied nor the others are read.
    assert len(queries) == 2
    with CaptureQueriesContext(connection) as queries:
        assert len(rows[studied - 1 : studied + 1]) == 2
    assert len(queries) == 4
