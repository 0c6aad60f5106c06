"""Writes for mock interviews: the prompt bank, sessions, autosaved notes, scores, shares.

Views, the ``load_prompts`` command and tests call these; reads live in
``prep.mock_selectors``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.core import signing
from django.db import transaction
from django.db.models import F

from cards.deckfile import DeckFormatError
from cards.models import Card, Topic
from cards.services import cards_bring_forward
from prep.mockfile import PromptSpec
from prep.models import MockMark, MockNote, MockPrompt, MockSession, MockShare, PlanItem
from prep.services import plan_item_set_done

# A phase's notes are capped at 20,000 characters (about eight typed pages: more than an
# hour of writing); a mark's note at 500. Larger input is refused whole, never cut.
MAX_NOTE_CHARS = 20_000
MAX_MARK_NOTE_CHARS = 500
MARK_VALUES: dict[str, float] = {"met": 1.0, "partly": 0.5, "missed": 0.0}
SHARE_SALT = "prep.mock-share"
# A tab left open overnight should not log a night's "time in phase".
MAX_PHASE_SECONDS = 6 * 3600


class MockError(ValueError):
    """Input the session cannot take; nothing was changed. The message says why."""


class StaleNote(Exception):
    """The phase's notes changed since this text was typed on them (another tab)."""

    def __init__(self, note: MockNote) -> None:
        super().__init__(f"phase {note.phase} is at version {note.version}")
        self.note = note


class SessionFinished(MockError):
    pass


# --- The prompt bank -----------------------------------------------------------------


@dataclass(frozen=True)
class PromptLoadResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0

    def __str__(self) -> str:
        return (
            f"prompts: {self.added} added, {self.updated} updated, {self.unchanged} "
            f"unchanged, {self.retired} retired"
        )


def _prompt_values(spec: PromptSpec, topic: Topic, position: int) -> dict[str, Any]:
    return {
        "kind": spec.kind,
        "title": spec.title,
        "seed": spec.seed,
        "source": spec.source,
        "topic_id": topic.pk,
        "body": spec.body,
        "phases": [vars(phase) for phase in spec.phases],
        "rubric": [
            {"key": p.key, "weight": p.weight, "text": p.text, "cards": list(p.cards)}
            for p in spec.rubric
        ],
        "outline": spec.outline,
        "card_keys": list(spec.cards),
        "position": position,
        "retired_at": None,
    }


