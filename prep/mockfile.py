"""Reading mock-interview prompt files: Markdown with YAML front matter. Pure (no Django).

The files live in ``prep/interviews/*.md`` and follow the deck's conventions (front
matter, a ``##`` heading per prompt whose text is its stable id, ``key: value`` lines);
``docs/content-format.md`` documents the format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cards.deckfile import ID_RE, META_RE, DeckFormatError, _split_sections, split_front_matter

PROMPT_DIR = Path(__file__).resolve().parent / "interviews"

KINDS = ("system-design", "derivation", "deep-dive", "tpm-scenario", "project-deep-dive")
SEEDS = ("000", "001", "002", "003")
# A system-design prompt runs the SCALE framework (seed 003), in this order.
SYSTEM_DESIGN_PHASES = (
    "Scope and requirements",
    "Components",
    "Architecture",
    "Critical logic",
    "Evaluation and trade-offs",
)
SECTIONS = ("Phases", "Rubric", "Model answer")
MIN_POINTS, MAX_POINTS = 6, 12
MIN_WEIGHT, MAX_WEIGHT = 1, 5
MIN_PHASE_MINUTES, MAX_PHASE_MINUTES = 2, 30
MAX_TOTAL_MINUTES = 90

PHASE_RE = re.compile(r"^\d+\.\s+(.+?)\s+\((\d+) min\)(?::\s*(.*))?$")
POINT_RE = re.compile(
    r"^-\s+([a-z0-9][a-z0-9-]*)\s+\((\d+)\):\s+(.+?)(?:\s+\[([a-z0-9][a-z0-9, -]*)\])?\s*$"
)
SUBSECTION_RE = re.compile(r"^### (?!#)(.*)$")


@dataclass(frozen=True)
class PhaseSpec:
    title: str
    minutes: int
    hint: str


@dataclass(frozen=True)
class PointSpec:
    key: str
    weight: int
    text: str
    cards: tuple[str, ...]


@dataclass(frozen=True)
class PromptSpec:
    key: str
    kind: str
    title: str
    seed: str
    source: str
    topic: str
    cards: tuple[str, ...]
    body: str
    phases: tuple[PhaseSpec, ...]
    rubric: tuple[PointSpec, ...]
    outline: str
    path: str = ""
    line: int = 0

    @property
    def total_minutes(self) -> int:
        return sum(phase.minutes for phase in self.phases)

    @property
    def all_card_keys(self) -> tuple[str, ...]:
        """The prompt's cards and every rubric point's, each once, in order."""
        keys = dict.fromkeys(self.cards)
        for point in self.rubric:
            keys.update(dict.fromkeys(point.cards))
        return tuple(keys)


def _card_list(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))


def _subsections(
    lines: list[str], path: str, line: int, key: str
) -> tuple[str, dict[str, list[str]]]:
    """Split a prompt's text into its body (before the first ###) and its ### sections."""
    body: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] = body
    in_fence = False
    for text in lines:
        if text.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else SUBSECTION_RE.match(text)
        if match:
            name = match.group(1).strip()
            if name not in SECTIONS:
                raise DeckFormatError(
                    path,
                    line,
                    f"prompt {key}: unknown section '### {name}' (expected {', '.join(SECTIONS)})",
                )
            if name in sections:
                raise DeckFormatError(path, line, f"prompt {key}: '### {name}' appears twice")
            sections[name] = current = []
        else:
            current.append(text)
    missing = [name for name in SECTIONS if name not in sections]
    if missing:
        raise DeckFormatError(path, line, f"prompt {key} needs '### {missing[0]}'")
    return "\n".join(body).strip(), sections


def _phases(lines: list[str], path: str, line: int, key: str, kind: str) -> tuple[PhaseSpec, ...]:
    phases: list[PhaseSpec] = []
    for text in lines:
        if not text.strip():
            continue
        match = PHASE_RE.match(text.strip())
        if not match:
            raise DeckFormatError(
                path, line, f"prompt {key}: a phase reads '1. Title (8 min): hint', not {text!r}"
            )
        minutes = int(match.group(2))
        if not MIN_PHASE_MINUTES <= minutes <= MAX_PHASE_MINUTES:
            raise DeckFormatError(
                path,
                line,
                f"prompt {key}: phase {match.group(1)!r} is {minutes} min; a phase takes "
                f"{MIN_PHASE_MINUTES}–{MAX_PHASE_MINUTES} min",
            )
        phases.append(PhaseSpec(match.group(1).strip(), minutes, (match.group(3) or "").strip()))
    if len(phases) < 2:
        raise DeckFormatError(path, line, f"prompt {key} needs at least two phases")
    if sum(p.minutes for p in phases) > MAX_TOTAL_MINUTES:
        raise DeckFormatError(path, line, f"prompt {key} runs over {MAX_TOTAL_MINUTES} minutes")
    if kind == "system-design" and tuple(p.title for p in phases) != SYSTEM_DESIGN_PHASES:
        raise DeckFormatError(
            path,
            line,
            f"prompt {key}: a system-design prompt runs the phases "
            f"{' → '.join(SYSTEM_DESIGN_PHASES)}",
        )
    return tuple(phases)


