"""The shipped prompt bank: shape, weights, cards that exist, and seed 002's questions."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from cards.deckfile import DeckFormatError, read_deck
from cards.rendering import math_snippets, math_to_mathml
from prep.mockfile import (
    SYSTEM_DESIGN_PHASES,
    PromptSpec,
    parse_prompt_file,
    read_prompts,
)

# Seed 002's questions that are a derivation or a design, and the prompt that asks each.
SEED_002_DESIGN_AND_DERIVATION = {
    "Derive Multi-Head Attention computation from scratch": "mk-dv-multi-head-attention",
    "Why use the scaling factor 1/sqrt(dk)?": "mk-dv-attention-scale",
    "Design considerations for positional encoding": "mk-dd-positional-encoding-design",
    "LLM pre-training data processing pipeline": "mk-sd-pretraining-data",
    "Difference between MinHash and SimHash": "mk-dv-minhash-lsh",
    "How to construct SFT data and avoid hallucination": "mk-dd-sft-data",
    "Complete RLHF pipeline (SFT -> RM -> PPO)": "mk-sd-rlhf-pipeline",
    "Role of KL divergence penalty in PPO and coefficient tuning": "mk-dv-kl-objective",
    "Differences and trade-offs between DPO and PPO (theoretical derivation)": "mk-dv-dpo",
    "Distributed training parallelism strategies (DP/TP/PP/3D)": "mk-sd-3d-parallel-layout",
    "Difference between ZeRO-3 and FSDP (the ZeRO memory arithmetic)": "mk-dv-zero-memory",
    "Design a training system for a 100B-parameter model from scratch": "mk-sd-training-100b",
}
# The issue's list beyond seed 002.
REQUIRED_THEMES = {
    "recommendation (seed 003)": "mk-sd-recommendation",
    "search (seed 003)": "mk-sd-search",
    "LLM serving at scale": "mk-sd-llm-serving",
    "pre-training data pipeline": "mk-sd-pretraining-data",
    "RLHF pipeline": "mk-sd-rlhf-pipeline",
    "feature store / lambda vs kappa": "mk-sd-feature-store",
    "model versioning and rollback": "mk-sd-model-versioning",
    "drift monitoring": "mk-sd-drift-monitoring",
}


@pytest.fixture(scope="module")
def prompts() -> list[PromptSpec]:
    return read_prompts()


@pytest.fixture(scope="module")
def by_key(prompts: list[PromptSpec]) -> dict[str, PromptSpec]:
    return {p.key: p for p in prompts}


def test_the_bank_has_at_least_40_prompts_of_every_kind(prompts: list[PromptSpec]) -> None:
    kinds = Counter(p.kind for p in prompts)
    assert len(prompts) >= 40
    assert set(kinds) == {
        "system-design",
        "derivation",
        "deep-dive",
        "tpm-scenario",
        "project-deep-dive",
    }
    assert kinds["tpm-scenario"] >= 3


def test_every_rubric_has_6_to_12_points_whose_weights_sum_sensibly(
    prompts: list[PromptSpec],
) -> None:
    for prompt in prompts:
        weights = [point.weight for point in prompt.rubric]
        assert 6 <= len(weights) <= 12, prompt.key
        assert all(1 <= w <= 5 for w in weights), prompt.key
        assert 8 <= sum(weights) <= 40, prompt.key
        # No single point decides the score on its own.
        assert max(weights) / sum(weights) <= 0.3, prompt.key


def test_every_prompt_has_time_boxes_an_outline_and_a_seed(prompts: list[PromptSpec]) -> None:
    for prompt in prompts:
        assert 15 <= prompt.total_minutes <= 60, prompt.key
        assert all(2 <= phase.minutes <= 30 for phase in prompt.phases), prompt.key
        assert prompt.outline.count("\n") >= 3, prompt.key
        assert prompt.seed in {"000", "001", "002", "003"}
        assert prompt.source.startswith("Seed"), prompt.key


def test_system_design_prompts_run_the_scale_phases(prompts: list[PromptSpec]) -> None:
    designs = [p for p in prompts if p.kind == "system-design"]
    assert len(designs) >= 10
    for prompt in designs:
        assert tuple(phase.title for phase in prompt.phases) == SYSTEM_DESIGN_PHASES


def test_every_related_card_id_exists_in_the_deck(prompts: list[PromptSpec]) -> None:
    deck = {card.key for topic in read_deck(settings.CADENCE_DECK_DIR) for card in topic.cards}
    topics = {topic.slug for topic in read_deck(settings.CADENCE_DECK_DIR)}
    for prompt in prompts:
        assert prompt.cards, prompt.key
        assert prompt.topic in topics, prompt.key
        missing = set(prompt.all_card_keys) - deck
        assert not missing, f"{prompt.key}: {missing}"
        assert all(point.cards for point in prompt.rubric), prompt.key


@pytest.mark.parametrize(("question", "key"), SEED_002_DESIGN_AND_DERIVATION.items())
def test_every_seed_002_design_or_derivation_question_has_a_prompt(
    by_key: dict[str, PromptSpec], question: str, key: str
) -> None:
    assert key in by_key, question
    assert by_key[key].seed == "002"


@pytest.mark.parametrize(("theme", "key"), REQUIRED_THEMES.items())
def test_the_issues_themes_each_have_a_prompt(
    by_key: dict[str, PromptSpec], theme: str, key: str
) -> None:
    assert key in by_key, theme


def test_three_tpm_scenarios_come_from_seed_001(prompts: list[PromptSpec]) -> None:
    assert sum(1 for p in prompts if p.kind == "tpm-scenario" and p.seed == "001") >= 3


def test_every_math_span_in_the_bank_typesets(prompts: list[PromptSpec]) -> None:
    for prompt in prompts:
        texts = [prompt.body, prompt.outline, *(point.text for point in prompt.rubric)]
        for text in texts:
            for latex, display in math_snippets(text):
                math_to_mathml(latex, display=display)


GOOD = """---
kind: derivation
---

