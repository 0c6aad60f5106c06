"""The shipped deck and tracks: shape, math that typesets, and the 14 interview questions."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.conf import settings

from cards.deckfile import CardSpec, TopicSpec, read_deck
from cards.models import Card
from cards.rendering import RUNNABLE, MathError, code_blocks, math_snippets, math_to_mathml
from prep.trackfile import read_tracks

# Seed 002's "Interview Questions Summary": the card that answers each question.
SEED_002_QUESTIONS = {
    "Derive Multi-Head Attention computation from scratch": "tf-mha-1-projections",
    "Why use the scaling factor 1/sqrt(dk)?": "tf-scale-1-variance",
    "Types and design considerations for positional encoding": "pe-design-new-scheme",
    "LLM pre-training data processing pipeline": "pd-pipeline-design",
    "Difference between MinHash and SimHash": "pd-minhash-vs-simhash",
    "How to troubleshoot pre-training loss spikes": "pt-spike-checklist",
    "How to construct SFT data and avoid hallucination": "ft-hallucination-at-source",
    "Complete RLHF pipeline (SFT -> RM -> PPO)": "rl-pipeline-stages",
    "What to do when reward model annotators disagree significantly": "rl-annotator-disagreement",
    "Role of KL divergence penalty in PPO and coefficient tuning": "rl-kl-penalty-role",
    "Differences and trade-offs between DPO and PPO": "po-dpo-vs-ppo",
    "Distributed training parallelism strategies (DP/TP/PP/3D)": "dt-parallelism-overview",
    "Difference between ZeRO-3 and FSDP": "dt-zero3-vs-fsdp",
    "Design a training system for a 100B-parameter model from scratch": "ts-design-100b",
}

# DESIGN.md's "Where the content comes from": every theme has cards (a word to find).
THEMES = {
    "positional-encodings": "RoPE",
    "pretraining-data": "MinHash",
    "rlhf-reward-models": "KL",
    "preference-optimisation": "DPO",
    "distributed-training": "ZeRO",
    "inference-serving": "batching",
    "ml-data-pipelines": "drift",
    "ml-system-design": "SCALE",
}


@pytest.fixture(scope="module")
def deck() -> list[TopicSpec]:
    return read_deck(settings.CADENCE_DECK_DIR)


@pytest.fixture(scope="module")
def cards(deck: list[TopicSpec]) -> list[CardSpec]:
    return [card for topic in deck for card in topic.cards]


def test_the_deck_has_at_least_120_cards_over_12_topics(
    deck: list[TopicSpec], cards: list[CardSpec]
) -> None:
    assert len(deck) >= 12
    assert len(cards) >= 120
    assert all(len(topic.cards) >= 8 for topic in deck)


def test_every_card_has_a_front_a_back_and_a_source(cards: list[CardSpec]) -> None:
    assert all(card.front and card.back and card.source for card in cards)


def test_every_card_names_a_seed(cards: list[CardSpec]) -> None:
    assert [c.key for c in cards if "Seed 00" not in c.source] == []


# A question word opening a clause: at the start, after punctuation, or after "and"/"or".
ASK = re.compile(
    r"(?:^|[,;?.:—]\s*|\band\s+|\bor\s+)"
    r"(what|how|why|when|which|where|who|is|are|does|do|can|should)\b",
    re.IGNORECASE,
)
# A series label ("step 2 of 6:", "DPO derivation 1/5 —") and quoted text ask nothing.
LABEL = re.compile(r"^.*?(?:step \d+ of \d+|\d+/\d+)\s*[:—-]\s*", re.IGNORECASE)
QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")


def asks(front: str) -> int:
    """How many questions a front asks: its clauses that open with a question word."""
    return len(ASK.findall(QUOTED.sub("", LABEL.sub("", front, count=1))))


def test_asks_counts_the_questions_a_front_lists() -> None:
    assert asks("What is GRPO, and how does it differ from PPO?") == 2
    assert asks("MHA, step 2 of 6: how do you get the scores, and what shape is it?") == 2
    assert (
        asks(
            "How should checkpointing work: what is saved, how large is it, how is it written, "
            "and how often?"
        )
        == 5
    )
    assert asks('Prepare for "how much, how long, why" follow-ups.') == 0


def test_every_card_asks_one_question(cards: list[CardSpec]) -> None:
    """One question, or two tightly linked parts ("what is X, and why"): never a list."""
    listing = [card.key for card in cards if asks(card.front) > 2]
    assert not listing, f"fronts that ask three things or more: {listing}"


def test_every_card_fits_the_columns_it_is_stored_in(cards: list[CardSpec]) -> None:
    """SQLite keeps a string of any length; PostgreSQL refuses one past the column's."""
    longest = {name: Card._meta.get_field(name).max_length for name in ("key", "tags", "source")}
    too_long = [
        (card.key, name)
        for card in cards
        for name, value in (
            ("key", card.key),
            ("tags", " ".join(card.tags)),
            ("source", card.source),
        )
        if len(value) > longest[name]  # type: ignore[operator]
    ]
    assert not too_long


