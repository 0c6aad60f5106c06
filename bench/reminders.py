"""One day's reminders for 100,000 users: the real sweep, worker, Redis and an SMTP server.

Not a test: it prints figures. Needs PostgreSQL and redis-server:

    DATABASE_URL=postgres://root@127.0.0.1:5432/cadence .venv/bin/python bench/reminders.py

It creates a throw-away database with the built-in deck and tracks and N users (default
100,000) spread over six time zones, each with 8 cards under review (most due), an active
plan whose current week has a topic and three items. Every user's reminder is made due
now. Then it starts a private Redis, an SMTP sink in its own process (tests/integration/
smtp_sink.py: a real SMTP server that offers PIPELINING, as most do, so each e-mail takes
two round trips, and counts each message at its final dot) and a Celery worker (prefork,
two processes a core), enqueues the reminder sweep once (as beat does every minute) and
times until the sink has accepted every e-mail. It reports e-mails per second, the total
time, the CPU seconds of the worker, the sink and the PostgreSQL backends of its
database, and checks the guarantee: one e-mail per user, every delivery sent.

``--keep`` leaves the database, and ``--reuse`` runs again on it (its deliveries deleted,
every reminder due again): a run without the minute of set-up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    # Two worker processes a core: a sender waits on the SMTP server between messages.
    parser.add_argument("--concurrency", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Use the database a --keep run left (the same --users): its deliveries are "
        "deleted and every reminder made due again, instead of building it anew.",
    )
    parser.add_argument("--db-name", default="cadence_bench_reminders")
    parser.add_argument("--redis-port", type=int, default=0, help="0: any free port")
    parser.add_argument("--smtp-port", type=int, default=0, help="0: any free port")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the benchmark creates its own db).")

    workdir = Path(tempfile.mkdtemp(prefix="cadence-bench-"))
    redis_port = args.redis_port or free_port()
    smtp_port = args.smtp_port or free_port()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    os.environ["CADENCE_DATA_DIR"] = str(workdir / "data")

    processes: list[subprocess.Popen[bytes]] = []

    def start(
        command: list[str], name: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (workdir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(process)
        return process

    redis_server = shutil.which("redis-server")
    if not redis_server:
        sys.exit("redis-server is needed")
    start(
        [
            redis_server,
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "noeviction",
        ],
        "redis",
    )

    import django

    django.setup()
    from django.db import connection

    # Not test_<name>: the benchmark must not clobber a test run's database.
    connection.settings_dict["TEST"]["NAME"] = args.db_name
    old_name = connection.settings_dict["NAME"]
    if args.reuse:
        connection.close()
        connection.settings_dict["NAME"] = args.db_name
    else:
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.monotonic()
        if args.reuse:
            users = make_due()
            if users != args.users:
                sys.exit(f"the kept database has {users:,} users, not {args.users:,}")
        else:
            populate(args.users)
        print(f"set-up: {args.users:,} users in {time.monotonic() - started:.0f} s")
        sink = start(
            [
                sys.executable,
                str(ROOT / "tests" / "integration" / "smtp_sink.py"),
                "--port",
                str(smtp_port),
            ],
            "sink",
            {"PYTHONPATH": str(ROOT)},
        )
        sink_log = workdir / "sink.log"
        if not wait_for(lambda: b"ready" in sink_log.read_bytes(), 20):
            sys.exit("the SMTP sink did not start")
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.integration.worker_settings",
            "PYTHONPATH": str(ROOT),
            "CADENCE_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "EMAIL_USE_TLS": "0",
            "LOG_LEVEL": "INFO",
        }
        worker = start(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "config",
                "worker",
                f"--concurrency={args.concurrency}",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            "worker",
            env,
        )
        worker_log = workdir / "worker.log"
        wait_for(lambda: b" ready." in worker_log.read_bytes() or worker.poll() is not None, 30)
        if worker.poll() is not None:
            sys.exit(worker_log.read_text())
        run(args.users, sink_log, sink, worker)
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        connection.close()
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs in {workdir}")


def session_cpu(session: int) -> float:
    """CPU seconds (user + system) of the live processes of a session: a started process
    and its children (the worker's pool)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # fields after the name: state, ppid, pgrp, session
            total += int(fields[11]) + int(fields[12])
    return total / ticks


class DatabaseCpu:
    """CPU seconds of the PostgreSQL backends serving one database on this machine, read
    from /proc at each :meth:`sample`: backends come and go (a worker's connection lives
    CONN_MAX_AGE), so each is read while it lives and kept at its last reading."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.seen: dict[int, int] = {}
        self.sample()
        self.before = dict(self.seen)

    def sample(self) -> None:
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("latin-1")
                if not command.startswith("postgres:") or f" {self.name} " not in command:
                    continue
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.seen[int(proc.name)] = int(fields[11]) + int(fields[12])

    def used(self) -> float:
        self.sample()
        return sum(t - self.before.get(pid, 0) for pid, t in self.seen.items()) / self.ticks


def populate(count: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from cards.models import Topic
    from prep.models import Profile, Track

    call_command("load_deck", verbosity=0)
    user_model = get_user_model()
    now = timezone.now()
    batch = 10_000
    for start in range(0, count, batch):
        users = user_model.objects.bulk_create(
            user_model(
                username=f"user{i}",
                email=f"user{i}@example.com",
                password="!",  # unusable
                date_joined=now,
            )
            for i in range(start, min(start + batch, count))
        )
        Profile.objects.bulk_create(
            Profile(user=user, time_zone=ZONES[user.pk % len(ZONES)], reminder_time=dt.time(8))
            for user in users
        )
    track = Track.objects.first()
    topic = Topic.objects.filter(owner__isnull=True).order_by("order").first()
    assert track is not None
    assert topic is not None
    with connection.cursor() as cursor:
        # 8 cards under review per user, due yesterday, today or tomorrow (UTC dates).
        cursor.execute(
            """
            INSERT INTO cards_reviewstate (user_id, card_id, repetitions, interval, easiness,
                due, lapses, last_reviewed_at, repeat_on, suspended, version, introduced_on)
            SELECT u.id, c.id, 2, 6, 2.5, CURRENT_DATE + ((u.id + c.position) % 3) - 1, 0,
                now() - interval '6 days', NULL, false, 1, CURRENT_DATE - 30
            FROM auth_user u
            CROSS JOIN (SELECT id, position FROM cards_card WHERE owner_id IS NULL
                        ORDER BY position LIMIT 8) c
            """
        )
        cursor.execute(
            """
            INSERT INTO prep_plan (user_id, track_id, starts_on, interview_date,
                hours_per_week, is_active, notes, created_at, updated_at)
            SELECT id, %s, CURRENT_DATE - 10, CURRENT_DATE + 25, 6, true, '', now(), now()
            FROM auth_user
            """,
            [track.pk],
        )
        cursor.execute(
            """
            INSERT INTO prep_planweek (plan_id, number, starts_on, ends_on, title)
            SELECT id, 2, CURRENT_DATE - 3, CURRENT_DATE + 3, 'RLHF and reward models'
            FROM prep_plan
            """
        )
        cursor.execute(
            "INSERT INTO prep_planweek_topics (planweek_id, topic_id) "
            "SELECT id, %s FROM prep_planweek",
            [topic.pk],
        )
        cursor.execute(
            """
            INSERT INTO prep_planitem (week_id, topic_id, kind, title, minutes, "order", done_at,
                ticked_by_drill)
            SELECT w.id, %s, k.kind, k.title, k.minutes, k.ord, NULL, false
            FROM prep_planweek w
            CROSS JOIN (VALUES ('derive', 'Derive the Bradley-Terry reward loss', 45, 0),
                               ('sketch', 'Sketch the RLHF pipeline end to end', 60, 1),
                               ('drill', 'Drill RLHF cards', 20, 2)) AS k(kind, title, minutes, ord)
            """,
            [topic.pk],
        )
        cursor.execute("ANALYZE")
    make_due()


def make_due() -> int:
    """Everyone's reminder due now, for their own local date, and no delivery recorded
    yet; the number of users."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from prep.models import EmailDelivery, Profile

    now = timezone.now()
    EmailDelivery.objects.all().delete()
    Profile.objects.update(last_reminder_on=None)
    for zone in ZONES:
        Profile.objects.filter(time_zone=zone).update(
            next_reminder_at=now - dt.timedelta(minutes=1),
            next_reminder_on=now.astimezone(ZoneInfo(zone)).date(),
            next_rollover_at=now + dt.timedelta(days=1),
            next_rollover_on=now.astimezone(ZoneInfo(zone)).date() + dt.timedelta(days=1),
        )
    from django.db import connection

    with connection.cursor() as cursor:
        # Each run starts from tables alike, without the last run's dead rows.
        cursor.execute("VACUUM ANALYZE prep_emaildelivery, prep_profile")
    return get_user_model().objects.count()


def run(
    count: int, sink_log: Path, sink: subprocess.Popen[bytes], worker: subprocess.Popen[bytes]
) -> None:
    from django.db.models import Count

    from prep.models import EmailDelivery
    from prep.tasks import send_due_reminders

    def accepted() -> int:
        lines = sink_log.read_text().split()
        return int(lines[-1]) if len(lines) > 1 and lines[-1].isdigit() else 0

    from django.db import connection

    database = str(connection.settings_dict["NAME"])
    cpu_before = session_cpu(worker.pid), session_cpu(sink.pid)
    database_cpu = DatabaseCpu(database)
    started = time.monotonic()
    send_due_reminders.delay()
    first_at = None
    last_report = started
    while accepted() < count:
        now = time.monotonic()
        if first_at is None and accepted() > 0:
            first_at = now
        database_cpu.sample()
        if now - last_report >= 10:
            print(f"  {now - started:5.0f} s: {accepted():,} accepted")
            last_report = now
        if now - started > 900:
            print("gave up after 15 minutes")
            break
        time.sleep(0.2)
    total = time.monotonic() - started
    worker_cpu = session_cpu(worker.pid) - cpu_before[0]
    sink_cpu = session_cpu(sink.pid) - cpu_before[1]
    database_cpu_used = database_cpu.used()
    sent = accepted()
    statuses = dict(
        EmailDelivery.objects.values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    per_user = EmailDelivery.objects.values("user_id").annotate(n=Count("id")).filter(n__gt=1)
    print(f"e-mails accepted by the SMTP server: {sent:,} of {count:,}")
    print(f"total time from the sweep to the last e-mail: {total:.1f} s")
    print(f"throughput: {sent / total:,.0f} e-mails per second")
    if first_at is not None:
        print(f"first e-mail after {first_at - started:.1f} s")
    print(
        f"CPU: worker {worker_cpu:.1f} s ({1000 * worker_cpu / max(sent, 1):.2f} ms an e-mail), "
        f"SMTP sink {sink_cpu:.1f} s, PostgreSQL backends {database_cpu_used:.1f} s; "
        f"1-minute load at the end {os.getloadavg()[0]:.1f}"
    )
    print(f"deliveries by status: {statuses}")
    print(f"users with more than one delivery: {per_user.count()}")


if __name__ == "__main__":
    main()
