"""Interview mode: the interval cap, new cards stopping, and normal scheduling after the
day, on frozen clocks across whole runs to an interview date, in zones far from UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from cards.interview import (
    FSRS,
    SM2,
    Horizon,
    capped_interval,
    new_card_recall,
    new_cards_open,
    reviews_to_keep,
)
from cards.memory import Memory, Model
from cards.models import ReviewLog, ReviewState
from cards.queue import DailyLimits, next_card, queue_counts
from cards.scheduling import Sm2State, next_state
from cards.services import review_record
from core.localtime import local_date
from prep.models import Profile
from tests.factories import CardFactory, TopicFactory

TODAY = dt.date(2027, 2, 1)
MODEL = Model()


def test_an_interval_past_the_interview_is_cut_when_recall_would_fall_below_target() -> None:
    horizon = Horizon(interview=TODAY + dt.timedelta(days=20), target=0.9)
    weak = Memory(stability=5.0, difficulty=6.0)
    capped = capped_interval(model=MODEL, memory=weak, today=TODAY, interval=38, horizon=horizon)
    assert capped == MODEL.interval(weak, 0.9) == 5
    # Back while still at the target: recall on the day it comes back is 90% or more.
    assert MODEL.retrievability(weak, capped) >= 0.9


def test_an_interval_is_kept_when_the_card_will_still_be_above_target_on_the_day() -> None:
    horizon = Horizon(interview=TODAY + dt.timedelta(days=20))
    strong = Memory(stability=300.0, difficulty=3.0)
    assert (
        capped_interval(model=MODEL, memory=strong, today=TODAY, interval=38, horizon=horizon) == 38
    )
    # Inside the days left, or with no interview, or on and after the day: untouched.
    weak = Memory(stability=5.0, difficulty=6.0)
    for interval, h in [
        (19, horizon),
        (38, Horizon()),
        (38, Horizon(interview=TODAY)),
        (38, Horizon(interview=TODAY - dt.timedelta(days=3))),
    ]:
        assert (
            capped_interval(model=MODEL, memory=weak, today=TODAY, interval=interval, horizon=h)
            == interval
        )


def test_a_higher_target_brings_the_card_back_before_the_interview() -> None:
    interview = TODAY + dt.timedelta(days=4)
    memory = Memory(stability=40.0, difficulty=8.0)
    assert 0.98 < MODEL.retrievability(memory, 4) < 0.99
    for target, expected in [(0.98, 60), (0.99, 3)]:
        horizon = Horizon(interview=interview, target=target)
        assert (
            capped_interval(model=MODEL, memory=memory, today=TODAY, interval=60, horizon=horizon)
            == expected
        )


def test_new_cards_stop_in_the_last_days_only() -> None:
    interview = TODAY + dt.timedelta(days=30)
    open_days = [
        new_cards_open(
            model=MODEL, today=interview - dt.timedelta(days=d), horizon=Horizon(interview)
        )
        for d in range(30, 0, -1)
    ]
    assert all(open_days[:-3])
    assert not any(open_days[-3:])
    assert new_cards_open(model=MODEL, today=interview, horizon=Horizon(interview))
    assert new_cards_open(model=MODEL, today=TODAY, horizon=Horizon())


def test_in_the_last_days_new_cards_only_come_in_the_time_reviews_leave() -> None:
    interview = TODAY + dt.timedelta(days=2)
    limits = DailyLimits(
        new_cards_per_day=10,
        max_reviews_per_day=150,
        horizon=Horizon(interview),
        minutes_per_day=4,  # 30 reviews at 8 s
    )
    assert limits.review_cap(day=TODAY, seconds_per_review=8) == 30
    assert limits.new_cards_on(TODAY, reviews_due=30) == 0
    assert limits.new_cards_stopped(TODAY, reviews_due=30)
    assert limits.new_cards_on(TODAY, reviews_due=24) == 3  # two showings each
    assert limits.new_cards_on(TODAY, reviews_due=0) == 10
    # Earlier, a new card can still be learned to the target: the full limit.
    assert limits.new_cards_on(interview - dt.timedelta(days=10), reviews_due=500) == 10
    # No interview: as today.
    plain = DailyLimits(new_cards_per_day=10, max_reviews_per_day=150)
    assert plain.new_cards_on(TODAY, reviews_due=500) == 10


def quality_for(card_id: int, day: int) -> int:
    """A fixed, mixed learner: mostly Good, a lapse now and then, some Hard and Easy."""
    return [4, 4, 5, 2, 4, 3, 4, 5, 4, 1, 4, 4, 3][(card_id * 7 + day * 3) % 13]


def run(user: Any, zone: ZoneInfo, days: int, start: dt.datetime) -> list[dt.date]:
    """Do every day's queue at 07:30 local for ``days`` days; returns the local dates."""
    dates = []
    for day in range(days):
        local = dt.datetime.combine(
            start.astimezone(zone).date() + dt.timedelta(days=day), dt.time(7, 30), tzinfo=zone
        )
        with time_machine.travel(local, tick=False):
            now = timezone.now()
            today = local_date(now, zone)
            profile = Profile.objects.get(user=user)
            for _ in range(200):
                counts = queue_counts(user=user, limits=profile.limits, today=today)
                item = next_card(user=user, counts=counts, today=today)
                if item is None:
                    break
                quality = quality_for(item.card.pk, day)
                if item.section == "repeat":
                    quality = 4
                review_record(
                    user=user,
                    card=item.card,
                    quality=quality,
                    now=now,
                    shown_version=item.state.version if item.state else 0,
                    zone=zone,
                    limits=profile.limits,
                )
            dates.append(today)
    return dates