@transaction.atomic
def prompts_load(*, prompts: Sequence[PromptSpec], now: dt.datetime) -> PromptLoadResult:
    """Bring the prompt bank in line with its files (after the deck is loaded).

    Idempotent, like the deck: a prompt is matched by its stable key, so an edit updates
    it in place; one gone from the files is retired (no new sessions), and its sessions
    keep their own copy of what was asked. Every topic and card a prompt names must exist.
    """
    topics = {t.slug: t for t in Topic.objects.filter(owner__isnull=True, retired_at__isnull=True)}
    cards = set(
        Card.objects.filter(owner__isnull=True, retired_at__isnull=True).values_list(
            "key", flat=True
        )
    )
    for spec in prompts:
        if spec.topic not in topics:
            raise DeckFormatError(spec.path, spec.line, f"prompt {spec.key}: unknown topic")
        missing = [key for key in spec.all_card_keys if key not in cards]
        if missing:
            raise DeckFormatError(
                spec.path, spec.line, f"prompt {spec.key}: unknown card(s) {', '.join(missing)}"
            )
    existing = {p.key: p for p in MockPrompt.objects.all()}
    added = updated = unchanged = 0
    for position, spec in enumerate(prompts, start=1):
        values = _prompt_values(spec, topics[spec.topic], position)
        prompt = existing.get(spec.key)
        if prompt is None:
            MockPrompt.objects.create(key=spec.key, **values)
            added += 1
        elif any(getattr(prompt, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(prompt, name, value)
            prompt.save(update_fields=[*values, "updated_at"])
            updated += 1
        else:
            unchanged += 1
    retired = (
        MockPrompt.objects.filter(retired_at__isnull=True)
        .exclude(key__in=[p.key for p in prompts])
        .update(retired_at=now)
    )
    return PromptLoadResult(added=added, updated=updated, unchanged=unchanged, retired=retired)


# --- A session -------------------------------------------------------------------------


def running_seconds(session: MockSession, now: dt.datetime) -> int:
    seconds = session.phase_elapsed
    if session.phase_resumed_at is not None:
        seconds += max(int((now - session.phase_resumed_at).total_seconds()), 0)
    return min(seconds, MAX_PHASE_SECONDS)


@transaction.atomic
def mock_start(
    *, user: User, prompt: MockPrompt, now: dt.datetime, plan_item_id: int | None = None
) -> MockSession:
    """Start a session on a prompt (for a plan item of the person's, if one is named)."""
    if prompt.retired_at is not None:
        raise MockError("That prompt is no longer in the bank.")
    item = None
    if plan_item_id is not None:
        item = PlanItem.objects.filter(
            pk=plan_item_id, week__plan__user=user, week__plan__is_active=True
        ).first()
        if item is None:
            raise MockError("That plan item is not in your plan.")
    session = MockSession.objects.create(
        user=user,
        prompt=prompt,
        plan_item=item,
        title=prompt.title,
        body=prompt.body,
        phases=prompt.phases,
        rubric=prompt.rubric,
        outline=prompt.outline,
        phase=0,
        phase_resumed_at=now,
        started_at=now,
    )
    MockNote.objects.bulk_create(
        MockNote(session=session, phase=index) for index in range(len(prompt.phases))
    )
    return session


def _check_phase(session: MockSession, phase: int) -> None:
    if not 0 <= phase < len(session.phases):
        raise MockError(f"This prompt has phases 1 to {len(session.phases)}.")


def mock_note_save(
    *, session: MockSession, phase: int, text: str, version: int, now: dt.datetime
) -> MockNote:
    """Save one phase's notes, typed on ``version`` of them; returns the saved note.

    Last write wins per phase, with a version check: the UPDATE only matches the version
    the text was typed on, so a save from a tab that has not seen the latest text raises
    StaleNote (carrying the saved text) instead of overwriting it; nothing is merged or
    appended, so nothing is ever duplicated. Saving text equal to what is saved is a
    no-op success (a retried request or a second tab that typed the same).
    """
    _check_phase(session, phase)
    text = text.replace("\r\n", "\n")
    if len(text) > MAX_NOTE_CHARS:
        raise MockError(
            f"A phase's notes are limited to {MAX_NOTE_CHARS:,} characters; this is "
            f"{len(text):,}. Nothing was saved."
        )
    with transaction.atomic():
        # The session row's lock orders a save against "finish" (notes freeze exactly
        # then). The UPDATE filters on the note's own columns only: a join would be
        # evaluated as a subquery on the statement's snapshot, and on PostgreSQL two
        # saves on one version would then both pass (the race test caught that).
        finished_at = (
            MockSession.objects.select_for_update()
            .filter(pk=session.pk)
            .values_list("finished_at", flat=True)
            .get()
        )
        if finished_at is not None:
            raise SessionFinished("This session is finished: its notes can no longer change.")
        notes = MockNote.objects.filter(session_id=session.pk, phase=phase)
        changed = notes.filter(version=version).update(
            text=text, version=F("version") + 1, updated_at=now
        )
        note = notes.get()
    if changed or note.text == text:
        return note
    raise StaleNote(note)


@transaction.atomic
def mock_phase_go(*, session: MockSession, phase: int, now: dt.datetime) -> MockSession:
    """Move to another phase; the time spent in the one left is added to its notes."""
    locked = MockSession.objects.select_for_update().get(pk=session.pk)
    _check_phase(locked, phase)
    if locked.finished_at is not None:
        raise SessionFinished("This session is finished.")
    if phase == locked.phase:
        return locked
    MockNote.objects.filter(session=locked, phase=locked.phase).update(
        seconds=running_seconds(locked, now)
    )
    arriving = MockNote.objects.get(session=locked, phase=phase)
    locked.phase = phase
    locked.phase_elapsed = arriving.seconds
    locked.phase_resumed_at = now
    locked.save(update_fields=["phase", "phase_elapsed", "phase_resumed_at"])
    return locked


@transaction.atomic
def mock_pause(*, session: MockSession, paused: bool, now: dt.datetime) -> MockSession:
    """Pause or resume the clock of the phase on screen (idempotent)."""
    locked = MockSession.objects.select_for_update().get(pk=session.pk)
    if locked.finished_at is not None:
        raise SessionFinished("This session is finished.")
    if paused and locked.phase_resumed_at is not None:
        locked.phase_elapsed = running_seconds(locked, now)
        locked.phase_resumed_at = None
    elif not paused and locked.phase_resumed_at is None:
        locked.phase_resumed_at = now
    locked.save(update_fields=["phase_elapsed", "phase_resumed_at"])
    return locked


@transaction.atomic
def mock_finish(*, session: MockSession, now: dt.datetime) -> MockSession:
    """Stop the clock and open the rubric; the plan item it was started for is ticked."""
    locked = MockSession.objects.select_for_update().get(pk=session.pk)
    if locked.finished_at is not None:
        return locked
    MockNote.objects.filter(session=locked, phase=locked.phase).update(
        seconds=running_seconds(locked, now)
    )
    locked.finished_at = now
    locked.phase_elapsed = 0
    locked.phase_resumed_at = None
    locked.save(update_fields=["finished_at", "phase_elapsed", "phase_resumed_at"])
    if locked.plan_item_id is not None:
        # The plan may have been rebuilt or replaced since: then there is nothing to tick.
        with contextlib.suppress(PlanItem.DoesNotExist):
            plan_item_set_done(user=locked.user, item_id=locked.plan_item_id, done=True, now=now)
    return locked


# --- Scoring ---------------------------------------------------------------------------


def weighted_score(rubric: Sequence[Mapping[str, Any]], marks: Mapping[str, str]) -> float | None:
    """The weighted share of the rubric met (partly counts half); None until all marked."""
    total = sum(int(point["weight"]) for point in rubric)
    if not total or any(point["key"] not in marks for point in rubric):
        return None
    got = sum(int(point["weight"]) * MARK_VALUES[marks[point["key"]]] for point in rubric)
    return got / total


@dataclass(frozen=True)
class ScoreOutcome:
    score: float
    due_by: dt.date | None = None
    brought_forward: list[int] = field(default_factory=list)


def _clean_marks(
    session: MockSession, marks: Mapping[str, tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    points = {point["key"] for point in session.rubric}
    unknown = sorted(set(marks) - points)
    if unknown:
        raise MockError(f"This rubric has no point {unknown[0]!r}. Nothing was saved.")
    missing = [p["text"] for p in session.rubric if p["key"] not in marks]
    if missing:
        raise MockError(f"Mark every point before scoring; still open: {missing[0]}")
    cleaned: dict[str, tuple[str, str]] = {}
    for key, (mark, note) in marks.items():
        if mark not in MARK_VALUES:
            raise MockError(f"A mark is met, partly or missed, not {mark!r}. Nothing was saved.")
        note = note.strip()
        if len(note) > MAX_MARK_NOTE_CHARS:
            raise MockError(
                f"A point's note is limited to {MAX_MARK_NOTE_CHARS} characters. Nothing was saved."
            )
        cleaned[key] = (mark, note)
    return cleaned


def _card_ids_to_bring_forward(
    session: MockSession, marks: Mapping[str, tuple[str, str]]
) -> list[int]:
    keys: dict[str, None] = {}
    for point in session.rubric:
        if marks[point["key"]][0] != MockMark.Mark.MET:
            # A point names its own cards; one that names none falls back to the prompt's.
            keys.update(dict.fromkeys(point.get("cards") or session.prompt.card_keys))
    return list(
        Card.objects.filter(owner__isnull=True, key__in=list(keys)).values_list("pk", flat=True)
    )


@transaction.atomic
def mock_score(
    *,
    session: MockSession,
    scorer: User,
    marks: Mapping[str, tuple[str, str]],
    now: dt.datetime,
    zone: ZoneInfo,
) -> ScoreOutcome:
    """Record one scorer's marks (all points at once; marking again replaces them).

    The owner's marks set the session's score and bring the related cards of every missed
    or partly-met point forward, due tomorrow at the latest, through the cards app's
    scheduling. A study partner's marks are theirs alone: they change nothing of the
    owner's. An unknown point or a bad mark changes nothing.
    """
    locked = MockSession.objects.select_for_update().select_related("prompt").get(pk=session.pk)
    if locked.finished_at is None:
        raise MockError("Finish the session before scoring it.")
    cleaned = _clean_marks(locked, marks)
    for key, (mark, note) in cleaned.items():
        MockMark.objects.update_or_create(
            session=locked,
            scorer=scorer,
            point=key,
            defaults={"mark": mark, "note": note, "marked_at": now},
        )
    score = weighted_score(locked.rubric, {k: m for k, (m, _) in cleaned.items()})
    assert score is not None  # every point is marked
    if scorer.pk != locked.user_id:
        return ScoreOutcome(score=score)
    locked.score, locked.scored_at = score, now
    locked.save(update_fields=["score", "scored_at"])
    due_by = now.astimezone(zone).date() + dt.timedelta(days=1)
    moved = cards_bring_forward(
        user=locked.user, card_ids=_card_ids_to_bring_forward(locked, cleaned), due_by=due_by
    )
    return ScoreOutcome(score=score, due_by=due_by, brought_forward=moved)


# --- Study partners --------------------------------------------------------------------


def share_token(share: MockShare) -> str:
    return signing.dumps([share.pk, share.nonce], salt=SHARE_SALT, compress=True)


def share_from_token(*, token: str, user: User) -> MockShare | None:
    """The live share a link names, if it is this user's to open; else None (a 404)."""
    return _live_share(token, recipient=user)


def shared_session_of(*, token: str, user: User) -> MockSession | None:
    """The user's own session a live share link names (its owner following the link)."""
    share = _live_share(token, session__user=user)
    return share.session if share is not None else None


def _live_share(token: str, **whose: User) -> MockShare | None:
    try:
        share_id, nonce = signing.loads(token, salt=SHARE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    share = (
        MockShare.objects.filter(
            pk=share_id, revoked_at__isnull=True, session__finished_at__isnull=False, **whose
        )
        .select_related("session__user", "session__prompt")
        .first()
    )
    if share is None or not share.nonce or not secrets.compare_digest(share.nonce, str(nonce)):
        return None
    return share


@transaction.atomic
def mock_share_create(
    *, session: MockSession, recipient: User | None, now: dt.datetime
) -> MockShare:
    """Share a finished session with one other person on this instance."""
    if session.finished_at is None:
        raise MockError("Finish the session before sharing it.")
    if recipient is None or not recipient.is_active:
        raise MockError("There is no one by that name here.")
    if recipient.pk == session.user_id:
        raise MockError("Share it with someone else: you can already see it.")
    share, created = MockShare.objects.get_or_create(
        session=session,
        recipient=recipient,
        defaults={"nonce": secrets.token_urlsafe(18), "created_at": now},
    )
    if not created and not share.is_active:
        share.nonce, share.created_at, share.revoked_at = secrets.token_urlsafe(18), now, None
        share.save(update_fields=["nonce", "created_at", "revoked_at"])
    return share


def mock_share_revoke(*, share: MockShare, now: dt.datetime) -> None:
    """Every link to this share stops working at once; the partner's marks stay."""
    share.nonce, share.revoked_at = "", now
    share.save(update_fields=["nonce", "revoked_at"])
