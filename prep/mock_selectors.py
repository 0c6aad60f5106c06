"""Reads for mock interviews: picking a prompt, a session as shown, history, trends,
the Markdown export. No writes."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db.models import QuerySet, Sum

from prep.mocks import MARK_VALUES, running_seconds, weighted_score
from prep.models import MockMark, MockNote, MockPrompt, MockSession, PlanItem

# An unmarked rubric point counts as half known when "surprise me" weighs the prompts.
UNKNOWN_WEAKNESS = 0.5
TREND_LENGTH = 8
WORD_RE = re.compile(r"[a-z0-9]+")
STOP_WORDS = frozenset(
    {"a", "an", "and", "the", "of", "for", "to", "from", "in", "on", "with", "mock"}
    | {"interview", "design", "end", "its", "it", "as", "by", "at", "new", "model", "system"}
)


def live_prompts(*, kind: str = "", topic_ids: Sequence[int] = ()) -> QuerySet[MockPrompt]:
    prompts = MockPrompt.objects.filter(retired_at__isnull=True).select_related("topic")
    if kind:
        prompts = prompts.filter(kind=kind)
    if topic_ids:
        prompts = prompts.filter(topic_id__in=list(topic_ids))
    return prompts


def _words(text: str) -> set[str]:
    return {w for w in WORD_RE.findall(text.lower()) if w not in STOP_WORDS and len(w) > 2}


def prompts_for_item(*, item: PlanItem, limit: int = 4) -> list[MockPrompt]:
    """The prompts that fit a plan item best: its topic first, then the words of its title."""
    wanted = _words(item.title)
    ranked = sorted(
        live_prompts(),
        key=lambda p: (
            -(p.topic_id == item.topic_id and item.topic_id is not None),
            -len(wanted & _words(f"{p.title} {p.body[:300]}")),
            p.position,
        ),
    )
    return ranked[:limit]


def point_weakness(*, user: User) -> tuple[dict[tuple[int, str], float], dict[str, float]]:
    """How weak the person is on each rubric point, 0 (always met) to 1 (always missed):
    per (prompt, point), and per point id across prompts (ids like ``trade-offs`` recur)."""
    by_prompt: dict[tuple[int, str], list[float]] = defaultdict(list)
    by_point: dict[str, list[float]] = defaultdict(list)
    rows = MockMark.objects.filter(session__user=user, scorer=user).values_list(
        "session__prompt_id", "point", "mark"
    )
    for prompt_id, point, mark in rows:
        by_prompt[(prompt_id, point)].append(1 - MARK_VALUES[mark])
        by_point[point].append(1 - MARK_VALUES[mark])
    return (
        {key: sum(v) / len(v) for key, v in by_prompt.items()},
        {key: sum(v) / len(v) for key, v in by_point.items()},
    )


def prompt_weights(*, user: User, prompts: Iterable[MockPrompt]) -> list[tuple[MockPrompt, float]]:
    """Each prompt with its "surprise me" weight: the weighted weakness of its points."""
    by_prompt, by_point = point_weakness(user=user)
    weighted = []
    for prompt in prompts:
        total = sum(int(p["weight"]) for p in prompt.rubric) or 1
        weakness = sum(
            int(p["weight"])
            * by_prompt.get((prompt.pk, p["key"]), by_point.get(p["key"], UNKNOWN_WEAKNESS))
            for p in prompt.rubric
        )
        # A floor keeps every prompt possible, even one always answered in full.
        weighted.append((prompt, 0.1 + weakness / total))
    return weighted


def surprise_prompt(
    *, user: User, kind: str = "", rng: random.Random | None = None
) -> MockPrompt | None:
    weighted = prompt_weights(user=user, prompts=live_prompts(kind=kind))
    if not weighted:
        return None
    prompts = [prompt for prompt, _ in weighted]
    weights = [weight for _, weight in weighted]
    chosen: MockPrompt = (rng or random.Random()).choices(prompts, weights=weights)[0]
    return chosen


@dataclass(frozen=True)
class PhaseView:
    index: int
    title: str
    minutes: int
    hint: str
    text: str
    version: int
    seconds: int

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def over(self) -> bool:
        return self.seconds > self.minutes * 60


@dataclass(frozen=True)
class PointView:
    key: str
    weight: int
    text: str
    cards: list[str]
    mark: str = ""
    note: str = ""
    partner_marks: list[tuple[str, str, str]] = field(default_factory=list)


def phases_of(*, session: MockSession, now: dt.datetime) -> list[PhaseView]:
    notes = {n.phase: n for n in MockNote.objects.filter(session=session)}
    views = []
    for index, phase in enumerate(session.phases):
        note = notes.get(index) or MockNote(phase=index)
        seconds = note.seconds
        if index == session.phase and session.finished_at is None:
            seconds = running_seconds(session, now)
        views.append(
            PhaseView(
                index=index,
                title=phase["title"],
                minutes=int(phase["minutes"]),
                hint=phase.get("hint", ""),
                text=note.text,
                version=note.version,
                seconds=seconds,
            )
        )
    return views


@dataclass(frozen=True)
class Scorecard:
    scorer: User
    score: float | None

    @property
    def percent(self) -> int | None:
        return None if self.score is None else round(100 * self.score)


def rubric_of(
    *, session: MockSession, scorer: User
) -> tuple[list[PointView], Scorecard, list[Scorecard]]:
    """The rubric with ``scorer``'s marks, their scorecard, and everyone else's scorecards."""
    marks_by: dict[int, dict[str, MockMark]] = defaultdict(dict)
    scorers: dict[int, User] = {}
    for mark in MockMark.objects.filter(session=session).select_related("scorer"):
        marks_by[mark.scorer_id][mark.point] = mark
        scorers[mark.scorer_id] = mark.scorer
    own = marks_by.get(scorer.pk, {})
    points = [
        PointView(
            key=p["key"],
            weight=int(p["weight"]),
            text=p["text"],
            cards=list(p.get("cards") or []),
            mark=own[p["key"]].mark if p["key"] in own else "",
            note=own[p["key"]].note if p["key"] in own else "",
            partner_marks=[
                (scorers[uid].username, marks[p["key"]].mark, marks[p["key"]].note)
                for uid, marks in marks_by.items()
                if uid != scorer.pk and p["key"] in marks
            ],
        )
        for p in session.rubric
    ]

    def card_for(user_id: int) -> Scorecard:
        marks = {k: m.mark for k, m in marks_by.get(user_id, {}).items()}
        return Scorecard(scorer=scorers[user_id], score=weighted_score(session.rubric, marks))

    mine = Scorecard(
        scorer=scorer, score=weighted_score(session.rubric, {k: m.mark for k, m in own.items()})
    )
    others = [card_for(uid) for uid in marks_by if uid != scorer.pk]
    others.sort(key=lambda card: card.scorer.pk != session.user_id)
    return points, mine, others


def history(*, user: User) -> QuerySet[MockSession]:
    """Every session of the person's, newest first, with its total time in ``seconds``."""
    return (
        MockSession.objects.filter(user=user)
        .select_related("prompt")
        .annotate(seconds=Sum("notes__seconds"))
        # Said again: Django leaves Meta.ordering out of a GROUP BY query such as this one.
        .order_by("-started_at", "-id")
    )