def _rubric(lines: list[str], path: str, line: int, key: str) -> tuple[PointSpec, ...]:
    points: list[PointSpec] = []
    for text in lines:
        if not text.strip():
            continue
        match = POINT_RE.match(text.strip())
        if not match:
            raise DeckFormatError(
                path,
                line,
                f"prompt {key}: a rubric point reads '- point-id (weight): what a strong "
                f"answer does [card-id, card-id]', not {text!r}",
            )
        weight = int(match.group(2))
        if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
            raise DeckFormatError(
                path, line, f"prompt {key}: point {match.group(1)} weighs {weight}; use 1–5"
            )
        points.append(
            PointSpec(
                key=match.group(1),
                weight=weight,
                text=match.group(3).strip(),
                cards=_card_list(match.group(4) or ""),
            )
        )
    if not MIN_POINTS <= len(points) <= MAX_POINTS:
        raise DeckFormatError(
            path,
            line,
            f"prompt {key} has {len(points)} rubric points; it needs {MIN_POINTS}–{MAX_POINTS}",
        )
    keys = [p.key for p in points]
    if len(set(keys)) != len(keys):
        raise DeckFormatError(path, line, f"prompt {key}: two rubric points share an id")
    return tuple(points)


def _parse_prompt(
    key: str, line: int, lines: list[str], path: str, default_kind: str
) -> PromptSpec:
    if not ID_RE.match(key):
        raise DeckFormatError(path, line, f"prompt id {key!r} must be [a-z0-9-]")
    meta: dict[str, str] = {}
    index = 0
    while index < len(lines) and (match := META_RE.match(lines[index])):
        meta[match.group(1)] = match.group(2).strip()
        index += 1
    unknown = set(meta) - {"kind", "title", "seed", "source", "topic", "cards"}
    if unknown:
        raise DeckFormatError(path, line, f"unknown prompt field(s): {', '.join(sorted(unknown))}")
    for required in ("title", "seed", "source", "topic", "cards"):
        if not meta.get(required):
            raise DeckFormatError(path, line, f"prompt {key} needs '{required}:'")
    kind = meta.get("kind") or default_kind
    if kind not in KINDS:
        raise DeckFormatError(path, line, f"kind {kind!r} is not one of {', '.join(KINDS)}")
    seed = meta["seed"]
    if seed not in SEEDS:
        raise DeckFormatError(path, line, f"seed {seed!r} is not one of {', '.join(SEEDS)}")
    body, sections = _subsections(lines[index:], path, line, key)
    if not body:
        raise DeckFormatError(path, line, f"prompt {key} has no prompt text")
    outline = "\n".join(sections["Model answer"]).strip()
    if not outline:
        raise DeckFormatError(path, line, f"prompt {key} has an empty model answer")
    return PromptSpec(
        key=key,
        kind=kind,
        title=meta["title"],
        seed=seed,
        source=meta["source"],
        topic=meta["topic"],
        cards=_card_list(meta["cards"]),
        body=body,
        phases=_phases(sections["Phases"], path, line, key, kind),
        rubric=_rubric(sections["Rubric"], path, line, key),
        outline=outline,
        path=path,
        line=line,
    )


def parse_prompt_file(text: str, path: str = "<prompts>") -> list[PromptSpec]:
    meta, body, first_line = split_front_matter(text, path)
    default_kind = str(meta.get("kind") or "")
    if default_kind and default_kind not in KINDS:
        raise DeckFormatError(path, 2, f"kind {default_kind!r} is not one of {', '.join(KINDS)}")
    return [
        _parse_prompt(key, line, lines, path, default_kind)
        for key, line, lines in _split_sections(body.splitlines(), path, first_line)
    ]


def read_prompts(directory: Path = PROMPT_DIR) -> list[PromptSpec]:
    """Every prompt file in a folder, in file order, with ids unique across the bank."""
    prompts: list[PromptSpec] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.md")):
        for prompt in parse_prompt_file(path.read_text(encoding="utf-8"), str(path)):
            if prompt.key in seen:
                raise DeckFormatError(
                    prompt.path,
                    prompt.line,
                    f"prompt id {prompt.key} is also used in {seen[prompt.key]}",
                )
            seen[prompt.key] = prompt.path
            prompts.append(prompt)
    return prompts
