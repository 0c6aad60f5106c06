"""Reading deck files: Markdown with YAML front matter, one topic per file.

Pure (no Django). The format is documented in ``docs/content-format.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = ("qa", "derivation", "compare", "design", "code")
SEPARATOR = "???"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
CARD_HEADING_RE = re.compile(r"^## (?!#)(.*)$")
META_RE = re.compile(r"^([a-z_]+):\s*(.*)$")
FENCE_RE = re.compile(r"^\s*(```|~~~)")
TAG_JUNK_RE = re.compile(r"[^\w:-]+")


class _NoAliasLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases (``*name``) as it composes.

    An alias is a reference, not a copy: nine levels of nine-item lists fit in a few
    hundred bytes and expand to 9**9 strings as soon as anything walks them (``str()`` on
    a title). Refusing the alias event stops that before a single node is shared. No deck
    or track file needs one.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in front matter", event.start_mark
            )
        return super().compose_node(parent, index)


def load_front_matter(text: str) -> Any:
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)


class DeckFormatError(ValueError):
    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class CardSpec:
    key: str
    kind: str
    tags: tuple[str, ...]
    source: str
    front: str
    back: str
    line: int


@dataclass(frozen=True)
class TopicSpec:
    slug: str
    title: str
    summary: str
    order: int
    cards: tuple[CardSpec, ...] = field(default_factory=tuple)
    path: str = ""


def split_front_matter(text: str, path: str) -> tuple[dict[str, Any], str, int]:
    """Return (front matter, body, the body's first line number)."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise DeckFormatError(path, 1, "the file must open with a '---' front-matter block")
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            try:
                meta = load_front_matter("\n".join(lines[1:index])) or {}
            except yaml.YAMLError as error:
                raise DeckFormatError(path, 2, f"front matter is not valid YAML: {error}") from None
            if not isinstance(meta, dict):
                raise DeckFormatError(path, 2, "front matter must be a mapping of keys")
            return meta, "\n".join(lines[index + 1 :]), index + 2
    raise DeckFormatError(path, 1, "the front-matter block is never closed with '---'")


def _text_field(meta: dict[str, Any], key: str, path: str) -> str:
    """A front-matter value that must be plain text (a number is read as its digits)."""
    value = meta.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DeckFormatError(path, 2, f"'{key}' must be text, not a {type(value).__name__}")
    return str(value)


def normalize_tags(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    seen: dict[str, str] = {}
    for item in items:
        # Letters of any script, digits, _ and -, and Anki's "::" hierarchy, kept as the
        # person wrote them; like Anki's, tags do not tell case apart, so "Übung" and
        # "übung" are one tag, spelled as it came first.
        tag = TAG_JUNK_RE.sub("-", item.strip())
        tag = re.sub(r"(?<!:):(?!:)", "-", re.sub(r":{3,}", "::", tag)).strip("-:")
        if tag:
            seen.setdefault(tag.casefold(), tag)
    return tuple(seen.values())


def parse_topic(text: str, path: str = "<deck>") -> TopicSpec:
    meta, body, first_line = split_front_matter(text, path)
    for required in ("slug", "title", "order"):
        if required not in meta:
            raise DeckFormatError(path, 2, f"front matter needs '{required}'")
    slug = _text_field(meta, "slug", path)
    if not ID_RE.match(slug):
        raise DeckFormatError(path, 2, f"slug {slug!r} must be lowercase letters, digits, hyphens")
    try:
        order = int(meta["order"])
    except (TypeError, ValueError):
        raise DeckFormatError(path, 2, "order must be an integer") from None
    cards = _parse_cards(body.splitlines(), path, first_line)
    return TopicSpec(
        slug=slug,
        title=_text_field(meta, "title", path),
        summary=_text_field(meta, "summary", path),
        order=order,
        cards=tuple(cards),
        path=path,
    )


def _split_sections(
    lines: list[str], path: str, first_line: int
) -> list[tuple[str, int, list[str]]]:
    sections: list[tuple[str, int, list[str]]] = []
    in_fence = False
    for offset, line in enumerate(lines):
        if FENCE_RE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else CARD_HEADING_RE.match(line)
        if heading:
            sections.append((heading.group(1).strip(), first_line + offset, []))
        elif sections:
            sections[-1][2].append(line)
        elif line.strip():
            raise DeckFormatError(path, first_line + offset, "text before the first card")
    return sections


def _parse_cards(lines: list[str], path: str, first_line: int) -> list[CardSpec]:
    return [
        _parse_card(key, line, body, path, strict=True)
        for key, line, body in _split_sections(lines, path, first_line)
    ]


def _parse_card(key: str, line: int, body: list[str], path: str, *, strict: bool) -> CardSpec:
    """One card section. ``strict`` is the built-in deck's rule set: a stable id and a source.

    A person's own deck file (an import) may use any heading text and leave out the
    source; everything else is checked the same way.
    """
    if strict and not ID_RE.match(key):
        raise DeckFormatError(path, line, f"card id {key!r} must be [a-z0-9-]")
    meta: dict[str, str] = {}
    index = 0
    while index < len(body) and (match := META_RE.match(body[index])):
        meta[match.group(1)] = match.group(2).strip()
        index += 1
    unknown = set(meta) - {"kind", "tags", "source"}
    if unknown:
        raise DeckFormatError(path, line, f"unknown card field(s): {', '.join(sorted(unknown))}")
    kind = meta.get("kind", "qa")
    if kind not in KINDS:
        raise DeckFormatError(path, line, f"kind {kind!r} is not one of {', '.join(KINDS)}")
    source = meta.get("source", "")
    if strict and not source:
        raise DeckFormatError(path, line, f"card {key} has no source")
    rest = body[index:]
    separators = [
        i for i, text in enumerate(rest) if text.strip() == SEPARATOR and not _inside_fence(rest, i)
    ]
    if len(separators) != 1:
        raise DeckFormatError(
            path,
            line,
            f"card {key} needs exactly one '{SEPARATOR}' line between front and back",
        )
    front = "\n".join(rest[: separators[0]]).strip()
    back = "\n".join(rest[separators[0] + 1 :]).strip()
    if not front:
        raise DeckFormatError(path, line, f"card {key} has an empty front")
    if not back:
        raise DeckFormatError(path, line, f"card {key} has an empty back")
    return CardSpec(
        key=key,
        kind=kind,
        tags=normalize_tags(meta.get("tags", "")),
        source=source,
        front=front,
        back=back,
        line=line,
    )


def parse_user_topic(text: str, path: str = "<upload>") -> tuple[TopicSpec, list[DeckFormatError]]:
    """A person's own deck file: the built-in format, read leniently, for an import.

    The front matter needs only ``title`` (``slug`` and ``order`` are optional); a card
    heading may be any text and ``source`` is optional. A broken card is returned as a
    problem beside the good ones instead of failing the file; a broken file (no front
    matter, text before the first card) still raises DeckFormatError.
    """
    meta, body, first_line = split_front_matter(text, path)
    title = _text_field(meta, "title", path).strip()
    if not title:
        raise DeckFormatError(path, 2, "front matter needs 'title'")
    slug = _text_field(meta, "slug", path).strip() or re.sub(
        r"[^a-z0-9]+", "-", title.lower()
    ).strip("-")
    try:
        order = int(meta.get("order") or 0)
    except (TypeError, ValueError):
        raise DeckFormatError(path, 2, "order must be an integer") from None
    cards: list[CardSpec] = []
    problems: list[DeckFormatError] = []
    for key, line, section in _split_sections(body.splitlines(), path, first_line):
        if not key:
            problems.append(DeckFormatError(path, line, "a card heading needs some text"))
            continue
        try:
            cards.append(_parse_card(key, line, section, path, strict=False))
        except DeckFormatError as error:
            problems.append(error)
    topic = TopicSpec(
        slug=slug,
        title=title,
        summary=_text_field(meta, "summary", path),
        order=order,
        cards=tuple(cards),
        path=path,
    )
    return topic, problems


def _inside_fence(lines: list[str], index: int) -> bool:
    fences = sum(1 for line in lines[:index] if FENCE_RE.match(line))
    return fences % 2 == 1


def read_deck(directory: Path) -> list[TopicSpec]:
    """Parse every topic file in a folder and check ids and fronts across the deck."""
    topics = [
        parse_topic(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(directory.glob("*.md"))
    ]
    seen_slugs: dict[str, str] = {}
    seen_keys: dict[str, str] = {}
    for topic in topics:
        if topic.slug in seen_slugs:
            raise DeckFormatError(
                topic.path, 2, f"slug {topic.slug} is also used by {seen_slugs[topic.slug]}"
            )
        seen_slugs[topic.slug] = topic.path
        for card in topic.cards:
            if card.key in seen_keys:
                raise DeckFormatError(
                    topic.path,
                    card.line,
                    f"card id {card.key} is also used in {seen_keys[card.key]}",
                )
            seen_keys[card.key] = topic.path
    return topics
