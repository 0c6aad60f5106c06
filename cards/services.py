"""Writes to cards, topics and review history. Views, tasks and commands call these."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.utils.text import slugify

from cards.dayqueue import STATE_CARD_TOPIC
from cards.deckfile import TopicSpec, normalize_tags
from cards.interview import next_interval
from cards.memory import DEFAULT_PARAMETERS, MIN_FIT_REVIEWS, Grade, Memory, Model, fit
from cards.models import (
    LEECH_LAPSES,
    Card,
    MemoryParameters,
    ReviewLog,
    ReviewState,
    StudyDay,
    Topic,
)
from cards.queue import DailyLimits, card_queued_with
from cards.rendering import RENDER_VERSION, render_markdown
from cards.scheduling import (
    INITIAL_EASINESS,
    PASSING_QUALITY,
    QUALITIES,
    SAME_DAY_REPEAT_BELOW,
    Sm2State,
    next_state,
    validate_quality,
)
from cards.selectors import memory_model
from cards.statements import (
    ANY_ID,
    ANY_OTHER_ID,
    Loader,
    loader,
    row_insert,
    row_update,
    row_update_then_insert,
)
from cards.versions import data_changed, deck_changed
from core.localtime import local_date


@dataclass(frozen=True)
class DeckLoadResult:
    topics_added: int = 0
    topics_updated: int = 0
    topics_retired: int = 0
    cards_added: int = 0
    cards_updated: int = 0
    cards_unchanged: int = 0
    cards_retired: int = 0

    def __str__(self) -> str:
        return (
            f"topics: {self.topics_added} added, {self.topics_updated} updated, "
            f"{self.topics_retired} retired; cards: {self.cards_added} added, "
            f"{self.cards_updated} updated, {self.cards_unchanged} unchanged, "
            f"{self.cards_retired} retired"
        )


CARD_FIELDS = ("topic_id", "kind", "front", "back", "tags", "source", "position", "retired_at")
HTML_FIELDS = ["front_html", "back_html", "html_version"]


def card_html(front: str, back: str) -> dict[str, Any]:
    """The stored HTML of a card with these sides: what every write of card text sets."""
    return {
        "front_html": render_markdown(front),
        "back_html": render_markdown(back),
        "html_version": RENDER_VERSION,
    }


def cards_render_stale(*, batch_size: int = 500) -> int:
    """Store the HTML of every card rendered by an older renderer (or never); the count."""
    done = 0
    while True:
        stale = list(
            Card.objects.exclude(html_version=RENDER_VERSION).only("id", "front", "back")[
                :batch_size
            ]
        )
        if not stale:
            return done
        for card in stale:
            for name, value in card_html(card.front, card.back).items():
                setattr(card, name, value)
        Card.objects.bulk_update(stale, HTML_FIELDS)
        done += len(stale)


@transaction.atomic
def deck_load(*, topics: Sequence[TopicSpec], now: dt.datetime) -> DeckLoadResult:
    """Bring the built-in deck in line with its files.

    Idempotent. A card is matched by its stable key, so an edit updates it in place and
    everyone's review history stays attached; a card gone from the files is retired (hidden
    from new queues), never deleted. Users' review states are not touched.
    """
    existing_topics = {t.slug: t for t in Topic.objects.filter(owner__isnull=True)}
    topics_added = topics_updated = 0
    topic_by_slug: dict[str, Topic] = {}
    for spec in topics:
        topic = existing_topics.get(spec.slug)
        if topic is None:
            topic = Topic.objects.create(
                slug=spec.slug, title=spec.title, summary=spec.summary, order=spec.order
            )
            topics_added += 1
        elif (topic.title, topic.summary, topic.order, topic.retired_at) != (
            spec.title,
            spec.summary,
            spec.order,
            None,
        ):
            topic.title, topic.summary, topic.order, topic.retired_at = (
                spec.title,
                spec.summary,
                spec.order,
                None,
            )
            topic.save(update_fields=["title", "summary", "order", "retired_at"])
            topics_updated += 1
        topic_by_slug[spec.slug] = topic

    existing_cards = {c.key: c for c in Card.objects.filter(owner__isnull=True)}
    to_create: list[Card] = []
    to_update: list[Card] = []
    unchanged = 0
    position = 0
    for spec in topics:
        topic = topic_by_slug[spec.slug]
        for card_spec in spec.cards:
            position += 1
            wanted = {
                "topic_id": topic.pk,
                "kind": card_spec.kind,
                "front": card_spec.front,
                "back": card_spec.back,
                "tags": " ".join(card_spec.tags),
                "source": card_spec.source,
                "position": position,
                "retired_at": None,
            }
            card = existing_cards.get(card_spec.key)
            if card is None:
                html = card_html(card_spec.front, card_spec.back)
                to_create.append(Card(key=card_spec.key, **wanted, **html))
            elif any(getattr(card, name) != value for name, value in wanted.items()):
                for name, value in {**wanted, **card_html(card_spec.front, card_spec.back)}.items():
                    setattr(card, name, value)
                card.updated_at = now
                to_update.append(card)
            else:
                unchanged += 1

    Card.objects.bulk_create(to_create, batch_size=500)
    Card.objects.bulk_update(to_update, [*CARD_FIELDS, *HTML_FIELDS, "updated_at"], batch_size=500)
    # Cards written by an older renderer, the built-in deck's and everyone's own.
    cards_render_stale()

    keys = {card.key for spec in topics for card in spec.cards}
    cards_retired = (
        Card.objects.filter(owner__isnull=True, retired_at__isnull=True)
        .exclude(key__in=keys)
        .update(retired_at=now)
    )
    topics_retired = (
        Topic.objects.filter(owner__isnull=True, retired_at__isnull=True)
        .exclude(slug__in=topic_by_slug)
        .update(retired_at=now)
    )
    deck_changed()
    return DeckLoadResult(
        topics_added=topics_added,
        topics_updated=topics_updated,
        topics_retired=topics_retired,
        cards_added=len(to_create),
        cards_updated=len(to_update),
        cards_unchanged=unchanged,
        cards_retired=cards_retired,
    )


class StaleGrade(Exception):
    """The card was already graded (or changed) since it was shown: nothing recorded."""


class NothingToUndo(Exception):
    pass


@dataclass(frozen=True)
class ReviewOutcome:
    log: ReviewLog
    state: ReviewState
    # This grade made the card a leech and the profile asks to suspend leeches: it is.
    leech_suspended: bool = False


def _snapshot(state: ReviewState) -> dict[str, Any]:
    return {
        "repetitions": state.repetitions,
        "interval": state.interval,
        "easiness": state.easiness,
        "due": state.due.isoformat(),
        "lapses": state.lapses,
        "last_reviewed_at": state.last_reviewed_at.isoformat() if state.last_reviewed_at else None,
        "repeat_on": state.repeat_on.isoformat() if state.repeat_on else None,
        "suspended": state.suspended,
        "introduced_on": state.introduced_on.isoformat(),
        "stability": state.stability,
        "difficulty": state.difficulty,
        "memory_on": state.memory_on.isoformat() if state.memory_on else None,
    }


# What a grade changes on a state row (saved alone: the nightly rollover moves ``due`` on
# other rows in the same minutes, and a stale full save must never undo its work).
GRADED_FIELDS = [
    "repetitions",
    "interval",
    "easiness",
    "due",
    "lapses",
    "last_reviewed_at",
    "repeat_on",
    "version",
    "stability",
    "difficulty",
    "memory_on",
]


def _restore(state: ReviewState, snapshot: dict[str, Any]) -> None:
    state.repetitions = snapshot["repetitions"]
    state.interval = snapshot["interval"]
    state.easiness = snapshot["easiness"]
    state.due = dt.date.fromisoformat(snapshot["due"])
    state.lapses = snapshot["lapses"]
    state.last_reviewed_at = (
        dt.datetime.fromisoformat(snapshot["last_reviewed_at"])
        if snapshot["last_reviewed_at"]
        else None
    )
    state.repeat_on = (
        dt.date.fromisoformat(snapshot["repeat_on"]) if snapshot["repeat_on"] else None
    )
    state.suspended = snapshot["suspended"]
    state.introduced_on = dt.date.fromisoformat(snapshot["introduced_on"])
    if "stability" in snapshot:
        state.stability, state.difficulty = snapshot["stability"], snapshot["difficulty"]
        state.memory_on = (
            dt.date.fromisoformat(snapshot["memory_on"]) if snapshot["memory_on"] else None
        )
    else:
        # A grade logged before memory states were kept: replay the card's other grades.
        memory, last = _replayed(state.user_id, state.card_id, before=snapshot)
        state.stability = memory.stability if memory else None
        state.difficulty = memory.difficulty if memory else None
        state.memory_on = last


def _replayed(
    user_id: int, card_id: int, *, before: dict[str, Any] | None = None
) -> tuple[Memory | None, dt.date | None]:
    """A card's memory state from its log (the grades up to ``before``'s last review)."""
    logs = ReviewLog.objects.filter(user_id=user_id, card_id=card_id).order_by("reviewed_at", "id")
    if before is not None:
        if not before["last_reviewed_at"]:
            return None, None
        logs = logs.filter(reviewed_at__lte=dt.datetime.fromisoformat(before["last_reviewed_at"]))
    grades = [Grade(quality=q, on=d) for q, d in logs.values_list("quality", "local_date")]
    return memory_model(user_id=user_id).replay(grades), grades[-1].on if grades else None


class NotQueued(Exception):
    """The card is not in today's queue (nor was it just graded): nothing recorded."""


