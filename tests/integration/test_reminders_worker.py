"""Reminders through real Celery processes: beat, workers, the broker, an SMTP server.

What must hold (prep.scheduled): no user gets a second e-mail for a local date, whatever
runs twice or dies; and every claimed e-mail is sent unless it was with the mail server
when its sender died (then it is recorded as unknown).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from prep.models import EmailDelivery, Profile
from prep.tasks import send_due_reminders
from tests.integration.builders import person
from tests.integration.conftest import ROOT, Processes, minutes_ago, wait_for
from tests.integration.smtp_sink import SmtpSink, free_port

pytestmark = pytest.mark.worker
Status = EmailDelivery.Status


def due_people(count: int, prefix: str = "u") -> list[str]:
    """People whose reminder was due a minute ago, with something to say each."""
    emails = [
        person(f"{prefix}{i}", zone="Asia/Kolkata", remind_when_empty=True).email
        for i in range(count)
    ]
    today = dt.datetime.now(dt.UTC).astimezone(ZoneInfo("Asia/Kolkata")).date()
    Profile.objects.update(next_reminder_at=minutes_ago(1), next_reminder_on=today)
    return emails


def statuses() -> Counter[str]:
    return Counter(EmailDelivery.objects.values_list("status", flat=True))


def test_two_beats_and_two_workers_send_each_reminder_once(
    processes: Processes, sink: SmtpSink
) -> None:
    emails = due_people(12)
    processes.worker("w1")
    processes.worker("w2")
    processes.beat("beat1")
    processes.beat("beat2")
    assert sink.wait_for(12, timeout=40), processes.log("w1") + processes.log("beat1")
    # Let both beats tick a few more times: nothing more may go out.
    assert not wait_for(lambda: sink.handler.received > 12, timeout=4)
    assert sorted(sink.handler.recipients) == sorted(emails)
    assert statuses() == {Status.SENT: 12}
    # Both beats really ran the sweep.
    for beat in ("beat1", "beat2"):
        assert "prep.send_due_reminders" in processes.log(beat)


def test_a_batch_retried_after_smtp_errors_sends_each_reminder_once(
    processes: Processes, sink: SmtpSink
) -> None:
    emails = due_people(5)
    sink.handler.transient_failures = 3  # 451 for the first three messages
    processes.worker("w1")
    send_due_reminders.delay()
    assert sink.wait_for(5, timeout=40), processes.log("w1")
    assert not wait_for(lambda: sink.handler.received > 5, timeout=2)
    assert sorted(sink.handler.recipients) == sorted(emails)
    assert statuses() == {Status.SENT: 5}
    log = processes.log("w1")
    assert "Retry in" in log
    assert EmailDelivery.objects.filter(attempts__gt=1).exists()


def test_a_permanent_refusal_is_not_retried(processes: Processes, sink: SmtpSink) -> None:
    due_people(3)
    sink.handler.refuse = {"u1@example.com"}
    processes.worker("w1")
    send_due_reminders.delay()
    assert wait_for(lambda: statuses() == {Status.SENT: 2, Status.FAILED: 1}, timeout=30)
    assert "Retry in" not in processes.log("w1")


def test_a_worker_killed_mid_send_loses_at_most_its_chunk_and_never_sends_twice(
    processes: Processes, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    emails = due_people(6)
    sink.handler.stall_at = 3  # the third message never gets an answer
    doomed = processes.worker("doomed")
    send_due_reminders.delay()
    assert wait_for(lambda: sink.handler.data_seen >= 3, timeout=30), processes.log("doomed")
    processes.kill(doomed)
    # Chunks of two: the first was sent, the second was with the server, the third waits.
    assert statuses() == {Status.SENT: 2, Status.SENDING: 2, Status.QUEUED: 2}
    sink.handler.stall_at = None

    processes.worker("second")
    # The sweep, some minutes later, finds what the dead worker left behind.
    from prep.scheduled.reminders import deliveries_recover
    from prep.tasks import enqueue_reminder_batch

    later = dt.datetime.now(dt.UTC) + dt.timedelta(
        seconds=settings.CADENCE_REMINDER_SENDING_TIMEOUT + 60
    )
    with django_capture_on_commit_callbacks(execute=True):
        recovered = deliveries_recover(now=later, send=enqueue_reminder_batch, batch_size=100)
    assert (recovered.unknown, recovered.requeued) == (2, 2)
    assert sink.wait_for(4, timeout=30), processes.log("second")
    assert not wait_for(lambda: sink.handler.received > 4, timeout=2)
    assert statuses() == {Status.SENT: 4, Status.UNKNOWN: 2}
    delivered = Counter(sink.handler.recipients)
    assert max(delivered.values()) == 1
    unknown = set(
        EmailDelivery.objects.filter(status=Status.UNKNOWN).values_list("user__email", flat=True)
    )
    assert unknown | set(delivered) == set(emails)
    assert unknown.isdisjoint(delivered)


def run_manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Broker:
    """The broker the restart test may lose: a private Redis (started and restarted here)
    when the suite runs on Redis, else the filesystem broker's folder (wiped)."""

    def __init__(self, tmp: Path) -> None:
        self.redis = bool(settings.REDIS_URL)
        self.process: subprocess.Popen[bytes] | None = None
        self.port = free_port()
        self.env: dict[str, str] = {}
        if self.redis:
            self.env = {"REDIS_URL": f"redis://127.0.0.1:{self.port}/0"}
            self.start()

    def start(self) -> None:
        if not self.redis:
            return
        redis_server = shutil.which("redis-server")
        assert redis_server, "redis-server is needed when REDIS_URL is set"
        self.process = subprocess.Popen(
            [
                redis_server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port)
        assert wait_for(lambda: self._pings(client), timeout=10)

    @staticmethod
    def _pings(client: Any) -> bool:
        try:
            return bool(client.ping())
        except Exception:
            return False

    def queued(self) -> int:
        if self.redis:
            import redis

            return int(redis.Redis(port=self.port).llen("celery"))
        folder = Path(settings.BROKER_DIR) / "queue"
        return len([p for p in folder.iterdir() if p.name.endswith(".celery.msg")])

    def lose_everything(self) -> None:
        """Restart Redis without persistence, or wipe the queue folder."""
        if self.redis:
            assert self.process is not None
            self.process.terminate()
            self.process.wait(10)
            self.start()
        else:
            for message in (Path(settings.BROKER_DIR) / "queue").iterdir():
                message.unlink()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def test_reminders_queued_in_a_broker_that_lost_them_are_sent_once_by_the_sweep(
    processes: Processes, sink: SmtpSink, celery_env: dict[str, str], tmp_path: Path
) -> None:
    broker = Broker(tmp_path)
    env = {**celery_env, **broker.env}
    try:
        emails = due_people(4)
        # No worker yet: the sweep claims and queues the batch in the broker.
        run_manage(env, "send_due_reminders", "--enqueue")
        assert statuses() == {Status.QUEUED: 4}
        assert broker.queued() == 1
        broker.lose_everything()
        assert broker.queued() == 0

        processes.worker("w1", env=broker.env)
        if broker.redis:
            # And once more under a running worker: it reconnects.
            broker.lose_everything()
            lost = "Connection to broker lost"
            assert wait_for(lambda: lost in processes.log("w1"), timeout=30)
            assert wait_for(
                lambda: "Connected to redis" in processes.log("w1").rsplit(lost, 1)[-1],
                timeout=30,
            ), processes.log("w1")
        assert not wait_for(lambda: sink.handler.received > 0, timeout=2)

        # Eleven minutes on, the sweep sees queued deliveries nobody is working on.
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)).isoformat()
        run_manage(env, "send_due_reminders", "--enqueue", "--now", later)
        assert sink.wait_for(4, timeout=30), processes.log("w1")
        assert not wait_for(lambda: sink.handler.received > 4, timeout=2)
        assert sorted(sink.handler.recipients) == sorted(emails)
        assert statuses() == {Status.SENT: 4}
    finally:
        broker.stop()


