"""The dashboard (/plan/) and the card browser (/cards/) at two deck sizes, beside other
users' data: server time and queries per request.

Not a test: it prints figures. Run on PostgreSQL, for example:

    DATABASE_URL=postgres://root@127.0.0.1:5432/cadence .venv/bin/python bench/dashboard.py

It makes a throw-away database with ``OTHERS`` users holding their own history (so a query
that reads other people's rows shows up), then, for each size in ``SIZES``, one user with
that many cards and two years of daily reviews. Requests run in process (Django's test
client), interleaved between the sizes; the figures are medians over ``ROUNDS``.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

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
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        connection.settings_dict["TEST"]["NAME"] = os.environ.get(
            "BENCH_DB_NAME", "cadence_bench_dashboard"
        )
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


COLD = "/plan/ (first visit of the day)"
PATHS = ("/plan/", COLD, "/cards/", "/cards/?sort=due&page=20")


def run() -> None:
    from django.conf import settings

    from cards.services import cards_render_stale
    from cards.versions import data_changed

    # The dashboard's history is cached only in a cache every process shares (Redis); the
    # test settings turn it off for tests that run inside one transaction.
    settings.CADENCE_SHARED_CACHE = bool(settings.REDIS_URL)

    started = time.perf_counter()
    for n in range(OTHERS):
        build_user(f"other{n}", cards=OTHER_CARDS, days=365, per_day=2)
    users = {size: build_user(f"size{size}", cards=size, days=DAYS, per_day=20) for size in SIZES}
    cards_render_stale()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"database: {connection.vendor}; {OTHERS} other users ({OTHER_CARDS} cards, a year of "
        f"reviews each); measured users at {', '.join(map(str, SIZES))} cards with {DAYS} days "
        f"of 20 reviews; built in {time.perf_counter() - started:.0f} s; {ROUNDS} rounds"
    )
    clients = {}
    for size, user in users.items():
        client = Client()
        client.force_login(user)  # type: ignore[arg-type]
        clients[size] = client
    samples: dict[tuple[str, int], list[float]] = {}
    queries: dict[tuple[str, int], int] = {}
    for _ in range(ROUNDS):
        for path in PATHS:
            for size, client in clients.items():
                if path == COLD:
                    data_changed(user_id=users[size].pk)  # type: ignore[attr-defined]
                with CaptureQueriesContext(connection) as captured:
                    start = time.perf_counter()
                    response = client.get("/plan/" if path == COLD else path)
                    took = time.perf_counter() - start
                assert response.status_code == 200, (path, response.status_code)
                samples.setdefault((path, size), []).append(took)
                queries[(path, size)] = len(captured)
    print(f"history cache: {'on (Redis)' if settings.CADENCE_SHARED_CACHE else 'off'}")
    for path in PATHS:
        small, large = SIZES
        medians = {size: statistics.median(samples[(path, size)]) * 1000 for size in SIZES}
        print(
            f"{path}: {small} cards {medians[small]:.0f} ms ({queries[(path, small)]} queries), "
            f"{large} cards {medians[large]:.0f} ms ({queries[(path, large)]} queries), "
            f"ratio {medians[large] / medians[small]:.2f}×"
        )


if __name__ == "__main__":
    main()
