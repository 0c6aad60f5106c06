from __future__ import annotations

from typing import Any

import pytest

from prep.models import MockPrompt, Track, TrackTopic
from tests.factories import CardFactory, TopicFactory


@pytest.fixture
def track(db: Any) -> Track:
    """A small track over three topics with cards, fundamentals first."""
    track = Track.objects.create(
        slug="llm",
        title="LLM training engineer",
        order=1,
        finale=[
            {
                "kind": "mock",
                "title": "Mock interview: design a 100B training system",
                "minutes": 60,
            },
            {"kind": "review", "title": "Review weak cards", "minutes": 30},
        ],
    )
    for order, (title, weight) in enumerate([("Attention", 3), ("RLHF", 2), ("Parallelism", 1)]):
        topic = TopicFactory(title=title, slug=title.lower(), order=order)
        CardFactory.create_batch(10, topic=topic)
        TrackTopic.objects.create(
            track=track,
            topic=topic,
            order=order,
            weight=weight,
            activities=[
                {"kind": "derive", "title": f"Derive {title} on paper", "minutes": 45},
                {"kind": "drill", "title": f"Drill {title} cards", "minutes": 20},
            ],
        )
    return track


@pytest.fixture
def prompt(db: Any) -> MockPrompt:
    """A small derivation prompt over factory cards, for the mock-interview tests."""
    topic = TopicFactory(slug="mock-attention", title="Attention (mock)")
    for key in ("c-proj", "c-scale", "c-mask", "c-cost", "c-general"):
        CardFactory(topic=topic, key=key)
    return MockPrompt.objects.create(
        key="mk-test",
        kind=MockPrompt.Kind.DERIVATION,
        title="Derive attention",
        seed="002",
        source="Seed 002",
        topic=topic,
        body="Derive $QK^\\top$.",
        phases=[
            {"title": "Projections", "minutes": 5, "hint": ""},
            {"title": "Scores", "minutes": 5, "hint": ""},
            {"title": "Cost", "minutes": 5, "hint": ""},
        ],
        rubric=[
            {"key": "proj", "weight": 3, "text": "Projections", "cards": ["c-proj"]},
            {"key": "scale", "weight": 2, "text": "Scale", "cards": ["c-scale"]},
            {"key": "mask", "weight": 1, "text": "Mask", "cards": ["c-mask"]},
            {"key": "cost", "weight": 2, "text": "Cost", "cards": ["c-cost"]},
            {"key": "heads", "weight": 1, "text": "Heads", "cards": []},
            {"key": "shapes", "weight": 1, "text": "Shapes", "cards": ["c-proj"]},
        ],
        outline="- Q = XW",
        card_keys=["c-general"],
    )