def test_the_no_services_default_sends_real_reminders_into_the_outbox(
    processes: Processes, celery_env: dict[str, str]
) -> None:
    # No EMAIL_HOST: the default mailer writes .eml files to the data folder's outbox.
    processes.env = {k: v for k, v in celery_env.items() if not k.startswith("EMAIL_")}
    outbox = Path(settings.DATA_DIR) / "outbox"
    shutil.rmtree(outbox, ignore_errors=True)
    emails = due_people(2)
    processes.worker("w1")
    processes.beat("beat1")
    assert wait_for(lambda: len(list(outbox.glob("*.eml"))) >= 2, timeout=40), processes.log("w1")
    assert statuses() == {Status.SENT: 2}
    sent = [message_from_bytes(p.read_bytes()) for p in outbox.glob("*.eml")]
    assert sorted(m["To"] for m in sent) == sorted(emails)
    assert all(m.get_content_type() == "multipart/alternative" for m in sent)


def test_after_an_outage_longer_than_a_day_every_owed_date_has_a_row(
    processes: Processes, sink: SmtpSink
) -> None:
    """The sweep was down for 25 hours: yesterday's reminder is recorded expired, today's
    (one hour late, within the delay) is sent, by a real worker."""
    first_at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    today = first_at.date()
    person("late", zone="UTC", at=first_at.time(), remind_when_empty=True)
    Profile.objects.update(
        next_reminder_at=first_at - dt.timedelta(days=1),
        next_reminder_on=today - dt.timedelta(days=1),
        last_reminder_on=None,
    )
    processes.worker("w1")
    send_due_reminders.delay()
    assert sink.wait_for(1, timeout=40), processes.log("w1")
    rows = list(EmailDelivery.objects.order_by("local_date").values_list("local_date", "status"))
    assert rows == [
        (today - dt.timedelta(days=1), Status.EXPIRED),
        (today, Status.SENT),
    ]
    assert "'expired': 1" in processes.log("w1")
    assert Profile.objects.get().next_reminder_on == today + dt.timedelta(days=1)