def review_record(
    *,
    user: User,
    card: Card,
    quality: int,
    now: dt.datetime,
    shown_version: int,
    zone: ZoneInfo,
    answer_ms: int | None = None,
    limits: DailyLimits | None = None,
    model: Model | None = None,
) -> ReviewOutcome:
    """Record one grade, exactly once.

    ``shown_version`` is the state's version when the card was put on screen (0 for a card
    with no state yet). The state row is locked and its version compared, so a double
    click, a retried request or a second tab grading the same showing raises StaleGrade
    instead of grading twice.

    A card that owes a same-day repeat (SM-2 step 7) is graded without moving its
    schedule; it leaves the repeat list once it scores 4 or 5.

    ``limits`` (the profile's) choose the scheduler and carry the interview date
    (:func:`cards.interview.next_interval`); without them, SM-2 with no interview.
    The SM-2 fields move whichever scheduler is chosen, so a switch keeps all history.
    With ``limits.suspend_leeches``, the grade that makes the card a leech (its
    LEECH_LAPSES-th lapse) suspends it too; undoing the grade takes both back.
    ``model`` is the user's memory model when the caller has it already.
    """
    validate_quality(quality)
    with transaction.atomic():
        state = ReviewState.objects.select_for_update().filter(user=user, card=card).first()
        return _record(
            user=user,
            card=card,
            state=state,
            quality=quality,
            now=now,
            today=local_date(now, zone),
            shown_version=shown_version,
            answer_ms=answer_ms,
            limits=limits,
            model=model,
        )


