"""The shipped tracks: they load without rewriting anything twice, and they plan."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from cards.deckfile import read_deck
from cards.models import Topic
from prep.models import Plan, Profile, Track, TrackTopic
from prep.planning import Activity, TrackTemplate, generate_plan
from prep.planning import TrackTopic as PlanTopic
from prep.services import plan_generate, tracks_load
from prep.trackfile import TrackSpec, read_tracks

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)
SERVING = "llm-inference-serving-engineer"
TRAINING = "llm-training-engineer"


def shipped() -> dict[str, TrackSpec]:
    return {t.slug: t for t in read_tracks(settings.CADENCE_TRACK_DIR)}


def template(spec: TrackSpec) -> TrackTemplate:
    return TrackTemplate(
        topics=tuple(
            PlanTopic(
                topic_id=index,
                title=entry.topic,
                weight=entry.weight,
                activities=tuple(Activity(a.kind, a.title, a.minutes) for a in entry.activities),
            )
            for index, entry in enumerate(spec.topics, start=1)
        ),
        finale=tuple(Activity(a.kind, a.title, a.minutes) for a in spec.finale),
    )


def load() -> str:
    out = StringIO()
    call_command("load_deck", stdout=out)
    return out.getvalue()


def test_the_serving_track_covers_the_serving_topics_first() -> None:
    spec = shipped()[SERVING]
    topics = [entry.topic for entry in spec.topics]
    assert topics[:3] == ["transformer-fundamentals", "inference-serving", "model-optimisation"]
    heaviest = max(spec.topics, key=lambda entry: entry.weight)
    assert heaviest.topic == "inference-serving"
    assert [a.kind for a in spec.finale].count("mock") == 2


def test_the_training_track_keeps_its_three_rounds_ahead_of_the_additions() -> None:
    topics = [entry.topic for entry in shipped()[TRAINING].topics]
    rounds = topics.index("interview-craft")
    assert topics[:rounds] == [
        "transformer-fundamentals",
        "positional-encodings",
        "pretraining-data",
        "pretraining-dynamics",
        "fine-tuning-sft",
        "rlhf-reward-models",
        "preference-optimisation",
        "distributed-training",
        "training-at-scale",
    ]
    assert {"inference-serving", "model-optimisation", "rl-reasoning"} <= set(topics[rounds:])


@pytest.mark.parametrize("slug", [SERVING, TRAINING])
def test_six_weeks_at_six_hours_plan_every_topic_of_the_track(slug: str) -> None:
    spec = shipped()[slug]
    start = dt.date(2026, 3, 2)
    draft = generate_plan(
        template=template(spec),
        start=start,
        interview=start + dt.timedelta(weeks=6),
        hours_per_week=6,
        done=(),
    )
    assert not draft.too_short
    assert draft.left_out == ()
    planned = {item.topic_id for item in draft.items if item.topic_id is not None}
    assert planned == set(range(1, len(spec.topics) + 1))
    assert draft.weeks[-1].items[-1].kind in {"mock", "review"}


def test_a_three_week_plan_of_the_training_track_drops_only_additions() -> None:
    spec = shipped()[TRAINING]
    topics = [entry.topic for entry in spec.topics]
    rounds = topics[: topics.index("interview-craft") + 1]
    start = dt.date(2026, 3, 2)
    draft = generate_plan(
        template=template(spec),
        start=start,
        interview=start + dt.timedelta(weeks=3),
        hours_per_week=6,
        done=(),
    )
    assert draft.too_short
    assert draft.left_out
    assert not set(draft.left_out) & set(rounds)


@pytest.mark.django_db
def test_loading_twice_leaves_the_tracks_untouched() -> None:
    first = load()
    assert f"tracks: {len(shipped())} added" in first
    rows = list(TrackTopic.objects.order_by("pk").values_list("pk", "track_id", "topic_id"))
    second = load()
    assert f"tracks: 0 added, 0 updated, {len(shipped())} unchanged, 0 retired" in second
    assert "cards: 0 added, 0 updated" in second
    assert list(TrackTopic.objects.order_by("pk").values_list("pk", "track_id", "topic_id")) == rows


@pytest.mark.django_db
def test_an_edited_track_is_updated_in_place(tmp_path: Path) -> None:
    load()
    track = Track.objects.get(slug=SERVING)
    specs = list(shipped().values())
    edited = [
        spec
        if spec.slug != SERVING
        else TrackSpec(
            **{
                **vars(spec),
                "title": "Serving, renamed",
                "topics": spec.topics[:-1],
            }
        )
        for spec in specs
    ]
    result = tracks_load(tracks=edited, now=NOW)
    assert (result.added, result.updated, result.unchanged) == (0, 1, len(specs) - 1)
    track.refresh_from_db()
    assert track.title == "Serving, renamed"
    assert track.track_topics.count() == len(shipped()[SERVING].topics) - 1


@pytest.mark.django_db
def test_the_serving_track_loads_and_plans_for_a_user(owner: Any) -> None:
    load()
    track = Track.objects.get(slug=SERVING)
    deck_topics = {t.slug for t in read_deck(settings.CADENCE_DECK_DIR)}
    assert {tt.topic.slug for tt in track.track_topics.select_related("topic")} <= deck_topics
    assert Topic.objects.filter(slug="inference-serving", owner__isnull=True).exists()

    profile = Profile.objects.get(user=owner)
    profile.track, profile.interview_date, profile.onboarded_at = (
        track,
        TODAY + dt.timedelta(weeks=8),
        NOW,
    )
    profile.hours_per_week = 8
    profile.save()
    plan = plan_generate(user=owner, today=TODAY)

    assert Plan.objects.get(user=owner, is_active=True) == plan
    planned = {item.topic_id for week in plan.weeks.all() for item in week.items.all()}
    assert {tt.topic_id for tt in track.track_topics.all()} <= planned
    titles = [item.title for week in plan.weeks.all() for item in week.items.all()]
    assert any("KV-cache" in title for title in titles)
    assert any(title.startswith("Mock interview: design an LLM API") for title in titles)