## mk-test
title: A test prompt
seed: 002
source: Seed 002
topic: transformer-fundamentals
cards: tf-mha-1-projections

Derive it.

### Phases

1. First (5 min): start.
2. Second (5 min)

### Rubric

- a (1): One [tf-mha-1-projections]
- b (2): Two
- c (1): Three
- d (1): Four
- e (1): Five
- f (1): Six

### Model answer

- It.
"""


def test_a_prompt_file_reads_into_phases_rubric_and_outline() -> None:
    (prompt,) = parse_prompt_file(GOOD, "x.md")
    assert prompt.kind == "derivation"
    assert [(p.title, p.minutes, p.hint) for p in prompt.phases] == [
        ("First", 5, "start."),
        ("Second", 5, ""),
    ]
    assert prompt.rubric[0].cards == ("tf-mha-1-projections",)
    assert prompt.rubric[1].cards == ()
    assert prompt.outline == "- It."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("- f (1): Six\n", ""), "it needs 6–12"),
        (("- b (2)", "- b (9)"), "use 1–5"),
        (("- b (2)", "- a (2)"), "share an id"),
        (("seed: 002", "seed: 9"), "seed"),
        (("### Model answer", "### Answer"), "unknown section"),
        (("(5 min): start.", "(45 min): start."), "a phase takes"),
        (("cards: tf-mha-1-projections\n", ""), "needs 'cards:'"),
        (("kind: derivation", "kind: system-design"), "system-design prompt runs"),
    ],
)
def test_a_broken_prompt_file_is_refused_with_its_line(
    change: tuple[str, str], message: str
) -> None:
    with pytest.raises(DeckFormatError, match=message) as error:
        parse_prompt_file(GOOD.replace(*change), "x.md")
    assert error.value.path == "x.md"


def test_the_loader_refuses_a_card_id_the_deck_does_not_have(db: Any) -> None:
    from prep.mocks import prompts_load
    from tests.factories import CardFactory, TopicFactory

    CardFactory(topic=TopicFactory(slug="transformer-fundamentals"), key="tf-mha-1-projections")
    (prompt,) = parse_prompt_file(GOOD.replace("- b (2): Two", "- b (2): Two [no-such]"))
    with pytest.raises(DeckFormatError, match="unknown card"):
        prompts_load(prompts=[prompt], now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_the_shipped_bank_loads_idempotently_with_stable_ids(db: Any, tmp_path: Path) -> None:
    from django.core.management import call_command

    from cards.models import Card
    from prep.mocks import mock_start, prompts_load
    from prep.models import MockPrompt, MockSession
    from prep.services import user_create

    call_command("load_deck", verbosity=0)
    call_command("load_prompts", verbosity=0)
    first = dict(MockPrompt.objects.values_list("key", "pk"))
    assert len(first) >= 40
    assert Card.objects.filter(owner__isnull=True).exists()
    call_command("load_prompts", verbosity=0)
    assert dict(MockPrompt.objects.values_list("key", "pk")) == first

    # An edit updates in place; a removed prompt is retired and keeps its sessions.
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    user = user_create(username="ada", email="ada@example.com", password="x-long-pass-42")
    last = read_prompts()[-1]
    gone = MockPrompt.objects.get(key=last.key)
    session = mock_start(user=user, prompt=gone, now=now)
    prompts = read_prompts()[:-1]
    edited = prompts[0].__class__(**{**vars(prompts[0]), "title": "A new title"})
    result = prompts_load(prompts=[edited, *prompts[1:]], now=now)
    assert (result.updated, result.retired, result.added) == (1, 1, 0)
    assert MockPrompt.objects.get(pk=first[edited.key]).title == "A new title"
    gone.refresh_from_db()
    assert gone.retired_at == now
    assert MockSession.objects.get(pk=session.pk).title == last.title
    # Loading the files again brings it back, same row.
    call_command("load_prompts", verbosity=0)
    gone.refresh_from_db()
    assert gone.retired_at is None
    assert gone.pk == first[last.key]