def review_grade(
    *,
    user: User,
    card_id: int,
    quality: int,
    now: dt.datetime,
    shown_version: int,
    zone: ZoneInfo,
    limits: DailyLimits,
    answer_ms: int | None = None,
    model: Model | None = None,
) -> ReviewOutcome:
    """The drill's grade: :func:`review_record` for a card of today's queue.

    Raises ``Card.DoesNotExist`` for a card the user cannot see, StaleGrade for a showing
    graded already (another click, tab or retry, perhaps this very moment) and NotQueued
    for a card not in today's queue.

    The user's state of the card is read with the card, without a lock, and written only
    if its row still holds what the grade read (:data:`UNLOCKED_GUARD`): one statement on
    PostgreSQL, the state's update with the log's insert. When the row has moved on, the
    grade is made again in a transaction whose first query locks the row, so the checks
    are made on the locked row. A card with no state yet is graded in a transaction whose
    insert of the state meets any other's (StaleGrade).
    """
    validate_quality(quality)
    today = local_date(now, zone)
    state = _state_with_card(connection.vendor).first(user=user.pk, card=card_id)
    if state is not None:
        _check_queued(state.card, state, user, limits, today, shown_version)
        read = {name: getattr(state, name) for name in UNLOCKED_GUARD}
        graded = _graded(
            user=user,
            card=state.card,
            state=state,
            quality=quality,
            now=now,
            today=today,
            shown_version=shown_version,
            answer_ms=answer_ms,
            limits=limits,
            model=model,
        )
        assert graded.fields is not None  # the row exists
        if row_update_then_insert(graded.state, graded.fields, unchanged=read, then=graded.log):
            graded.written(queued=True)
            return graded.outcome
    with transaction.atomic():
        if state is not None:
            # The row moved on since it was read: read it again, locked.
            state = _locked_state(connection.vendor).first(user=user.pk, card=card_id)
        card = (
            state.card
            if state is not None
            else Card.objects.visible_to(user).select_related("topic").get(pk=card_id)
        )
        _check_queued(card, state, user, limits, today, shown_version)
        return _record(
            user=user,
            card=card,
            state=state,
            quality=quality,
            now=now,
            today=today,
            shown_version=shown_version,
            answer_ms=answer_ms,
            limits=limits,
            model=model,
            queued=True,
        )


# What a grade reads of a state row that other writes change without moving its version
# (the nightly rollover's due, a zone change's dates, a memory refit): a grade written
# without the lock must find these as it read them.
UNLOCKED_GUARD = (
    "version",
    "due",
    "repeat_on",
    "introduced_on",
    "stability",
    "difficulty",
    "memory_on",
)


def _check_queued(
    card: Card,
    state: ReviewState | None,
    user: User,
    limits: DailyLimits,
    today: dt.date,
    shown_version: int,
) -> None:
    if not card_queued_with(card=card, state=state, user=user, limits=limits, today=today):
        if state is not None and state.version != shown_version:
            raise StaleGrade
        raise NotQueued


def state_with_card_queryset(*, user_id: int, card_id: int) -> QuerySet[ReviewState]:
    """The user's state of a card they can see, read with the card and its topic."""
    visible = Q(card__owner__isnull=True, card__retired_at__isnull=True) | Q(card__owner_id=user_id)
    return ReviewState.objects.select_related("card__topic").filter(
        visible, user_id=user_id, card_id=card_id
    )


def locked_state_queryset(*, user_id: int, card_id: int) -> QuerySet[ReviewState]:
    """:func:`state_with_card_queryset`, the state row locked (not the perhaps shared card)."""
    return state_with_card_queryset(user_id=user_id, card_id=card_id).select_for_update(
        of=("self",)
    )[:1]


@functools.lru_cache(maxsize=8)
def _state_with_card(vendor: str) -> Loader:
    return loader(
        state_with_card_queryset(user_id=ANY_ID, card_id=ANY_OTHER_ID)[:1],
        chain=STATE_CARD_TOPIC,
        stand_ins={"user": ANY_ID, "card": ANY_OTHER_ID},
    )


@functools.lru_cache(maxsize=8)
def _locked_state(vendor: str) -> Loader:
    # select_for_update is built only inside a transaction (the grade's, at first use;
    # no savepoint there).
    with transaction.atomic(savepoint=False):
        return loader(
            locked_state_queryset(user_id=ANY_ID, card_id=ANY_OTHER_ID),
            chain=STATE_CARD_TOPIC,
            stand_ins={"user": ANY_ID, "card": ANY_OTHER_ID},
        )


