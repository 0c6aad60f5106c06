"""Server time of the drill's requests with a 5,000-card deck.

Not a test: it prints figures. Run against PostgreSQL, for example:

    DATABASE_URL=postgres://root@127.0.0.1:5432/cadence .venv/bin/python bench/drill.py

It creates a throw-away test database, a user holding 5,000 cards (half of them with
review history), then times GET /review/ and POST /review/grade/ (grade and next card,
as htmx sends it) in-process, so the figure is the server's work without the network.
"""

from __future__ import annotations

import datetime as dt
import os
import re
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
from django.test.utils import setup_test_environment  # noqa: E402

CARDS = 5000
ROUNDS = 200


def main() -> None:
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    # Its own database, so it can run beside the test suite.
    if connection.vendor == "postgresql":
        connection.settings_dict["TEST"]["NAME"] = "cadence_bench_drill"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run() -> None:
    from cards.models import ReviewLog
    from prep.models import Profile
    from prep.services import user_create
    from tests.factories import deck_with_history

    user = user_create(username="bench", email="bench@example.com", password="x" * 12)
    Profile.objects.filter(user=user).update(new_cards_per_day=200, max_reviews_per_day=2000)
    now = dt.datetime.now(dt.UTC)
    deck_with_history(user, now=now, cards=CARDS, logs_per_card=4)
    if "--render-live" not in sys.argv:
        from cards.services import cards_render_stale

        cards_render_stale()  # as load_deck and every write do
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client = Client()
    client.force_login(user)
    html = client.get("/review/").content.decode()
    page, grade = [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        html = client.get("/review/").content.decode()
        page.append(time.perf_counter() - start)
        token = {
            "card": re.search(r'name="card" value="(\d+)"', html).group(1),  # type: ignore[union-attr]
            "version": re.search(r'name="version" value="(\d+)"', html).group(1),  # type: ignore[union-attr]
            "quality": "4",
        }
        start = time.perf_counter()
        response = client.post("/review/grade/", token, HTTP_HX_REQUEST="true")
        grade.append(time.perf_counter() - start)
        assert response.status_code == 200
    print(
        f"database: {connection.vendor}, {CARDS} cards, {CARDS // 2} with history, "
        f"{ReviewLog.objects.count()} log rows, {ROUNDS} rounds"
    )
    for name, samples in (
        ("GET /review/ (full page)", page),
        ("POST /review/grade/ (grade + next card)", grade),
    ):
        ms = sorted(s * 1000 for s in samples)
        print(
            f"{name}: median {statistics.median(ms):.1f} ms, p95 {ms[int(len(ms) * 0.95)]:.1f} ms"
        )


if __name__ == "__main__":
    main()
