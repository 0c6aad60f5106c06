"""Reads of the study engine that several screens, e-mails and downloads share."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Count, Exists, F, FilteredRelation, OuterRef, Q, QuerySet, Sum

from cards.memory import Model, parameters_valid
from cards.models import (
    LEECH_LAPSES,
    MATURE_DAYS,
    Card,
    MemoryParameters,
    ReviewLog,
    ReviewState,
    StudyDay,
    Topic,
)
from cards.queue import DEFAULT_SECONDS_PER_REVIEW
from cards.scheduling import PASSING_QUALITY
from cards.versions import cached_per_deck, cached_per_version

# A streak longer than this is still shown as this many days: it bounds the read.
STREAK_HORIZON_DAYS = 1000


def memory_model_of(*, user: User) -> Model:
    """:func:`memory_model` from the user's loaded parameters: no query when they came
    with the user (``select_related("memory_parameters")``, as the sign-in backend does)."""
    try:
        parameters = user.memory_parameters.parameters
    except MemoryParameters.DoesNotExist:
        return Model()
    if parameters and parameters_valid(parameters):
        return Model(parameters=tuple(parameters))
    return Model()


def memory_model(*, user_id: int) -> Model:
    """The user's memory model: their fitted parameters, or the published defaults."""
    parameters = (
        MemoryParameters.objects.filter(user_id=user_id)
        .values_list("parameters", flat=True)
        .first()
    )
    if parameters and parameters_valid(parameters):
        return Model(parameters=tuple(parameters))
    return Model()


def memory_models(*, user_ids: Sequence[int]) -> dict[int, Model]:
    """:func:`memory_model` of many users, in one query."""
    fitted = dict(
        MemoryParameters.objects.filter(user_id__in=list(user_ids)).values_list(
            "user_id", "parameters"
        )
    )
    return {
        user_id: Model(parameters=tuple(fitted[user_id]))
        if fitted.get(user_id) and parameters_valid(fitted[user_id])
        else Model()
        for user_id in user_ids
    }


