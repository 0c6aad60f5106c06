"""Reading cards from the files people bring: CSV/TSV, Markdown deck files, Anki packages.

Pure: no Django. Each reader turns bytes into a ``ParsedImport`` (the cards, and every row
that cannot become a card with its line or note and the reason). A file that cannot be
read at all raises ``ImportRejected`` with a message meant for the person who sent it.

Anki packages are read without Anki: a zip holding a SQLite collection, either the legacy
layout (``collection.anki21`` / ``collection.anki2``, media listed as JSON) or the current
one (``collection.anki21b`` and every media file compressed with zstd, the media list a
small protobuf message). Archives are checked before anything is unpacked: member names
(path traversal), the total unpacked size and each member's compression ratio (zip
bombs); the zstd streams inside are unpacked against the same budget.
"""

from __future__ import annotations

from cards.imports.anki import estimate_apkg, parse_apkg
from cards.imports.common import (
    IMAGE_TYPES,
    ImportRejected,
    Limits,
    MediaUrl,
    ParsedCard,
    ParsedImport,
    Problem,
    Progress,
    check_card,
    check_count,
    decode_text,
    detect_format,
    format_size,
    media_name,
    normalize_front,
)
from cards.imports.delimited import estimate_delimited, parse_delimited
from cards.imports.markdown import estimate_markdown, parse_markdown

__all__ = [
    "IMAGE_TYPES",
    "ImportRejected",
    "Limits",
    "ParsedCard",
    "ParsedImport",
    "Problem",
    "check_card",
    "check_size",
    "detect_format",
    "estimate",
    "format_size",
    "media_name",
    "normalize_front",
    "parse",
]


def check_size(size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise ImportRejected(
            f"This file is {format_size(size)}; the upload limit is "
            f"{format_size(limits.max_bytes)}."
        )


def estimate(fmt: str, data: bytes, limits: Limits) -> int:
    """The number of cards to expect; raises ImportRejected for a file that cannot be read."""
    check_size(len(data), limits)
    if fmt == "apkg":
        return estimate_apkg(data, limits)
    decode_text(data)
    count = estimate_markdown(data) if fmt == "markdown" else estimate_delimited(data)
    check_count(count, limits)
    return count


def parse(
    fmt: str,
    data: bytes,
    *,
    limits: Limits,
    media_url: MediaUrl,
    default_topic: str = "",
    filename: str = "<upload>",
    progress: Progress | None = None,
) -> ParsedImport:
    check_size(len(data), limits)
    if fmt == "apkg":
        return parse_apkg(data, limits=limits, media_url=media_url, progress=progress)
    if fmt == "markdown":
        return parse_markdown(data, limits=limits, default_topic=default_topic, filename=filename)
    return parse_delimited(
        data, fmt=fmt, limits=limits, default_topic=default_topic, progress=progress
    )
