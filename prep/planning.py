"""The weekly plan generator. Pure: no Django, no clock, no database.

Plain frozen dataclasses in (a track template, two dates, the hours a person has, what
they have already done) and out (a :class:`PlanDraft`). ``prep.services`` turns the draft
into ``Plan``/``PlanWeek``/``PlanItem`` rows.

The algorithm
-------------

1. **Calendar.** The days from ``start`` to the day before ``interview`` are the study
   days (the interview day is not one). Week 1 starts on ``start``; weeks are 7 days and
   the last may be shorter. A week's budget is ``hours_per_week * 60 * days / 7`` minutes,
   so a partial week is prorated. An interview more than ``MAX_DAYS`` away is planned over
   its last ``MAX_DAYS`` only (the first week then starts later than ``start``, and the
   notes say so): spreading a track thinner than a year helps nobody.

2. **Two phases.** The last ``ceil(25%)`` of the days, at least one and at most seven, are
   the *finale*; the days before it are the *topic phase*. Each week's budget is split
   between the phases by its days, so a week can end the topics and start the finale.

3. **Which topics fit.** A topic "fits" when it can have at least ``MIN_SCALE`` of its
   track minutes (every item at least ``MIN_ITEM``). Topics are taken greedily in track
   order, earlier topics being the more fundamental: a later topic never displaces an
   earlier one, but a later, smaller topic can still use time an earlier, bigger one could
   not. The rest are ``left_out`` and the plan is ``too_short``.

4. **How much time each gets.** The topic phase's minutes are shared in proportion to
   weight (water-filling): each topic gets ``lambda * weight`` minutes (the weight shrunk
   by the share of the topic already done), held between ``MIN_SCALE`` and ``MAX_SCALE``
   times its track minutes, with ``lambda`` as large as the budget allows. So a weight-3
   topic gets about three times a weight-1 topic's minutes, and time a capped topic
   cannot use goes to the others. A topic's activities are then scaled by ``its minutes /
   its track minutes`` and rounded to 5-minute steps.

5. **When.** Items keep track order (fundamentals first) and are spread evenly over the
   topic phase: an item's earliest week is where its start falls when the planned minutes
   are stretched over all the phase's minutes. So a big share spans several weeks, small
   ones share a week, and a long horizon gets a steady pace instead of a crammed first
   month. Each item goes in the first week from there with room; an item may be trimmed
   to a week's remaining room when that keeps at least two thirds of it. Nothing is ever
   put in a week without room. If an item finds no week, the whole topic phase is planned
   again with 5% less time (and so perhaps fewer topics) until it fits.

6. **Finale.** ``template.finale``, its drills first and its mock interviews and reviews
   last, so the final days end on the real thing. It is scaled to the finale's minutes
   (at most ``MAX_SCALE``) and packed from the last day backwards. If it does not fit at
   ``MIN_SCALE``, items go, drills first, then reviews, then the later mocks: one real
   mock interview beats three token ones. The last item left, a mock or a review, always
   lands in a week that overlaps the last seven days, shortened on a tiny budget to as
   little as ``MIN_KEPT_ITEM``. Room left over (earlier in the finale, as it fills from
   the end) gets a ``DRILL_MINUTES`` drill of each studied topic's weakest cards,
   heaviest topics first. If no topic fits at all, the whole horizon becomes the finale.

Re-planning contract
--------------------

``done`` lists the items already done in an earlier version of the plan. They are
history: the caller keeps those rows as they are and replaces only the not-done rest with
what this function returns. ``generate_plan`` returns only the remaining work: an activity
already done (same kind, title and topic; counted, so two done copies skip two) is not
scheduled again. Done items the caller keeps in the new first week are passed as
``spent`` minutes and come off that week's budget, so done and planned together never
exceed the hours; ``topic_ids`` keeps a rebuild to the topics its plan already had, and
``kept`` holds the minutes its not-done items had: such an item is planned at exactly those
minutes (never rescaled, never trimmed), or, when no week has room for it whole, not at
all (its topic is then left out). A topic with
every activity done is neither planned nor left out, and its weight no longer claims
time. Week numbers count from 1 at ``start``; a caller that keeps earlier weeks offsets
them. The one exception to "never again" is the mock/review item kept in the final days:
if every finale activity is done, a review of every topic is planned anyway.

Same inputs, same output: nothing here reads the clock or iterates an unordered set.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

# The kinds that make the final days a rehearsal of the interview.
FINALE_KINDS = ("mock", "review")
# Which finale item a short finale keeps longest: a mock interview, then a review.
FINALE_RANK = {"mock": 2, "review": 1}

STEP = 5  # minutes are planned in 5-minute steps
MIN_ITEM = 10
# Only the one mock/review kept on a tiny budget may be shorter than MIN_ITEM.
MIN_KEPT_ITEM = 5
MIN_SCALE = 0.5
MAX_SCALE = 1.5
# A trimmed item keeps at least this share, or it waits for a roomier week.
TRIM_KEEP = 2 / 3
FINALE_SHARE = 0.25
FINALE_MAX_DAYS = 7
MAX_DAYS = 52 * 7
DRILL_MINUTES = 20
SHRINK = 0.95
# 0.95**150 is about 0.0005 of the time: by then nothing is left to place.
MAX_ATTEMPTS = 150
TITLE_MAX = 200
TITLE_TOPICS = 3

DEFAULT_REVIEW = ("review", "Review the weakest cards of every topic", 30)

# What makes two items "the same activity" when re-planning: kind, title and topic.
type _Key = tuple[str, str, int | None]


@dataclass(frozen=True, slots=True)
class Activity:
    kind: str
    title: str
    minutes: int


@dataclass(frozen=True, slots=True)
class TrackTopic:
    topic_id: int
    title: str
    weight: int
    activities: tuple[Activity, ...]


@dataclass(frozen=True, slots=True)
class TrackTemplate:
    topics: tuple[TrackTopic, ...]
    finale: tuple[Activity, ...]


@dataclass(frozen=True, slots=True)
class DoneItem:
    kind: str
    title: str
    topic_id: int | None
    minutes: int


@dataclass(frozen=True, slots=True)
class ItemDraft:
    kind: str
    title: str
    topic_id: int | None
    minutes: int


@dataclass(frozen=True, slots=True)
class WeekDraft:
    number: int
    starts_on: date
    ends_on: date
    title: str
    topic_ids: tuple[int, ...]
    items: tuple[ItemDraft, ...]
    # hours_per_week * 60 * days / 7, rounded down: the items never add up to more.
    budget_minutes: int

    @property
    def days(self) -> int:
        return (self.ends_on - self.starts_on).days + 1

    @property
    def minutes(self) -> int:
        return sum(item.minutes for item in self.items)


@dataclass(frozen=True, slots=True)
class PlanDraft:
    weeks: tuple[WeekDraft, ...]
    left_out: tuple[str, ...]
    too_short: bool
    notes: str

    @property
    def items(self) -> tuple[ItemDraft, ...]:
        return tuple(item for week in self.weeks for item in week.items)


@dataclass(frozen=True, slots=True)
class _Work:
    """A topic's activities still to do."""

    position: int
    topic: TrackTopic
    activities: tuple[Activity, ...]
    base: int
    # Weight times the share of the topic still to do: half a topic claims half the time.
    share: float
    least: int