@dataclass(frozen=True)
class _Graded:
    """A grade worked out on a state, not written yet."""

    state: ReviewState
    log: ReviewLog
    # The state's fields the grade moved (None: the state is a new row).
    fields: list[str] | None
    leech_suspended: bool

    @property
    def outcome(self) -> ReviewOutcome:
        return ReviewOutcome(log=self.log, state=self.state, leech_suspended=self.leech_suspended)

    def written(self, *, queued: bool) -> None:
        """Move the person's tokens (cards.versions). A grade of a card of today's queue
        moves what its log row says, so the queue's token stays; a grade that suspends a
        leech changes more than that."""
        data_changed(user_id=self.state.user_id, graded=queued and not self.leech_suspended)


def _record(
    *,
    user: User,
    card: Card,
    state: ReviewState | None,
    quality: int,
    now: dt.datetime,
    today: dt.date,
    shown_version: int,
    answer_ms: int | None,
    limits: DailyLimits | None,
    model: Model | None,
    queued: bool = False,
) -> ReviewOutcome:
    """The grade itself, inside the caller's transaction, on the locked ``state``.

    ``queued``: the card was checked to be in today's queue, so the grade only takes it
    out of the day's reviews (cards.dayqueue) and moves what its log row says, which
    keeps the queue's token (cards.versions)."""
    graded = _graded(
        user=user,
        card=card,
        state=state,
        quality=quality,
        now=now,
        today=today,
        shown_version=shown_version,
        answer_ms=answer_ms,
        limits=limits,
        model=model,
    )
    if graded.fields is None:
        # Only a new row needs the savepoint: its insert may meet another's.
        try:
            with transaction.atomic():
                row_insert(graded.state)
        except IntegrityError:
            # Another request created this card's state first: that showing is graded.
            raise StaleGrade from None
    else:
        row_update(graded.state, graded.fields)
    row_insert(graded.log)
    graded.written(queued=queued)
    return graded.outcome


def _graded(
    *,
    user: User,
    card: Card,
    state: ReviewState | None,
    quality: int,
    now: dt.datetime,
    today: dt.date,
    shown_version: int,
    answer_ms: int | None,
    limits: DailyLimits | None,
    model: Model | None,
) -> _Graded:
    """The grade of ``state`` (None: the card's first), moved on ``state`` in place, and
    its log row; nothing written. StaleGrade when the showing's version is not the row's."""
    limits = limits or DailyLimits(new_cards_per_day=0, max_reviews_per_day=1)
    model = model or memory_model(user_id=user.pk)
    if state is None:
        if shown_version != 0:
            raise StaleGrade
        state = ReviewState(
            user=user,
            card=card,
            due=today,
            introduced_on=today,
            version=0,
        )
        before = None
    else:
        if state.version != shown_version:
            raise StaleGrade
        before = _snapshot(state)

    old = state.sm2
    due_before = state.due if before is not None and state.last_reviewed_at else None
    is_repeat = state.repeat_on == today
    leech_suspended = False
    # The memory state moves on every grade, same-day repeats included (FSRS-6's
    # short-term rule); the schedule only on the first grade of the day.
    elapsed = (today - state.memory_on).days if state.memory_on else 0
    predicted = model.retrievability(state.memory, elapsed) if state.memory else None
    memory = model.after(state.memory, quality, elapsed)
    if is_repeat:
        new = old
        if quality >= SAME_DAY_REPEAT_BELOW:
            state.repeat_on = None
    else:
        sm2 = next_state(old, quality)
        interval = next_interval(
            scheduler=limits.scheduler,
            sm2_interval=sm2.interval,
            memory=memory,
            today=today,
            horizon=limits.horizon,
            retention=limits.desired_retention,
            model=model,
        )
        new = Sm2State(repetitions=sm2.repetitions, interval=interval, easiness=sm2.easiness)
        state.repetitions, state.interval, state.easiness = (
            new.repetitions,
            new.interval,
            new.easiness,
        )
        state.due = today + dt.timedelta(days=new.interval)
        if quality < PASSING_QUALITY and old.repetitions > 0:
            state.lapses += 1
            if limits.suspend_leeches and state.lapses == LEECH_LAPSES:
                state.suspended = leech_suspended = True
        # A suspended card owes no same-day repeat.
        repeat = quality < SAME_DAY_REPEAT_BELOW and not leech_suspended
        state.repeat_on = today if repeat else None
    state.stability, state.difficulty, state.memory_on = (
        memory.stability,
        memory.difficulty,
        today,
    )
    state.last_reviewed_at = now
    state.version += 1
    log = ReviewLog(
        user=user,
        card=card,
        quality=quality,
        reviewed_at=now,
        local_date=today,
        is_repeat=is_repeat,
        answer_ms=answer_ms,
        repetitions_before=old.repetitions,
        interval_before=old.interval,
        easiness_before=old.easiness,
        due_before=due_before,
        repetitions_after=new.repetitions,
        interval_after=new.interval,
        easiness_after=new.easiness,
        due_after=state.due,
        state_before=before,
        predicted_recall=predicted,
    )
    fields = None if before is None else GRADED_FIELDS
    if fields is not None and leech_suspended:
        fields = [*GRADED_FIELDS, "suspended"]
    return _Graded(state=state, log=log, fields=fields, leech_suspended=leech_suspended)