@dataclass(frozen=True)
class KindTrend:
    kind: str
    label: str
    scores: list[int]  # percent, oldest first
    sessions: int

    @property
    def latest(self) -> int:
        return self.scores[-1]

    @property
    def average(self) -> int:
        return round(sum(self.scores) / len(self.scores))

    @property
    def change(self) -> int | None:
        """The latest score against the mean of the ones before it."""
        if len(self.scores) < 2:
            return None
        before = self.scores[:-1]
        return self.latest - round(sum(before) / len(before))

    @property
    def bars(self) -> list[tuple[int, int, int]]:
        """(x, y, height) of a small bar chart 100 high, one bar per score."""
        return [
            (index * 14, 100 - max(score, 2), max(score, 2))
            for index, score in enumerate(self.scores)
        ]


def kind_trends(*, user: User) -> list[KindTrend]:
    """Per kind of prompt, the person's last scores (their own marks), oldest first."""
    labels = dict(MockPrompt.Kind.choices)
    scored = (
        MockSession.objects.filter(user=user, score__isnull=False)
        .order_by("-scored_at")
        .values_list("prompt__kind", "score")
    )
    by_kind: dict[str, list[int]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for kind, score in scored:
        if score is None:
            continue
        counts[kind] += 1
        if len(by_kind[kind]) < TREND_LENGTH:
            by_kind[kind].append(round(100 * score))
    return [
        KindTrend(
            kind=kind,
            label=labels.get(kind, kind),
            scores=by_kind[kind][::-1],
            sessions=counts[kind],
        )
        for kind in labels
        if kind in by_kind
    ]


def duration(seconds: int) -> str:
    minutes, secs = divmod(max(seconds, 0), 60)
    return f"{minutes}:{secs:02d}"


def session_markdown(*, session: MockSession, viewer: User, now: dt.datetime) -> str:
    """The whole session as one Markdown file: prompt, notes per phase, rubric, scores."""
    phases = phases_of(session=session, now=now)
    points, mine, others = rubric_of(session=session, scorer=viewer)
    mark_label = dict(MockMark.Mark.choices)
    lines = [
        f"# {session.title}",
        "",
        f"- Kind: {session.prompt.get_kind_display()}",
        f"- Started: {session.started_at:%Y-%m-%d %H:%M} UTC",
    ]
    if session.finished_at:
        lines.append(f"- Finished: {session.finished_at:%Y-%m-%d %H:%M} UTC")
    for card in [mine, *others]:
        if card.percent is not None:
            lines.append(f"- Score ({card.scorer.username}): {card.percent}%")
    lines += ["", "## Prompt", "", session.body, ""]
    for phase in phases:
        lines += [
            f"## Phase {phase.number}: {phase.title}",
            "",
            f"*{duration(phase.seconds)} of {phase.minutes} min*",
            "",
            phase.text.strip() or "*(no notes)*",
            "",
        ]
    lines += ["## Rubric", ""]
    for point in points:
        box = {"met": "x", "partly": "~", "missed": " "}.get(point.mark, " ")
        label = f" — {mark_label[point.mark]}" if point.mark else ""
        lines.append(f"- [{box}] ({point.weight}) {point.text}{label}")
        if point.note:
            lines.append(f"  - {point.note}")
        for name, mark, note in point.partner_marks:
            lines.append(f"  - {name}: {mark_label[mark]}{f' — {note}' if note else ''}")
    lines += ["", "## Model answer outline", "", session.outline, ""]
    return "\n".join(lines)