def test_no_two_cards_share_a_front(cards: list[CardSpec]) -> None:
    fronts = Counter(" ".join(card.front.lower().split()) for card in cards)
    assert [front for front, count in fronts.items() if count > 1] == []


def test_every_math_snippet_typesets(cards: list[CardSpec]) -> None:
    errors = []
    snippets = 0
    for card in cards:
        for side in (card.front, card.back):
            for latex, display in math_snippets(side):
                snippets += 1
                try:
                    math_to_mathml(latex, display=display)
                except MathError as error:
                    errors.append(f"{card.key}: {error}")
    assert errors == []
    assert snippets > 200


# Chromium ignores mathvariant on <mn>: \mathbb{1} or \mathbf{1} draws as a plain "1".
STYLED_DIGIT_RE = re.compile(r"\\(?:math(?:bb|bf|rm|sf|tt|it|cal|frak|scr)|boldsymbol)\s*\{\s*\d")
STYLED_MN_RE = re.compile(r"<mn\b[^>]*\bmathvariant=")


def test_no_card_styles_a_digit_the_browser_would_draw_plain(cards: list[CardSpec]) -> None:
    found = []
    for card in cards:
        for side in (card.front, card.back):
            for latex, display in math_snippets(side):
                if STYLED_DIGIT_RE.search(latex) or STYLED_MN_RE.search(
                    math_to_mathml(latex, display=display)
                ):
                    found.append(f"{card.key}: {latex}")
    assert found == [], "write the indicator as \\mathbb{I} (𝕀) or spell the case out"


def test_the_deck_uses_every_kind_of_card(cards: list[CardSpec]) -> None:
    assert set(Counter(card.kind for card in cards)) == {
        "qa",
        "derivation",
        "compare",
        "design",
        "code",
    }


def test_every_runnable_code_block_compiles(cards: list[CardSpec]) -> None:
    errors = []
    for card in cards:
        for side in (card.front, card.back):
            for _lang, flags, code in code_blocks(side):
                if RUNNABLE in flags:
                    try:
                        compile(code, card.key, "exec")
                    except SyntaxError as error:
                        errors.append(f"{card.key}: line {error.lineno}: {error.msg}")
    assert errors == []


def test_a_code_card_answers_with_code(cards: list[CardSpec]) -> None:
    assert [c.key for c in cards if c.kind == "code" and not code_blocks(c.back)] == []


@pytest.mark.parametrize(("question", "key"), SEED_002_QUESTIONS.items())
def test_each_seed_002_question_has_a_card(cards: list[CardSpec], question: str, key: str) -> None:
    assert key in {card.key for card in cards}, question


def test_the_fourteen_questions_are_all_mapped() -> None:
    assert len(SEED_002_QUESTIONS) == 14


@pytest.mark.parametrize(("topic", "word"), THEMES.items())
def test_each_design_theme_is_covered(deck: list[TopicSpec], topic: str, word: str) -> None:
    spec = next(t for t in deck if t.slug == topic)
    assert any(word in card.front + card.back for card in spec.cards)


def test_there_are_at_least_three_tracks_over_known_topics(deck: list[TopicSpec]) -> None:
    tracks = read_tracks(settings.CADENCE_TRACK_DIR)
    assert len(tracks) >= 3
    slugs = {topic.slug for topic in deck}
    for track in tracks:
        assert {entry.topic for entry in track.topics} <= slugs
        assert track.finale, f"{track.slug} has no finale"
        assert all(a.minutes > 0 for entry in track.topics for a in entry.activities)
    assert {"llm-training-engineer", "ai-system-design-30-days", "ai-ml-tpm-system-design"} <= {
        t.slug for t in tracks
    }
