"""A person's Anki history comes with their cards: the schedule of every card and the
review log, from a package the real Anki (the `anki` package) exported with scheduling."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from anki.collection import Collection
from django.test import Client
from django.urls import reverse

from cards.memory import DEFAULT_PARAMETERS, Grade, Model
from cards.models import Card, ImportJob, ReviewLog, ReviewState, StudyDay
from tests.cards.conftest import upload
from tests.cards.test_anki_notes import add, build

BERLIN = ZoneInfo("Europe/Berlin")
DAY_MS = 86_400_000
# The history's first answer: 40 days ago, 09:00 UTC (10:00 in Berlin in November).
START_MS = (
    int(
        (
            dt.datetime.now(dt.UTC).replace(hour=9, minute=0, second=0, microsecond=0)
            - dt.timedelta(days=40)
        ).timestamp()
    )
    * 1000
)


def history_package(folder: Path) -> tuple[bytes, dict[str, Any]]:
    """Six cards, one of each kind of state, and the review card's history."""
    known: dict[str, Any] = {}

    def fill(col: Collection) -> None:
        for front in ("review", "learning", "relearning", "suspended", "buried", "new"):
            add(col, "Basic", "Anki", Front=front, Back=f"{front} back")
        db = col.db
        assert db is not None
        today = col.sched.today
        known["today"], known["crt"] = today, col.crt
        ids = dict(db.all("select n.sfld, c.id from cards c join notes n on n.id = c.nid"))
        known["ids"] = ids
        now_s = int(dt.datetime.now(dt.UTC).timestamp())
        rows = {
            # type, queue, due, ivl, factor, reps, lapses
            "review": (2, 2, today + 5, 12, 2360, 4, 1),
            "learning": (1, 1, now_s + 600, 0, 2500, 1, 0),
            "relearning": (3, 3, today, 9, 1200, 6, 2),
            "suspended": (2, -1, today + 30, 40, 2700, 5, 0),
            "buried": (2, -2, today - 1, 3, 2500, 2, 0),
        }
        for front, (type_, queue, due, ivl, factor, reps, lapses) in rows.items():
            db.execute(
                "update cards set type=?, queue=?, due=?, ivl=?, factor=?, reps=?, lapses=? "
                "where id=?",
                type_,
                queue,
                due,
                ivl,
                factor,
                reps,
                lapses,
                ids[front],
            )
        review = ids["review"]
        # id (ms), cid, usn, ease, ivl, lastIvl, factor, time, type
        revlog = [
            (START_MS, review, -1, 3, -600, 0, 0, 8000, 0),  # Good in learning
            (START_MS + 60_000, review, -1, 3, 1, -600, 2500, 5000, 0),  # same day: Good
            (START_MS + 2 * DAY_MS, review, -1, 4, 6, 1, 2650, 4000, 1),  # Easy
            (START_MS + 9 * DAY_MS, review, -1, 1, -600, 6, 2450, 12000, 1),  # Again
            (START_MS + 9 * DAY_MS + 5000, review, -1, 0, 0, 0, 2450, 0, 4),  # reschedule
            (START_MS + 20 * DAY_MS, review, -1, 2, 12, 1, 2360, 7000, 2),  # Hard
        ]
        db.executemany(
            "insert into revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) "
            "values (?,?,?,?,?,?,?,?,?)",
            revlog,
        )

    return build(folder, fill, scheduling=True), known


@pytest.fixture
def imported(owner_client: Client, owner: Any, tmp_path: Path) -> dict[str, Any]:
    package, known = history_package(tmp_path)
    response = upload(owner_client, "history.apkg", package)
    page = owner_client.get(response["Location"]).content.decode()
    known["page"] = page
    known["url"] = response["Location"]
    return known


def test_the_preview_offers_to_keep_the_schedule_and_says_what_it_brings(
    imported: dict[str, Any],
) -> None:
    offer = imported["page"].split("data-scheduling>")[1].split("</label>")[0]
    assert 'type="checkbox" name="scheduling" value="1" checked' in offer
    assert (
        "5 cards keep their interval, ease and due date (1 suspended, 1 buried for today)" in offer
    )
    assert "5 reviews of history join your review log" in offer