def seconds_per_review(*, user_id: int, last: int = 200) -> float:
    """The median answer time of the user's last ``last`` timed grades, in seconds
    (clamped to 2..60: a walk away from the screen is not a review)."""
    times = sorted(
        ms
        for ms in ReviewLog.objects.filter(user_id=user_id, answer_ms__isnull=False)
        .order_by("-reviewed_at")
        .values_list("answer_ms", flat=True)[:last]
        if ms is not None
    )
    if not times:
        return DEFAULT_SECONDS_PER_REVIEW
    median = times[len(times) // 2] / 1000
    return min(max(median, 2.0), 60.0)


def streak_length(finished: Sequence[dt.date], today: dt.date) -> int:
    """Consecutive local days, up to today, on which the queue was emptied.

    ``finished`` is newest first. Today not being finished yet does not break the streak:
    it counts up to yesterday.
    """
    if not finished:
        return 0
    expected = today if finished[0] == today else today - dt.timedelta(days=1)
    streak = 0
    for day in finished:
        if day != expected:
            break
        streak += 1
        expected -= dt.timedelta(days=1)
    return streak


def streaks(*, user_ids: Sequence[int], today: dt.date) -> dict[int, int]:
    """Every given user's streak on local date ``today``, in one query."""
    days: dict[int, list[dt.date]] = defaultdict(list)
    for user_id, day in (
        StudyDay.objects.filter(
            user_id__in=list(user_ids),
            local_date__lte=today,
            local_date__gt=today - dt.timedelta(days=STREAK_HORIZON_DAYS),
        )
        .order_by("user_id", "-local_date")
        .values_list("user_id", "local_date")
    ):
        days[user_id].append(day)
    return {user_id: streak_length(finished, today) for user_id, finished in days.items()}


# --- The drill's end-of-day summary ----------------------------------------------------


@dataclass(frozen=True)
class DaySummary:
    reviewed: int
    correct: int
    seconds: int
    due_tomorrow: int

    @property
    def accuracy(self) -> int | None:
        return round(100 * self.correct / self.reviewed) if self.reviewed else None


def day_summary(*, user: User, today: dt.date) -> DaySummary:
    """What a person did on local date ``today`` (same-day repeats are not grades)."""
    totals = ReviewLog.objects.filter(user=user, local_date=today).aggregate(
        graded=Count("id", filter=Q(is_repeat=False)),
        correct=Count("id", filter=Q(quality__gte=PASSING_QUALITY, is_repeat=False)),
        ms=Sum("answer_ms"),
    )
    tomorrow = today + dt.timedelta(days=1)
    return DaySummary(
        reviewed=totals["graded"] or 0,
        correct=totals["correct"] or 0,
        seconds=(totals["ms"] or 0) // 1000,
        due_tomorrow=ReviewState.objects.filter(user=user, due__lte=tomorrow).reviewed().count(),
    )


# --- The card browser -------------------------------------------------------------------


@dataclass(frozen=True)
class BrowseFilters:
    q: str = ""
    topic: Topic | None = None
    tag: str = ""
    state: str = ""  # "", new, learning, mature, suspended, leech
    owner: str = ""  # "", mine, builtin
    due_from: dt.date | None = None
    due_to: dt.date | None = None
    sort: str = ""  # "" (deck order), due, new


def browse_cards(*, user: User, filters: BrowseFilters) -> QuerySet[Card]:
    """The cards the browser shows for ``filters``, with the person's state joined
    (``state_*`` annotations; null where the card has no state yet)."""
    return _browse(user=user, filters=filters)[1]


class BrowseRows:
    """The browser's cards for a paginator, read the cheap way: counted without the state
    join when no filter needs it; a page's ids found first, then only that page's rows
    read whole. In deck order (the default) the ids come topic by topic from the
    (topic, position) index and by due date from the (user, due, card) one, reading no
    more than the page; otherwise by sorting the card ids alone (a narrow sort that stays
    in memory, not the whole rows).
    The same cards in the same order as :func:`browse_cards`."""

    def __init__(self, *, user: User, filters: BrowseFilters) -> None:
        self._plain, self._cards, self._needs_state = _browse(user=user, filters=filters)
        self._where = _card_filters(user=user, filters=filters)
        self._sort = filters.sort
        self._user_id = user.pk
        topic = filters.topic.pk if filters.topic is not None else None
        described = repr(
            (filters.q, topic, filters.tag, filters.state, filters.owner)
            + (filters.due_from, filters.due_to)
        )
        # Hashed: a search text may hold anything, a cache key may not.
        self._filters_key = hashlib.sha256(described.encode()).hexdigest()[:32]
        # Deck order with no state filter: a page is read topic by topic from the
        # (topic, position) index, so it costs the page, not the deck.
        self._in_deck_order = not self._needs_state and not filters.sort
        self._counts: list[tuple[int, int]] | None = None
        self.ordered = True

    def count(self) -> int:
        if not self._needs_state:
            return sum(n for _, n in self._topic_counts())
        # The same for every page of these filters until the person's data changes.
        return cached_per_version(
            user_id=self._user_id,
            name=f"browse-count:{self._filters_key}",
            compute=lambda: (self._cards if self._needs_state else self._plain).order_by().count(),
        )

    def _topic_counts(self) -> list[tuple[int, int]]:
        """How many of the matching cards each topic holds, topics in deck order (kept,
        like the count, until the person's data changes)."""
        if self._counts is None:
            self._counts = cached_per_version(
                user_id=self._user_id,
                name=f"browse-topics:{self._filters_key}",
                compute=self._count_by_topic,
            )
        return self._counts

    def _count_by_topic(self) -> list[tuple[int, int]]:
        # Counted on the cards alone (no join to their topics), then put in deck order
        # from the few topics themselves.
        counts = visible_card_counts(
            user_id=self._user_id, where=self._where, name=self._filters_key
        )
        order = Topic.objects.filter(pk__in=list(counts)).values_list("pk", "order")
        return [(pk, counts[pk]) for pk, _ in sorted(order, key=lambda row: (row[1], row[0]))]

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[Card]:
        return iter(self[:])

    @overload
    def __getitem__(self, window: int) -> Card: ...

    @overload
    def __getitem__(self, window: slice) -> list[Card]: ...

    def __getitem__(self, window: int | slice) -> Card | list[Card]:
        if isinstance(window, int):
            return self[window : window + 1][0]
        ids = self._ids_in_deck_order(window) if self._in_deck_order else self._ids_sorted(window)
        rows = {card.pk: card for card in self._cards.filter(pk__in=ids).order_by()}
        return [rows[pk] for pk in ids if pk in rows]

    def _ids_in_deck_order(self, window: slice) -> list[int]:
        """The ids in ``window`` of the deck order: only the topics the window overlaps
        are read, each from its offset within the topic."""
        start, stop = window.start or 0, window.stop
        ids: list[int] = []
        first = 0  # the window position of the topic's first card
        for topic_id, n in self._topic_counts():
            if stop is not None and first >= stop:
                break
            if first + n > start:
                low = max(start - first, 0)
                high = n if stop is None else min(stop - first, n)
                ids += (
                    self._plain.filter(topic_id=topic_id)
                    .order_by("position", "id")
                    .values_list("id", flat=True)[low:high]
                )
            first += n
        return ids

    def _ids_by_due(self, window: slice) -> list[int]:
        """The ids in ``window`` of the due order: the studied cards by due date from the
        (user, due, card) index, then the cards never studied by id, each read only as
        far as the window reaches."""
        start, stop = window.start or 0, window.stop
        if self._where:
            studied = ReviewState.objects.filter(
                user_id=self._user_id, card__in=self._plain.values("id")
            ).order_by()
        else:
            # Every card the person sees: their states but those on retired built-in cards
            # (a person's states are on their own cards and the built-in ones only), read
            # from the (user, due, card) index without the cards table.
            studied = ReviewState.objects.filter(user_id=self._user_id).exclude(
                card_id__in=RETIRED_BUILTIN
            )
        ids = list(studied.order_by("due", "card_id").values_list("card_id", flat=True)[window])
        if stop is not None and len(ids) == stop - start:
            return ids  # the window is all studied cards: how many there are is not needed
        count = cached_per_version(
            user_id=self._user_id,
            name=f"browse-studied:{self._filters_key}",
            compute=studied.count,
        )
        if stop is None or stop > count:
            never = self._plain.exclude(
                Exists(ReviewState.objects.filter(user_id=self._user_id, card=OuterRef("pk")))
            )
            end = None if stop is None else stop - count
            ids += never.order_by("id").values_list("id", flat=True)[max(start - count, 0) : end]
        return ids

    def _ids_sorted(self, window: slice) -> list[int]:
        if self._sort == "due" and not self._needs_state:
            return self._ids_by_due(window)
        # The newest first needs no state: sort the cards alone.
        sort = self._cards.query.order_by
        narrow = self._cards if self._needs_state else self._plain
        return list(narrow.order_by(*sort).values_list("id", flat=True)[window])


RETIRED_BUILTIN = Card.objects.filter(owner__isnull=True, retired_at__isnull=False).values("id")


def visible_card_counts(*, user_id: int, where: Q | None = None, name: str = "") -> dict[int, int]:
    """How many of the cards a person sees (those matching ``where``) each topic holds.
    Counted in parts, never with an OR that makes the planner read every person's
    cards: the person's own from the (owner, topic, id) index alone, and the built-in
    ones, the same for everyone, kept under the deck's token (``name`` tells filters
    apart)."""
    where = where or Q()

    def by_topic(cards: QuerySet[Card]) -> QuerySet[Card, tuple[int, int]]:
        rows = cards.filter(where).order_by().values_list("topic_id").annotate(n=Count("*"))
        return rows.order_by()

    own = Card.objects.filter(owner_id=user_id)
    # The unretired ones apart, to match the (owner, topic, id) index's condition (a
    # person's own cards are never retired by the app, only the built-in deck's are).
    rows = list(
        by_topic(own.filter(retired_at__isnull=True))
        .union(by_topic(own.filter(retired_at__isnull=False)), all=True)
        .order_by()
    )
    builtin = cached_per_deck(
        name=f"topic-counts-v1:{name}",
        compute=lambda: list(
            by_topic(Card.objects.filter(owner__isnull=True, retired_at__isnull=True))
        ),
    )
    counts: dict[int, int] = {}
    for topic_id, n in rows + builtin:  # a person's card may sit in a built-in topic
        counts[topic_id] = counts.get(topic_id, 0) + n
    return counts


def _card_filters(*, user: User, filters: BrowseFilters) -> Q:
    """The filters on the cards themselves (not on the person's states), as one Q."""
    where = Q()
    if q := filters.q.strip():
        where &= Q(front__icontains=q) | Q(back__icontains=q) | Q(tags__icontains=q)
    if filters.topic is not None:
        where &= Q(topic=filters.topic)
    if tag := filters.tag.strip():
        # Tags do not tell case apart (cards.deckfile.normalize_tags).
        where &= (
            Q(tags__iexact=tag)
            | Q(tags__istartswith=f"{tag} ")
            | Q(tags__iendswith=f" {tag}")
            | Q(tags__icontains=f" {tag} ")
        )
    if filters.owner == "mine":
        where &= Q(owner=user)
    elif filters.owner == "builtin":
        where &= Q(owner__isnull=True)
    return where


def _browse(*, user: User, filters: BrowseFilters) -> tuple[QuerySet[Card], QuerySet[Card], bool]:
    """The cards matching the filters on the cards themselves, the same with the person's
    state joined, filtered and sorted, and whether the state filters any out."""
    plain = Card.objects.visible_to(user).filter(_card_filters(user=user, filters=filters))
    cards = (
        plain.annotate(
            mine=FilteredRelation("review_states", condition=Q(review_states__user=user))
        )
        .annotate(
            state_id=F("mine__id"),
            state_suspended=F("mine__suspended"),
            state_due=F("mine__due"),
            state_interval=F("mine__interval"),
            state_reviewed=F("mine__last_reviewed_at"),
            state_lapses=F("mine__lapses"),
        )
        .select_related("topic")
    )
    needs_state = bool(filters.state or filters.due_from or filters.due_to)
    reviewed = Q(mine__last_reviewed_at__isnull=False, mine__suspended=False)
    match filters.state:
        case "new":
            cards = cards.filter(
                Q(mine__id__isnull=True)
                | Q(mine__last_reviewed_at__isnull=True, mine__suspended=False)
            )
        case "learning":
            cards = cards.filter(reviewed, mine__interval__lt=MATURE_DAYS)
        case "mature":
            cards = cards.filter(reviewed, mine__interval__gte=MATURE_DAYS)
        case "suspended":
            cards = cards.filter(mine__suspended=True)
        case "leech":
            cards = cards.filter(mine__lapses__gte=LEECH_LAPSES)
    if filters.due_from or filters.due_to:
        cards = cards.filter(reviewed)
        if filters.due_from:
            cards = cards.filter(mine__due__gte=filters.due_from)
        if filters.due_to:
            cards = cards.filter(mine__due__lte=filters.due_to)
    match filters.sort:
        case "due":
            cards = cards.order_by(F("mine__due").asc(nulls_last=True), "id")
        case "new":
            cards = cards.order_by("-created_at", "-id")
        case _:
            cards = cards.order_by("topic__order", "topic_id", "position", "id")
    return plain, cards, needs_state


def browse_state(card: Any) -> str:
    """A browsed card's state, from :func:`browse_cards`' annotations."""
    if card.state_suspended:
        return "suspended"
    if card.state_reviewed is None:
        return "new"
    return "mature" if card.state_interval >= MATURE_DAYS else "learning"


def browse_tags(*, user: User) -> list[str]:
    """Every tag on the cards a person sees, sorted (kept until their data changes)."""
    return cached_per_version(
        user_id=user.pk, name="browse-tags", compute=lambda: _browse_tags(user=user)
    )


def _browse_tags(*, user: User) -> list[str]:
    # One entry per tag whatever its case (the first spelling met: the built-in deck's,
    # then the person's in sorted order), sorted without case.
    spelled: dict[str, str] = {}
    builtin = cached_per_deck(name="tag-strings-v1", compute=_builtin_tag_strings)
    for tags in [*builtin, *own_tag_strings(user_id=user.pk)]:
        for tag in tags.split():
            spelled.setdefault(tag.casefold(), tag)
    return [spelled[key] for key in sorted(spelled)]


def _builtin_tag_strings() -> list[str]:
    return sorted(
        Card.objects.filter(owner__isnull=True, retired_at__isnull=True)
        .exclude(tags="")
        .order_by()
        .values_list("tags", flat=True)
        .distinct()
    )


def own_tag_strings(*, user_id: int) -> list[str]:
    """The distinct tag strings of a person's own cards, sorted: read from the (owner,
    tags) index one value at a time (each the least one above the last), so it costs the
    number of distinct strings, not of cards (PostgreSQL has no skip scan of its own)."""
    table = connection.ops.quote_name(Card._meta.db_table)
    sql = f"""
        WITH RECURSIVE found(tags) AS (
            SELECT MIN(tags) FROM {table} WHERE owner_id = %s AND tags > ''
            UNION ALL
            SELECT (SELECT MIN(c.tags) FROM {table} c WHERE c.owner_id = %s AND c.tags > found.tags)
            FROM found WHERE found.tags IS NOT NULL
        )
        SELECT tags FROM found WHERE tags IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, user_id])
        return [row[0] for row in cursor.fetchall()]


# --- Export -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSchedule:
    states: dict[int, ReviewState]
    reps: dict[int, int]
    today: dt.date
    # Each card's review log, oldest first.
    logs: dict[int, list[ReviewLog]] = field(default_factory=dict)


def export_schedule(*, user: User, card_ids: Sequence[int], today: dt.date) -> ExportSchedule:
    """Each exported card's state and number of reviews (same-day repeats not counted)."""
    ids = list(card_ids)
    states = {s.card_id: s for s in ReviewState.objects.filter(user=user, card_id__in=ids)}
    reps = dict(
        ReviewLog.objects.filter(user=user, card_id__in=ids, is_repeat=False)
        .values("card_id")
        .annotate(n=Count("id"))
        .values_list("card_id", "n")
    )
    logs: dict[int, list[ReviewLog]] = {}
    for log in (
        ReviewLog.objects.filter(user=user, card_id__in=ids)
        .only(
            "card_id",
            "quality",
            "reviewed_at",
            "is_repeat",
            "answer_ms",
            "interval_before",
            "interval_after",
            "easiness_after",
        )
        .order_by("card_id", "reviewed_at", "id")
        .iterator(chunk_size=2000)
    ):
        logs.setdefault(log.card_id, []).append(log)
    return ExportSchedule(states=states, reps=reps, today=today, logs=logs)


CUSTOM_MODES = {
    "weakest": "My weakest cards",
    "topic": "One topic",
    "ahead": "Tomorrow's reviews",
}


def custom_queue(
    *, user: User, mode: str, today: dt.date, topic_id: int | None = None, limit: int = 20
) -> list[ReviewState]:
    """Custom study's cards, the ones not yet studied this way today: a topic's studied
    cards or all of them ("weakest"), lowest recall today first, then most lapses; or the
    reviews due tomorrow ("ahead")."""
    done = ReviewLog.objects.filter(user=user, custom=True, local_date=today).values("card_id")
    states = (
        ReviewState.objects.filter(user=user)
        .reviewed()
        .exclude(card_id__in=done)
        .select_related("card__topic")
    )
    if mode == "ahead":
        return list(states.filter(due=today + dt.timedelta(days=1)).order_by("card__position"))
    if mode == "topic":
        if topic_id is None:
            return []
        states = states.filter(card__topic_id=topic_id)
    elif mode != "weakest":
        return []
    model = memory_model(user_id=user.pk)
    ranked = sorted(
        states,
        key=lambda s: (model.recall_on(s.memory, s.memory_on, today), -s.lapses, s.card_id),
    )
    return ranked[:limit]
