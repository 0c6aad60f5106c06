from __future__ import annotations

import datetime as dt
from typing import Any

import factory

from cards.models import Card, ReviewLog, ReviewState, Topic


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic

    slug = factory.Sequence(lambda n: f"topic-{n}")
    title = factory.Sequence(lambda n: f"Topic {n}")
    order = factory.Sequence(lambda n: n * 10)


class CardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Card

    topic = factory.SubFactory(TopicFactory)
    key = factory.Sequence(lambda n: f"card-{n}")
    front = factory.Sequence(lambda n: f"Question {n}?")
    back = factory.Sequence(lambda n: f"Answer {n}.")
    source = "Test"
    position = factory.Sequence(lambda n: n)


def deck_with_history(
    user: Any, *, now: dt.datetime, cards: int = 5000, logs_per_card: int = 1
) -> None:
    """A big deck in bulk: ``cards`` cards over 20 topics, the first half with review
    state (due over the last 30 days) and ``logs_per_card`` past grades each, spread over
    the 60 days before the last 10 as a person's reviews are (a history on one or two
    dates would give the planner statistics no one's log has)."""
    topics = Topic.objects.bulk_create(
        [Topic(slug=f"bulk-{i}", title=f"Bulk topic {i}", order=i) for i in range(20)]
    )
    Card.objects.bulk_create(
        Card(
            topic=topics[i % 20],
            key=f"bulk-{i}",
            front=f"Question {i}: why $\\sqrt{{d_k}}$?",
            back=f"Answer {i} with **Markdown** and $$QK^\\top$$",
            position=i,
        )
        for i in range(cards)
    )
    today = now.date()
    card_ids = list(Card.objects.filter(key__startswith="bulk-").values_list("id", flat=True))
    history = card_ids[: cards // 2]
    ReviewState.objects.bulk_create(
        ReviewState(
            user=user,
            card_id=card_id,
            repetitions=3,
            interval=10,
            easiness=2.5,
            due=today - dt.timedelta(days=i % 30),
            introduced_on=today - dt.timedelta(days=90),
            last_reviewed_at=now - dt.timedelta(days=10),
        )
        for i, card_id in enumerate(history)
    )
    ReviewLog.objects.bulk_create(
        ReviewLog(
            user=user,
            card_id=card_id,
            quality=4,
            reviewed_at=now - dt.timedelta(days=10 + (i + k * 7) % 60),
            local_date=today - dt.timedelta(days=10 + (i + k * 7) % 60),
            repetitions_before=2,
            interval_before=6,
            easiness_before=2.5,
            repetitions_after=3,
            interval_after=10,
            easiness_after=2.5,
            due_after=today,
        )
        for i, card_id in enumerate(history)
        for k in range(logs_per_card)
    )