def custom_record(
    *, user: User, card: Card, quality: int, now: dt.datetime, shown_version: int, zone: ZoneInfo
) -> ReviewOutcome:
    """Record a grade of custom study (cram a topic, the weakest cards, review ahead): the
    memory state learns from it, the schedule (SM-2 fields, due date, repeats) does not
    move. Only cards already studied; undo takes it back like any grade."""
    validate_quality(quality)
    today = local_date(now, zone)
    model = memory_model(user_id=user.pk)
    with transaction.atomic():
        state = (
            ReviewState.objects.select_for_update()
            .filter(user=user, card=card, last_reviewed_at__isnull=False)
            .first()
        )
        if state is None or state.version != shown_version:
            raise StaleGrade
        before = _snapshot(state)
        elapsed = (today - state.memory_on).days if state.memory_on else 0
        predicted = model.retrievability(state.memory, elapsed) if state.memory else None
        memory = model.after(state.memory, quality, elapsed)
        state.stability, state.difficulty, state.memory_on = (
            memory.stability,
            memory.difficulty,
            today,
        )
        state.version += 1
        state.save(update_fields=["stability", "difficulty", "memory_on", "version"])
        log = ReviewLog.objects.create(
            user=user,
            card=card,
            quality=quality,
            reviewed_at=now,
            local_date=today,
            is_repeat=True,
            custom=True,
            repetitions_before=state.repetitions,
            interval_before=state.interval,
            easiness_before=state.easiness,
            due_before=state.due,
            repetitions_after=state.repetitions,
            interval_after=state.interval,
            easiness_after=state.easiness,
            due_after=state.due,
            state_before=before,
            predicted_recall=predicted,
        )
        data_changed(user_id=user.pk)
    return ReviewOutcome(log=log, state=state)


def interval_preview(
    *,
    state: ReviewState | None,
    limits: DailyLimits,
    today: dt.date,
    model: Model | None = None,
) -> dict[int, int]:
    """The interval in days each quality would give now, for labelling the grade buttons:
    what :func:`review_record` would schedule (``model``: the user's, when known)."""
    if model is None:
        model = memory_model(user_id=state.user_id) if state else Model()
    old = state.sm2 if state else Sm2State.new()
    memory = state.memory if state else None
    elapsed = (today - state.memory_on).days if state and state.memory_on else 0
    return {
        quality: next_interval(
            scheduler=limits.scheduler,
            sm2_interval=next_state(old, quality).interval,
            memory=model.after(memory, quality, elapsed),
            today=today,
            horizon=limits.horizon,
            retention=limits.desired_retention,
            model=model,
        )
        for quality in QUALITIES
    }


def review_undo(*, user: User, now: dt.datetime, zone: ZoneInfo) -> Card:
    """Take back the user's last grade of today: the state and the log are as before it."""
    today = local_date(now, zone)
    with transaction.atomic():
        log = (
            # Lock the log row only, not the (shared) card joined to it.
            ReviewLog.objects.select_for_update(of=("self",))
            .filter(user=user, local_date=today)
            .select_related("card")
            .order_by("-reviewed_at", "-id")
            .first()
        )
        if log is None:
            raise NothingToUndo
        state = ReviewState.objects.select_for_update().get(user=user, card=log.card)
        if log.state_before is None:
            state.delete()
        else:
            _restore(state, log.state_before)
            # The version moves on (never back), so a tab still showing the graded
            # card cannot grade it again with its old token.
            state.version += 1
            state.save(update_fields=[*GRADED_FIELDS, "suspended", "introduced_on"])
        log.delete()
        # The queue is open again: today is not finished until it empties again.
        StudyDay.objects.filter(user=user, local_date=today).delete()
        data_changed(user_id=user.pk)
    return log.card


def memory_rebuild(*, user_ids: Sequence[int] | None = None) -> int:
    """Compute every review state's memory from its log (the path for histories that
    predate the memory model, and after a change of parameters); returns states written.

    One pass over the log in (user, card, time) order, a grade at a time.
    """
    logs = ReviewLog.objects.order_by("user_id", "card_id", "reviewed_at", "id")
    states = ReviewState.objects.all()
    if user_ids is not None:
        logs = logs.filter(user_id__in=list(user_ids))
        states = states.filter(user_id__in=list(user_ids))
    history: dict[tuple[int, int], list[Grade]] = {}
    log_ids: dict[tuple[int, int], list[int]] = {}
    for log_id, user_id, card_id, quality, on in logs.values_list(
        "id", "user_id", "card_id", "quality", "local_date"
    ).iterator(chunk_size=5000):
        history.setdefault((user_id, card_id), []).append(Grade(quality=quality, on=on))
        log_ids.setdefault((user_id, card_id), []).append(log_id)
    models: dict[int, Model] = {}
    predictions: list[ReviewLog] = []
    for (user_id, card_id), grades in history.items():
        if user_id not in models:
            models[user_id] = memory_model(user_id=user_id)
        for log_id, recall in zip(
            log_ids[(user_id, card_id)], models[user_id].recalls(grades), strict=True
        ):
            predictions.append(ReviewLog(id=log_id, predicted_recall=recall))
    changed = []
    for state in states.only("id", "user_id", "card_id").iterator(chunk_size=2000):
        if state.user_id not in models:
            models[state.user_id] = memory_model(user_id=state.user_id)
        grades = history.get((state.user_id, state.card_id), [])
        memory = models[state.user_id].replay(grades)
        state.stability = memory.stability if memory else None
        state.difficulty = memory.difficulty if memory else None
        state.memory_on = grades[-1].on if grades else None
        changed.append(state)
    with transaction.atomic():
        ReviewState.objects.bulk_update(
            changed, ["stability", "difficulty", "memory_on"], batch_size=1000
        )
        ReviewLog.objects.bulk_update(predictions, ["predicted_recall"], batch_size=1000)
    return len(changed)


