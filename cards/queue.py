"""Today's queue and its counts, for one user or many (the daily e-mail uses the same code).

Order (DESIGN.md, SM-2 step 7):

1. reviews due today or earlier, most overdue *for its interval* first
   (:func:`overdue_order`: a card three days late on a two-day interval is further behind
   than one ten days late on a month), up to the day's review cap;
2. new cards up to the day's new-card limit: the current plan week's topics first, then
   the rest in deck order;
3. same-day repeats: cards graded below 4 today, until they score 4 or 5.

The counts cost a fixed handful of indexed queries whatever the deck size and however many
users are asked about at once; one user's (the drill's) are one statement, each count
reading no more rows than the day's limits can use.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from cards.dayqueue import (
    STATE_CARD_TOPIC,
    WINDOW,
    WINDOW_STAND_INS,
    DayReviews,
    WindowRead,
    day_reviews,
    day_unseen,
    due_graded_q,
    most_overdue_first,
    next_review,
    next_unseen,
    window_ids,
    window_loader,
)
from cards.interview import NEW_CARD_SHOWINGS, SM2, Horizon, new_card_days_open
from cards.memory import DEFAULT_RETENTION
from cards.models import (
    Card,
    ReviewLog,
    ReviewState,
    due_on_q,
    repeats_on_q,
    waiting_new_on_q,
)
from cards.statements import (
    ANY_DAY,
    ANY_ID,
    ANY_OTHER_ID,
    Loader,
    Statement,
    built,
    loader,
    unplanned,
)

# The time a review takes when a person has no measured answers yet (the benchmark's too).
DEFAULT_SECONDS_PER_REVIEW = 8.0


# Interview mode keeps at most this share of a day's time for its new cards while the
# reviews due would fill it (DailyLimits.reviews_kept).
NEW_CARD_TIME_SHARE = 0.3


@dataclass(frozen=True)
class DailyLimits:
    """How much of a day a person gives to the drill (their profile says)."""

    new_cards_per_day: int
    max_reviews_per_day: int
    # The interview date and the recall wanted on it: interview mode (cards.interview).
    horizon: Horizon = Horizon()
    # Which scheduler sets the intervals (cards.interview.SM2 or FSRS), and FSRS's target.
    scheduler: str = SM2
    desired_retention: float = DEFAULT_RETENTION
    # The drill's daily time in interview mode: the nightly rollover sizes the day's
    # reviews to it at the user's measured seconds per review (None: no time budget).
    minutes_per_day: float | None = None
    # Custom study's "extra new cards today": more new cards on that one local date.
    extra_new_cards: int = 0
    extra_new_on: dt.date | None = None
    # Suspend a card at the grade that makes it a leech (cards.services.review_record).
    suspend_leeches: bool = False
    # Interview mode: the new cards a day that meet the track by the date, as the nightly
    # rollover of ``paced_on`` found them (cards.interview.new_card_pace).
    paced_new_cards: int = 0
    paced_on: dt.date | None = None

    def new_cards_limit(self, day: dt.date) -> int:
        """The day's new-card limit: the daily one, plus the extra asked for that day."""
        extra = self.extra_new_cards if day == self.extra_new_on else 0
        return self.new_cards_per_day + extra

    def review_cap(self, *, day: dt.date, seconds_per_review: float) -> int:
        """The reviews local date ``day`` holds: the cap, and in interview mode the time."""
        cap = self.max_reviews_per_day
        if self.minutes_per_day is not None and self.horizon.active(day):
            cap = min(cap, max(1, int(self.minutes_per_day * 60 // seconds_per_review)))
        return cap

    def new_cards_on(
        self,
        day: dt.date,
        *,
        reviews_due: int,
        seconds_per_review: float = DEFAULT_SECONDS_PER_REVIEW,
        paced: int | None = None,
    ) -> int:
        """The new-card limit of local date ``day``.

        Once a new card could no longer be learned to the target by the interview, the
        day's time goes to the cards already studied first: new cards only come in the
        time the ``reviews_due`` leave in the budget (each costs about two showings, its
        first answer and a same-day repeat), and none when they fill it. A card met late
        is still better known on the day than one never met.

        In interview mode the day also brings in the paced new cards (``paced``, or what
        the rollover of that day found), as far as that time left holds them; a limit of
        0 (no new cards at all) stands.
        """
        limit = self.new_cards_limit(day)
        if limit == 0:
            return 0
        if paced is None:
            paced = self.paced_new_cards if day == self.paced_on else 0
        is_open = (
            not self.horizon.active(day) or new_card_days_open(today=day, horizon=self.horizon) > 0
        )
        if is_open and paced <= limit:
            return limit
        cap = self.review_cap(day=day, seconds_per_review=seconds_per_review)
        room = max(0, (cap - reviews_due) // NEW_CARD_SHOWINGS)
        base = limit if is_open else min(limit, room)
        return max(base, min(paced, room)) if self.horizon.active(day) else base

    def reviews_kept(self, *, day: dt.date, seconds_per_review: float, cards_to_meet: bool) -> int:
        """The reviews the nightly rollover keeps on ``day`` (the rest moves on, never
        dropped): the day's cap, less, in interview mode while cards are left to meet and
        a new card can still be learned by the date, the time of the day's new cards (two
        showings each, at most ``NEW_CARD_TIME_SHARE`` of the day). With little time a
        day, a card never met is worth more on the day than one more look at a known one."""
        cap = self.review_cap(day=day, seconds_per_review=seconds_per_review)
        if not (cards_to_meet and new_card_days_open(today=day, horizon=self.horizon) > 0):
            return cap
        new = self.new_cards_on(day, reviews_due=0, seconds_per_review=seconds_per_review)
        reserve = min(int(cap * NEW_CARD_TIME_SHARE), NEW_CARD_SHOWINGS * new)
        return max(cap - reserve, 1)

    def new_cards_ceiling(self, day: dt.date) -> int:
        """The most :meth:`new_cards_on` can give on ``day``, whatever the reviews due."""
        limit = self.new_cards_limit(day)
        paced = self.paced_new_cards if day == self.paced_on and limit else 0
        return max(limit, paced)

    def new_cards_stopped(self, day: dt.date, *, reviews_due: int) -> bool:
        return (
            self.new_cards_limit(day) > 0 and self.new_cards_on(day, reviews_due=reviews_due) == 0
        )


@dataclass(frozen=True)
class Done:
    """What a person has graded on a local date (same-day repeats not counted)."""

    reviewed: int = 0
    new: int = 0


@dataclass(frozen=True)
class QueueCounts:
    due: int
    new: int
    repeat: int
    reviewed_today: int
    new_today: int
    # The day's reviews in order as kept (cards.dayqueue), when the counts used them.
    reviews: DayReviews | None = field(default=None, compare=False, repr=False)
    # Their next one, when the counts' statement read it too (queue_counts' with_next).
    next_read: WindowRead | None = field(default=None, compare=False, repr=False)

    @property
    def total(self) -> int:
        return self.due + self.new + self.repeat


@dataclass(frozen=True)
class NextCard:
    card: Card
    state: ReviewState | None
    section: str  # "due", "new" or "repeat"


@dataclass(frozen=True)
class DueCard:
    state_id: int
    card_id: int
    due: dt.date
    interval: int
    # The probability of recall today (cards.memory); interview mode keeps the lowest.
    recall: float = 1.0


def overdue_order(card: DueCard, day: dt.date) -> tuple[Fraction, dt.date, int, int]:
    """Sort key of "most overdue": the card to review first sorts first.

    Behind its schedule by ``(day - due) / interval``, then the earlier due date, the
    shorter interval, the card id. :class:`Lateness` is the same rule in SQL, which needs
    no join to the cards table (a big deck's cards are never read to order its reviews).
    """
    behind = Fraction((day - card.due).days, max(card.interval, 1))
    return (-behind, card.due, card.interval, card.card_id)


def _by_user(queryset: QuerySet[Any], key: str = "user_id") -> dict[int, int]:
    return {row[key]: row["n"] for row in queryset.values(key).annotate(n=Count("id"))}


def done_on(*, user_ids: Sequence[int], day: dt.date) -> dict[int, Done]:
    """What each user graded on local date ``day``: reviews and first answers of new cards."""
    rows = (
        ReviewLog.objects.filter(user_id__in=list(user_ids), local_date=day, is_repeat=False)
        .values("user_id")
        .annotate(
            reviewed=Count("id", filter=Q(repetitions_before__gt=0)),
            new=Count("id", filter=Q(repetitions_before=0)),
        )
    )
    return {row["user_id"]: Done(reviewed=row["reviewed"], new=row["new"]) for row in rows}


def _new_room(limits: DailyLimits, today: dt.date, *, due: int, new_done: int) -> int:
    """The new cards still to come today: the day's new-card limit (which in interview
    mode depends on the reviews due) less the first answers given today."""
    return max(limits.new_cards_on(today, reviews_due=due) - new_done, 0)


def _queue(
    limits: DailyLimits,
    today: dt.date,
    *,
    reviewed: int,
    new_done: int,
    due: int,
    waiting: int,
    repeat: int,
    unseen: int,
    new_room: int | None = None,
) -> QueueCounts:
    """The day's queue from its raw counts: the one rule both readings use.

    Reviews up to the review room (the day's cap less the reviews done), new cards up to
    the new-card room; unseen cards count only when the waiting ones leave room (a reading
    may skip counting them otherwise, and pass 0). ``due`` may be capped at the review
    cap: the review room and interview mode's new-card limit are the same above it.
    ``new_room`` is :func:`_new_room`'s, when the reading has it already (it costs a
    memory-model run in interview mode).
    """
    if new_room is None:
        new_room = _new_room(limits, today, due=due, new_done=new_done)
    return QueueCounts(
        due=min(due, max(limits.max_reviews_per_day - reviewed, 0)),
        new=min(waiting + (unseen if waiting < new_room else 0), new_room),
        repeat=repeat,
        reviewed_today=reviewed,
        new_today=new_done,
    )


def queue_counts_many(
    *, limits: Mapping[int, DailyLimits], today: dt.date
) -> dict[int, QueueCounts]:
    """Today's counts of every user in ``limits`` (user id → their limits), on one local
    date, in at most four queries however many users (two when nobody needs unseen
    cards counted)."""
    user_ids = list(limits)
    done = done_on(user_ids=user_ids, day=today)
    states = ReviewState.objects.filter(user_id__in=user_ids)
    # The three kinds of state the queue holds, counted in one pass over their indexes.
    due_q, repeat_q, waiting_q = due_on_q(today), repeats_on_q(today), waiting_new_on_q(today)
    due, waiting, repeat = {}, {}, {}
    for row in (
        states.filter(due_q | waiting_q | repeat_q)
        .values("user_id")
        .annotate(
            due=Count("id", filter=due_q),
            waiting=Count("id", filter=waiting_q),
            repeat=Count("id", filter=repeat_q),
        )
        .order_by()
    ):
        due[row["user_id"]] = row["due"]
        waiting[row["user_id"]] = row["waiting"]
        repeat[row["user_id"]] = row["repeat"]
    # Unseen cards matter only to a user whose room is not filled by waiting cards (_queue
    # counts them only then), so only those users' are read. Unseen = visible cards less
    # those with a state: built-in cards (owner NULL) plus the user's own, less the user's
    # states on visible cards.
    new_room = {
        user_id: _new_room(
            limit, today, due=due.get(user_id, 0), new_done=done.get(user_id, Done()).new
        )
        for user_id, limit in limits.items()
    }
    short = [user_id for user_id in user_ids if waiting.get(user_id, 0) < new_room[user_id]]
    builtin, cards, seen = 0, {}, {}
    if short:
        cards = _by_user(
            Card.objects.filter(
                Q(owner__isnull=True, retired_at__isnull=True) | Q(owner_id__in=short)
            ),
            key="owner_id",
        )
        builtin = cards.pop(None, 0)  # type: ignore[call-overload]
        seen = _by_user(
            ReviewState.objects.filter(user_id__in=short).filter(
                Q(card__owner__isnull=True, card__retired_at__isnull=True)
                | Q(card__owner_id=F("user_id"))
            )
        )
    return {
        user_id: _queue(
            limit,
            today,
            reviewed=done.get(user_id, Done()).reviewed,
            new_done=done.get(user_id, Done()).new,
            due=due.get(user_id, 0),
            waiting=waiting.get(user_id, 0),
            repeat=repeat.get(user_id, 0),
            unseen=(
                max(builtin + cards.get(user_id, 0) - seen.get(user_id, 0), 0)
                if user_id in short
                else 0
            ),
            new_room=new_room[user_id],
        )
        for user_id, limit in limits.items()
    }


def _count_sql(
    queryset: QuerySet[Any], cap: int | None = None, *, ordered: bool = False
) -> tuple[str, tuple[Any, ...]]:
    """A scalar subquery counting ``queryset``'s rows, reading at most ``cap`` of them
    (``ordered``: in the queryset's order, which decides which rows are read first)."""
    if cap is not None and cap <= 0:
        return "0", ()
    rows = (queryset if ordered else queryset.order_by()).values("pk")
    if cap is not None:
        rows = rows[:cap]
    sql, params = rows.query.sql_with_params()
    return f"(SELECT COUNT(*) FROM ({sql}) AS capped)", tuple(params)


def queue_counts(
    *, user: User | int, limits: DailyLimits, today: dt.date, with_next: bool = False
) -> QueueCounts:
    """One user's counts (the drill's), in one round trip; the rule is :func:`_queue`,
    as for :func:`queue_counts_many`, which reads many users' raw counts grouped instead.

    Each count reads no more rows than the day's limits can use: the due reviews up to
    the review limit (the review room and the new-card limit of interview mode, which
    caps at the day's review cap, are the same above it), the waiting and unseen new
    cards up to the new-card limit (the room for new cards is never more).

    With a shared cache the reviews due come from the day's reviews as kept
    (cards.dayqueue), and the statement counts the due reviews graded today instead;
    ``with_next``: it also reads the first of the kept reviews still due, which
    :func:`next_card` shows next (the drill's next card in the same round trip).
    """
    user_id = user if isinstance(user, int) else user.pk
    review_limit = limits.max_reviews_per_day
    reviews = day_reviews(user_id=user_id, day=today, review_limit=review_limit)
    window = reviews.window() if reviews is not None and with_next else ()
    statement = _counts_template(
        connection.vendor,
        limits.new_cards_ceiling(today),
        review_limit,
        reviews is not None,
        bool(window),
    )
    ids = window_ids(window) if window else {}
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.bind(user=user_id, day=today, **ids))
        row = cursor.fetchone()
    reviewed, new_done, due, waiting, repeat, unseen = row[:COUNTS]
    next_read = None
    if window:
        # The window's columns, all NULL when none of its ids is still due.
        next_read = WindowRead(
            state=window_loader().load(row[COUNTS:]) if row[COUNTS] is not None else None
        )
    if reviews is not None:
        due = min(reviews.due_now(graded=due), review_limit)
    counts = _queue(
        limits,
        today,
        reviewed=reviewed,
        new_done=new_done,
        due=due,
        waiting=waiting,
        repeat=repeat,
        unseen=unseen,
    )
    return replace(counts, reviews=reviews, next_read=next_read) if reviews is not None else counts


# The values of the counts' statement, before the next review's columns (with_next).
COUNTS = 6


def counts_statement(
    *, user_id: int, today: dt.date, new_limit: int, review_limit: int, reviews_kept: bool = False
) -> tuple[str, list[Any]]:
    """The SQL and parameters of :func:`queue_counts`' one statement. Building it through
    the ORM costs more than running it, so it is built once per pair of limits (which
    its LIMITs hold) and database, for stand-ins bound to the user and the day here
    (cards.statements).

    ``reviews_kept``: the reviews due are read elsewhere (cards.dayqueue); the third
    value is the due reviews graded today instead of the reviews due."""
    statement = _counts_template(connection.vendor, new_limit, review_limit, reviews_kept, False)
    return statement.sql, statement.bind(user=user_id, day=today)


@functools.lru_cache(maxsize=256)
def _counts_template(
    vendor: str, new_limit: int, review_limit: int, reviews_kept: bool, with_next: bool
) -> Statement:
    sql, params = _counts_sql(
        user_id=ANY_ID,
        today=ANY_DAY,
        new_limit=new_limit,
        review_limit=review_limit,
        reviews_kept=reviews_kept,
        with_next=with_next,
    )
    statement = built(
        sql, params, WINDOW_STAND_INS if with_next else {"user": ANY_ID, "day": ANY_DAY}
    )
    # Planned once for every person and day (cards.statements.unplanned).
    return unplanned(statement, ("user", "day")) if vendor == "postgresql" else statement


def _counts_sql(
    *,
    user_id: int,
    today: dt.date,
    new_limit: int,
    review_limit: int,
    reviews_kept: bool = False,
    with_next: bool = False,
) -> tuple[str, list[Any]]:
    states = ReviewState.objects.filter(user_id=user_id)
    done = ReviewLog.objects.filter(user_id=user_id, local_date=today, is_repeat=False)
    # The day's log is read once for its three counts: an aggregate over a constant (left
    # out of GROUP BY, so there is none), one row even on a day with no grades.
    logged = (
        done.order_by()
        .annotate(day=Value(1))
        .values("day")
        .annotate(
            reviewed=Count("pk", filter=Q(repetitions_before__gt=0)),
            new_done=Count("pk", filter=Q(repetitions_before=0)),
            graded=Count("pk", filter=due_graded_q(today)),
        )
        .values("reviewed", "new_done", "graded")
    )
    logged_sql, logged_params = logged.query.sql_with_params()
    waiting_sql = _count_sql(states.filter(waiting_new_on_q(today)), new_limit)
    unseen_sql = _unseen_count_sql(user_id, new_limit)
    # Unseen cards are looked for only while the waiting ones and the day's first answers
    # leave room under the new-card limit (the room is never more, so _queue, which counts
    # them only when the waiting ones leave room, never needs them otherwise): a deck seen
    # almost whole makes that search long.
    unseen_if_room = (
        f"CASE WHEN {waiting_sql[0]} + logged.new_done < %s THEN {unseen_sql[0]} ELSE 0 END",
        (*waiting_sql[1], new_limit, *unseen_sql[1]),
    )
    parts = [
        ("logged.reviewed", ()),
        ("logged.new_done", ()),
        (
            ("logged.graded", ())
            if reviews_kept
            else _count_sql(states.filter(due_on_q(today)), review_limit)
        ),
        waiting_sql,
        _count_sql(states.filter(repeats_on_q(today))),
        unseen_if_room,
    ]
    sql = "SELECT " + ", ".join(sql for sql, _ in parts)
    params = [*(param for _, params in parts for param in params), *logged_params]
    if not with_next:
        return f"{sql} FROM ({logged_sql}) AS logged", params
    # The first of the kept reviews' window still due, beside the counts: one row either
    # way, its columns NULL when none is.
    window = window_loader().statement
    return (
        f"{sql}, next_review.* FROM ({logged_sql}) AS logged"
        f" LEFT JOIN ({window.sql}) AS next_review ON 1 = 1",
        [*params, *window.params],
    )


def _unseen_count_sql(user_id: int, cap: int) -> tuple[str, tuple[Any, ...]]:
    """The unseen cards, up to ``cap`` of each kind: the person's own from the last
    position back, the built-in deck's apart. Cards are met in deck order, so the unseen
    ones are the last: read from the first position, a deck half studied had every card
    met before reaching one that is not (a walk that grew with the deck).

    Each part says which cards it reads without the visibility rule's OR: the statement is
    prepared, and under its generic plan (the same for every person) the OR beside
    ``owner = %s`` made PostgreSQL read every card of a large deck (44 ms at 50,000 cards,
    2 ms with the values in)."""
    not_seen = ~Exists(ReviewState.objects.filter(user_id=user_id, card_id=OuterRef("pk")))
    # A person sees all of their own cards and the built-in ones not retired (visible_to).
    own = _count_sql(
        Card.objects.filter(not_seen, owner_id=user_id).order_by("-position", "-id"),
        cap,
        ordered=True,
    )
    builtin = _count_sql(
        Card.objects.filter(not_seen, owner__isnull=True, retired_at__isnull=True), cap
    )
    return f"({own[0]} + {builtin[0]})", (*own[1], *builtin[1])


def _topic_first(field: str, topic_ids: Collection[int]) -> Case:
    return Case(
        When(**{f"{field}__in": list(topic_ids)}, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )


def unseen_cards(user: User | int) -> QuerySet[Card]:
    # NOT EXISTS, not NOT IN: the planner stops at the first unseen cards it needs instead
    # of hashing every state of the user first.
    return Card.objects.visible_to(user).filter(
        ~Exists(ReviewState.objects.filter(user=user, card_id=OuterRef("pk")))
    )


def next_card(
    *,
    user: User | int,
    counts: QueueCounts,
    today: dt.date,
    priority_topic_ids: Collection[int] | Callable[[], Collection[int]] = (),
    exclude_card_id: int | None = None,
) -> NextCard | None:
    """The card to show now, given the counts computed for this request.

    ``priority_topic_ids`` may be a function giving them: it is called only when the
    next card is a new one (the only order they change)."""
    user_id = user if isinstance(user, int) else user.pk
    if counts.due:
        state = (
            next_review(counts.reviews, user_id=user_id, day=today, read=counts.next_read)
            if counts.reviews is not None
            else None
        ) or _next_due(connection.vendor).first(user=user_id, day=today)
        if state:
            return NextCard(card=state.card, state=state, section="due")
    if counts.new:
        if callable(priority_topic_ids):
            priority_topic_ids = priority_topic_ids()
        introduced = (
            ReviewState.objects.filter(waiting_new_on_q(today), user_id=user_id)
            .select_related("card__topic")
            .order_by(
                _topic_first("card__topic_id", priority_topic_ids),
                "card__topic__order",
                "card__position",
                "card_id",
            )
            .first()
        )
        if introduced:
            return NextCard(card=introduced.card, state=introduced, section="new")
        # The day's new cards, met and left: the same all day while the limits are.
        day_new = counts.new + counts.new_today
        card = _next_unseen(
            user_id=user_id, today=today, topic_ids=priority_topic_ids, ahead=day_new
        )
        if card:
            return NextCard(card=card, state=None, section="new")
    if counts.repeat:
        # Do not show the card just graded again at once when another repeat is waiting.
        if exclude_card_id is not None and counts.repeat > 1:
            state = _next_repeat(connection.vendor, True).first(
                user=user_id, day=today, card=exclude_card_id
            )
        else:
            state = _next_repeat(connection.vendor, False).first(user=user_id, day=today)
        if state:
            return NextCard(card=state.card, state=state, section="repeat")
    return None


def unseen_in_order(user_id: int, topic_ids: Collection[int]) -> QuerySet[Card]:
    """The person's unseen cards in the order the drill meets them: ``topic_ids`` (the
    plan week's) first, then topic order and deck order."""
    return unseen_cards(user_id).order_by(
        _topic_first("topic_id", topic_ids), "topic__order", "position", "id"
    )


# With a shared cache the unseen cards' order is read this many times the day's new cards
# ahead (cards.dayqueue.day_unseen), at least a window's worth.
UNSEEN_AHEAD = 4


def _next_unseen(
    *, user_id: int, today: dt.date, topic_ids: Collection[int], ahead: int
) -> Card | None:
    """The first unseen card in the drill's order: from the order as kept (read once,
    with a shared cache, ``ahead`` times UNSEEN_AHEAD ids), or from the database."""
    topics = sorted(topic_ids)
    cap = max(UNSEEN_AHEAD * ahead, WINDOW)

    def read() -> list[int]:
        return list(unseen_in_order(user_id, topics).values_list("id", flat=True)[:cap])

    # The kept order's name: the day, how far it reads ahead and the topics put first.
    first = hashlib.blake2s(",".join(map(str, topics)).encode(), digest_size=8).hexdigest()
    name = f"{today.isoformat()}:{cap}:{first}"
    kept = day_unseen(user_id=user_id, name=name, read=read)
    if kept is not None:
        return next_unseen(kept, user_id=user_id, read=read)
    return unseen_in_order(user_id, topics).select_related("topic").first()


def next_due_queryset(*, user_id: int, today: dt.date) -> QuerySet[ReviewState]:
    """The most overdue review with its card: the state is chosen alone, in a subquery,
    then read with its card (ordering a big deck's reviews joined to its cards made the
    planner read every card)."""
    due = most_overdue_first(ReviewState.objects.filter(user_id=user_id).due_on(today), today)
    return ReviewState.objects.filter(pk=Subquery(due.values("pk")[:1])).select_related(
        "card__topic"
    )


def next_repeat_queryset(
    *, user_id: int, today: dt.date, exclude_card_id: int | None = None
) -> QuerySet[ReviewState]:
    """The same-day repeat waiting longest, with its card (``exclude_card_id``'s left out)."""
    repeats = (
        ReviewState.objects.filter(user_id=user_id)
        .repeats_on(today)
        .select_related("card__topic")
        .order_by("last_reviewed_at", "card_id")
    )
    if exclude_card_id is not None:
        repeats = repeats.exclude(card_id=exclude_card_id)
    return repeats[:1]


@functools.lru_cache(maxsize=8)
def _next_due(vendor: str) -> Loader:
    return loader(
        next_due_queryset(user_id=ANY_ID, today=ANY_DAY),
        chain=STATE_CARD_TOPIC,
        stand_ins={"user": ANY_ID, "day": ANY_DAY},
    )


@functools.lru_cache(maxsize=8)
def _next_repeat(vendor: str, excluding: bool) -> Loader:
    stand_ins: dict[str, Any] = {"user": ANY_ID, "day": ANY_DAY}
    if excluding:
        stand_ins["card"] = ANY_OTHER_ID
    return loader(
        next_repeat_queryset(
            user_id=ANY_ID, today=ANY_DAY, exclude_card_id=ANY_OTHER_ID if excluding else None
        ),
        chain=STATE_CARD_TOPIC,
        stand_ins=stand_ins,
    )


def card_queued(*, user: User | int, card: Card, limits: DailyLimits, today: dt.date) -> bool:
    """Whether ``card`` is in today's queue: a review due, a same-day repeat, or a new card
    while the day's new-card limit has room. Only these may be shown by id or graded; an
    undone grade puts its card back in the queue, so the undo target passes too."""
    user_id = user if isinstance(user, int) else user.pk
    state = (
        ReviewState.objects.filter(user_id=user_id, card=card).first()
        if card.retired_at is None
        else None
    )
    return card_queued_with(card=card, state=state, user=user_id, limits=limits, today=today)


def card_queued_with(
    *,
    card: Card,
    state: ReviewState | None,
    user: User | int,
    limits: DailyLimits,
    today: dt.date,
) -> bool:
    """:func:`card_queued` on the user's ``state`` of ``card`` read already (None: none);
    a query only for a card not seen yet (the day's new cards answered so far)."""
    if card.retired_at is not None:
        return False
    user_id = user if isinstance(user, int) else user.pk
    if state is not None and (state.suspended or state.buried_on == today):
        return False
    if state is not None and state.repeat_on == today:
        return True
    if state is not None and state.last_reviewed_at is not None:
        return state.due <= today
    done = done_on(user_ids=[user_id], day=today).get(user_id, Done())
    return done.new < limits.new_cards_ceiling(today)