def test_a_slow_mail_server_costs_time_not_records(processes: Processes, sink: SmtpSink) -> None:
    """At 0.3 s a message and a 1 s budget per batch, batches hand the rest to fresh
    tasks: every e-mail is sent once and none is left unknown."""
    emails = due_people(8)
    sink.handler.on_data = lambda seen: time.sleep(0.3)
    processes.worker("slow", env={"CADENCE_REMINDER_BATCH_SECONDS": "1"})
    send_due_reminders.delay()
    assert sink.wait_for(8, timeout=60), processes.log("slow")
    assert not wait_for(lambda: sink.handler.received > 8, timeout=2)
    assert sorted(sink.handler.recipients) == sorted(emails)
    assert statuses() == {Status.SENT: 8}
    assert "handing" in processes.log("slow")


def test_a_worker_frozen_past_the_delay_expires_the_rest_and_sends_nothing_late(
    processes: Processes, sink: SmtpSink
) -> None:
    """SIGSTOP on the only worker while the server holds its second message, for longer
    than CADENCE_REMINDER_MAX_DELAY: after SIGCONT nothing late is recorded sent."""
    due_people(8)
    worker = processes.worker("frozen", env={"CADENCE_REMINDER_MAX_DELAY": "8"})

    def freeze(seen: int) -> None:
        if seen == 2:
            os.killpg(worker.pid, signal.SIGSTOP)
            time.sleep(12)
            os.killpg(worker.pid, signal.SIGCONT)

    sink.handler.on_data = freeze
    due_at = dt.datetime.now(dt.UTC)
    Profile.objects.update(next_reminder_at=due_at)
    send_due_reminders.delay()
    assert wait_for(
        lambda: Counter(statuses()) == {Status.SENT: 2, Status.EXPIRED: 6}, timeout=60
    ), processes.log("frozen") + str(statuses())
    assert sink.handler.received == 2
    for row in EmailDelivery.objects.filter(status=Status.SENT):
        assert row.sending_at is not None
        assert row.sending_at - row.due_at <= dt.timedelta(seconds=8)


@pytest.mark.postgresql
def test_worker_database_connections_terminated_mid_batch_lose_no_sent_record(
    processes: Processes, sink: SmtpSink
) -> None:
    """pg_terminate_backend on every worker connection while the server takes messages:
    every e-mail the sink accepted is recorded sent."""
    import psycopg
    from django.db import connection

    emails = due_people(10)
    processes.worker("w1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (own,) = cursor.fetchone()
    db = connection.settings_dict
    dsn = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"  # the test DB

    def terminate(seen: int) -> None:
        # In the sink's event loop: a plain psycopg connection, not Django's.
        if seen in {3, 6, 9}:
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND pid <> %s",
                    [own],
                )

    sink.handler.on_data = terminate
    send_due_reminders.delay()
    assert sink.wait_for(10, timeout=60), processes.log("w1")
    assert wait_for(lambda: statuses() == {Status.SENT: 10}, timeout=30), str(
        statuses()
    ) + processes.log("w1")
    assert sorted(sink.handler.recipients) == sorted(emails)
    assert "reconnecting" in processes.log("w1")
