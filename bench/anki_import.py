"""Importing a large Anki package: cards per second and peak memory, reading and writing.

Not a test: it prints figures. Run on the configured database, for example:

    .venv/bin/python bench/anki_import.py [--notes 20000] [--runs 3] [--package PATH]

The package is built with the real Anki (the ``anki`` package, a dev dependency) and
kept at ``--package`` (built only if missing): 20,000 notes by default, as people's
decks are, in three decks with hierarchical tags: 60 % Basic, 20 % Basic (and reversed
card), 20 % Cloze with two deletions (28,000 cards), fields with bold, line breaks, a
formula in a fifth of them; a quarter of the cards reviewed, with two revlog rows each.

Read is ``cards.imports.parse`` on the package bytes (what the worker does before the
preview). Write is ``import_jobs._apply``: the cards, their schedule and history in one
transaction (what confirming does); removing them between runs is not timed. Each is
timed ``--runs`` times, wall and CPU seconds; the medians are printed, cards/s and ms per
card in CPU time (what other work on a shared machine disturbs least). Peak memory is a
separate run under ``tracemalloc`` (Python allocations, not SQLite's page cache).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def build_package(path: Path, notes: int) -> None:
    from anki.collection import Collection, ExportAnkiPackageOptions

    with tempfile.TemporaryDirectory() as folder:
        col = Collection(str(Path(folder) / "collection.anki2"))
        try:
            decks = [col.decks.id(name) for name in ("ML::Attention", "ML::Optimisers", "Systems")]
            basic = col.models.by_name("Basic")
            reverse = col.models.by_name("Basic (and reversed card)")
            cloze = col.models.by_name("Cloze")
            assert basic
            assert reverse
            assert cloze
            for i in range(notes):
                deck = decks[i % 3]
                assert deck is not None
                kind = i % 10
                if kind < 6:
                    note = col.new_note(basic)
                    note["Front"] = f"What does <b>layer {i}</b> compute?"
                    note["Back"] = f"A weighted sum<br>of values {i}" + (
                        f" \\(\\frac{{QK^\\top}}{{\\sqrt{{d_{i}}}}}\\)" if i % 5 == 0 else ""
                    )
                elif kind < 8:
                    note = col.new_note(reverse)
                    note["Front"] = f"Term {i}"
                    note["Back"] = f"<i>Definition</i> of term {i}"
                else:
                    note = col.new_note(cloze)
                    note["Text"] = f"{{{{c1::Adam}}}} {i} keeps {{{{c2::two moments}}}} per weight"
                    note["Back Extra"] = ""
                note.tags = [f"ml::topic{i % 7}", "bench"]
                col.add_note(note, deck)
            db = col.db
            assert db is not None
            today = col.sched.today
            ids = db.list("select id from cards order by id")
            reviewed = ids[: len(ids) // 4]
            db.execute(
                "update cards set type = 2, queue = 2, ivl = 12, factor = 2500, reps = 2, "
                f"due = {today + 5} where id in ({','.join(map(str, reviewed))})"
            )
            stamp = int(time.time() * 1000) - 30 * 86_400_000
            rows = []
            for n, cid in enumerate(reviewed):
                rows.append((stamp + 2 * n, cid, 3, 4, 0, 2500, 8000, 0))
                rows.append((stamp + 2 * n + 1 + 86_400_000 * 4, cid, 3, 12, 4, 2500, 6000, 1))
            db.executemany(
                "insert into revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) "
                "values (?, ?, -1, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            col.export_anki_package(
                out_path=str(path),
                options=ExportAnkiPackageOptions(
                    with_scheduling=True, with_deck_configs=False, with_media=False
                ),
                limit=None,
            )
        finally:
            col.close()


def timed(run: Callable[[], object], runs: int) -> tuple[list[float], list[float], object]:
    """Wall and CPU seconds of each run (CPU time is what a shared machine disturbs least)."""
    wall, cpu = [], []
    result: object = None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu, result


def peak(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--package", type=Path, default=None)
    options = parser.parse_args()
    package_path = options.package or Path(tempfile.gettempdir()) / (
        f"cadence-bench-{options.notes}.apkg"
    )
    if not package_path.exists():
        start = time.perf_counter()
        build_package(package_path, options.notes)
        print(f"built {package_path} in {time.perf_counter() - start:.0f} s")
    data = package_path.read_bytes()

    from django.test import override_settings

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        connection.settings_dict["TEST"]["NAME"] = "cadence_bench_anki_import"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with override_settings(
            CADENCE_IMPORT_MAX_CARDS=100_000, MEDIA_ROOT=tempfile.mkdtemp(prefix="cadence-bench-")
        ):
            from cards import import_jobs
            from cards.imports import parse
            from cards.models import Card, ImportJob
            from prep.services import user_create

            user = user_create(username="bench", email="bench@example.com", password="x" * 12)
            limits = import_jobs.import_limits()

            def read() -> object:
                return parse("apkg", data, limits=limits, media_url=lambda name: name)

            read_times, read_cpu, parsed = timed(read, options.runs)
            read_peak = peak(read)
            job = ImportJob(owner=user, filename="bench.apkg", format="apkg")
            fields = import_jobs._preview_fields(job, parsed)  # type: ignore[arg-type]
            cards = fields["to_add"]

            def write() -> tuple[float, float]:
                """Seconds to write the cards (their removal afterwards is not timed)."""
                job = ImportJob.objects.create(
                    owner=user, filename="bench.apkg", format="apkg", **fields
                )
                start, start_cpu = time.perf_counter(), time.process_time()
                with transaction.atomic():
                    import_jobs._apply(job, now=dt.datetime.now(dt.UTC))
                elapsed = (time.perf_counter() - start, time.process_time() - start_cpu)
                added.append(job.added)
                with connection.cursor() as cursor:
                    for table in ("cards_reviewlog", "cards_reviewstate", "cards_studyday"):
                        cursor.execute(f"DELETE FROM {table}")
                Card.objects.filter(owner=user).delete()
                return elapsed

            added: list[int] = []
            writes = [write() for _ in range(options.runs)]
            write_times, write_cpu = [w for w, _ in writes], [c for _, c in writes]
            write_peak = peak(write)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    print(
        f"package: {options.notes:,} notes, {cards:,} cards, {len(data) / 1e6:.1f} MB; "
        f"database: {connection.vendor}; {options.runs} runs, median"
    )
    for name, samples, cpu, memory, count in (
        ("read", read_times, read_cpu, read_peak, int(cards)),
        ("write", write_times, write_cpu, write_peak, added[0]),
    ):
        median, median_cpu = statistics.median(samples), statistics.median(cpu)
        print(
            f"{name}: {median:.1f} s wall, {median_cpu:.1f} s CPU, "
            f"{count / median_cpu:,.0f} cards/s, {median_cpu / count * 1e3:.2f} ms CPU/card; "
            f"peak {memory / 1e6:.0f} MB (wall runs {', '.join(f'{s:.1f}' for s in samples)} s; "
            f"CPU {', '.join(f'{s:.1f}' for s in cpu)} s)"
        )


if __name__ == "__main__":
    main()
