"""A person's cards and history, out: an Anki package, a CSV of cards, the review log.

Read-only. The Anki package is built with genanki in the legacy schema that every current
Anki imports: one deck per topic, one "Cadence" note type (Front, Back), each field the
card's Markdown rendered to HTML with math left as MathJax ``\\(...\\)`` / ``\\[...\\]``,
which Anki typesets. Images the cards show travel in the package's media.

The review log follows the FSRS optimizer's review-log schema (see README):
card_id, review_time (ms since the Unix epoch, UTC), review_rating (1-4), review_state
(0-3), review_duration (ms).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import json
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import genanki
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.subscript import sub_plugin
from mdit_py_plugins.superscript import superscript_plugin

from cards.imports.delimited import spreadsheet_safe
from cards.media import media_src_re
from cards.memory import rating_for
from cards.models import Card, ReviewLog, ReviewState
from cards.scheduling import PASSING_QUALITY

DEFAULT_DECK_ID = 1  # Anki's own Default deck
MODEL_ID = 1_607_392_319  # fixed: a second export updates the same note type in Anki
CSV_COLUMNS = ("front", "back", "tags", "topic")
REVLOG_COLUMNS = ("card_id", "review_time", "review_rating", "review_state", "review_duration")
# genanki's collection is dated 2014-09-19 (its `crt`); Anki counts review due days from it.
ANKI_COLLECTION_CREATED = dt.datetime.fromtimestamp(1_411_124_400, tz=dt.UTC)
CARD_CSS = """.card { font-family: system-ui, sans-serif; font-size: 20px; line-height: 1.5;
  text-align: left; color: black; background-color: white; max-width: 42em; margin: 0 auto; }
