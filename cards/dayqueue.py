"""Today's due reviews of one person, in order, kept in the shared cache between requests
(and, at the end of this module, the unseen cards in the order the drill meets them).

Finding the next review means ordering every review due by how overdue it is
(:func:`cards.queue.most_overdue_first`), and counting them means reading them all: work
that grows with the reviews due and that each drill request did again. Within a day the
order of the reviews due never changes (it depends on each card's due date and interval,
which only a grade moves, and a graded card is no longer due), so it is read once:

- :class:`DayReviews` holds the state ids in order (at most the day's review limit: the
  drill never shows more), how many reviews were due and how many due reviews the person
  had graded that day when it was read. Both counts and the ids come from one statement,
  so one snapshot.
- It is kept under the person's queue token (cards.versions): every write that could put
  a card into the reviews due (undo, unsuspend, an edit, an import, a reset, the nightly
  rollover, a deck load) moves that token, so the next read builds a new one. The drill's
  grade does not: it only takes cards out.
- The reviews due now are those read less the due reviews graded since, a count of the
  day's log that the drill's one counting statement reads anyway
  (:func:`cards.queue.queue_counts`).
- The next review is the first of the ids, from a remembered start, that the database
  still finds due: a few ids at a time, read with their cards in one statement, so a
  stale start or a card graded in another tab is passed over, never shown. The start
  only moves past ids found no longer due, which stay so under the same token. The
  drill reads the first window in its counting statement: counts and next card in one
  round trip.

A lost cache key costs a rebuild, never a wrong card: the ids are only a candidate order,
checked against the database on every read. Without a shared cache (no Redis: each
process its own memory, in which another process's write could not move the token) the
drill reads the database alone, as before.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from cards.models import Card, ReviewLog, ReviewState, Topic
from cards.statements import ANY_DAY, ANY_ID, Loader, loader
from cards.versions import READ_SECONDS, queue_version_with, tokens_shared

# Ids checked against the database a read: the next review is almost always the first.
WINDOW = 8
# The reviews due are counted up to this many times the day's review limit (_read).
COUNTED = 4
# Stand-ins for the window's ids while its statement is built (no real id takes them).
_WINDOW_IDS = tuple(-(2**31) + 1001 + i for i in range(WINDOW))
WINDOW_STAND_INS: dict[str, object] = {
    "user": ANY_ID,
    "day": ANY_DAY,
    **{f"id{i}": value for i, value in enumerate(_WINDOW_IDS)},
}


# A state read with its card and the card's topic, linked as select_related links them.
STATE_CARD_TOPIC = (
    (ReviewState, None),
    (Card, ReviewState._meta.get_field("card")),
    (Topic, Card._meta.get_field("topic")),
)


class Lateness(Func):
    """``(day - due) / max(interval, 1)`` in SQL: :func:`cards.queue.overdue_order`'s first key."""

    output_field = FloatField()

    def __init__(self, day: dt.date, **extra: Any) -> None:
        super().__init__(Value(day), F("due"), F("interval"), **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        day, due, interval = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"(julianday({day[0]}) - julianday({due[0]})) / MAX({interval[0]}, 1)"
        return sql, (*day[1], *due[1], *interval[1])

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        day, due, interval = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"(({day[0]})::date - {due[0]})::float / GREATEST({interval[0]}, 1)"
        return sql, (*day[1], *due[1], *interval[1])


def most_overdue_first(states: QuerySet[ReviewState], day: dt.date) -> QuerySet[ReviewState]:
    return states.order_by(Lateness(day).desc(), "due", "interval", "card_id")


class _Kept:
    """What both kept orders share: ids read under one queue token, checked a window at a
    time from a remembered start (kept under the order's key with ``:start``)."""

    key: str
    version: str  # the queue token it was read under (cards.versions)
    build: str  # this reading's own name: a new reading starts from the first id again
    ids: array[int]
    start: int

    def window(self) -> tuple[int, ...]:
        """The ids the next read checks, from the remembered start."""
        return tuple(self.ids[self.start : self.start + WINDOW])

    def passed_over(self, index: int) -> None:
        """The window's first ``index`` ids were found gone: remembered once half a window
        is passed over (a cache write saved on most reads, for a few more ids looked at)."""
        if index >= WINDOW // 2:
            cache.set(f"{self.key}:start", (self.build, self.start + index), timeout=READ_SECONDS)


def _kept[K: _Kept](*, user_id: int, key: str, read: Callable[[str], K]) -> K:
    """What is kept under ``key``, with its remembered start, if it was read under the
    person's queue token now current; else ``read(token)`` now. One cache read: the
    tokens, the kept order and its start together."""
    version, found = queue_version_with(user_id=user_id, keys=[key, f"{key}:start"])
    kept: K | None = found.get(key)
    if kept is None or kept.version != version:
        return read(version)
    start = found.get(f"{key}:start")
    if start is not None and start[0] == kept.build:
        kept = replace(kept, start=start[1])  # type: ignore[type-var]  # both are dataclasses
    return kept


def _place() -> Case:
    """A row's place in the window (its ids' stand-ins): the order a window is read in."""
    return Case(
        *(When(pk=stand_in, then=Value(i)) for i, stand_in in enumerate(_WINDOW_IDS)),
        output_field=IntegerField(),
    )


@dataclass(frozen=True)
class DayReviews(_Kept):
    """One person's reviews due on one day, in order, as read under one queue token."""

    key: str
    version: str
    build: str
    limit: int  # the day's review limit, which the ids are cut to
    # Review state ids, most overdue first: an array, which the cache reads back several
    # times faster than a tuple of ints (the whole day's, on every drill request).
    ids: array[int]
    due: int  # the reviews due when read, up to COUNTED times the limit
    graded: int  # the due reviews graded that day when read
    start: int = 0  # ids before this one are no longer due

    def due_now(self, graded: int) -> int:
        """The reviews due now, given the due reviews graded that day so far."""
        return max(self.due - (graded - self.graded), 0)


@dataclass(frozen=True)
class WindowRead:
    """What the first window's statement found, when another statement read it (the
    drill's counts, :func:`cards.queue.queue_counts`): the first of its ids still due, or
    None when none is."""

    state: ReviewState | None


def due_graded_q(day: dt.date) -> Q:
    """The log rows of ``day``'s grades of reviews that were due: what takes a card out of
    the day's reviews without moving the queue token (cards.services.review_grade)."""
    return Q(local_date=day, is_repeat=False, due_before__lte=day)


def day_reviews(*, user_id: int, day: dt.date, review_limit: int) -> DayReviews | None:
    """The person's reviews due on ``day`` as kept, read now if not; None without a
    shared cache. One cache read: the tokens and the kept reviews together."""
    if not tokens_shared():
        return None
    key = f"cards:day-reviews:{user_id}:{day.isoformat()}:{review_limit}"
    return _kept(
        user_id=user_id,
        key=key,
        read=lambda version: _read(key, version, user_id=user_id, day=day, limit=review_limit),
    )


def _read(key: str, version: str, *, user_id: int, day: dt.date, limit: int) -> DayReviews:
    """The day's reviews from the database, kept under ``key``: one statement, so the ids
    and the count of due reviews graded come from one snapshot.

    The reviews due are counted only up to ``COUNTED`` times the limit (the ids read, of
    which the first ``limit`` are kept): past that the count the drill shows is the limit
    whatever has been graded since, and a big backlog is not read twice."""
    due = ReviewState.objects.filter(user_id=user_id).due_on(day)
    graded = (
        ReviewLog.objects.filter(due_graded_q(day), user_id=user_id)
        .order_by()
        .values("user_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    rows = list(
        most_overdue_first(due, day)
        .annotate(graded=Coalesce(Subquery(graded, output_field=IntegerField()), Value(0)))
        .values_list("id", "graded")[: COUNTED * limit]
    )
    reviews = DayReviews(
        key=key,
        version=version,
        build=secrets.token_hex(6),
        limit=limit,
        ids=array("q", (row[0] for row in rows[:limit])),
        due=len(rows),
        graded=rows[0][1] if rows else 0,
    )
    cache.set(key, reviews, timeout=READ_SECONDS)
    return reviews


def next_review(
    reviews: DayReviews, *, user_id: int, day: dt.date, read: WindowRead | None = None
) -> ReviewState | None:
    """The first of ``reviews``' ids still due, with its card and topic; None when none is.

    Ids are checked a window at a time from the remembered start, in one statement that
    returns the first of them still due (``read``: what that statement found already, as
    part of another); a window found wholly no longer due (the start was lost, or cards
    were graded in another tab) is answered by reading the day's reviews again, once."""
    for again in (False, True):
        window = reviews.window()
        if not window:
            return None
        state: ReviewState | None
        if read is not None and not again:
            state = read.state
        else:
            state = _window_loader(connection.vendor).first(
                **_bound(window, user_id=user_id, day=day)
            )
        if state is not None:
            reviews.passed_over(window.index(state.pk))
            return state
        if not again:
            reviews = _read(
                reviews.key, reviews.version, user_id=user_id, day=day, limit=reviews.limit
            )
    return None


def _bound(window: Sequence[int], *, user_id: int, day: dt.date) -> dict[str, object]:
    return {"user": user_id, "day": day, **window_ids(window)}


def window_ids(window: Sequence[int]) -> dict[str, int]:
    """The window statement's id arguments (a short window repeats its last id in the
    slots left)."""
    ids = [*window, *[window[-1]] * (WINDOW - len(window))]
    return {f"id{i}": state_id for i, state_id in enumerate(ids)}


def window_loader() -> Loader:
    """The window's statement (arguments ``user``, ``day`` and :func:`window_ids`'),
    whose row :meth:`Loader.load` reads: for a statement that reads it with its own."""
    return _window_loader(connection.vendor)


@functools.lru_cache(maxsize=8)
def _window_loader(vendor: str) -> Loader:
    # The window's first id still due: ordered by place in the window, one row read.
    states = (
        ReviewState.objects.filter(user_id=ANY_ID, pk__in=_WINDOW_IDS)
        .due_on(ANY_DAY)
        .select_related("card__topic")
        .order_by(_place())[:1]
    )
    return loader(
        states,
        chain=STATE_CARD_TOPIC,
        stand_ins=WINDOW_STAND_INS,
    )


# --- The day's new cards not seen yet, in the drill's order --------------------------------
#
# When the nightly rollover has brought in no new cards (no plan week, or its topics are
# met), the drill's next new card is the first unseen card in deck order, the plan week's
# topics first: a sort of every unseen card (20 ms at 5,000 cards, 57 at 50,000). That
# order, too, only a write moves: it is read once, a few times the day's new-card limit
# ahead, and kept under the queue token; a first answer (the drill's grade, which leaves
# the token) only gives a card a state, which the window's check passes over.


@dataclass(frozen=True)
class DayUnseen(_Kept):
    """Unseen card ids in the drill's order, as read under one queue token."""

    key: str
    version: str
    build: str
    ids: array[int]
    start: int = 0  # ids before this one have been met since


def day_unseen(*, user_id: int, name: str, read: Callable[[], Sequence[int]]) -> DayUnseen | None:
    """The person's unseen cards in order under ``name`` (the day, the limit and the
    order's own terms), as kept, or ``read()`` now; None without a shared cache."""
    if not tokens_shared():
        return None
    key = f"cards:day-unseen:{user_id}:{name}"
    return _kept(user_id=user_id, key=key, read=lambda version: _read_unseen(key, version, read))


def _read_unseen(key: str, version: str, read: Callable[[], Sequence[int]]) -> DayUnseen:
    unseen = DayUnseen(key=key, version=version, build=secrets.token_hex(6), ids=array("q", read()))
    cache.set(key, unseen, timeout=READ_SECONDS)
    return unseen


def next_unseen(
    unseen: DayUnseen, *, user_id: int, read: Callable[[], Sequence[int]]
) -> Card | None:
    """The first of ``unseen``'s ids the person still has not met and can still see, with
    its topic; a window found wholly met (or none left) is answered by reading the order
    again, once. None when none is found even so."""
    for again in (False, True):
        window = unseen.window()
        card: Card | None = None
        if window:
            card = _unseen_window_loader(connection.vendor).first(
                user=user_id, **window_ids(window)
            )
        if card is not None:
            unseen.passed_over(window.index(card.pk))
            return card
        if not again:
            unseen = _read_unseen(unseen.key, unseen.version, read)
    return None


@functools.lru_cache(maxsize=8)
def _unseen_window_loader(vendor: str) -> Loader:
    cards = (
        Card.objects.visible_to(ANY_ID)
        .filter(
            ~Exists(ReviewState.objects.filter(user_id=ANY_ID, card_id=OuterRef("pk"))),
            pk__in=_WINDOW_IDS,
        )
        .select_related("topic")
        .order_by(_place())[:1]
    )
    return loader(
        cards,
        chain=((Card, None), (Topic, Card._meta.get_field("topic"))),
        stand_ins={k: v for k, v in WINDOW_STAND_INS.items() if k != "day"},
    )
