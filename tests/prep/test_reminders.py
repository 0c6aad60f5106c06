"""prep.scheduled: scheduling, the claim, the sweep, the batch sender and the rollover."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from cards.models import Card, ReviewLog, ReviewState, StudyDay
from cards.queue import queue_counts
from prep.models import EmailDelivery, Profile
from prep.scheduled.digests import daily_digests
from prep.scheduled.reminders import deliveries_recover, reminders_claim_due, reminders_sweep
from prep.scheduled.rollover import rollovers_run_due
from prep.scheduled.sending import TransientMailError, reminders_send_batch
from prep.services import profile_update
from prep.stats import at_risk_many
from prep.tasks import redis_broker_problems, retry_countdown, send_reminder_batch
from tests.factories import CardFactory, TopicFactory
from tests.integration.builders import deck, person, plan, reviewed
from tests.integration.smtp_sink import SinkHandler, SmtpSink

UTC = dt.UTC
Status = EmailDelivery.Status
# Monday 2026-11-23, 06:00 UTC: 07:00 in Berlin, 01:00 in New York.
MONDAY = dt.datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: int = 23) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def travel() -> Iterator[Callable[[dt.datetime], None]]:
    """Move the clock (tick=False) to an instant; user_create and friends read it."""
    travellers: list[Any] = []

    def go(instant: dt.datetime) -> None:
        if travellers:
            travellers.pop().stop()
        traveller = time_machine.travel(instant, tick=False)
        traveller.start()
        travellers.append(traveller)

    yield go
    for traveller in travellers:
        traveller.stop()


@pytest.fixture
def sweep(django_capture_on_commit_callbacks: Any) -> Callable[..., list[int]]:
    """Run a sweep at ``now`` and send its batches inline; the delivery ids it handed on."""

    def run(now: dt.datetime, **kwargs: Any) -> list[int]:
        handed: list[int] = []

        def send(ids: list[int]) -> None:
            handed.extend(ids)
            reminders_send_batch(delivery_ids=ids, now=now)

        with django_capture_on_commit_callbacks(execute=True):
            reminders_sweep(now=now, send=send, **kwargs)
        return handed

    return run


def berliner(travel: Callable[[dt.datetime], None], name: str = "berta", **fields: Any) -> Any:
    """A Berlin user (08:00 local = 07:00 UTC in winter) with two reviews due today."""
    travel(MONDAY)
    user = person(name, zone="Europe/Berlin", **fields)
    if not Card.objects.exists():
        deck(topics=1, cards_each=4)
    reviewed(user, list(Card.objects.all()[:2]), due=dt.date(2026, 11, 23))
    return user


# --- Scheduling -------------------------------------------------------------------------


def test_a_new_profile_is_scheduled_at_its_local_reminder_time(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    travel(MONDAY)
    user = person("ny", zone="America/New_York", at=dt.time(7, 30))
    profile = Profile.objects.get(user=user)
    assert profile.next_reminder_at == at(12, 30)
    assert profile.next_reminder_on == dt.date(2026, 11, 23)
    # The rollover is the next local midnight: the 24th begins at 05:00 UTC in New York.
    assert profile.next_rollover_at == at(5, 0, day=24)
    assert profile.next_rollover_on == dt.date(2026, 11, 24)


def test_a_reminder_time_already_past_today_is_scheduled_for_tomorrow(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    travel(at(9))
    user = person("late", zone="Europe/Berlin", at=dt.time(8))
    assert Profile.objects.get(user=user).next_reminder_on == dt.date(2026, 11, 24)


def test_turning_both_emails_off_unschedules_the_reminder_but_not_the_rollover(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    travel(MONDAY)
    user = person("quiet", email_reminders=False, weekly_summary=False)
    profile = Profile.objects.get(user=user)
    assert profile.next_reminder_at is None
    assert profile.next_rollover_at is not None


def test_moving_the_reminder_later_on_a_reminded_day_waits_for_tomorrow(
    db: Any, travel: Callable[[dt.datetime], None], sweep: Callable[..., list[int]]
) -> None:
    user = berliner(travel)
    travel(at(7))
    assert len(sweep(at(7))) == 1
    travel(at(9))
    profile = Profile.objects.get(user=user)
    profile_update(profile=profile, fields={"reminder_time": dt.time(18)})
    profile.refresh_from_db()
    assert profile.next_reminder_on == dt.date(2026, 11, 24)
    assert sweep(at(17, 30)) == []
    assert len(mail.outbox) == 1


def test_profiles_made_without_a_schedule_get_one_from_the_sweep(
    db: Any, travel: Callable[[dt.datetime], None], sweep: Callable[..., list[int]]
) -> None:
    user = berliner(travel)
    Profile.objects.filter(user=user).update(
        next_reminder_at=None, next_reminder_on=None, next_rollover_at=None
    )
    sweep(at(6, 30))
    profile = Profile.objects.get(user=user)
    assert profile.next_reminder_at == at(7)
    assert profile.next_rollover_at is not None


# --- The claim --------------------------------------------------------------------------


def test_a_due_profile_is_claimed_once(db: Any, travel: Callable[[dt.datetime], None]) -> None:
    user = berliner(travel)
    first = reminders_claim_due(now=at(7), batch_size=10)
    second = reminders_claim_due(now=at(7, 1), batch_size=10)
    assert len(first.delivery_ids) == 1
    assert second.profile_ids == []
    profile = Profile.objects.get(user=user)
    assert profile.last_reminder_on == dt.date(2026, 11, 23)
    assert profile.next_reminder_at == at(7, day=24)
    delivery = EmailDelivery.objects.get()
    assert (delivery.kind, delivery.local_date, delivery.status) == (
        "daily",
        dt.date(2026, 11, 23),
        Status.QUEUED,
    )
    assert delivery.due_at == at(7)


def test_a_profile_not_yet_due_is_not_claimed(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    berliner(travel)
    assert reminders_claim_due(now=at(6, 59), batch_size=10).profile_ids == []


def test_it_skips_users_already_reminded_today(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    user = berliner(travel)
    Profile.objects.filter(user=user).update(last_reminder_on=dt.date(2026, 11, 23))
    assert reminders_claim_due(now=at(7), batch_size=10).profile_ids == []


def test_a_stale_profile_save_cannot_give_a_day_a_second_email(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    user = berliner(travel)
    reminders_claim_due(now=at(7), batch_size=10)
    # A save from an old copy puts the marker and the instant back, as if unclaimed.
    Profile.objects.filter(user=user).update(
        last_reminder_on=None, next_reminder_at=at(7), next_reminder_on=dt.date(2026, 11, 23)
    )
    again = reminders_claim_due(now=at(7, 5), batch_size=10)
    assert len(again.profile_ids) == 1
    assert again.delivery_ids == []
    assert EmailDelivery.objects.count() == 1


def test_the_claim_takes_a_fixed_number_of_queries_per_batch(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    def queries_to_claim(count: int, prefix: str) -> int:
        travel(MONDAY)
        for i in range(count):
            person(f"{prefix}{i}", zone="Europe/Berlin")
        with CaptureQueriesContext(connection) as queries:
            batch = reminders_claim_due(now=at(7), batch_size=500)
        assert len(batch.delivery_ids) == count
        return len(queries)

    assert queries_to_claim(3, "few") == queries_to_claim(40, "many")


def test_a_batch_is_sent_with_a_fixed_number_of_queries(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    deck(topics=2, cards_each=3)

    def queries_to_send(count: int, prefix: str) -> int:
        travel(MONDAY)
        # Half with the weekly summary, which on a week's first day replaces the daily.
        users = [
            person(f"{prefix}{i}", zone="Europe/Berlin", weekly_summary=i % 2 == 0)
            for i in range(count)
        ]
        for user in users:
            reviewed(user, list(Card.objects.all()[:2]), due=dt.date(2026, 11, 23))
            plan(
                user,
                starts_on=dt.date(2026, 11, 23),
                interview=dt.date(2026, 12, 20),
                weeks=[("Attention", [], [("Derive attention", 45)])],
            )
        ids = reminders_claim_due(now=at(7), batch_size=500).delivery_ids
        with CaptureQueriesContext(connection) as queries:
            result = reminders_send_batch(delivery_ids=ids, now=at(7), chunk_size=1000)
        assert result.sent == count
        return len(queries)

    assert queries_to_send(3, "few") == queries_to_send(30, "many")


def test_two_sweeps_racing_claim_each_profile_once(
    transactional_db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    travel(MONDAY)
    for i in range(30):
        person(f"racer{i}", zone="Europe/Berlin", remind_when_empty=True)
    claimed: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def sweeper() -> None:
        try:
            start.wait()
            reminders_sweep(now=at(7), send=claimed.extend, batch_size=4)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(claimed) == 30
    assert len(set(claimed)) == 30
    assert EmailDelivery.objects.count() == 30


# --- What is sent -----------------------------------------------------------------------


def test_the_reminder_counts_what_the_drill_will_show(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    travel(MONDAY)
    topics = deck(topics=2, cards_each=6)
    cards = list(Card.objects.order_by("position"))
    today = dt.date(2026, 11, 23)
    busy = person("busy", zone="Europe/Berlin", max_reviews_per_day=3, new_cards_per_day=2)
    reviewed(busy, cards[:5], due=today - dt.timedelta(days=2))
    ReviewState.objects.filter(user=busy, card=cards[0]).update(repeat_on=today)
    ReviewState.objects.create(user=busy, card=cards[6], due=today, introduced_on=today)
    ReviewLog.objects.create(
        user=busy,
        card=cards[7],
        quality=4,
        reviewed_at=MONDAY,
        local_date=today,
        repetitions_before=0,
        interval_before=0,
        easiness_before=2.5,
        repetitions_after=1,
        interval_after=1,
        easiness_after=2.5,
        due_after=today,
    )
    Card.objects.create(topic=topics[0], owner=busy, front="own", back="own", position=999)
    fresh = person("fresh", zone="Europe/Berlin")
    done = person("done", zone="Europe/Berlin", new_cards_per_day=0)
    reviewed(done, cards[:3], due=today + dt.timedelta(days=3))
    profiles = list(Profile.objects.filter(user__in=[busy, fresh, done]))
    digests = daily_digests(profiles=profiles, today=today)
    # busy: 4 reviews owed (card 0 is a repeat) capped at 3; one new card already answered
    # leaves room for 1; card 0's repeat. fresh: the new-card limit. done: nothing.
    expected = {busy.pk: (3, 1, 1), fresh.pk: (0, 10, 0), done.pk: (0, 0, 0)}
    assert {
        uid: (digest.due, digest.new, digest.repeat) for uid, digest in digests.items()
    } == expected
    for profile in profiles:
        counts = queue_counts(user=profile.user, limits=profile.limits, today=today)
        assert (counts.due, counts.new, counts.repeat) == expected[profile.user_id]
    assert digests[done.pk].is_empty


def test_a_day_with_nothing_to_do_sends_nothing_unless_asked(
    db: Any, travel: Callable[[dt.datetime], None], sweep: Callable[..., list[int]]
) -> None:
    travel(MONDAY)
    idle = person("idle", zone="Europe/Berlin", new_cards_per_day=0)
    keen = person("keen", zone="Europe/Berlin", new_cards_per_day=0, remind_when_empty=True)
    sweep(at(7))
    assert [m.to for m in mail.outbox] == [[keen.email]]
    assert "Nothing due today" in mail.outbox[0].subject
    assert EmailDelivery.objects.get(user=idle).status == Status.SKIPPED
    assert EmailDelivery.objects.get(user=keen).status == Status.SENT


def test_a_reminder_turned_off_after_the_claim_is_not_sent(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    user = berliner(travel)
    ids = reminders_claim_due(now=at(7), batch_size=10).delivery_ids
    Profile.objects.filter(user=user).update(email_reminders=False)
    result = reminders_send_batch(delivery_ids=ids, now=at(7))
    assert (result.sent, result.skipped) == (0, 1)
    assert mail.outbox == []


def test_a_batch_sent_twice_sends_each_email_once(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    berliner(travel)
    ids = reminders_claim_due(now=at(7), batch_size=10).delivery_ids
    first = reminders_send_batch(delivery_ids=ids, now=at(7))
    again = reminders_send_batch(delivery_ids=ids, now=at(7, 1))
    assert (first.sent, again.sent, again.not_queued) == (1, 0, 1)
    assert len(mail.outbox) == 1
    delivery = EmailDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Status.SENT, 1)
    assert delivery.sent_at is not None


def test_a_reminder_hours_late_expires_instead_of_arriving_stale(
    db: Any, travel: Callable[[dt.datetime], None], sweep: Callable[..., list[int]]
) -> None:
    berliner(travel)
    # Nothing ran from 07:00 to 14:00 (more than the six-hour limit).
    sweep(at(14))
    assert mail.outbox == []
    assert EmailDelivery.objects.get().status == Status.EXPIRED
    # The next day is scheduled as usual.
    assert Profile.objects.get().next_reminder_at == at(7, day=24)


def test_the_weekly_summary_goes_out_on_the_first_day_of_a_plan_week_only(
    db: Any, travel: Callable[[dt.datetime], None], sweep: Callable[..., list[int]]
) -> None:
    user = berliner(travel)
    (topic,) = list(deck(topics=1, cards_each=1))
    plan(
        user,
        starts_on=dt.date(2026, 11, 16),
        interview=dt.date(2026, 12, 14),
        weeks=[
            ("Attention", [topic], [("Derive attention", 45), ("Drill attention", 20)]),
            ("RLHF", [topic], [("Sketch the RLHF pipeline", 60)]),
        ],
    )
    sweep(at(7))
    # One e-mail on the week's first day: the summary, which gives the day's cards too.
    kinds = Counter(d.kind for d in EmailDelivery.objects.filter(status=Status.SENT))
    assert kinds == {"weekly": 1}
    assert len(mail.outbox) == 1
    assert "Today: 5 cards to review:" in mail.outbox[0].body  # 2 due, 3 new
    travel(at(7, day=24))
    sweep(at(7, day=24))
    kinds = Counter(d.kind for d in EmailDelivery.objects.filter(status=Status.SENT))
    assert kinds == {"daily": 1, "weekly": 1}


def test_weekly_summary_alone_still_goes_out_without_daily_reminders(
    db: Any, travel: Callable[[dt.datetime], None], sweep: Callable[..., list[int]]
) -> None:
    user = berliner(travel, email_reminders=False)
    plan(
        user,
        starts_on=dt.date(2026, 11, 23),
        interview=dt.date(2026, 12, 14),
        weeks=[("Attention", [], [("Derive attention", 45)])],
    )
    sweep(at(7))
    assert [d.kind for d in EmailDelivery.objects.all()] == ["weekly"]
    assert len(mail.outbox) == 1


# --- Failures and the delivery guarantee ------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param(("django.core.mail.backends.smtp.EmailBackend", False), id="smtplib"),
        pytest.param(("config.mail.SmtpBackend", True), id="pipelined"),
        pytest.param(("config.mail.SmtpBackend", False), id="ours-unpipelined"),
    ]
)
def sink(settings: Any, request: pytest.FixtureRequest) -> Iterator[SmtpSink]:
    """A real SMTP server, sent to by Django's own backend, by ours pipelining (RFC 2920)
    and by ours to a server that does not offer it: the guarantee holds on each."""
    backend, pipelining = request.param
    with SmtpSink(SinkHandler(pipelining=pipelining)) as running:
        settings.MAILERS = running.mailer_settings(timeout=5, backend=backend)
        yield running


def claimed_berliners(travel: Callable[[dt.datetime], None], count: int) -> list[int]:
    travel(MONDAY)
    for i in range(count):
        person(f"b{i}", zone="Europe/Berlin", remind_when_empty=True)
    return reminders_claim_due(now=at(7), batch_size=100).delivery_ids


def statuses() -> Counter[str]:
    return Counter(EmailDelivery.objects.values_list("status", flat=True))


def test_a_transient_smtp_error_is_retried_and_each_email_sent_once(
    db: Any, travel: Callable[[dt.datetime], None], sink: SmtpSink
) -> None:
    ids = claimed_berliners(travel, 4)
    sink.handler.transient_failures = 2  # 451 for the first two messages
    with pytest.raises(TransientMailError):
        reminders_send_batch(delivery_ids=ids, now=at(7), chunk_size=2)
    assert statuses() == {Status.SENT: 2, Status.QUEUED: 2}
    reminders_send_batch(delivery_ids=ids, now=at(7, 2), chunk_size=2)
    assert statuses() == {Status.SENT: 4}
    assert sorted(sink.handler.recipients) == sorted(f"b{i}@example.com" for i in range(4))


def test_an_unreachable_mail_server_leaves_everything_queued(
    db: Any, travel: Callable[[dt.datetime], None], settings: Any
) -> None:
    ids = claimed_berliners(travel, 3)
    settings.MAILERS = SmtpSink().mailer_settings(timeout=2)  # nothing listens there
    with pytest.raises(TransientMailError):
        reminders_send_batch(delivery_ids=ids, now=at(7))
    assert statuses() == {Status.QUEUED: 3}


def test_a_permanent_refusal_fails_that_email_and_the_rest_go_out(
    db: Any, travel: Callable[[dt.datetime], None], sink: SmtpSink
) -> None:
    ids = claimed_berliners(travel, 3)
    sink.handler.refuse = {"b1@example.com"}
    result = reminders_send_batch(delivery_ids=ids, now=at(7))
    assert (result.sent, result.failed) == (2, 1)
    failed = EmailDelivery.objects.get(status=Status.FAILED)
    assert failed.user.email == "b1@example.com"
    assert "550" in failed.error


def test_a_connection_lost_mid_message_is_never_sent_again(
    db: Any, travel: Callable[[dt.datetime], None], sink: SmtpSink
) -> None:
    ids = claimed_berliners(travel, 4)
    sink.handler.drop_at = 2
    with pytest.raises(TransientMailError):
        reminders_send_batch(delivery_ids=ids, now=at(7), chunk_size=10)
    assert statuses() == {Status.SENT: 1, Status.UNKNOWN: 1, Status.QUEUED: 2}
    reminders_send_batch(delivery_ids=ids, now=at(7, 1), chunk_size=10)
    assert statuses() == {Status.SENT: 3, Status.UNKNOWN: 1}
    unknown = EmailDelivery.objects.get(status=Status.UNKNOWN)
    assert unknown.user.email not in sink.handler.recipients
    assert len(sink.handler.recipients) == len(set(sink.handler.recipients)) == 3


def test_a_connection_lost_before_the_message_is_handed_over_sends_it_later(
    db: Any, travel: Callable[[dt.datetime], None], sink: SmtpSink
) -> None:
    """The link breaks while the server answers the envelope (pipelined or not): the
    message itself never left, so it is queued again, not unknown."""
    ids = claimed_berliners(travel, 4)
    sink.handler.drop_at_rcpt = 2
    with pytest.raises(TransientMailError):
        reminders_send_batch(delivery_ids=ids, now=at(7), chunk_size=10)
    assert statuses() == {Status.SENT: 1, Status.QUEUED: 3}
    reminders_send_batch(delivery_ids=ids, now=at(7, 1), chunk_size=10)
    assert statuses() == {Status.SENT: 4}
    assert sorted(sink.handler.recipients) == sorted(f"b{i}@example.com" for i in range(4))


def test_a_lost_task_is_enqueued_again_after_a_while(
    db: Any, travel: Callable[[dt.datetime], None], django_capture_on_commit_callbacks: Any
) -> None:
    ids = claimed_berliners(travel, 3)
    handed: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        early = deliveries_recover(now=at(7, 5), send=handed.extend, batch_size=2)
    assert (early.requeued, handed) == (0, [])
    with django_capture_on_commit_callbacks(execute=True):
        late = deliveries_recover(now=at(7, 11), send=handed.extend, batch_size=2)
    assert late.requeued == 3
    assert sorted(handed) == sorted(ids)
    # Enqueued again just now: not again at the next sweep.
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_recover(now=at(7, 12), send=handed.extend, batch_size=2).requeued == 0


def test_a_sender_that_died_mid_chunk_leaves_it_unknown_and_never_resends(
    db: Any, travel: Callable[[dt.datetime], None], django_capture_on_commit_callbacks: Any
) -> None:
    ids = claimed_berliners(travel, 3)
    EmailDelivery.objects.filter(id__in=ids[:2]).update(
        status=Status.SENDING, sending_at=at(7), attempts=1
    )
    handed: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        result = deliveries_recover(now=at(7, 20), send=handed.extend, batch_size=10)
    assert result.unknown == 2
    assert handed == [ids[2]]
    reminders_send_batch(delivery_ids=ids, now=at(7, 20))
    assert statuses() == {Status.UNKNOWN: 2, Status.SENT: 1}
    assert len(mail.outbox) == 1


def test_the_task_retries_a_transient_error_later_and_holds_off_the_sweep(
    db: Any, travel: Callable[[dt.datetime], None], sink: SmtpSink
) -> None:
    ids = claimed_berliners(travel, 2)
    sink.handler.transient_failures = 5
    travel(at(7))
    # Called directly (not by a worker) the task raises instead of scheduling the retry.
    with pytest.raises(TransientMailError):
        send_reminder_batch(delivery_ids=ids)
    for delivery in EmailDelivery.objects.all():
        assert delivery.status == Status.QUEUED
        assert delivery.enqueued_at >= at(7, 0) + dt.timedelta(seconds=30)


def test_the_retry_backoff_grows_and_is_capped() -> None:
    waits = [retry_countdown(n) for n in range(8)]
    assert 30 <= waits[0] <= 36
    assert 60 <= waits[1] <= 72
    assert all(w <= 720 for w in waits)
    assert waits[-1] >= 600


def test_a_redis_that_may_evict_keys_is_reported() -> None:
    class FakeRedis:
        def __init__(self, policy: str) -> None:
            self.policy = policy

        def config_get(self, name: str) -> dict[str, str]:
            return {name: self.policy}

    assert redis_broker_problems(FakeRedis("noeviction")) == []
    assert "allkeys-lru" in redis_broker_problems(FakeRedis("allkeys-lru"))[0]


# --- The nightly rollover ---------------------------------------------------------------


def test_the_rollover_prepares_the_day_once_and_schedules_the_next_midnight(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    travel(at(12, day=22))
    user = person("nightly", zone="Europe/Berlin", new_cards_per_day=2)
    (topic,) = deck(topics=1, cards_each=5)
    plan(
        user,
        starts_on=dt.date(2026, 11, 23),
        interview=dt.date(2026, 12, 14),
        weeks=[("Attention", [topic], [("Derive attention", 45)])],
    )
    profile = Profile.objects.get(user=user)
    assert profile.next_rollover_at == at(23, day=22)  # midnight in Berlin
    assert rollovers_run_due(now=at(22, 59, day=22)).profiles == 0
    result = rollovers_run_due(now=at(23, 0, day=22))
    assert (result.profiles, result.introduced) == (1, 2)
    assert rollovers_run_due(now=at(23, 1, day=22)).profiles == 0
    profile.refresh_from_db()
    assert profile.last_rollover_on == dt.date(2026, 11, 23)
    assert profile.next_rollover_at == at(23, day=23)
    new = ReviewState.objects.filter(user=user, last_reviewed_at__isnull=True)
    assert {s.due for s in new} == {dt.date(2026, 11, 23)}


def test_a_late_rollover_prepares_the_users_current_day(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    travel(at(12, day=20))
    user = person("asleep", zone="UTC")
    rollovers_run_due(now=at(12, day=23))
    profile = Profile.objects.get(user=user)
    assert profile.last_rollover_on == dt.date(2026, 11, 23)
    assert profile.next_rollover_at == at(0, day=24)


# --- Commands ---------------------------------------------------------------------------


def test_send_due_reminders_sends_in_this_process(
    db: Any,
    travel: Callable[[dt.datetime], None],
    capsys: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    berliner(travel)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_due_reminders", now="2026-11-23T07:00:00+00:00")
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_due_reminders", now="2026-11-23T07:05:00+00:00")
    assert len(mail.outbox) == 1
    assert "deliveries" in capsys.readouterr().out


def test_send_reminder_batch_sends_what_is_still_queued(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    claimed_berliners(travel, 2)
    call_command("send_reminder_batch", "--all", now="2026-11-23T07:01:00+00:00")
    call_command("send_reminder_batch", "--all", now="2026-11-23T07:02:00+00:00")
    assert len(mail.outbox) == 2


def test_run_rollovers_runs_the_rollover_and_one_users_day(
    db: Any, travel: Callable[[dt.datetime], None], capsys: Any
) -> None:
    travel(at(12, day=22))
    person("cmd", zone="UTC")
    call_command("run_rollovers", now="2026-11-23T00:00:00+00:00")
    assert Profile.objects.get().last_rollover_on == dt.date(2026, 11, 23)
    call_command("run_rollovers", user="cmd", now="2026-11-23T09:00:00+00:00")
    assert "cmd on 2026-11-23" in capsys.readouterr().out


def test_streaks_and_plans_reach_the_email(
    db: Any, travel: Callable[[dt.datetime], None], sweep: Callable[..., list[int]]
) -> None:
    user = berliner(travel)
    for ago in (1, 2, 3):
        StudyDay.objects.create(
            user=user, local_date=dt.date(2026, 11, 23) - dt.timedelta(days=ago), finished_at=MONDAY
        )
    sweep(at(7))
    (message,) = mail.outbox
    assert "Streak: 3 days in a row." in message.body


# --- An outage longer than a day --------------------------------------------------------


def test_an_outage_longer_than_a_day_leaves_a_row_for_every_owed_date(
    db: Any,
    travel: Callable[[dt.datetime], None],
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.CADENCE_REMINDER_MAX_DELAY = 6 * 60 * 60
    travel(dt.datetime(2026, 12, 3, 7, 0, tzinfo=UTC))
    user = person("away", zone="UTC", at=dt.time(8), remind_when_empty=True)
    assert Profile.objects.get(user=user).next_reminder_at == dt.datetime(
        2026, 12, 3, 8, tzinfo=UTC
    )
    # No sweep ran from before 12-03 08:00 until 12-04 09:00: one hour late for the 4th.
    out = io.StringIO()
    travel(dt.datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_due_reminders", "--now", "2026-12-04T09:00:00+00:00", stdout=out)
    rows = EmailDelivery.objects.filter(user=user).order_by("local_date")
    assert [(r.local_date.isoformat(), r.status) for r in rows] == [
        ("2026-12-03", Status.EXPIRED),
        ("2026-12-04", Status.SENT),
    ]
    assert "'expired': 1" in out.getvalue()
    assert len(mail.outbox) == 1
    profile = Profile.objects.get(user=user)
    assert profile.next_reminder_on == dt.date(2026, 12, 5)
    assert profile.last_reminder_on == dt.date(2026, 12, 4)
    # Later the same day nothing more goes out.
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "send_due_reminders", "--now", "2026-12-04T13:00:00+00:00", stdout=io.StringIO()
        )
    assert len(mail.outbox) == 1


def test_an_outage_of_days_records_each_day_and_counts_every_expiry(
    db: Any,
    travel: Callable[[dt.datetime], None],
    sweep: Callable[..., list[int]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    travel(dt.datetime(2026, 12, 3, 6, 0, tzinfo=UTC))
    user = person("gone", zone="Europe/Berlin", at=dt.time(8), remind_when_empty=True)
    now = dt.datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # 13:00 in Berlin, 6 h after 07:00 UTC
    travel(now)
    with django_capture_on_commit_callbacks(execute=True):
        result = reminders_sweep(now=now, send=lambda ids: None)
    rows = EmailDelivery.objects.filter(user=user).order_by("local_date")
    assert [(r.local_date.day, r.status) for r in rows] == [
        (3, Status.EXPIRED),
        (4, Status.EXPIRED),
        (5, Status.EXPIRED),
        (6, Status.EXPIRED),
        (7, Status.QUEUED),  # 5 h late: within the delay, so sent
    ]
    assert result.expired == 4
    assert result.deliveries == 1


def test_a_sender_that_stalls_past_the_delay_expires_the_rest_instead_of_sending_late(
    db: Any, travel: Callable[[dt.datetime], None], sink: SmtpSink, settings: Any
) -> None:
    settings.CADENCE_REMINDER_MAX_DELAY = 150
    ids = claimed_berliners(travel, 6)  # due at 07:00 UTC
    travel(at(7, 1))  # the batch starts 60 s late

    def freeze_after_first_chunk(seen: int) -> None:
        if seen == 2:
            travel(at(7, 3))  # the worker stood still: now 180 s late

    sink.handler.on_data = freeze_after_first_chunk
    result = reminders_send_batch(delivery_ids=ids, now=at(7, 1), chunk_size=2)
    assert (result.sent, result.expired) == (2, 4)
    assert statuses() == {Status.SENT: 2, Status.EXPIRED: 4}
    assert sink.handler.received == 2
    max_delay = dt.timedelta(seconds=150)
    for delivery in EmailDelivery.objects.filter(status=Status.SENT):
        assert delivery.sent_at is not None
        assert delivery.sending_at - delivery.due_at <= max_delay


# --- The database connection breaks after the server accepted ---------------------------


def test_a_broken_database_connection_on_the_final_write_still_records_sent(
    transactional_db: Any,
    travel: Callable[[dt.datetime], None],
    sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import OperationalError

    from prep.scheduled import sending

    monkeypatch.setattr(sending, "RECORD_RETRY_DELAYS", (0.01, 0.01, 0.01))
    ids = claimed_berliners(travel, 4)
    real_move = sending.deliveries_move
    failures = {"left": 2}

    def flaky_move(ids_: Any, **kwargs: Any) -> list[int]:
        if kwargs.get("to_status") == Status.SENT and failures["left"]:
            failures["left"] -= 1
            raise OperationalError("server closed the connection unexpectedly")
        return real_move(ids_, **kwargs)

    monkeypatch.setattr(sending, "deliveries_move", flaky_move)
    result = reminders_send_batch(delivery_ids=ids, now=at(7), chunk_size=10)
    assert result.sent == 4
    assert statuses() == {Status.SENT: 4}
    assert sink.handler.received == 4


@pytest.mark.postgresql  # it terminates a PostgreSQL backend
def test_a_postgres_connection_terminated_mid_batch_loses_no_sent_record(
    transactional_db: Any, travel: Callable[[dt.datetime], None], sink: SmtpSink
) -> None:
    """pg_terminate_backend on the sender's own connection while the server takes a
    message: every e-mail the sink accepted ends ``sent``."""
    import psycopg

    ids = claimed_berliners(travel, 6)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    db = connection.settings_dict
    dsn = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"  # the test DB

    def terminate(seen: int) -> None:
        if seen == 3:
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    sink.handler.on_data = terminate
    result = reminders_send_batch(delivery_ids=ids, now=at(7), chunk_size=10)
    assert sink.handler.received == 6
    assert result.sent == 6
    assert statuses() == {Status.SENT: 6}


# --- A slow mail server: batches sized by time -----------------------------------------


def test_a_slow_server_makes_the_batch_hand_the_rest_back_instead_of_running_over(
    db: Any, travel: Callable[[dt.datetime], None], sink: SmtpSink
) -> None:
    ids = claimed_berliners(travel, 10)
    sink.handler.on_data = lambda seen: time.sleep(0.1)  # 0.1 s a message
    started = time.monotonic()
    result = reminders_send_batch(delivery_ids=ids, now=at(7), chunk_size=2, time_budget=0.3)
    elapsed = time.monotonic() - started
    # Chunks are claimed while the budget lasts (the first always): no more after it.
    assert 2 <= result.sent < 10
    assert elapsed < 5
    assert len(result.handed_back) == 10 - result.sent
    assert statuses() == {Status.SENT: result.sent, Status.QUEUED: 10 - result.sent}
    # The rest goes out in the next batch; nothing was left unknown or sent twice.
    rest = reminders_send_batch(delivery_ids=result.handed_back, now=at(7), time_budget=60)
    assert rest.sent == 10 - result.sent
    assert statuses() == {Status.SENT: 10}
    assert sorted(sink.handler.recipients) == sorted(f"b{i}@example.com" for i in range(10))


def test_the_batch_task_enqueues_what_it_handed_back(
    db: Any, travel: Callable[[dt.datetime], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prep import tasks
    from prep.scheduled.sending import SendResult

    enqueued: list[list[int]] = []
    monkeypatch.setattr(
        tasks, "reminders_send_batch", lambda **kw: SendResult(sent=1, handed_back=[7, 8])
    )
    monkeypatch.setattr(tasks, "enqueue_reminder_batch", enqueued.append)
    assert send_reminder_batch.run(delivery_ids=[6, 7, 8])["sent"] == 1
    assert enqueued == [[7, 8]]


# --- Changes that would skip a day ------------------------------------------------------


def test_moving_the_time_earlier_past_now_sends_that_days_reminder_at_once(
    db: Any, travel: Callable[[dt.datetime], None], sweep: Callable[..., list[int]]
) -> None:
    user = berliner(travel)  # 08:00 Berlin = 07:00 UTC, due today
    travel(at(6))  # 07:00 in Berlin, before the claim
    profile = Profile.objects.get(user=user)
    profile_update(profile=profile, fields={"reminder_time": dt.time(6)})
    profile.refresh_from_db()
    assert (profile.next_reminder_on, profile.next_reminder_at) == (dt.date(2026, 11, 23), at(5))
    assert len(sweep(at(6, 1))) == 1
    [row] = EmailDelivery.objects.filter(user=user)
    assert (row.local_date, row.status) == (dt.date(2026, 11, 23), Status.SENT)
    profile.refresh_from_db()
    assert profile.next_reminder_on == dt.date(2026, 11, 24)


def test_moving_the_time_past_now_beyond_the_delay_records_the_day_skipped(
    db: Any,
    travel: Callable[[dt.datetime], None],
    sweep: Callable[..., list[int]],
    settings: Any,
) -> None:
    settings.CADENCE_REMINDER_MAX_DELAY = 30 * 60
    user = berliner(travel)
    topics = deck(topics=1, cards_each=1)
    week = ("Week one", topics, [("Read", 30)])
    plan(user, starts_on=dt.date(2026, 11, 23), interview=dt.date(2026, 12, 20), weeks=[week])
    travel(at(6))
    profile = Profile.objects.get(user=user)
    profile_update(profile=profile, fields={"reminder_time": dt.time(6)})  # 1 h ago
    rows = EmailDelivery.objects.filter(user=user).order_by("kind")
    assert [(r.kind, r.local_date, r.status) for r in rows] == [
        (EmailDelivery.Kind.DAILY, dt.date(2026, 11, 23), Status.SKIPPED),
        (EmailDelivery.Kind.WEEKLY, dt.date(2026, 11, 23), Status.SKIPPED),
    ]
    assert "changed after 06:00 on 2026-11-23 had passed" in rows[0].error
    profile.refresh_from_db()
    assert profile.next_reminder_on == dt.date(2026, 11, 24)
    assert sweep(at(7, 30)) == []


def test_moving_into_a_zone_where_todays_time_has_passed_does_not_skip_silently(
    db: Any, travel: Callable[[dt.datetime], None]
) -> None:
    user = berliner(travel)  # due 11-23 07:00 UTC
    travel(at(6, 30))
    profile = Profile.objects.get(user=user)
    # 08:00 in Tokyo on the 23rd was 23:00 UTC on the 22nd: 7.5 h ago, past the 6 h delay.
    profile_update(profile=profile, fields={"time_zone": "Asia/Tokyo"})
    [row] = EmailDelivery.objects.filter(user=user)
    assert (row.local_date, row.status) == (dt.date(2026, 11, 23), Status.SKIPPED)
    profile.refresh_from_db()
    assert profile.next_reminder_on == dt.date(2026, 11, 24)


def test_the_admin_shows_the_schedule_read_only_and_reschedules_on_save(
    db: Any, travel: Callable[[dt.datetime], None], client: Any
) -> None:
    from django.contrib.auth import get_user_model

    user = berliner(travel)
    travel(at(6))
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 12)
    client.force_login(admin)
    profile = Profile.objects.get(user=user)
    url = f"/admin/prep/profile/{profile.pk}/change/"
    page = client.get(url).content.decode()
    for name in ("next_reminder_at", "last_reminder_on", "next_rollover_at"):
        assert f'name="{name}"' not in page
    form = {
        "user": user.pk,
        "time_zone": "Europe/Berlin",
        "reminder_time": "09:30",
        "email_reminders": "on",
        "weekly_summary": "on",
        "new_cards_per_day": profile.new_cards_per_day,
        "max_reviews_per_day": profile.max_reviews_per_day,
        "hours_per_week": profile.hours_per_week,
        "grading": profile.grading,
        "scheduler": profile.scheduler,
        "desired_retention": profile.desired_retention,
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    profile.refresh_from_db()
    assert profile.reminder_time == dt.time(9, 30)
    assert profile.next_reminder_at == at(8, 30)  # 09:30 in Berlin


def test_the_batch_command_sends_what_a_batch_out_of_time_handed_back(
    db: Any, travel: Callable[[dt.datetime], None], sink: SmtpSink, settings: Any
) -> None:
    ids = claimed_berliners(travel, 5)
    settings.CADENCE_REMINDER_CHUNK = 2
    settings.CADENCE_REMINDER_BATCH_SECONDS = 0  # one chunk per batch, then hand back
    out = io.StringIO()
    call_command("send_reminder_batch", *map(str, ids), now="2026-11-23T07:01:00+00:00", stdout=out)
    assert statuses() == {Status.SENT: 5}
    assert out.getvalue().count("batch of") == 3


# --- What is at risk on the interview day -----------------------------------------------


def at_risk_person(name: str, *, cards: int = 12, title: str = "RLHF") -> Any:
    """A Berlin user, interview in 20 days, with ``cards`` weakly known cards of a topic
    and answers of 30 s measured."""
    user = person(name, zone="Europe/Berlin", interview_date=dt.date(2026, 12, 13))
    topic = TopicFactory(title=title)
    made = CardFactory.create_batch(cards, topic=topic)
    reviewed(user, made, due=dt.date(2026, 11, 23))
    ReviewState.objects.filter(user=user).update(
        stability=2.0, difficulty=6.0, memory_on=dt.date(2026, 11, 22)
    )
    ReviewLog.objects.bulk_create(
        ReviewLog(
            user=user,
            card=card,
            quality=4,
            reviewed_at=at(7, day=22),
            local_date=dt.date(2026, 11, 22),
            answer_ms=30_000,
            repetitions_before=1,
            interval_before=1,
            easiness_before=2.5,
            repetitions_after=2,
            interval_after=2,
            easiness_after=2.5,
            due_after=dt.date(2026, 11, 24),
        )
        for card in made
    )
    return user


def test_the_daily_email_says_what_is_at_risk_on_the_day_in_both_parts(
    db: Any, travel: Callable[[dt.datetime], None], sweep: Callable[..., list[int]]
) -> None:
    travel(MONDAY)
    at_risk_person("rhea")
    sweep(at(7))
    (message,) = mail.outbox
    (html, _), *_ = message.alternatives
    sentence = re.search(
        r"12 cards of RLHF will be below 90% on the day; (\d+) minutes? a day keeps them\.",
        message.body,
    )
    assert sentence is not None, message.body
    assert "At risk on the day:" in message.body
    assert sentence.group(0) in html
    assert "At risk on the day</h2>" in html
    # 12 cards, each reviewed a few times in 20 days at 30 s: a few minutes a day.
    assert 1 <= int(sentence.group(1)) <= 5


def test_no_risk_is_told_without_an_interview_ahead(
    db: Any, travel: Callable[[dt.datetime], None], sweep: Callable[..., list[int]]
) -> None:
    travel(MONDAY)
    user = at_risk_person("rhea")
    Profile.objects.filter(user=user).update(interview_date=dt.date(2026, 11, 20))
    sweep(at(7))
    (message,) = mail.outbox
    assert "At risk" not in message.body
    assert "to your interview" not in message.body


def test_the_at_risk_sentences_take_a_fixed_number_of_queries_for_any_users_and_cards(
    db: Any, travel: Callable[[dt.datetime], None], django_assert_max_num_queries: Any
) -> None:
    travel(MONDAY)
    few = [at_risk_person(f"few{i}", cards=3, title=f"Few {i}") for i in range(2)]
    many = [at_risk_person(f"many{i}", cards=25, title=f"Many {i}") for i in range(12)]
    day = dt.date(2026, 11, 23)

    def digest_queries(users: list[Any]) -> int:
        profiles = list(Profile.objects.filter(user__in=users))
        with CaptureQueriesContext(connection) as queries:
            digests = daily_digests(profiles=profiles, today=day)
        assert all(digests[u.pk].at_risk for u in users)
        return len(queries)

    assert digest_queries(few) == digest_queries(many)
    profiles = list(Profile.objects.filter(user__in=many))
    with django_assert_max_num_queries(12):
        daily_digests(profiles=profiles, today=day)
    with django_assert_max_num_queries(4):
        at_risk_many(profiles=profiles, today=day)