def test_every_kind_of_anki_state_comes_in_as_stated(
    owner_client: Client, owner: Any, imported: dict[str, Any]
) -> None:
    owner_client.post(imported["url"] + "confirm/")
    job = ImportJob.objects.get(owner=owner)
    assert (job.status, job.added, job.with_scheduling, job.time_zone) == (
        "done",
        6,
        True,
        "Europe/Berlin",
    )
    cards = {c.front: c for c in Card.objects.filter(owner=owner)}
    states = {
        s.card.front: s for s in ReviewState.objects.filter(user=owner).select_related("card")
    }
    today = dt.datetime.now(BERLIN).date()
    created = dt.datetime.fromtimestamp(imported["crt"], tz=BERLIN).date()
    anki_today = imported["today"]

    def got(front: str) -> tuple[Any, ...]:
        s = states[front]
        return (s.repetitions, s.interval, s.easiness, s.due, s.lapses, s.suspended)

    assert set(states) == {"review", "learning", "relearning", "suspended", "buried"}
    assert got("review") == (4, 12, 2.36, created + dt.timedelta(days=anki_today + 5), 1, False)
    assert abs((states["review"].due - today).days - 5) <= 1  # Anki's day turns at 4 a.m.
    assert got("learning") == (0, 0, 2.5, today, 0, False)
    # Anki's ease may fall below SM-2's floor of 1.3; Cadence's may not.
    assert got("relearning") == (1, 1, 1.3, today, 2, False)
    assert got("suspended") == (5, 40, 2.7, created + dt.timedelta(days=anki_today + 30), 0, True)
    # Buried until tomorrow in Anki: buried for today in Cadence, its due date kept.
    # (Its Anki due day is yesterday; a due day before the collection was created is read
    # as the creation day.)
    buried_due = created + dt.timedelta(days=max(anki_today - 1, 0))
    assert got("buried") == (2, 3, 2.5, buried_due, 0, False)
    assert states["buried"].buried_on == today
    assert {f for f, s in states.items() if s.buried_on is not None} == {"buried"}
    assert "new" in cards
    assert "new" not in states
    for state in states.values():
        assert state.last_reviewed_at is not None
    start = dt.datetime.fromtimestamp(START_MS / 1000, tz=dt.UTC)
    assert states["review"].last_reviewed_at == start + dt.timedelta(days=20)
    assert states["review"].introduced_on == start.astimezone(BERLIN).date()


def test_the_review_log_carries_over_with_the_button_mapping(
    owner_client: Client, owner: Any, imported: dict[str, Any]
) -> None:
    owner_client.post(imported["url"] + "confirm/")
    logs = list(ReviewLog.objects.filter(user=owner).order_by("reviewed_at"))
    assert {log.card.front for log in logs} == {"review"}
    start = dt.datetime.fromtimestamp(START_MS / 1000, tz=dt.UTC)
    day = start.astimezone(BERLIN).date()
    d = dt.timedelta
    rows = [
        (
            log.quality,
            log.reviewed_at,
            log.local_date,
            log.is_repeat,
            log.answer_ms,
            (log.repetitions_before, log.interval_before, log.easiness_before, log.due_before),
            (log.repetitions_after, log.interval_after, log.easiness_after, log.due_after),
        )
        for log in logs
    ]
    assert rows == [
        (4, start, day, False, 8000, (0, 0, 2.5, None), (1, 0, 2.5, day)),
        (4, start + d(minutes=1), day, True, 5000, (1, 0, 2.5, day), (2, 1, 2.5, day + d(1))),
        (
            5,
            start + d(2),
            day + d(2),
            False,
            4000,
            (2, 1, 2.5, day + d(1)),
            (3, 6, 2.65, day + d(8)),
        ),
        (
            1,
            start + d(9),
            day + d(9),
            False,
            12000,
            (3, 6, 2.65, day + d(8)),
            (4, 0, 2.45, day + d(9)),
        ),
        (
            3,
            start + d(20),
            day + d(20),
            False,
            7000,
            (4, 1, 2.45, day + d(9)),
            (5, 12, 2.36, day + d(32)),
        ),
    ]
    # Each day with Anki reviews counts toward the streak.
    assert sorted(StudyDay.objects.filter(user=owner).values_list("local_date", flat=True)) == [
        day,
        day + d(2),
        day + d(9),
        day + d(20),
    ]


