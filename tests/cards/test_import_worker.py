"""A large import through a real Celery worker on the configured broker (filesystem or Redis)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cards.models import Card, ImportJob
from tests.cards.conftest import HTMX, upload
from tests.workers import wait_for

pytestmark = pytest.mark.worker


def test_a_large_import_is_read_and_written_by_the_worker(
    worker: Any, settings: Any, owner: Any
) -> None:
    settings.CADENCE_IMPORT_ASYNC_CARDS = 50
    client = Client()
    client.force_login(owner)
    rows = "front,back,tags\n" + "".join(
        f"Question {i},Answer $x_{{{i}}}$,bulk\n" for i in range(300)
    )
    response = upload(client, "big.csv", rows.encode())
    job = ImportJob.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])

    def status() -> str:
        return ImportJob.objects.only("status").get(pk=job.pk).status

    assert wait_for(lambda: status() == "ready"), f"the worker never read the file ({status()})"
    html = client.get(response["Location"], **HTMX).content.decode()
    assert "Import 300 cards" in html

    client.post(reverse("import_job_confirm", args=[job.pk]))
    assert wait_for(lambda: status() == "done"), f"the worker never imported ({status()})"
    assert Card.objects.filter(owner=owner, tags="bulk").count() == 300
    assert "Imported 300 cards" in client.get(response["Location"]).content.decode()


def anki_package_of(folder: Any, notes: int) -> bytes:
    """Anki's own .apkg of ``notes`` Basic notes, every tenth reviewed with one answer."""
    from anki.collection import Collection, ExportAnkiPackageOptions

    folder.mkdir(parents=True, exist_ok=True)
    col = Collection(str(folder / "collection.anki2"))
    try:
        model = col.models.by_name("Basic")
        deck = col.decks.id("Bulk::Anki")
        assert model is not None
        assert deck is not None
        for i in range(notes):
            note = col.new_note(model)
            note["Front"] = f"Question <b>{i}</b>"
            note["Back"] = f"Answer {i}<br>second line"
            col.add_note(note, deck)
        db = col.db
        assert db is not None
        reviewed = db.list("select id from cards order by id")[::10]
        db.execute(
            "update cards set type=2, queue=2, ivl=10, factor=2500, reps=1, due=? "
            f"where id in ({','.join(map(str, reviewed))})",
            col.sched.today + 3,
        )
        db.executemany(
            "insert into revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) "
            "values (?, ?, -1, 3, 10, 0, 2500, 5000, 0)",
            [(1_700_000_000_000 + n, cid) for n, cid in enumerate(reviewed)],
        )
        out = folder / "bulk.apkg"
        col.export_anki_package(
            out_path=str(out),
            options=ExportAnkiPackageOptions(
                with_scheduling=True, with_deck_configs=False, with_media=False
            ),
            limit=None,
        )
    finally:
        col.close()
    return out.read_bytes()


def test_a_10000_card_anki_package_goes_through_the_worker_with_progress(
    worker: Any, settings: Any, owner: Any, tmp_path: Any
) -> None:
    from cards.models import ReviewLog, ReviewState

    package = anki_package_of(tmp_path / "anki", 10_000)
    client = Client()
    client.force_login(owner)
    response = upload(client, "bulk.apkg", package)
    job = ImportJob.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])
    assert job.estimated == 10_000
    seen: set[tuple[str, int]] = set()

    def page_says(status: str) -> bool:
        # What the polling page shows: the status and "n of 10000 cards".
        html = client.get(response["Location"], **HTMX).content.decode()
        current = ImportJob.objects.only("status").get(pk=job.pk).status
        if "of 10000 cards" in html:
            count = int(html.split(" of 10000 cards")[0].rsplit(">", 1)[-1])
            seen.add((current, count))
        return current == status

    assert wait_for(lambda: page_says("ready"), timeout=240, step=0.2)
    assert any(state == "parsing" and 0 < n < 10_000 for state, n in seen), seen
    html = client.get(response["Location"]).content.decode()
    assert "Import 10000 cards" in html
    assert "1000 cards keep their interval, ease and due date" in html

    client.post(reverse("import_job_confirm", args=[job.pk]))
    assert wait_for(lambda: page_says("done"), timeout=240, step=0.2)
    assert Card.objects.filter(owner=owner).count() == 10_000
    assert ReviewState.objects.filter(user=owner, interval=10, easiness=2.5).count() == 1000
    assert ReviewLog.objects.filter(user=owner, quality=4).count() == 1000
