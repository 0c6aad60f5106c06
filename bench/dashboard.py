"""The dashboard (/plan/) and the card browser (/cards/) at two deck sizes, beside other
users' data: server time and queries per request.

Not a test: it prints figures. Run on PostgreSQL and Redis, for example:

    DATABASE_URL=postgres://root@127.0.0.1:5432/cadence REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/dashboard.py [--rounds 15] [--keep] [--reuse] [--profile]

It makes a database of its own with ``--others`` users holding their own history (so a
query that reads other people's rows shows up), then, for each of ``--sizes``, one user with
that many cards and two years of daily reviews. Requests run in process (Django's test
client), interleaved between the sizes. Each page is timed three times a round: on the
first visit after a change (the person's cache tokens moved just before, as every write but
the drill's grade moves them), on the first visit after a grade (which moves one token only)
and on a repeat visit straight after. The figures are medians over ``--rounds``, with the
spread (lowest..highest) beside them.

``--keep`` leaves the built database behind; ``--reuse`` measures a database a ``--keep``
run left (migrated to the current code first) instead of building one, when it holds the
same sizes and number of other users. ``--profile`` prints, for each page, every statement
of one request at each size side by side, and EXPLAIN ANALYZE of the ones that grow.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

SIZES = (5_000, 50_000)
OTHERS = int(os.environ.get("BENCH_OTHERS", 200))
OTHER_CARDS = 300
DAYS = 730
ROUNDS = 15
DB_NAME = os.environ.get("BENCH_DB_NAME", "cadence_bench_dashboard")


def build_user(name: str, *, cards: int, days: int, per_day: int) -> object:
    from cards.models import Card, ReviewLog, ReviewState, StudyDay, Topic
    from prep.models import Profile
    from prep.services import user_create

    user = user_create(username=name, email=f"{name}@example.com", password="x" * 12)
    Profile.objects.filter(user=user).update(onboarded_at=dt.datetime.now(dt.UTC))
    topics = Topic.objects.bulk_create(
        Topic(owner=user, slug=f"{name}-{i}", title=f"{name} topic {i}", order=1000 + i)
        for i in range(10)
    )
    made = Card.objects.bulk_create(
        (
            Card(
                owner=user,
                topic=topics[i % 10],
                front=f"Question {i} about $x_{i}$",
                back=f"Answer {i}",
                tags=f"tag{i % 50} bulk",
                position=i,
            )
            for i in range(cards)
        ),
        batch_size=5000,
    )
    today = dt.datetime.now(dt.UTC).date()
    ReviewState.objects.bulk_create(
        (
            ReviewState(
                user=user,
                card=card,
                repetitions=3,
                interval=(i % 60) + 1,
                easiness=2.5,
                due=today + dt.timedelta(days=(i % 90) - 30),
                introduced_on=today - dt.timedelta(days=days),
                last_reviewed_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=5),
            )
            for i, card in enumerate(made[: cards // 2])
        ),
        batch_size=5000,
    )
    logs = []
    for day in range(days):
        local = today - dt.timedelta(days=day)
        at = dt.datetime.combine(local, dt.time(8), tzinfo=dt.UTC)
        for k in range(per_day):
            card = made[(day * per_day + k) % len(made)]
            logs.append(
                ReviewLog(
                    user=user,
                    card=card,
                    quality=(day + k) % 6,
                    reviewed_at=at,
                    local_date=local,
                    repetitions_before=2,
                    interval_before=6,
                    easiness_before=2.5,
                    repetitions_after=3,
                    interval_after=15,
                    easiness_after=2.5,
                    due_after=local,
                )
            )
    ReviewLog.objects.bulk_create(logs, batch_size=5000)
    StudyDay.objects.bulk_create(
        StudyDay(user=user, local_date=today - dt.timedelta(days=d), finished_at=at)
        for d in range(days)
    )
    return user


def main() -> None:
    logging.disable(logging.INFO)  # the sign-in's log lines
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="two deck sizes")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--others", type=int, default=OTHERS, help="other users")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database")
    parser.add_argument(
        "--interview",
        type=int,
        default=0,
        metavar="DAYS",
        help="give the measured users an interview this many days ahead (readiness shown)",
    )
    parser.add_argument("--profile", action="store_true", help="per-statement profile")
    parser.add_argument("--paths", default="", help="only these pages (comma-separated)")
    args = parser.parse_args()
    sizes = tuple(int(n) for n in args.sizes.split(","))
    assert len(sizes) == 2, "two sizes, the small one first"
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        connection.settings_dict["TEST"]["NAME"] = DB_NAME
    keepdb = args.reuse and _kept(old_name)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=keepdb)
    try:
        run(sizes=sizes, args=args, built=keepdb)
    finally:
        if args.keep:
            connection.close()
            connection.settings_dict["NAME"] = old_name
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def _kept(old_name: str) -> bool:
    """Whether a kept database is there to reuse."""
    if connection.vendor != "postgresql":
        return False
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME])
        return cursor.fetchone() is not None


FIRST, REPEAT = "first visit", "repeat visit"
# The first visit after drilling: a grade moves the person's data token only, not the one
# the day's queue is kept under (cards.versions).
AFTER_GRADE = "after a grade"
KINDS = (FIRST, AFTER_GRADE, REPEAT)


def _move_token(kind: str, user_id: int) -> None:
    from cards.versions import data_changed

    if kind != REPEAT:
        data_changed(user_id=user_id, graded=kind == AFTER_GRADE)


PAGES = ("/plan/", "/cards/", "/cards/?sort=due&page=20")


def _measured_users(sizes: tuple[int, ...], others: int) -> dict[int, Any] | None:
    from django.contrib.auth.models import User

    users = {size: User.objects.filter(username=f"size{size}").first() for size in sizes}
    made = User.objects.filter(username__startswith="other").count()
    if any(u is None for u in users.values()) or made != others:
        return None
    return users


def run(*, sizes: tuple[int, ...], args: argparse.Namespace, built: bool) -> None:
    from django.conf import settings

    from cards.services import cards_render_stale
    from prep.models import Profile

    # The dashboard's history is cached only in a cache every process shares (Redis); the
    # test settings turn it off for tests that run inside one transaction.
    settings.CADENCE_SHARED_CACHE = bool(settings.REDIS_URL)

    started = time.perf_counter()
    users = _measured_users(sizes, args.others) if built else None
    if users is None:
        if built:
            print("the kept database does not hold these sizes: building anew")
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE auth_user, cards_card, cards_topic CASCADE")
        for n in range(args.others):
            build_user(f"other{n}", cards=OTHER_CARDS, days=365, per_day=2)
        users = {
            size: build_user(f"size{size}", cards=size, days=DAYS, per_day=20) for size in sizes
        }
        cards_render_stale()
        how = f"built in {time.perf_counter() - started:.0f} s"
    else:
        how = "reused from a kept database"
    interview = (
        dt.datetime.now(dt.UTC).date() + dt.timedelta(days=args.interview)
        if args.interview
        else None
    )
    Profile.objects.filter(user__in=list(users.values())).update(interview_date=interview)
    with connection.cursor() as cursor:
        # As autovacuum leaves a server's tables: the build rewrote every card (its HTML), and
        # dead rows and an empty visibility map would rule out index-only scans.
        cursor.execute("VACUUM ANALYZE")
    print(
        f"database: {connection.vendor}; {args.others} other users ({OTHER_CARDS} cards, a "
        f"year of reviews each); measured users at {', '.join(map(str, sizes))} cards with "
        f"{DAYS} days of 20 reviews; {how}; {args.rounds} rounds; interview "
        f"{f'in {args.interview} days' if interview else 'none'}"
    )
    print(f"history cache: {'on (Redis)' if settings.CADENCE_SHARED_CACHE else 'off'}")
    clients = {}
    for size, user in users.items():
        client = Client()
        client.force_login(user)
        clients[size] = client
    pages = tuple(p for p in PAGES if not args.paths or p in args.paths.split(","))

    def visit(size: int, page: str) -> tuple[float, int]:
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = clients[size].get(page)
            took = time.perf_counter() - start
        assert response.status_code == 200, (page, response.status_code)
        return took, len(captured)

    if args.profile:
        profile(sizes=sizes, users=users, pages=pages, visit=visit)
        return
    print(f"uptime before: {_uptime()}")
    samples: dict[tuple[str, str, int], list[float]] = {}
    queries: dict[tuple[str, str, int], set[int]] = {}
    for page in pages:  # one visit of each first: imports, template compiling
        for size in sizes:
            visit(size, page)
    for _ in range(args.rounds):
        for page in pages:
            for size in sizes:
                for kind in KINDS:
                    _move_token(kind, users[size].pk)
                    took, n = visit(size, page)
                    samples.setdefault((page, kind, size), []).append(took * 1000)
                    queries.setdefault((page, kind, size), set()).add(n)
    print(f"uptime after: {_uptime()}")
    small, large = sizes
    print(
        f"{'page':<28} {'visit':<13} {f'{small} cards: median (spread)':>30} "
        f"{f'{large} cards: median (spread)':>31} {'ratio':>6}  queries"
    )
    for page in pages:
        for kind in KINDS:
            medians = {s: statistics.median(samples[(page, kind, s)]) for s in sizes}
            cells = [
                f"{medians[s]:.0f} ms ({min(samples[(page, kind, s)]):.0f}.."
                f"{max(samples[(page, kind, s)]):.0f})"
                for s in sizes
            ]
            counts = ["/".join(map(str, sorted(queries[(page, kind, s)]))) for s in sizes]
            print(
                f"{page:<28} {kind:<13} {cells[0]:>30} {cells[1]:>31} "
                f"{medians[large] / medians[small]:>5.2f}×  {counts[0]} / {counts[1]}"
            )


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "(no uptime)"


@contextmanager
def _timed_statements() -> Iterator[list[tuple[str, Any, float]]]:
    """Every statement run inside, with its parameters and time in ms."""
    seen: list[tuple[str, Any, float]] = []

    def wrapper(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen.append((sql, params, (time.perf_counter() - start) * 1000))

    with connection.execute_wrapper(wrapper):
        yield seen


def profile(
    *,
    sizes: tuple[int, ...],
    users: dict[int, object],
    pages: tuple[str, ...],
    visit: Callable[[int, str], tuple[float, int]],
) -> None:
    """Each page's statements on a first and a repeat visit at both sizes, side by side
    (the best of three requests each), and EXPLAIN ANALYZE of those over 2 ms that take
    half as long again at the large size."""

    small, large = sizes
    for page in pages:
        for kind in KINDS:
            best: dict[int, list[tuple[str, Any, float]]] = {}
            for size in sizes:
                visit(size, page)
                for _ in range(3):
                    _move_token(kind, users[size].pk)  # type: ignore[attr-defined]
                    with _timed_statements() as seen:
                        visit(size, page)
                    if size not in best or sum(t for *_, t in seen) < sum(
                        t for *_, t in best[size]
                    ):
                        best[size] = list(seen)
            a, b = best[small], best[large]
            print(
                f"\n== {page} ({kind}): {len(a)} / {len(b)} statements, "
                f"{sum(t for *_, t in a):.1f} / {sum(t for *_, t in b):.1f} ms in the database"
            )
            growing = []
            for i in range(max(len(a), len(b))):
                ta = a[i][2] if i < len(a) else 0.0
                tb = b[i][2] if i < len(b) else 0.0
                sql = (b[i] if i < len(b) else a[i])[0]
                print(f"  {i:>2} {ta:7.2f} {tb:7.2f} ms  {' '.join(sql.split())[:150]}")
                if i < len(b) and tb > 2 and tb > 1.5 * ta:
                    growing.append(b[i])
            for sql, params, _ in growing:
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    plan = "\n".join(f"      {row[0]}" for row in cursor.fetchall())
                print(f"\n  EXPLAIN ANALYZE at {large} cards: {' '.join(sql.split())[:300]}")
                print(plan)


if __name__ == "__main__":
    main()