@dataclass(frozen=True, slots=True)
class _Placed:
    slot: int
    kind: str
    title: str
    topic_id: int | None
    minutes: int


@dataclass(frozen=True, slots=True)
class _TopicPhase:
    chosen: tuple[_Work, ...]
    placed: tuple[_Placed, ...]
    # Where each chosen topic's stretch of the phase starts, in phase minutes.
    segment_starts: tuple[float, ...]


def generate_plan(
    *,
    template: TrackTemplate,
    start: date,
    interview: date,
    hours_per_week: float | Decimal,
    done: Sequence[DoneItem] = (),
    spent: int = 0,
    topic_ids: Collection[int] | None = None,
    kept: Mapping[tuple[str, str, int | None], int] | None = None,
) -> PlanDraft:
    """Plan the work still to do from ``start`` to the day before ``interview``.

    ``spent`` is the minutes of done items the caller keeps in the first week; they take
    that much of its budget. ``topic_ids``, when given, are the only topics that may be
    planned (a rebuild keeps the topics its plan had; the others stay left out).
    ``kept`` maps (kind, title, topic id) to the minutes a rebuild keeps for that item.
    See the module docstring for the algorithm and the re-planning contract.
    """
    hours = _check(template, start, interview, hours_per_week)
    horizon = (interview - start).days
    days = min(horizon, MAX_DAYS)
    first_day = interview - timedelta(days=days)
    per_day = hours * 60 / 7

    still_done = Counter((d.kind, d.title, d.topic_id) for d in done)
    pinned: Mapping[_Key, int] = kept or {}
    work = _remaining_work(template, still_done, pinned)

    finale_days = min(FINALE_MAX_DAYS, max(1, math.ceil(days * FINALE_SHARE)))
    budgets, topic_caps, finale_caps = _layout(days, finale_days, per_day, spent)
    topic_weeks = [w for w in range(len(budgets)) if 7 * w < days - finale_days]
    plannable = [w for w in work if topic_ids is None or w.topic.topic_id in topic_ids]
    topics = _plan_topics(plannable, [topic_caps[w] for w in topic_weeks], pinned)
    if plannable and not topics.chosen:
        # Not one topic fits: the days are better spent rehearsing than left empty.
        finale_days = days
        budgets, topic_caps, finale_caps = _layout(days, finale_days, per_day, spent)
        topic_weeks = []
    finale_weeks = [w for w in range(len(budgets)) if 7 * w + 7 > days - finale_days]
    studied = [*topics.chosen, *(_fully_done(template, work))]
    finale = _plan_finale(
        _finale_activities(template, still_done),
        _drills(studied, still_done, pinned),
        [finale_caps[w] for w in finale_weeks],
        [i for i, w in enumerate(finale_weeks) if min(7 * w + 7, days) > days - 7],
        pinned,
    )

    chosen_ids = {w.topic.topic_id for w in topics.chosen}
    left_out = tuple(w.topic.title for w in work if w.topic.topic_id not in chosen_ids)
    weeks = _weeks(
        template=template,
        first_day=first_day,
        days=days,
        finale_days=finale_days,
        budgets=budgets,
        topic_weeks=topic_weeks,
        topic_caps=[topic_caps[w] for w in topic_weeks],
        topics=topics,
        finale_weeks=finale_weeks,
        finale=finale,
    )
    notes = _notes(
        horizon=horizon,
        first_day=first_day,
        hours=hours,
        work=work,
        topics=topics,
        left_out=left_out,
    )
    return PlanDraft(weeks=weeks, left_out=left_out, too_short=bool(left_out), notes=notes)


