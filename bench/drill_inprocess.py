"""One review in process: Cadence's next card + grade against Anki's v3 scheduler.

Not a test: it prints figures. Run on the configured database, for example:

    DATABASE_URL=postgres://root@127.0.0.1:5432/cadence .venv/bin/python bench/drill_inprocess.py

Both sides hold 5,000 cards of which 1,000 are due reviews. A Cadence review is what the
grade request does before rendering: ``review_grade`` (the state read with its card, the
queue check, the state's update with the log's insert: one statement on PostgreSQL), then
today's counts and the next card (one statement with Redis). An Anki review is
``get_queued_cards`` and ``answer_card`` on a collection in a temporary folder (the
``anki`` package, a dev dependency). Blocks of each alternate, so machine noise falls on
both; the figure is the median per review over the blocks, and the ratio of the medians.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

CARDS = 5000
DUE = 1000
BLOCKS = 8
PER_BLOCK = 50


def cadence_reviewer() -> Callable[[], None]:
    from django.contrib.auth.models import User

    from cards.models import Card, ReviewState
    from cards.queue import NextCard, next_card, queue_counts
    from cards.selectors import memory_model_of
    from cards.services import review_grade
    from cards.versions import tokens_deferred
    from core.localtime import local_date
    from prep.models import Profile
    from prep.services import user_create
    from tests.factories import deck_with_history

    user = user_create(username="bench", email="bench@example.com", password="x" * 12)
    Profile.objects.filter(user=user).update(new_cards_per_day=0, max_reviews_per_day=9999)
    profile = Profile.objects.get(user=user)
    # The grade request has the memory model from the query that loads the user.
    model = memory_model_of(user=User.objects.select_related("memory_parameters").get(pk=user.pk))
    now = dt.datetime.now(dt.UTC)
    deck_with_history(user, now=now, cards=CARDS, logs_per_card=2)
    # Exactly DUE reviews due today; the rest of the history later.
    today = local_date(now, profile.zone)
    states = list(ReviewState.objects.filter(user=user).values_list("id", flat=True))
    ReviewState.objects.filter(id__in=states[:DUE]).update(due=today)
    ReviewState.objects.filter(id__in=states[DUE:]).update(due=today + dt.timedelta(days=30))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    assert Card.objects.count() >= CARDS

    def shown_next() -> NextCard:
        counts = queue_counts(user=user, limits=profile.limits, today=today, with_next=True)
        shown = next_card(user=user, counts=counts, today=today)
        assert shown is not None, "the queue ran dry"
        assert shown.state is not None
        return shown

    on_screen = [shown_next()]

    # As the drill's grade request: the card on screen graded, then the counts with the next
    # review read in one statement, the grade's token move sent with that read.
    @tokens_deferred()
    def review() -> None:
        shown = on_screen[0]
        assert shown.state is not None
        review_grade(
            user=user,
            card_id=shown.card.pk,
            quality=4,
            now=dt.datetime.now(dt.UTC),
            shown_version=shown.state.version,
            zone=profile.zone,
            limits=profile.limits,
            model=model,
        )
        on_screen[0] = shown_next()

    return review


def anki_reviewer(folder: Path) -> Callable[[], None]:
    import anki.collection  # first: anki.cards cannot be imported before it
    import anki.scheduler.v3
    from anki.cards import Card as AnkiCard
    from anki.scheduler.v3 import CardAnswer

    Collection = anki.collection.Collection

    col = Collection(str(folder / "bench.anki2"))
    deck_id = col.decks.id("Bench")
    assert deck_id is not None
    config = col.decks.config_dict_for_deck_id(deck_id)
    config["new"]["perDay"] = 0
    config["rev"]["perDay"] = 9999
    col.decks.save(config)
    model = col.models.by_name("Basic")
    assert model is not None
    for i in range(CARDS):
        note = col.new_note(model)
        note["Front"] = f"Question {i}: why $\\sqrt{{d_k}}$?"
        note["Back"] = f"Answer {i}"
        col.add_note(note, deck_id)
    db, sched = col.db, col.sched
    assert db is not None
    assert isinstance(sched, anki.scheduler.v3.Scheduler)
    today = sched.today
    ids = db.list("select id from cards order by id")
    db.execute(
        "update cards set type = 2, queue = 2, ivl = 10, factor = 2500, reps = 3, due = ? "
        f"where id in ({','.join(map(str, ids[:DUE]))})",
        today,
    )
    db.execute(
        "update cards set type = 2, queue = 2, ivl = 10, factor = 2500, reps = 3, due = ? "
        f"where id in ({','.join(map(str, ids[DUE:]))})",
        today + 30,
    )
    col.decks.select(deck_id)

    def review() -> None:
        queued = sched.get_queued_cards(fetch_limit=1)
        assert queued.cards, "the queue ran dry"
        top = queued.cards[0]
        card = AnkiCard(col)
        card._load_from_backend_card(top.card)
        card.start_timer()
        answer = sched.build_answer(card=card, states=top.states, rating=CardAnswer.GOOD)
        sched.answer_card(answer)

    return review


def timed_block(review: Callable[[], None]) -> float:
    start = time.perf_counter()
    for _ in range(PER_BLOCK):
        review()
    return (time.perf_counter() - start) / PER_BLOCK


def main() -> None:
    from django.conf import settings

    setup_test_environment()
    # The day's reviews are kept between reviews when a shared cache (Redis) holds them.
    settings.CADENCE_SHARED_CACHE = bool(settings.REDIS_URL)
    old_name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        connection.settings_dict["TEST"]["NAME"] = os.environ.get(
            "BENCH_DATABASE", "cadence_bench_inprocess"
        )
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with tempfile.TemporaryDirectory() as folder:
            cadence, anki = cadence_reviewer(), anki_reviewer(Path(folder))
            cadence(), anki()  # warm both
            samples: dict[str, list[float]] = {"cadence": [], "anki": []}
            for block in range(BLOCKS):
                order = [("cadence", cadence), ("anki", anki)]
                for name, review in order if block % 2 == 0 else reversed(order):
                    samples[name].append(timed_block(review))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print(
        f"database: {connection.vendor}; cache: "
        f"{'Redis' if settings.CADENCE_SHARED_CACHE else 'none shared'}; {CARDS} cards, {DUE} due; "
        f"{BLOCKS} alternating blocks of {PER_BLOCK} reviews"
    )
    medians = {}
    for name, values in samples.items():
        us = sorted(v * 1e6 for v in values)
        medians[name] = statistics.median(us)
        print(f"{name}: median {medians[name]:.0f} µs/review (blocks {us[0]:.0f}–{us[-1]:.0f})")
    print(f"ratio cadence/anki: {medians['cadence'] / medians['anki']:.1f}×")


if __name__ == "__main__":
    main()
