"""Markdown deck files, in the built-in deck's own format (docs/content-format.md)."""

from __future__ import annotations

from cards.deckfile import DeckFormatError, parse_user_topic
from cards.imports.common import (
    ImportRejected,
    Limits,
    ParsedCard,
    ParsedImport,
    Problem,
    check_card,
    check_count,
    decode_text,
)


def estimate_markdown(data: bytes) -> int:
    return sum(1 for line in data.splitlines() if line.startswith(b"## "))


def parse_markdown(
    data: bytes, *, limits: Limits, default_topic: str = "", filename: str = "<upload>"
) -> ParsedImport:
    """One topic per file, in the deck format (docs/content-format.md), read leniently."""
    text = decode_text(data)
    try:
        topic, errors = parse_user_topic(text, filename)
    except DeckFormatError as error:
        raise ImportRejected(f"Line {error.line}: {error.message}.") from None
    check_count(len(topic.cards) + len(errors), limits)
    result = ParsedImport()
    result.problems.extend(Problem(f"line {e.line}", e.message) for e in errors)
    for spec in topic.cards:
        ref = f"line {spec.line}"
        reason = check_card(spec.front, spec.back)
        if reason:
            result.problems.append(Problem(ref, reason))
            continue
        result.cards.append(
            ParsedCard(
                front=spec.front,
                back=spec.back,
                ref=ref,
                topic=topic.title[:120] or default_topic,
                tags=spec.tags,
                kind=spec.kind,
                source=spec.source[:400],
            )
        )
    if not topic.cards and not errors:
        raise ImportRejected("The file has no cards: each card starts with a '## ' heading.")
    result.problems.sort(key=lambda p: int(p.ref.split()[-1]))
    return result