def _check(
    template: TrackTemplate, start: date, interview: date, hours_per_week: float | Decimal
) -> float:
    # datetime is a date subclass; a datetime here is a caller's bug (and a time zone
    # question this module must not answer).
    if isinstance(start, datetime) or isinstance(interview, datetime):
        raise TypeError("start and interview must be dates, not datetimes")
    if start >= interview:
        raise ValueError(
            f"The interview ({interview.isoformat()}) must be after the plan's start "
            f"({start.isoformat()}): there is no day left to study."
        )
    hours = float(hours_per_week)
    if not math.isfinite(hours) or hours <= 0:
        raise ValueError(f"hours_per_week must be a positive number, not {hours_per_week}")
    for topic in template.topics:
        if not 1 <= topic.weight <= 5:
            raise ValueError(f"{topic.title}: weight must be 1 to 5, not {topic.weight}")
    for activity in (*(a for t in template.topics for a in t.activities), *template.finale):
        if activity.minutes < 1:
            raise ValueError(f"{activity.title}: minutes must be positive")
    return hours


def _round_step(minutes: float) -> int:
    # Half up, not Python's half-to-even, so 22.5 reads as 25 everywhere.
    return STEP * math.floor(minutes / STEP + 0.5)


def _floor_step(minutes: float) -> int:
    return STEP * math.floor(minutes / STEP + 1e-9)