def test_unticked_every_card_starts_new_and_no_history_is_written(
    owner_client: Client, owner: Any, imported: dict[str, Any]
) -> None:
    owner_client.post(imported["url"] + "confirm/", {"scheduling": "0"})
    assert Card.objects.filter(owner=owner).count() == 6
    assert not ReviewState.objects.filter(user=owner).exists()
    assert not ReviewLog.objects.filter(user=owner).exists()
    assert ImportJob.objects.get(owner=owner).with_scheduling is False


def test_a_package_without_scheduling_offers_nothing(owner_client: Client, tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        add(col, "Basic", Front="Q", Back="A")

    response = upload(owner_client, "plain.apkg", build(tmp_path, fill))
    page = owner_client.get(response["Location"]).content.decode()
    assert "data-scheduling" not in page
    assert reverse("import_upload")
    # Confirmed, the done page does not speak of schedules the package did not have.
    owner_client.post(response["Location"] + "confirm/")
    assert ImportJob.objects.get().with_scheduling is False
    done = owner_client.get(response["Location"]).content.decode()
    assert "The new cards join your drill as new cards." in done
    assert "Anki schedule" not in done


def test_anki_to_cadence_to_anki_keeps_notes_decks_tags_media_schedule_and_history(
    owner_client: Client, owner: Any, tmp_path: Path
) -> None:
    from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    from tests.cards.conftest import png

    image = png(3, 3)

    def fill(col: Collection) -> None:
        source = tmp_path / "heads.png"
        source.write_bytes(image)
        name = col.media.add_file(str(source))
        add(
            col,
            "Basic",
            "ML::Attention",
            ["ml::attention::mha", "Übung"],
            Front="Why <b>several</b> heads?",
            Back=f'Different subspaces<br><img src="{name}">',
        )
        add(col, "Basic", "Default", Front="In Default", Back="Stays there")
        db = col.db
        assert db is not None
        (cid,) = db.list(
            "select c.id from cards c join notes n on n.id = c.nid where n.sfld like 'Why%'"
        )
        db.execute(
            "update cards set type=2, queue=2, due=?, ivl=15, factor=2200, reps=3, lapses=1 "
            "where id=?",
            col.sched.today + 7,
            cid,
        )
        db.executemany(
            "insert into revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) "
            "values (?,?,-1,?,?,?,?,?,?)",
            [
                (START_MS, cid, 3, 1, 0, 2500, 6000, 0),
                (START_MS + 3 * DAY_MS, cid, 1, -600, 1, 2300, 9000, 1),
                (START_MS + 3 * DAY_MS + 60_000, cid, 3, 1, -600, 2300, 3000, 2),
                (START_MS + 10 * DAY_MS, cid, 2, 15, 1, 2200, 4000, 1),
            ],
        )

    response = upload(owner_client, "mine.apkg", build(tmp_path / "first", fill, scheduling=True))
    owner_client.post(response["Location"] + "confirm/")
    assert ReviewLog.objects.filter(user=owner).count() == 4

    export = owner_client.get(reverse("export_apkg") + "?scheduling=1")
    path = tmp_path / "back.apkg"
    path.write_bytes(export.content)
    (tmp_path / "again").mkdir()
    col = Collection(str(tmp_path / "again" / "collection.anki2"))
    try:
        col.import_anki_package(
            ImportAnkiPackageRequest(
                package_path=str(path), options=ImportAnkiPackageOptions(with_scheduling=True)
            )
        )
        notes = {col.get_note(nid)["Front"]: col.get_note(nid) for nid in col.find_notes("")}
        assert set(notes) == {"<p>Why <strong>several</strong> heads?</p>", "<p>In Default</p>"}
        heads = notes["<p>Why <strong>several</strong> heads?</p>"]
        assert sorted(heads.tags) == sorted(["ml::attention::mha", "Übung"])
        (card,) = heads.cards()
        assert col.decks.name(card.did) == "ML::Attention"
        (default_card,) = notes["<p>In Default</p>"].cards()
        assert default_card.did == 1  # Anki's own Default deck, not a second "Default"
        assert col.decks.name(1) == "Default"
        name = heads["Back"].split('src="')[1].split('"')[0]
        assert (Path(col.media.dir()) / name).read_bytes() == image
        assert (card.type, card.queue, card.ivl, card.factor, card.lapses) == (2, 2, 15, 2200, 1)
        assert abs((card.due - col.sched.today) - 7) <= 1
        db = col.db
        assert db is not None
        revlog = db.all(
            "select id, ease, ivl, lastIvl, factor, time from revlog where cid = ? order by id",
            card.id,
        )
        assert [tuple(row) for row in revlog] == [
            (START_MS, 3, 1, 0, 2500, 6000),
            (START_MS + 3 * DAY_MS, 1, 0, 1, 2300, 9000),
            (START_MS + 3 * DAY_MS + 60_000, 3, 1, 0, 2300, 3000),
            (START_MS + 10 * DAY_MS, 2, 15, 1, 2200, 4000),
        ]
    finally:
        col.close()

    # Cadence's own export read back by Cadence: the image keeps its stored name.
    Card.objects.filter(owner=owner).delete()
    again = upload(owner_client, "back.apkg", export.content)
    owner_client.post(again["Location"] + "confirm/")
    back = Card.objects.get(owner=owner, front__startswith="Why").back
    assert back.count(name.split("-")[0]) == 1
    assert f"/{name})" in back


def test_a_damaged_schedule_is_refused_with_nothing_written(
    owner_client: Client, owner: Any, tmp_path: Path
) -> None:
    import sqlite3
    import zipfile
    from io import BytesIO

    def fill(col: Collection) -> None:
        add(col, "Basic", Front="Q", Back="A")

    package = build(tmp_path, fill, scheduling=True, legacy=True)
    members = {
        i.filename: zipfile.ZipFile(BytesIO(package)).read(i)
        for i in zipfile.ZipFile(BytesIO(package)).infolist()
    }
    db_path = tmp_path / "collection.anki21"
    db_path.write_bytes(members["collection.anki21"])
    with sqlite3.connect(db_path) as db:
        db.execute("update cards set type = 2, ivl = 'ten days'")
    members["collection.anki21"] = db_path.read_bytes()
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)

    response = upload(owner_client, "damaged.apkg", buffer.getvalue())
    assert response.status_code == 400
    assert "damaged" in response.content.decode()
    assert not ImportJob.objects.filter(owner=owner).exists()
    assert not Card.objects.filter(owner=owner).exists()
    assert not ReviewState.objects.filter(user=owner).exists()
    assert not ReviewLog.objects.filter(user=owner).exists()


def test_the_imported_history_gives_the_card_its_memory_state(
    owner_client: Client, owner: Any, imported: dict[str, Any]
) -> None:
    owner_client.post(imported["url"] + "confirm/")
    reviewed = ReviewState.objects.get(user=owner, card__front="review")
    grades = [
        Grade(quality=log.quality, on=log.local_date)
        for log in ReviewLog.objects.filter(user=owner).order_by("reviewed_at", "id")
    ]
    expected = Model(DEFAULT_PARAMETERS).replay(grades)
    assert expected is not None
    assert reviewed.stability == pytest.approx(expected.stability)
    assert reviewed.difficulty == pytest.approx(expected.difficulty)
    assert reviewed.memory_on == grades[-1].on
    assert all(
        log.predicted_recall is not None
        for log in ReviewLog.objects.filter(user=owner).order_by("reviewed_at")[1:]
    )


def test_the_import_page_says_a_package_can_bring_its_schedule(owner_client: Client) -> None:
    page = owner_client.get(reverse("import_upload")).content.decode()
    formats = page.split("<dt>Anki package (.apkg)</dt>")[1].split("</dd>")[0]
    assert "schedule and review history" in formats