def memory_fit(*, user_id: int, now: dt.datetime) -> MemoryParameters | None:
    """Fit the user's own FSRS parameters to their log (MIN_FIT_REVIEWS or more grades),
    keep them only if they predict the log better than the defaults, and recompute the
    user's memory states with them. Returns the stored fit (None: too few reviews)."""
    if ReviewLog.objects.filter(user_id=user_id, is_repeat=False).count() < MIN_FIT_REVIEWS:
        return None
    history: dict[int, list[Grade]] = {}
    for card_id, quality, on in (
        ReviewLog.objects.filter(user_id=user_id)
        .order_by("card_id", "reviewed_at", "id")
        .values_list("card_id", "quality", "local_date")
    ):
        history.setdefault(card_id, []).append(Grade(quality=quality, on=on))
    result = fit(history.values())
    improved = result.log_loss_after < result.log_loss_before
    with transaction.atomic():
        stored, _ = MemoryParameters.objects.update_or_create(
            user_id=user_id,
            defaults={
                "parameters": list(result.parameters if improved else DEFAULT_PARAMETERS),
                "reviews": result.reviews,
                "log_loss_before": result.log_loss_before,
                "rmse_before": result.rmse_before,
                "log_loss_after": result.log_loss_after,
                "rmse_after": result.rmse_after,
                "fitted_at": now,
            },
        )
        memory_rebuild(user_ids=[user_id])
    return stored


FIT_EVERY = dt.timedelta(days=7)


def memory_fit_due(*, now: dt.datetime) -> list[int]:
    """The users whose parameters are due a fit: MIN_FIT_REVIEWS grades or more, and no
    fit in the last FIT_EVERY."""
    enough = (
        ReviewLog.objects.filter(is_repeat=False)
        .values("user_id")
        .annotate(n=Count("id"))
        .filter(n__gte=MIN_FIT_REVIEWS)
        .values_list("user_id", flat=True)
    )
    recent = MemoryParameters.objects.filter(fitted_at__gt=now - FIT_EVERY).values("user_id")
    return sorted(set(enough) - set(recent.values_list("user_id", flat=True)))


def review_suspend(
    *, user: User, card: Card, suspended: bool, now: dt.datetime, zone: ZoneInfo
) -> ReviewState:
    today = local_date(now, zone)
    with transaction.atomic():
        state, _ = ReviewState.objects.select_for_update().get_or_create(
            user=user,
            card=card,
            defaults={"due": today, "introduced_on": today},
        )
        state.suspended = suspended
        state.version += 1
        state.save(update_fields=["suspended", "version"])
        data_changed(user_id=user.pk)
    return state


def review_bury(
    *, user: User, card: Card, buried: bool, now: dt.datetime, zone: ZoneInfo
) -> ReviewState:
    """Hide a card for the rest of the user's local day (or bring it back): tomorrow it is
    in the queue as it was, its schedule untouched."""
    today = local_date(now, zone)
    with transaction.atomic():
        state, _ = ReviewState.objects.select_for_update().get_or_create(
            user=user,
            card=card,
            defaults={"due": today, "introduced_on": today},
        )
        state.buried_on = today if buried else None
        state.version += 1
        state.save(update_fields=["buried_on", "version"])
        data_changed(user_id=user.pk)
    return state


def card_update(*, card: Card, front: str, back: str, tags: str) -> Card:
    card.front, card.back, card.tags = front.strip(), back.strip(), " ".join(normalize_tags(tags))
    for name, value in card_html(card.front, card.back).items():
        setattr(card, name, value)
    card.save(update_fields=["front", "back", "tags", *HTML_FIELDS, "updated_at"])
    data_changed(user_id=card.owner_id)
    return card


def card_restore(
    *, user: User, card: Card, front: str, back: str, tags: str, topic_id: int
) -> Card:
    """Put back an own card's text, rendered again, and its topic if that is still the
    user's to use: what undoing an edit does."""
    with transaction.atomic():
        card_update(card=card, front=front, back=back, tags=tags)
        topic = Topic.objects.visible_to(user).filter(pk=topic_id).first()
        if topic is not None and topic.pk != card.topic_id:
            card_move(card=card, topic=topic)
    return card


def card_copy_to_own(*, user: User, card: Card, now: dt.datetime, zone: ZoneInfo) -> Card:
    """Copy a built-in card into the user's own deck (to change it), keeping its schedule.

    The built-in original is suspended for this user so the card is not drilled twice.
    """
    with transaction.atomic():
        copy = Card.objects.create(
            owner=user,
            topic=card.topic,
            kind=card.kind,
            front=card.front,
            back=card.back,
            tags=card.tags,
            source=card.source,
            position=card.position,
            **card_html(card.front, card.back),
        )
        original = ReviewState.objects.select_for_update().filter(user=user, card=card).first()
        if original is not None:
            ReviewState.objects.create(
                user=user,
                card=copy,
                repetitions=original.repetitions,
                interval=original.interval,
                easiness=original.easiness,
                due=original.due,
                lapses=original.lapses,
                last_reviewed_at=original.last_reviewed_at,
                repeat_on=original.repeat_on,
                introduced_on=original.introduced_on,
            )
        review_suspend(user=user, card=card, suspended=True, now=now, zone=zone)
    return copy