def _whole(minutes: float) -> int:
    # The epsilon absorbs float noise (6 h * 60 * 7 / 7 must be 360, not 359).
    return math.floor(minutes + 1e-9)


def _scaled(minutes: int, factor: float) -> int:
    return max(MIN_ITEM, _round_step(minutes * factor))


def _remaining_work(
    template: TrackTemplate, still_done: Counter[_Key], pinned: Mapping[_Key, int]
) -> list[_Work]:
    work = []
    for position, topic in enumerate(template.topics):
        remaining = []
        for activity in topic.activities:
            key = (activity.kind, activity.title, topic.topic_id)
            if still_done[key] > 0:
                still_done[key] -= 1
            else:
                remaining.append(activity)
        if not remaining:
            continue
        total = sum(a.minutes for a in topic.activities)
        base = sum(a.minutes for a in remaining)
        work.append(
            _Work(
                position=position,
                topic=topic,
                activities=tuple(remaining),
                base=base,
                share=topic.weight * base / total,
                least=sum(
                    pinned.get((a.kind, a.title, topic.topic_id)) or _scaled(a.minutes, MIN_SCALE)
                    for a in remaining
                ),
            )
        )
    return work


def _fully_done(template: TrackTemplate, work: Sequence[_Work]) -> list[_Work]:
    remaining = {w.topic.topic_id for w in work}
    return [
        _Work(position=i, topic=t, activities=(), base=0, share=0.0, least=0)
        for i, t in enumerate(template.topics)
        if t.activities and t.topic_id not in remaining
    ]


def _layout(
    days: int, finale_days: int, per_day: float, spent: int = 0
) -> tuple[list[int], list[int], list[int]]:
    """Per week: its budget and the minutes of its topic days and of its finale days.

    ``spent`` minutes are already taken in the first week: from its topic days first."""
    topic_days = days - finale_days
    budgets, topic_caps, finale_caps = [], [], []
    for first in range(0, days, 7):
        last = min(first + 7, days)
        in_topics = max(0, min(last, topic_days) - first)
        in_finale = last - first - in_topics
        budgets.append(_whole(per_day * (last - first)))
        # floor(a) + floor(b) <= a + b: the two phases never add up to more than the week.
        topic_caps.append(_whole(per_day * in_topics))
        finale_caps.append(_whole(per_day * in_finale))
    from_topics = min(spent, topic_caps[0])
    topic_caps[0] -= from_topics
    finale_caps[0] = max(0, finale_caps[0] - (spent - from_topics))
    return budgets, topic_caps, finale_caps


def _fit(minutes: int, room: int, *, whole: bool = False) -> int:
    """What of an item a slot with ``room`` minutes takes: all, a trimmed part, or 0.

    A ``whole`` item (its minutes kept by a rebuild) is never trimmed."""
    if minutes <= room:
        return minutes
    if whole:
        return 0
    trimmed = _floor_step(room)
    if trimmed >= MIN_ITEM and trimmed >= minutes * TRIM_KEEP:
        return trimmed
    return 0


def _pack(
    minutes: Sequence[int],
    earliest: Sequence[int],
    caps: Sequence[int],
    whole: Sequence[bool] | None = None,
) -> list[tuple[int, int]] | None:
    """Place items in order, each in a slot no earlier than its own nor the previous one's.

    Returns (slot, minutes) per item, or None when an item finds no slot with room.
    """
    room = list(caps)
    placed = []
    slot = 0
    fixed = whole if whole is not None else [False] * len(minutes)
    for wanted, first, keep in zip(minutes, earliest, fixed, strict=True):
        slot = max(slot, first)
        while slot < len(room) and not _fit(wanted, room[slot], whole=keep):
            slot += 1
        if slot == len(room):
            return None
        taken = _fit(wanted, room[slot], whole=keep)
        room[slot] -= taken
        placed.append((slot, taken))
    return placed