@pytest.mark.django_db
@pytest.mark.parametrize("scheduler", [SM2, FSRS])
@pytest.mark.parametrize("zone_name", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_a_whole_run_to_the_interview_keeps_every_card_above_target_or_coming_back(
    owner: Any, scheduler: str, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    # 23:00 UTC: already the next day in Kiritimati (UTC+14), still the day before in
    # Pago Pago (UTC-11), so a wrong zone anywhere moves dates.
    start = dt.datetime(2027, 1, 31, 23, 0, tzinfo=dt.UTC)
    first_day = start.astimezone(zone).date()
    interview = first_day + dt.timedelta(days=21)
    topic = TopicFactory()
    CardFactory.create_batch(120, topic=topic)
    Profile.objects.filter(user=owner).update(
        time_zone=zone_name,
        interview_date=interview,
        new_cards_per_day=5,
        scheduler=scheduler,
    )
    dates = run(owner, zone, 21, start)
    assert dates[0] == first_day
    assert dates[-1] == interview - dt.timedelta(days=1)

    states = list(ReviewState.objects.filter(user=owner))
    # The default six hours a week leave time for new cards to the end.
    assert len(states) == 21 * 5
    for state in states:
        recall = MODEL.recall_on(state.memory, state.memory_on, interview)
        # No next review after the interview unless the card is above target on the day.
        assert state.due <= interview or recall >= 0.9, (state.due, recall)
    # Both kinds happened: cards kept beyond the day (strong enough) and cards cut back.
    assert any(s.due > interview for s in states)
    assert any(s.due <= interview for s in states)


@pytest.mark.django_db
def test_after_the_interview_and_without_one_sm2_is_exactly_as_published(owner: Any) -> None:
    zone = ZoneInfo("Pacific/Kiritimati")
    start = dt.datetime(2027, 1, 31, 23, 0, tzinfo=dt.UTC)
    first_day = start.astimezone(zone).date()
    CardFactory.create_batch(10, topic=TopicFactory())
    # The interview was yesterday: scheduling is normal again.
    Profile.objects.filter(user=owner).update(
        time_zone="Pacific/Kiritimati",
        interview_date=first_day - dt.timedelta(days=1),
        new_cards_per_day=5,
    )
    run(owner, zone, 30, start)
    logs = ReviewLog.objects.filter(user=owner, is_repeat=False)
    assert logs.count() > 20
    for log in logs:
        before = Sm2State(log.repetitions_before, log.interval_before, log.easiness_before)
        assert log.interval_after == next_state(before, log.quality).interval
        assert log.due_after == log.local_date + dt.timedelta(days=log.interval_after)


@pytest.mark.django_db
def test_switching_scheduler_keeps_history_and_state(owner: Any) -> None:
    zone = ZoneInfo("Pacific/Pago_Pago")
    start = dt.datetime(2027, 1, 31, 23, 0, tzinfo=dt.UTC)
    CardFactory.create_batch(6, topic=TopicFactory())
    Profile.objects.filter(user=owner).update(time_zone="Pacific/Pago_Pago", new_cards_per_day=6)
    run(owner, zone, 10, start)
    before = {
        s.card_id: (s.repetitions, s.easiness, s.stability, s.due)
        for s in ReviewState.objects.filter(user=owner)
    }
    logs = ReviewLog.objects.filter(user=owner).count()
    Profile.objects.filter(user=owner).update(scheduler=FSRS)
    after = {
        s.card_id: (s.repetitions, s.easiness, s.stability, s.due)
        for s in ReviewState.objects.filter(user=owner)
    }
    assert after == before
    assert ReviewLog.objects.filter(user=owner).count() == logs
    run(owner, zone, 10, start + dt.timedelta(days=10))
    # FSRS now sets the intervals, from the memory state the SM-2 days built: one more
    # grade of Good, on a day of its own, gets FSRS's interval for its new memory.
    profile = Profile.objects.get(user=owner)
    state = ReviewState.objects.filter(user=owner).order_by("card_id").first()
    assert state is not None
    moment = start + dt.timedelta(days=30)
    with time_machine.travel(moment, tick=False):
        review_record(
            user=owner,
            card=state.card,
            quality=4,
            now=moment,
            shown_version=state.version,
            zone=zone,
            limits=profile.limits,
        )
    state.refresh_from_db()
    assert state.interval == MODEL.interval(state.memory, 0.9)


def test_a_new_card_met_earlier_or_known_at_first_sight_is_better_known_on_the_day() -> None:
    interview = TODAY + dt.timedelta(days=20)
    horizon = Horizon(interview)

    def recall(days_before: int, known: float = 0.0) -> float:
        return new_card_recall(
            model=MODEL,
            met_on=interview - dt.timedelta(days=days_before),
            horizon=horizon,
            known_at_first=known,
        )

    assert recall(20) >= 0.9 > recall(1) > 0.3
    assert recall(2, known=1.0) > recall(2, known=0.5) > recall(2)
    assert recall(0) == 0.0  # met on the day itself: too late
    for days in (20, 1):
        opened = new_cards_open(
            model=MODEL, today=interview - dt.timedelta(days=days), horizon=horizon
        )
        assert opened == (recall(days) >= 0.9)


def test_keeping_a_card_costs_the_reviews_the_schedule_gives_it_before_the_day() -> None:
    interview = TODAY + dt.timedelta(days=30)
    horizon = Horizon(interview)
    strong = Memory(stability=900.0, difficulty=3.0)
    weak = Memory(stability=1.0, difficulty=7.0)
    far = interview + dt.timedelta(days=100)

    def keep(memory: Memory, due: dt.date, today: dt.date = TODAY) -> int:
        return reviews_to_keep(
            model=MODEL, memory=memory, last=TODAY, due=due, today=today, horizon=horizon
        )

    assert keep(strong, far) == 0  # still above the target on the day, unseen till then
    assert keep(weak, far) == 1  # the final sweep's one look
    assert 3 <= keep(weak, TODAY) <= 10  # back again and again, intervals growing
    assert keep(weak, TODAY, today=interview) == 0  # after the interview: nothing to keep