def study_day_mark(*, user: User, local_date: dt.date, now: dt.datetime) -> None:
    """Record that the user emptied today's queue (idempotent)."""
    StudyDay.objects.get_or_create(user=user, local_date=local_date, defaults={"finished_at": now})


# --- Authoring: a person's own topics and cards, and bulk changes from the card browser ---


@transaction.atomic
def calendar_rezone(*, user: User, zone: ZoneInfo, now: dt.datetime) -> None:
    """After a change of time zone, move the days dated after the new zone's today.

    A zone further west makes "today" an earlier date. Reviews, finished days and repeats
    dated after it would sit in the future of the new calendar: the day's allowance would
    start again, the streak and the history would miss them. They get the date their own
    instant has in the new zone. Days up to the new today are history and never move.
    """
    today = local_date(now, zone)
    ahead = ReviewLog.objects.filter(user=user, local_date__gt=today)
    for log in ahead.only("pk", "reviewed_at"):
        log.local_date = local_date(log.reviewed_at, zone)
        log.save(update_fields=["local_date"])
    for day in StudyDay.objects.filter(user=user, local_date__gt=today):
        moved = local_date(day.finished_at, zone)
        if StudyDay.objects.filter(user=user, local_date=moved).exists():
            day.delete()
        else:
            day.local_date = moved
            day.save(update_fields=["local_date"])
    ReviewState.objects.filter(user=user, repeat_on__gt=today).update(repeat_on=today)
    ReviewState.objects.filter(user=user, introduced_on__gt=today).update(
        introduced_on=today, due=today
    )
    data_changed(user_id=user.pk)


def _unique_slug(title: str, taken: set[str]) -> str:
    """A slug for ``title`` not in ``taken`` (which it joins)."""
    base = slugify(title)[:70] or "topic"
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    taken.add(slug)
    return slug


def _own_topics_after(user: User) -> int:
    """The order a person's next topic takes: after theirs, and after the built-in ones."""
    top = Topic.objects.filter(owner=user).aggregate(top=Max("order"))["top"]
    return (top if top is not None else 1000) + 10


def topics_for_titles(
    *, user: User, titles: Iterable[str], builtin: bool = True
) -> dict[str, Topic]:
    """Each title's topic, keyed by its casefolded title: the person's own by that title,
    else (with ``builtin``) a built-in one, else a new topic of theirs."""
    own = {t.title.casefold(): t for t in Topic.objects.filter(owner=user)}
    shared = (
        {
            t.title.casefold(): t
            for t in Topic.objects.filter(owner__isnull=True, retired_at__isnull=True)
        }
        if builtin
        else {}
    )
    taken = {t.slug for t in own.values()}
    order: int | None = None
    found: dict[str, Topic] = {}
    for title in titles:
        key = title.casefold()
        if key in found:
            continue
        topic = own.get(key) or shared.get(key)
        if topic is None:
            order = _own_topics_after(user) if order is None else order + 10
            topic = Topic.objects.create(
                owner=user, title=title.strip(), slug=_unique_slug(title, taken), order=order
            )
            own[key] = topic
        found[key] = topic
    return found


def topic_create(*, user: User, title: str, summary: str = "") -> Topic:
    taken = set(Topic.objects.filter(owner=user).values_list("slug", flat=True))
    data_changed(user_id=user.pk)
    return Topic.objects.create(
        owner=user,
        title=title.strip(),
        summary=summary.strip(),
        slug=_unique_slug(title, taken),
        order=_own_topics_after(user),
    )


def topic_update(*, topic: Topic, title: str, summary: str) -> Topic:
    if topic.is_builtin:
        raise ValueError("built-in topics are not edited by users")
    topic.title, topic.summary = title.strip(), summary.strip()
    taken = set(
        Topic.objects.filter(owner=topic.owner_id)
        .exclude(pk=topic.pk)
        .values_list("slug", flat=True)
    )
    topic.slug = _unique_slug(topic.title, taken)
    topic.save(update_fields=["title", "summary", "slug"])
    data_changed(user_id=topic.owner_id)
    return topic


@transaction.atomic
def topic_delete(*, topic: Topic) -> int:
    """Delete one of a person's topics and their cards in it; returns the cards deleted."""
    if topic.is_builtin:
        raise ValueError("built-in topics are not deleted by users")
    cards = Card.objects.filter(topic=topic, owner=topic.owner_id)
    count = cards.count()
    cards.delete()
    topic.delete()
    data_changed(user_id=topic.owner_id)
    return count


def card_create(
    *, user: User, topic: Topic, front: str, back: str, tags: str, kind: str = Card.Kind.QA
) -> Card:
    if topic.owner_id not in (None, user.pk):
        raise ValueError("a card goes into the person's own topic or a built-in one")
    top = Card.objects.filter(owner=user).aggregate(top=Max("position"))["top"] or 0
    data_changed(user_id=user.pk)
    return Card.objects.create(
        owner=user,
        topic=topic,
        key="",
        kind=kind,
        front=front.strip(),
        back=back.strip(),
        tags=" ".join(normalize_tags(tags)),
        position=top + 1,
        **card_html(front.strip(), back.strip()),
    )