def _allocate(chosen: Sequence[_Work], budget: float) -> list[float]:
    """Minutes per topic: lambda * share, clamped to [least, MAX_SCALE * base]."""
    most = [w.base * MAX_SCALE for w in chosen]
    if sum(max(w.least, m) for w, m in zip(chosen, most, strict=True)) <= budget:
        return [max(w.least, m) for w, m in zip(chosen, most, strict=True)]

    def clamped(lam: float) -> list[float]:
        return [max(w.least, min(lam * w.share, m)) for w, m in zip(chosen, most, strict=True)]

    low, high = 0.0, max(m / w.share for w, m in zip(chosen, most, strict=True))
    # The total is monotone in lambda; 60 halvings is far below a minute.
    for _ in range(60):
        middle = (low + high) / 2
        if sum(clamped(middle)) > budget:
            high = middle
        else:
            low = middle
    return clamped(low)


def _plan_topics(
    work: Sequence[_Work], caps: Sequence[int], pinned: Mapping[_Key, int]
) -> _TopicPhase:
    room = sum(caps)
    starts = [sum(caps[:i]) for i in range(len(caps))]
    for attempt in range(MAX_ATTEMPTS):
        budget = room * SHRINK**attempt
        chosen: list[_Work] = []
        used = 0
        for w in work:
            if used + w.least <= budget:
                chosen.append(w)
                used += w.least
        if not chosen:
            break

        items: list[tuple[_Work, Activity, int]] = []
        for w, target in zip(chosen, _allocate(chosen, budget), strict=True):
            items.extend(
                (
                    w,
                    a,
                    pinned.get((a.kind, a.title, w.topic.topic_id))
                    or _scaled(a.minutes, target / w.base),
                )
                for a in w.activities
            )
        total = sum(m for _, _, m in items)

        # Stretch the planned minutes over the whole phase: an item may not start before
        # its point on that stretch, so a roomy plan keeps a steady pace to the end.
        earliest: list[int] = []
        segment_starts: list[float] = []
        before = 0
        previous = None
        for w, _, m in items:
            point = room * before / total
            if w is not previous:
                segment_starts.append(point)
                previous = w
            earliest.append(max(0, bisect_right(starts, point) - 1))
            before += m
        whole = [(a.kind, a.title, w.topic.topic_id) in pinned for w, a, _ in items]
        placed = _pack([m for _, _, m in items], earliest, caps, whole)
        if placed is None:
            continue
        return _TopicPhase(
            chosen=tuple(chosen),
            placed=tuple(
                _Placed(slot, a.kind, a.title, w.topic.topic_id, m)
                for (w, a, _), (slot, m) in zip(items, placed, strict=True)
            ),
            segment_starts=tuple(segment_starts),
        )
    return _TopicPhase(chosen=(), placed=(), segment_starts=())


def _finale_activities(template: TrackTemplate, still_done: Counter[_Key]) -> list[Activity]:
    remaining = []
    for activity in template.finale:
        key = (activity.kind, activity.title, None)
        if still_done[key] > 0:
            still_done[key] -= 1
        else:
            remaining.append(activity)
    if not any(a.kind in FINALE_KINDS for a in remaining):
        remaining.append(Activity(*DEFAULT_REVIEW))
    return remaining


def _drills(
    studied: Sequence[_Work], still_done: Counter[_Key], pinned: Mapping[_Key, int]
) -> list[_Placed]:
    """One drill per studied topic, heaviest first: what interviewers ask most."""
    drills = []
    for w in sorted(studied, key=lambda w: (-w.topic.weight, w.position)):
        title = f"Drill your weakest {w.topic.title} cards"
        key = ("drill", title, w.topic.topic_id)
        if still_done[key] > 0:
            still_done[key] -= 1
            continue
        drills.append(
            _Placed(-1, "drill", title, w.topic.topic_id, pinned.get(key) or DRILL_MINUTES)
        )
    return drills


