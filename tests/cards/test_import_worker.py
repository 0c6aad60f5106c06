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