pre { background: #f0f1f7; padding: 10px 12px; border-radius: 8px; overflow-x: auto; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: 4px 8px; }
img { max-width: 100%; }
"""


# --- Markdown to Anki HTML -----------------------------------------------------------


def _math(open_: str, close: str) -> Any:
    return lambda self, tokens, idx, options, env: (
        f"{open_}{html.escape(tokens[idx].content.strip(), quote=False)}{close}"
    )


@lru_cache(maxsize=1)
def _anki_markdown() -> MarkdownIt:
    # The drill's Markdown settings, with math written for MathJax instead of MathML.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    md.use(superscript_plugin).use(sub_plugin)
    dollarmath_plugin(md, allow_space=False, allow_digits=False, double_inline=True)
    md.add_render_rule("math_inline", _math("\\(", "\\)"))
    md.add_render_rule("math_inline_double", _math("\\[", "\\]"))
    md.add_render_rule("math_block", _math("<div>\\[", "\\]</div>\n"))
    md.add_render_rule("math_block_label", _math("<div>\\[", "\\]</div>\n"))
    return md


def markdown_to_anki_html(text: str, *, user_id: int, media: set[str]) -> str:
    """A card side as Anki field HTML; adds the names of the images it shows to ``media``."""
    rendered = _anki_markdown().render(text).strip()

    def local(match: re.Match[str]) -> str:
        if int(match.group(1)) != user_id:
            return 'src=""'
        media.add(match.group(2))
        return f'src="{match.group(2)}"'

    return media_src_re().sub(local, rendered)


# --- Anki package ----------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A card's SM-2 state in Anki's terms (legacy schema)."""

    type: int  # 0 new, 2 review
    queue: int  # -1 suspended, -3 buried (today, by the person), 0 new, 2 review
    due: int  # review: days since the collection was created; new: position
    interval: int
    factor: int  # ease in permille
    reps: int
    lapses: int


NEW_SCHEDULE = Schedule(0, 0, 0, 0, 0, 0, 0)
# Anki's revlog type for each FSRS review state (review_states): learn, learn, review, relearn.
REVLOG_TYPE = {0: 0, 1: 0, 2: 1, 3: 2}


class _ScheduledCard(genanki.Card):  # type: ignore[misc]  # genanki has no types
    def __init__(
        self,
        ord: int,  # noqa: A002 - genanki's name
        schedule: Schedule,
        logs: list[ReviewLog] | None = None,
    ) -> None:
        super().__init__(ord, suspend=schedule.queue == -1)
        self.schedule = schedule
        self.logs = logs or []

    def write_to_db(
        self, cursor: Any, timestamp: float, deck_id: int, note_id: int, id_gen: Any, due: int = 0
    ) -> None:
        s = self.schedule
        card_id = next(id_gen)
        self._write_revlog(cursor, card_id)
        cursor.execute(
            "INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?);",
            (
                card_id,
                note_id,
                deck_id,
                self.ord,
                int(timestamp),
                -1,
                s.type,
                s.queue,
                s.due if s.type else due,
                s.interval,
                s.factor,
                s.reps,
                s.lapses,
                0,
                0,
                0,
                0,
                "",
            ),
        )

    def _write_revlog(self, cursor: Any, card_id: int) -> None:
        # Anki's revlog id is the answer's time in ms, unique: a clash moves a row by 1 ms.
        for log, state in review_states(self.logs):
            stamp = int(log.reviewed_at.timestamp() * 1000)
            while cursor.execute("SELECT 1 FROM revlog WHERE id = ?", (stamp,)).fetchone():
                stamp += 1
            cursor.execute(
                "INSERT INTO revlog VALUES(?,?,?,?,?,?,?,?,?)",
                (
                    stamp,
                    card_id,
                    -1,
                    rating_for(log.quality),
                    log.interval_after,
                    log.interval_before,
                    round(log.easiness_after * 1000),
                    min(log.answer_ms or 0, 60_000),
                    REVLOG_TYPE[state],
                ),
            )


class _Package(genanki.Package):  # type: ignore[misc]  # genanki has no types
    def write_to_db(self, cursor: Any, timestamp: float, id_gen: Any) -> None:
        super().write_to_db(cursor, timestamp, id_gen)
        # genanki's collection names no scheduler, which Anki reads as v1 and "upgrades":
        # a learning answer's Good (3) would become Easy. The revlog is written in v2's
        # four buttons.
        (conf,) = cursor.execute("SELECT conf FROM col").fetchone()
        cursor.execute(
            "UPDATE col SET conf = ?", (json.dumps({**json.loads(conf), "schedVer": 2}),)
        )


def _model() -> genanki.Model:
    return genanki.Model(
        MODEL_ID,
        "Cadence",
        fields=[{"name": "Front"}, {"name": "Back"}],
        templates=[
            {
                "name": "Card 1",
                "qfmt": "{{Front}}",
                "afmt": "{{FrontSide}}\n\n<hr id=answer>\n\n{{Back}}",
            }
        ],
        css=CARD_CSS,
    )


def _stable_id(*parts: object) -> int:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    # genanki's advice: ids between 1 << 30 and 1 << 31.
    return (1 << 30) + int.from_bytes(digest[:4], "big") % (1 << 30)


def schedule_for(state: ReviewState | None, *, today: dt.date, reps: int) -> Schedule | None:
    """The card's schedule in Anki's terms, or None for a card never reviewed."""
    if state is None or state.last_reviewed_at is None:
        if state is not None and state.suspended:
            return Schedule(0, -1, 0, 0, 0, 0, 0)
        return None
    anki_today = (today - ANKI_COLLECTION_CREATED.date()).days
    return Schedule(
        type=2,
        queue=-1 if state.suspended else -3 if state.buried_on == today else 2,
        due=anki_today + (state.due - today).days,
        interval=max(state.interval, 1),
        factor=round(state.easiness * 1000),
        reps=reps,
        lapses=state.lapses,
    )


def export_apkg(
    *,
    cards: Iterable[Card],
    user_id: int,
    media_root: Path,
    states: dict[int, ReviewState] | None = None,
    reps: dict[int, int] | None = None,
    today: dt.date | None = None,
    logs: dict[int, list[ReviewLog]] | None = None,
) -> bytes:
    """An .apkg of these cards (topic → deck); with ``states``, their scheduling and
    review log too (Anki's revlog: each grade as Anki's button, memory.rating_for)."""
    model = _model()
    decks: dict[int, genanki.Deck] = {}
    media: set[str] = set()
    for card in cards:
        topic = card.topic
        deck = decks.get(topic.pk)
        if deck is None:
            # A topic named Default is Anki's own Default deck (id 1), not a second one.
            deck_id = (
                DEFAULT_DECK_ID
                if topic.title.casefold() == "default"
                else _stable_id("cadence-topic", topic.pk)
            )
            deck = decks[topic.pk] = genanki.Deck(deck_id, topic.title, description=topic.summary)
        note = genanki.Note(
            model=model,
            fields=[
                markdown_to_anki_html(card.front, user_id=user_id, media=media),
                markdown_to_anki_html(card.back, user_id=user_id, media=media),
            ],
            tags=card.tag_list,
            guid=genanki.guid_for("cadence-card", card.pk),
        )
        if states is not None and today is not None:
            schedule = schedule_for(
                states.get(card.pk), today=today, reps=(reps or {}).get(card.pk, 0)
            )
            history = (logs or {}).get(card.pk)
            if schedule is not None or history:
                note.cards = [_ScheduledCard(0, schedule or NEW_SCHEDULE, history)]
        deck.add_note(note)
    folder = media_root / str(user_id)
    files = [str(folder / name) for name in sorted(media) if (folder / name).is_file()]
    package = _Package(list(decks.values()), media_files=files)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # genanki warns about tags it does not know (MathML, <del>); the HTML is ours.
        warnings.simplefilter("ignore")
        package.write_to_file(buffer)
    return buffer.getvalue()


# --- CSV ------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def cards_csv(cards: Iterable[Card]) -> Iterator[str]:
    """front, back, tags, topic: the columns the CSV import reads, header first.

    Every cell a spreadsheet would run as a formula gets a leading apostrophe
    (spreadsheet_safe); Cadence's own CSV import takes it back off."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(CSV_COLUMNS)
    for card in cards:
        cells = [card.front, card.back, card.tags, card.topic.title]
        yield writer.writerow([spreadsheet_safe(cell) for cell in cells])


def review_states(logs: Iterable[ReviewLog]) -> Iterator[tuple[ReviewLog, int]]:
    """Each log with its FSRS review_state, for logs ordered by card, then time.

    0 New: the card's first grade. 2 Review: every later scheduled grade (in SM-2 a
    failed card restarts at I(1) and is scheduled again, so its next grade is a review).
    1 Learning / 3 Relearning: a same-day repeat (SM-2 step 7) of a card that has not yet /
    has already passed (3 or better) at a scheduled grade.
    """
    card_id = None
    passed = False
    for log in logs:
        if log.card_id != card_id:
            card_id, passed = log.card_id, False
            state = 0
        elif log.is_repeat:
            state = 3 if passed else 1
        else:
            state = 2
        if log.quality >= PASSING_QUALITY and not log.is_repeat:
            passed = True
        yield log, state


def revlog_csv(logs: Iterable[ReviewLog]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(REVLOG_COLUMNS)
    for log, state in review_states(logs):
        yield writer.writerow(
            [
                log.card_id,
                int(log.reviewed_at.timestamp() * 1000),
                rating_for(log.quality),
                state,
                log.answer_ms or 0,
            ]
        )