def _plan_finale(
    activities: Sequence[Activity],
    drills: Sequence[_Placed],
    caps: Sequence[int],
    last_days: Sequence[int],
    pinned: Mapping[_Key, int],
) -> list[_Placed]:
    """Place the finale from the end backwards, then the weak-topic drills where room is left.

    ``last_days`` are the slots whose week overlaps the interview's last seven days: the
    last item, a mock or review, must land in one of them.
    """
    # Rehearse the interview last: the finale's own drills go first, mocks and reviews
    # after, so the final days end on the real thing.
    items = sorted(activities, key=lambda a: a.kind in FINALE_KINDS)
    room = sum(caps)
    placed = _finale_fit(items, caps, room, last_days, pinned)
    while placed is None and len(items) > 1:
        # Fewer, real mock interviews beat many token ones: below MIN_SCALE an item goes,
        # drills first, then reviews, then the later mocks. Mocks and reviews outrank the
        # drills in front of them, so the last item left is still a mock or a review.
        drop = min(range(len(items)), key=lambda i: (FINALE_RANK.get(items[i].kind, 0), -i))
        del items[drop]
        placed = _finale_fit(items, caps, room, last_days, pinned)
    if placed is None:
        # The last mock/review alone does not fit at MIN_ITEM: it gets the roomiest day.
        kept = items[-1]
        slot = max(last_days, key=lambda i: (caps[i], i))
        minutes = min(kept.minutes, _floor_step(caps[slot]))
        was = pinned.get((kept.kind, kept.title, None))
        if was is not None:
            # A rebuild keeps its minutes or leaves it out; it never shrinks it.
            minutes = was if was <= caps[slot] else 0
        if minutes < MIN_KEPT_ITEM:
            return []
        return [_Placed(slot, kept.kind, kept.title, None, minutes)]

    left = list(caps)
    for item in placed:
        left[item.slot] -= item.minutes
    extra = []
    for drill in drills:
        keep = (drill.kind, drill.title, drill.topic_id) in pinned
        room_for = next(
            (i for i in range(len(left)) if _fit(drill.minutes, left[i], whole=keep)), None
        )
        if room_for is None:
            break
        minutes = _fit(drill.minutes, left[room_for], whole=keep)
        left[room_for] -= minutes
        extra.append(_Placed(room_for, drill.kind, drill.title, drill.topic_id, minutes))
    # Drill the weak spots before the mocks that will find them.
    return [*extra, *placed]


def _finale_fit(
    items: Sequence[Activity],
    caps: Sequence[int],
    room: int,
    last_days: Sequence[int],
    pinned: Mapping[_Key, int],
) -> list[_Placed] | None:
    factor = min(MAX_SCALE, room / sum(a.minutes for a in items))
    # A lone item may shrink to MIN_ITEM; several give way to fewer before going below pace.
    floor = MIN_SCALE if len(items) > 1 else 0.0
    count = len(caps)
    whole = [(a.kind, a.title, None) in pinned for a in items]
    while factor >= floor:
        minutes = [pinned.get((a.kind, a.title, None)) or _scaled(a.minutes, factor) for a in items]
        # Packed backwards: the latest days fill first and keep the finale's order.
        backwards = _pack(minutes[::-1], [0] * len(items), caps[::-1], whole[::-1])
        if backwards is not None:
            placed = [
                _Placed(count - 1 - slot, a.kind, a.title, None, m)
                for a, (slot, m) in zip(items, backwards[::-1], strict=True)
            ]
            if placed[-1].slot in last_days:
                return placed
        if all(m <= MIN_ITEM or keep for m, keep in zip(minutes, whole, strict=True)):
            return None
        factor *= SHRINK
    return None