def card_move(*, card: Card, topic: Topic) -> Card:
    if card.is_builtin or topic.owner_id not in (None, card.owner_id):
        raise ValueError("only a person's own card moves, into their topic or a built-in one")
    card.topic = topic
    card.save(update_fields=["topic", "updated_at"])
    data_changed(user_id=card.owner_id)
    return card


def card_delete(*, card: Card) -> None:
    if card.is_builtin:
        raise ValueError("built-in cards are not deleted; suspend them instead")
    card.delete()
    data_changed(user_id=card.owner_id)


def _own_ids(*, user: User, card_ids: Sequence[int]) -> list[int]:
    return list(Card.objects.filter(owner=user, pk__in=list(card_ids)).values_list("pk", flat=True))


def _visible_ids(*, user: User, card_ids: Sequence[int]) -> list[int]:
    return list(
        Card.objects.visible_to(user).filter(pk__in=list(card_ids)).values_list("pk", flat=True)
    )


@transaction.atomic
def cards_suspend(
    *, user: User, card_ids: Sequence[int], suspended: bool, now: dt.datetime, zone: ZoneInfo
) -> int:
    """Suspend or unsuspend many cards (built-in ones too: suspension is per person)."""
    ids = _visible_ids(user=user, card_ids=card_ids)
    changed = ReviewState.objects.filter(user=user, card_id__in=ids).update(
        suspended=suspended, version=F("version") + 1
    )
    if suspended:
        have = set(
            ReviewState.objects.filter(user=user, card_id__in=ids).values_list("card_id", flat=True)
        )
        today = local_date(now, zone)
        missing = [
            ReviewState(user=user, card_id=pk, due=today, introduced_on=today, suspended=True)
            for pk in ids
            if pk not in have
        ]
        ReviewState.objects.bulk_create(missing, batch_size=500, ignore_conflicts=True)
        changed += len(missing)
    data_changed(user_id=user.pk)
    return changed


@transaction.atomic
def cards_reset(*, user: User, card_ids: Sequence[int], now: dt.datetime, zone: ZoneInfo) -> int:
    """Forget the schedule: each card is new again (its review log is kept)."""
    today = local_date(now, zone)
    data_changed(user_id=user.pk)
    return ReviewState.objects.filter(
        user=user, card_id__in=_visible_ids(user=user, card_ids=card_ids)
    ).update(
        repetitions=0,
        interval=0,
        easiness=INITIAL_EASINESS,
        due=today,
        lapses=0,
        last_reviewed_at=None,
        repeat_on=None,
        introduced_on=today,
        version=F("version") + 1,
    )


@transaction.atomic
def cards_retag(*, user: User, card_ids: Sequence[int], add: str, remove: str) -> int:
    """Add and remove tags on the person's own cards; returns the cards changed."""
    adding = normalize_tags(add)
    removing = {tag.casefold() for tag in normalize_tags(remove)}
    changed = []
    for card in Card.objects.filter(owner=user, pk__in=list(card_ids)).only("pk", "tags"):
        tags = [t for t in card.tags.split() if t.casefold() not in removing]
        have = {t.casefold() for t in tags}
        tags += [t for t in adding if t.casefold() not in have]
        new = " ".join(tags)[:400]
        if new != card.tags:
            card.tags = new
            changed.append(card)
    Card.objects.bulk_update(changed, ["tags"], batch_size=500)
    data_changed(user_id=user.pk)
    return len(changed)


def cards_move(*, user: User, card_ids: Sequence[int], topic: Topic) -> int:
    if topic.owner_id not in (None, user.pk):
        raise ValueError("cards move into the person's own topic or a built-in one")
    data_changed(user_id=user.pk)
    return Card.objects.filter(owner=user, pk__in=_own_ids(user=user, card_ids=card_ids)).update(
        topic=topic
    )


@transaction.atomic
def cards_delete(*, user: User, card_ids: Sequence[int]) -> int:
    """Delete the person's own cards among these (with their states and logs)."""
    ids = _own_ids(user=user, card_ids=card_ids)
    Card.objects.filter(owner=user, pk__in=ids).delete()
    data_changed(user_id=user.pk)
    return len(ids)


@transaction.atomic
def cards_bring_forward(*, user: User, card_ids: Sequence[int], due_by: dt.date) -> list[int]:
    """Make these cards due on ``due_by`` at the latest; returns the cards that moved.

    A due date only ever moves earlier: a card already due by then keeps its schedule (and
    its SM-2 state is never touched). A card the person has never seen gets its state row
    the way the nightly rollover introduces one (not reviewed yet), so it waits among
    their new cards. Suspended cards stay suspended and keep their date.
    """
    ids = _visible_ids(user=user, card_ids=card_ids)
    states = ReviewState.objects.filter(user=user, card_id__in=ids)
    later = list(states.filter(due__gt=due_by, suspended=False).values_list("card_id", flat=True))
    ReviewState.objects.filter(user=user, card_id__in=later, due__gt=due_by).update(
        due=due_by, version=F("version") + 1
    )
    have = set(states.values_list("card_id", flat=True))
    created = ReviewState.objects.bulk_create(
        [
            ReviewState(user=user, card_id=pk, due=due_by, introduced_on=due_by)
            for pk in ids
            if pk not in have
        ],
        batch_size=500,
        ignore_conflicts=True,
    )
    data_changed(user_id=user.pk)
    return [*later, *(state.card_id for state in created)]
