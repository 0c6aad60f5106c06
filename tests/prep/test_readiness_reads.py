"""The readiness inputs of one person are read per owner of the cards (their own, then the
built-in ones): the same rows, and the same answers, as one read of all their states."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from cards.models import Card, ReviewState
from cards.services import topic_create
from prep.models import Profile
from prep.stats import _per_owner, at_risk_many, interview_readiness, topic_standing
from tests.factories import CardFactory
from tests.integration.builders import deck, person, reviewed

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def studied(db: Any) -> Any:
    """States on built-in cards (one since retired), on the person's own cards in their
    topic and in a built-in one, and another person's states."""
    user = person("bea", interview_date=TODAY + dt.timedelta(days=20))
    builtin = deck(topics=2, cards_each=5)
    own = topic_create(user=user, title="Mine")
    CardFactory.create_batch(4, topic=own, owner=user)
    CardFactory.create(topic=builtin[1], owner=user)
    cards = list(Card.objects.visible_to(user).order_by("id"))
    reviewed(user, cards, due=TODAY + dt.timedelta(days=2), interval=9)
    for i, state in enumerate(ReviewState.objects.filter(user=user).order_by("card_id")):
        ReviewState.objects.filter(pk=state.pk).update(
            stability=1.0 + i, difficulty=5.0, memory_on=TODAY - dt.timedelta(days=4 + i)
        )
    Card.objects.filter(pk=cards[0].pk).update(retired_at=timezone.now())
    cleo = person("cleo", interview_date=TODAY + dt.timedelta(days=20))
    reviewed(cleo, cards[1:6], due=TODAY, interval=3)
    ReviewState.objects.filter(user=cleo).update(stability=2.0, difficulty=6.0, memory_on=TODAY)
    return user


def test_the_two_reads_give_the_rows_of_one(studied: Any) -> None:
    states = (
        ReviewState.objects.filter(user=studied)
        .reviewed()
        .values_list("card__topic_id", "stability", "difficulty", "memory_on", "due")
    )
    parts = _per_owner(states, user_id=studied.pk)
    assert sorted(row for part in parts for row in part) == sorted(states)
    assert len(states) == ReviewState.objects.filter(user=studied).count() - 1  # retired


def test_one_persons_at_risk_topics_are_those_of_the_batch_read(studied: Any) -> None:
    profiles = list(Profile.objects.order_by("user_id"))
    alone = at_risk_many(profiles=[Profile.objects.get(user=studied)], today=TODAY)
    together = at_risk_many(profiles=profiles, today=TODAY)
    assert alone[studied.pk] == together[studied.pk]
    assert alone[studied.pk]  # some topic at risk: the comparison is not of nothing


def test_readiness_reads_every_reviewed_card_of_the_chosen_topics(studied: Any) -> None:
    profile = Profile.objects.get(user=studied)
    standing = topic_standing(user=studied, today=TODAY)
    ready = interview_readiness(user=studied, profile=profile, standing=standing, today=TODAY)
    assert ready is not None
    assert sum(s.learning + s.mature for s in standing) == (
        ReviewState.objects.filter(user=studied).reviewed().count()
    )