def _weeks(
    *,
    template: TrackTemplate,
    first_day: date,
    days: int,
    finale_days: int,
    budgets: Sequence[int],
    topic_weeks: Sequence[int],
    topic_caps: Sequence[int],
    topics: _TopicPhase,
    finale_weeks: Sequence[int],
    finale: Sequence[_Placed],
) -> tuple[WeekDraft, ...]:
    position = {t.topic_id: i for i, t in enumerate(template.topics)}
    titles = {t.topic_id: t.title for t in template.topics}
    by_week: dict[int, list[_Placed]] = {}
    for item in topics.placed:
        by_week.setdefault(topic_weeks[item.slot], []).append(item)
    finale_by_week: dict[int, list[_Placed]] = {}
    for item in finale:
        finale_by_week.setdefault(finale_weeks[item.slot], []).append(item)
    starts = [sum(topic_caps[:i]) for i in range(len(topic_caps))]

    weeks = []
    for w, budget in enumerate(budgets):
        starts_on = first_day + timedelta(days=7 * w)
        ends_on = first_day + timedelta(days=min(7 * w + 7, days) - 1)
        study = by_week.get(w, [])
        rehearse = finale_by_week.get(w, [])
        focus = sorted(
            {i.topic_id for i in study if i.topic_id is not None}, key=position.__getitem__
        )
        if not focus and w in topic_weeks and topics.chosen:
            # No item lands here on a roomy plan: the week still belongs to a topic.
            slot = topic_weeks.index(w)
            middle = starts[slot] + topic_caps[slot] / 2
            segment = max(0, bisect_right(topics.segment_starts, middle) - 1)
            focus = [topics.chosen[segment].topic.topic_id]
        drilled = [i.topic_id for i in rehearse if i.topic_id is not None]
        topic_ids = tuple(sorted({*focus, *drilled}, key=position.__getitem__))
        title = _week_title(
            focus=[titles[t] for t in focus],
            has_topic_days=7 * w < days - finale_days,
            has_finale_days=min(7 * w + 7, days) > days - finale_days,
            is_last=w == len(budgets) - 1,
            days=(ends_on - starts_on).days + 1,
        )
        weeks.append(
            WeekDraft(
                number=w + 1,
                starts_on=starts_on,
                ends_on=ends_on,
                title=title,
                topic_ids=topic_ids,
                items=tuple(
                    ItemDraft(kind=i.kind, title=i.title, topic_id=i.topic_id, minutes=i.minutes)
                    for i in (*study, *rehearse)
                ),
                budget_minutes=budget,
            )
        )
    return tuple(weeks)


def _week_title(
    *, focus: Sequence[str], has_topic_days: bool, has_finale_days: bool, is_last: bool, days: int
) -> str:
    topics = " · ".join(focus[:TITLE_TOPICS])
    if len(focus) > TITLE_TOPICS:
        topics += f" and {len(focus) - TITLE_TOPICS} more"
    if has_topic_days and has_finale_days and topics:
        title = f"{topics} · then mock interviews and review"
    elif has_finale_days and is_last:
        title = ("Final week" if days == 7 else "Final days") + ": mock interviews and review"
    elif has_finale_days:
        title = "Mock interviews and review"
    else:
        title = topics or "Daily drill"
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1].rstrip() + "…"
    return title


def _notes(
    *,
    horizon: int,
    first_day: date,
    hours: float,
    work: Sequence[_Work],
    topics: _TopicPhase,
    left_out: Sequence[str],
) -> str:
    notes = []
    if horizon > MAX_DAYS:
        notes.append(
            f"Your interview is {_span(horizon)} away: the plan covers the last "
            f"{MAX_DAYS // 7} weeks, from {first_day.day} {first_day:%B} {first_day.year}. "
            "Until then, keep up the daily drill."
        )
    if left_out:
        fit = (
            f"{len(topics.chosen)} of {len(work)}" if topics.chosen else f"none of the {len(work)}"
        )
        notes.append(
            f"Your {_span(min(horizon, MAX_DAYS))} before the interview fit {fit} topics "
            f"at {hours:g} h/week: left out {', '.join(left_out)}. "
            "Consider more hours per week or a later interview date."
        )
    planned = sum(i.minutes for i in topics.placed)
    base = sum(w.base for w in topics.chosen)
    if base and planned < 0.9 * base:
        notes.append(
            f"At {hours:g} h/week the activities are cut to about "
            f"{round(100 * planned / base)}% of the track's pace."
        )
    if not work:
        notes.append(
            "Every topic's activities are done: the plan holds mock interviews and review."
        )
    return " ".join(notes)


def _span(days: int) -> str:
    if days < 14:
        return f"{days} day{'s' if days != 1 else ''}"
    weeks, rest = divmod(days, 7)
    return f"{weeks} weeks" + (f" and {rest} day{'s' if rest != 1 else ''}" if rest else "")
