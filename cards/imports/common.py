"""What every reader shares: the result types, the limits, and the checks a card passes."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cards.rendering import MAX_TEXT, math_problems

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".bmp": "image/bmp",
}
COLLECTIONS = ("collection.anki21b", "collection.anki21", "collection.anki2")
# Below this size a member's compression ratio says nothing (a page of blanks packs 1000:1).
RATIO_FLOOR = 1024 * 1024

Progress = Callable[[int], None]
MediaUrl = Callable[[str], str]


class ImportRejected(ValueError):
    """The whole file cannot be imported; the message says why, in plain words."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_uncompressed_bytes: int
    max_ratio: int
    max_cards: int


@dataclass(frozen=True)
class ParsedCard:
    front: str
    back: str
    ref: str
    topic: str = ""
    tags: tuple[str, ...] = ()
    kind: str = "qa"
    source: str = ""
    # Anki's scheduling of the card, when the package has it (see AnkiSchedule), and its
    # review history: revlog rows (id in ms, ease, ivl, lastIvl, factor, time in ms, type).
    schedule: AnkiSchedule | None = None
    history: tuple[tuple[int, ...], ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        data["history"] = [list(row) for row in self.history]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ParsedCard:
        schedule = data.get("schedule")
        return cls(
            **{
                **data,
                "tags": tuple(data.get("tags", ())),
                "schedule": AnkiSchedule(**schedule) if schedule else None,
                "history": tuple(tuple(row) for row in data.get("history", ())),
            }
        )


@dataclass(frozen=True)
class AnkiSchedule:
    """An Anki card's scheduling columns, as the collection stores them."""

    type: int  # 0 new, 1 learning, 2 review, 3 relearning
    queue: int  # -3/-2 buried, -1 suspended, 0 new, 1/3 learning, 2 review
    due: int  # review: days since the collection's creation day
    interval: int  # days
    factor: int  # ease, in permille
    reps: int
    lapses: int
    created: int  # the collection's creation day (crt), seconds since the epoch


@dataclass(frozen=True)
class Problem:
    ref: str
    reason: str
    # A notice about a card that is imported all the same (a sound it will not play).
    kept: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ref": self.ref, "reason": self.reason}
        if self.kept:
            data["kept"] = True
        return data


@dataclass
class ParsedImport:
    cards: list[ParsedCard] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Stored name (see media_name) → file content, for every image the cards show.
    media: dict[str, bytes] = field(default_factory=dict)


def format_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def detect_format(filename: str, data: bytes) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix in {".apkg", ".colpkg"}:
        return "apkg"
    if suffix in {".md", ".markdown"}:
        return "markdown"
    if suffix in {".tsv", ".tab", ".txt"}:
        return "tsv"
    if suffix == ".csv":
        return "csv"
    if data[:4] == b"PK\x03\x04":
        return "apkg"
    raise ImportRejected(
        f"Cadence cannot read {suffix or 'this kind of'} files. Upload a .csv or .tsv file, "
        "a Markdown deck file (.md) or an Anki package (.apkg)."
    )


def normalize_front(text: str) -> str:
    """The form two fronts are compared in to find duplicates."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def check_card(front: str, back: str) -> str | None:
    """Why this front and back cannot be a card, or None."""
    if not front.strip():
        return "no front"
    if not back.strip():
        return "no back"
    for side, text in (("front", front), ("back", back)):
        if len(text) > MAX_TEXT:
            return f"the {side} is longer than {MAX_TEXT:,} characters"
        if problems := math_problems(text):
            return f"math on the {side} does not typeset: {problems[0]}"
    return None


def media_name(name: str, content: bytes) -> str:
    """A safe, content-addressed file name: the same image is stored once per person."""
    base = PurePosixPath(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    digest = hashlib.sha256(content).hexdigest()[:16]
    # A file Cadence exported has its stored name already: it keeps it, not a second digest.
    stem = stem.removeprefix(f"{digest}-")
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", unicodedata.normalize("NFKD", stem)).strip("-")
    return f"{digest}-{safe[:60] or 'image'}{suffix}"


def decode_text(data: bytes) -> str:
    if not data.strip():
        raise ImportRejected("The file is empty.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRejected(
            "This file is UTF-16 text. Save it as UTF-8 (with or without BOM) and upload it again."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportRejected(
            f"This file is not UTF-8 text: byte 0x{data[error.start]:02X} on line {line} is "
            "not valid UTF-8. Save the file as UTF-8 and upload it again."
        ) from None
    if "\x00" in text:
        raise ImportRejected("This file is not text: it holds NUL bytes.")
    if not text.strip():
        raise ImportRejected("The file is empty.")
    return text


def check_count(count: int, limits: Limits) -> None:
    if count > limits.max_cards:
        raise ImportRejected(
            f"This file holds about {count:,} cards; one import takes at most "
            f"{limits.max_cards:,}. Split it and import the parts."
        )
