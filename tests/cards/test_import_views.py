"""Importing through the pages: preview, confirm, all or nothing, large imports, access."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse

from cards import import_jobs
from cards.import_jobs import import_parse, import_run
from cards.models import Card, ImportJob, Topic
from tests.cards.conftest import HTMX, upload, zip_bytes
from tests.factories import CardFactory, TopicFactory

CSV = (
    "front,back,tags,topic\n"
    "What is a KV cache?,Keys and values kept per token,inference,Serving\n"
    "Why batch requests?,Throughput,inference,Serving\n"
    ",A row without a front,,\n"
    "What does DPO optimise?,A classification loss on preferences,rlhf,\n"
)


def job_of(response: Any) -> ImportJob:
    job_id = response["Location"].rstrip("/").split("/")[-1]
    return ImportJob.objects.get(pk=job_id)


def test_an_upload_shows_a_preview_and_adds_nothing_yet(owner_client: Client, owner: Any) -> None:
    CardFactory(front="Why  batch REQUESTS?")  # a built-in card with the same front
    response = upload(owner_client, "my deck.csv", CSV.encode())
    assert response.status_code == 302
    job = job_of(response)
    assert (job.status, job.to_add, job.skipped, job.format) == ("ready", 2, 1, "csv")
    assert not Card.objects.filter(owner=owner).exists()

    html = owner_client.get(response["Location"]).content.decode()
    assert "data-to-add>2<" in html
    assert "data-duplicates>1<" in html
    assert "data-problems>1<" in html
    assert "line 4" in html
    assert "no front" in html
    assert "What is a KV cache?" in html  # the first cards, rendered
    assert "Import 2 cards" in html


def test_confirming_imports_every_card_with_topics_and_tags(
    owner_client: Client, owner: Any
) -> None:
    builtin = TopicFactory(title="Serving")
    job = job_of(upload(owner_client, "my deck.csv", CSV.encode(), default_topic="Misc"))
    response = owner_client.post(reverse("import_job_confirm", args=[job.pk]))
    assert response.status_code == 302
    cards = Card.objects.filter(owner=owner).order_by("position")
    assert [(c.front, c.topic.title, c.tags, c.key) for c in cards] == [
        ("What is a KV cache?", "Serving", "inference", ""),
        ("Why batch requests?", "Serving", "inference", ""),
        ("What does DPO optimise?", "Misc", "rlhf", ""),
    ]
    assert cards[0].topic == builtin  # an existing topic of that title is reused
    assert Topic.objects.get(owner=owner).title == "Misc"
    job.refresh_from_db()
    assert (job.status, job.added, job.rows) == ("done", 3, [])
    html = owner_client.get(response["Location"]).content.decode()
    assert "Imported 3 cards" in html


def test_the_default_topic_is_the_file_name(owner_client: Client, owner: Any) -> None:
    job = job_of(upload(owner_client, "llm_serving-notes.csv", b"Q,A\n"))
    owner_client.post(reverse("import_job_confirm", args=[job.pk]))
    assert Card.objects.get(owner=owner).topic.title == "Llm serving notes"


def test_a_second_confirm_imports_nothing_more(owner_client: Client, owner: Any) -> None:
    job = job_of(upload(owner_client, "deck.csv", CSV.encode()))
    owner_client.post(reverse("import_job_confirm", args=[job.pk]))
    owner_client.post(reverse("import_job_confirm", args=[job.pk]))
    assert Card.objects.filter(owner=owner).count() == 3


def test_a_card_added_since_the_preview_is_skipped_at_confirm(
    owner_client: Client, owner: Any
) -> None:
    job = job_of(upload(owner_client, "deck.csv", CSV.encode()))
    CardFactory(owner=owner, key="", front="What is a KV cache?")
    owner_client.post(reverse("import_job_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert (job.added, job.skipped) == (2, 1)
    assert Card.objects.filter(owner=owner).count() == 3


def test_an_import_that_fails_midway_leaves_nothing_behind(
    owner_client: Client, owner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(f"Question {i},Answer {i},,Topic {i % 3}\n" for i in range(1200))
    job = job_of(upload(owner_client, "big.csv", rows.encode()))
    assert job.to_add == 1200
    real = Card.objects.bulk_create
    calls = []

    def failing(objs: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(objs))
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        return real(objs, *args, **kwargs)

    monkeypatch.setattr(Card.objects, "bulk_create", failing)
    with pytest.raises(RuntimeError):
        owner_client.post(reverse("import_job_confirm", args=[job.pk]))
    assert calls == [500, 500]
    assert not Card.objects.filter(owner=owner).exists()
    assert not Topic.objects.filter(owner=owner).exists()
    job.refresh_from_db()
    assert job.status == "ready"  # confirm again once the disk has room


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "The file is empty."),
        ("latin.csv", "Q,caf\xe9\n".encode("latin-1"), "not UTF-8 text"),
        ("deck.apkg", b"not a zip", "not an Anki package"),
        ("deck.apkg", zip_bytes({"readme.txt": b"hi"}), "holds no Anki collection"),
        ("deck.apkg", zip_bytes({"collection.anki2": b"garbage" * 50}), "is damaged"),
        ("deck.apkg", zip_bytes({"../x": b"x", "collection.anki2": b""}), "path traversal"),
        (
            "deck.apkg",
            zip_bytes({"collection.anki2": b"", "0": b"\0" * (8 * 1024 * 1024)}),
            "zip bomb",
        ),
        ("deck.pdf", b"%PDF-1.4", "cannot read .pdf files"),
    ],
)
def test_a_bad_file_gets_a_clear_message_and_changes_nothing(
    owner_client: Client, owner: Any, name: str, data: bytes, message: str
) -> None:
    response = upload(owner_client, name, data)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not ImportJob.objects.exists()
    assert not Card.objects.filter(owner=owner).exists()


def test_a_file_over_the_upload_limit_is_refused_before_it_is_read(
    owner_client: Client, settings: Any
) -> None:
    settings.CADENCE_IMPORT_MAX_BYTES = 1024
    response = upload(owner_client, "deck.csv", b"Q,A\n" * 1000)
    html = response.content.decode()
    assert response.status_code == 400
    assert "This file is 4 KB; the upload limit is 1 KB." in html
    assert not ImportJob.objects.exists()


def test_cancelling_a_preview_adds_nothing(owner_client: Client, owner: Any) -> None:
    job = job_of(upload(owner_client, "deck.csv", CSV.encode()))
    owner_client.post(reverse("import_job_cancel", args=[job.pk]))
    owner_client.post(reverse("import_job_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert not Card.objects.filter(owner=owner).exists()


def test_a_markdown_deck_file_imports_through_the_page(owner_client: Client, owner: Any) -> None:
    deck = (
        "---\ntitle: Inference notes\n---\n\n## batching\ntags: serving\n\n"
        "What is continuous batching?\n\n???\n\nRequests join and leave a running batch.\n"
    )
    job = job_of(upload(owner_client, "notes.md", deck.encode()))
    owner_client.post(reverse("import_job_confirm", args=[job.pk]))
    card = Card.objects.get(owner=owner)
    assert (card.topic.title, card.tags, card.back) == (
        "Inference notes",
        "serving",
        "Requests join and leave a running batch.",
    )


# --- Large imports: a worker reads and writes; the page follows -----------------------


@pytest.fixture
def small_async_limit(settings: Any) -> None:
    settings.CADENCE_IMPORT_ASYNC_CARDS = 10


def test_a_large_file_is_read_by_a_worker_while_the_page_polls(
    owner_client: Client,
    owner: Any,
    small_async_limit: None,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued: list[dict[str, str]] = []
    monkeypatch.setattr(import_jobs, "enqueue", lambda task, **kwargs: queued.append(kwargs))
    rows = "".join(f"Question {i},Answer {i}\n" for i in range(25))
    with django_capture_on_commit_callbacks(execute=True):
        job = job_of(upload(owner_client, "big.csv", rows.encode()))
    assert job.status == "uploaded"
    assert queued == [{"job_id": str(job.pk)}]
    assert job.upload

    partial = owner_client.get(reverse("import_job", args=[job.pk]), **HTMX).content.decode()
    assert 'hx-trigger="every 1s"' in partial
    assert "<!doctype" not in partial.lower()
    assert "of 25 cards" in partial

    import_parse(job_id=str(job.pk), now=job.created_at)
    job.refresh_from_db()
    assert (job.status, job.to_add, job.progress) == ("ready", 25, 25)
    assert not job.upload  # the stored upload is gone once read
    partial = owner_client.get(reverse("import_job", args=[job.pk]), **HTMX).content.decode()
    assert "every 1s" not in partial  # polling stops with the preview
    assert "Import 25 cards" in partial


def test_confirming_a_large_import_queues_it_and_the_worker_writes_it_whole(
    owner_client: Client,
    owner: Any,
    small_async_limit: None,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(import_jobs, "BATCH", 10)
    queued: list[dict[str, str]] = []
    monkeypatch.setattr(
        import_jobs,
        "enqueue",
        lambda task, **kwargs: queued.append(kwargs) if task == import_jobs.RUN_TASK else None,
    )
    rows = "".join(f"Question {i},Answer {i}\n" for i in range(25))
    job = job_of(upload(owner_client, "big.csv", rows.encode()))
    import_parse(job_id=str(job.pk), now=job.created_at)

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("import_job_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "queued"
    assert queued == [{"job_id": str(job.pk)}]
    assert not Card.objects.filter(owner=owner).exists()
    assert (
        "every 1s"
        in owner_client.get(reverse("import_job", args=[job.pk]), **HTMX).content.decode()
    )

    seen: list[int] = []
    real_set = cache.set

    def spy(key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(value)
        return real_set(key, value, *args, **kwargs)

    monkeypatch.setattr(cache, "set", spy)
    import_run(job_id=str(job.pk), now=job.created_at)
    assert seen == [10, 20, 25]  # progress after each batch
    job.refresh_from_db()
    assert (job.status, job.added) == ("done", 25)
    assert Card.objects.filter(owner=owner).count() == 25

    import_run(job_id=str(job.pk), now=job.created_at)  # a redelivered task
    assert Card.objects.filter(owner=owner).count() == 25


def test_a_worker_that_fails_midway_leaves_no_cards(
    owner_client: Client,
    owner: Any,
    small_async_limit: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(import_jobs, "BATCH", 10)
    monkeypatch.setattr(import_jobs, "enqueue", lambda task, **kwargs: None)
    rows = "".join(f"Question {i},Answer {i}\n" for i in range(25))
    job = job_of(upload(owner_client, "big.csv", rows.encode()))
    import_parse(job_id=str(job.pk), now=job.created_at)
    owner_client.post(reverse("import_job_confirm", args=[job.pk]))

    def boom(count: int) -> None:
        if count >= 20:
            raise RuntimeError("worker killed")

    real_apply = import_jobs._apply
    monkeypatch.setattr(
        import_jobs,
        "_apply",
        lambda job, now, progress=None: real_apply(job, now=now, progress=boom),
    )
    with pytest.raises(RuntimeError):
        import_run(job_id=str(job.pk), now=job.created_at)
    assert not Card.objects.filter(owner=owner).exists()
    monkeypatch.setattr(import_jobs, "_apply", real_apply)
    import_run(job_id=str(job.pk), now=job.created_at)  # the redelivery finishes it
    assert Card.objects.filter(owner=owner).count() == 25


def test_a_large_bad_package_fails_in_the_worker_with_its_message(
    owner: Any, small_async_limit: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.utils import timezone

    monkeypatch.setattr(import_jobs, "enqueue", lambda task, **kwargs: None)
    rows = "".join(f"Question {i},Answer {i}\n" for i in range(25)).encode()
    with transaction.atomic():
        job = import_jobs.import_start(
            user=owner, filename="big.csv", data=rows, now=timezone.now()
        )
    job.upload.delete(save=False)  # the stored upload went missing
    import_parse(job_id=str(job.pk), now=timezone.now())
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", "The upload was lost.")


# --- Access ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "import_job"),
        ("post", "import_job_confirm"),
        ("post", "import_job_cancel"),
    ],
)
def test_nobody_sees_or_confirms_another_users_import(
    owner_client: Client, other_client: Client, owner: Any, method: str, name: str
) -> None:
    job = job_of(upload(owner_client, "deck.csv", CSV.encode()))
    response = getattr(other_client, method)(reverse(name, args=[job.pk]))
    assert response.status_code == 404
    job.refresh_from_db()
    assert job.status == "ready"
    assert not Card.objects.exists()


def test_an_import_goes_into_the_uploaders_deck_only(
    other_client: Client, owner: Any, other_user: Any
) -> None:
    job = job_of(upload(other_client, "deck.csv", CSV.encode()))
    other_client.post(reverse("import_job_confirm", args=[job.pk]))
    assert set(Card.objects.values_list("owner", flat=True)) == {other_user.pk}
    assert not Topic.objects.filter(owner=owner).exists()


@pytest.mark.parametrize("name", ["import_upload"])
def test_a_stranger_is_sent_to_log_in_before_importing(stranger_client: Client, name: str) -> None:
    response = upload(stranger_client, "deck.csv", CSV.encode())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not ImportJob.objects.exists()


def test_a_stranger_cannot_see_an_import_page(
    stranger_client: Client, owner_client: Client
) -> None:
    job = job_of(upload(owner_client, "deck.csv", CSV.encode()))
    response = stranger_client.get(reverse("import_job", args=[job.pk]))
    assert re.match(rf"{reverse('login')}\?next=", response["Location"])


def test_an_import_problem_shows_the_math_as_written(owner_client: Client) -> None:
    response = upload(owner_client, "math.csv", b"front,back\nScale,$\\frac{1}{$\n")
    html = owner_client.get(response["Location"]).content.decode()
    assert "\\frac{1}{" in html
    assert "\\\\frac" not in html
