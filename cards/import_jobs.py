"""Imports, from upload to cards: preview first, then every card in one transaction.

``import_start`` reads a small file at once (the job is ready to preview when it returns)
and leaves a large one to a Celery worker (``import_parse``), which reports progress on the
job row as it goes. ``import_confirm`` writes a small import in the request and queues a
large one for ``import_run``. Either way the cards are written in one transaction, with
the job marked done in the same one: an import is all there or not there at all.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max

from cards.imports import (
    ImportRejected,
    Limits,
    ParsedCard,
    ParsedImport,
    anki_schedule,
    detect_format,
    estimate,
    normalize_front,
    parse,
)
from cards.media import media_folder, media_url
from cards.models import Card, ImportJob, ReviewLog, ReviewState, StudyDay
from cards.services import card_html, memory_rebuild, topics_for_titles
from cards.versions import data_changed

BATCH = 500
# The worker's halves (cards.tasks), enqueued by name: the tasks call this module, so it
# does not import them back.
PARSE_TASK = "cards.import_parse"
RUN_TASK = "cards.import_run"


def enqueue(task: str, *, job_id: str) -> None:
    current_app.send_task(task, kwargs={"job_id": job_id})


def import_limits() -> Limits:
    return Limits(
        max_bytes=settings.CADENCE_IMPORT_MAX_BYTES,
        max_uncompressed_bytes=settings.CADENCE_IMPORT_MAX_UNCOMPRESSED_BYTES,
        max_ratio=settings.CADENCE_IMPORT_MAX_RATIO,
        max_cards=settings.CADENCE_IMPORT_MAX_CARDS,
    )


def progress_key(job_id: object) -> str:
    return f"cadence:import-progress:{job_id}"


def default_topic_title(filename: str) -> str:
    stem = re.sub(r"[_\s-]+", " ", Path(filename).stem).strip()
    return (stem[:1].upper() + stem[1:])[:120] if stem else "Imported cards"


def _existing_fronts(user: User) -> set[str]:
    return {
        normalize_front(front)
        for front in Card.objects.visible_to(user).values_list("front", flat=True).iterator()
    }


def _save_media(user_id: int, media: dict[str, bytes]) -> None:
    # Content-addressed names: writing one that is there already changes nothing.
    folder = media_folder(user_id)
    if media:
        folder.mkdir(parents=True, exist_ok=True)
    for name, content in media.items():
        path = folder / name
        if not path.exists():
            temporary = path.with_suffix(path.suffix + ".part")
            temporary.write_bytes(content)
            temporary.replace(path)


def _preview_fields(job: ImportJob, parsed: ParsedImport) -> dict[str, Any]:
    """What the preview shows: the cards to add, duplicates skipped, problem rows."""
    existing = _existing_fronts(job.owner)
    rows: list[dict[str, Any]] = []
    duplicates: list[dict[str, str]] = []
    for card in parsed.cards:
        key = normalize_front(card.front)
        if key in existing:
            duplicates.append({"ref": card.ref, "front": card.front[:300]})
            continue
        existing.add(key)
        rows.append(card.to_json())
    return {
        "rows": rows,
        "duplicates": duplicates,
        "problems": [problem.to_json() for problem in parsed.problems],
        "to_add": len(rows),
        "skipped": len(duplicates),
    }


def _parse(job: ImportJob, data: bytes, *, progress: Any = None) -> ParsedImport:
    user_id = job.owner_id
    parsed = parse(
        job.format,
        data,
        limits=import_limits(),
        media_url=lambda name: media_url(user_id, name),
        default_topic=job.default_topic,
        filename=job.filename,
        progress=progress,
    )
    _save_media(user_id, parsed.media)
    return parsed


def import_start(
    *, user: User, filename: str, data: bytes, default_topic: str = "", now: dt.datetime
) -> ImportJob:
    """Check the file and make its import job; raises ImportRejected for a bad file.

    A file of up to CADENCE_IMPORT_ASYNC_CARDS cards is read now and its job is READY; a
    larger one is stored and read by a worker (the job page follows its progress).
    """
    fmt = detect_format(filename, data)
    estimated = estimate(fmt, data, import_limits())
    job = ImportJob(
        owner=user,
        filename=Path(filename).name[:255],
        format=fmt,
        default_topic=(default_topic.strip() or default_topic_title(filename))[:120],
        estimated=estimated,
    )
    if estimated > settings.CADENCE_IMPORT_ASYNC_CARDS:
        job.status = ImportJob.Status.UPLOADED
        with transaction.atomic():
            job.upload.save(f"{job.pk}.upload", ContentFile(data), save=False)
            job.save()
            transaction.on_commit(lambda: enqueue(PARSE_TASK, job_id=str(job.pk)))
        return job
    parsed = _parse(job, data)
    for name, value in _preview_fields(job, parsed).items():
        setattr(job, name, value)
    job.status = ImportJob.Status.READY
    job.progress = estimated
    job.save()
    return job


def import_parse(*, job_id: str, now: dt.datetime) -> None:
    """The worker's half of import_start for a large file: read it, reporting progress.

    Safe to run twice (a redelivered task): reading is a pure function of the upload,
    and the result is stored only while the job is still being read.
    """
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportJob.Status.UPLOADED, ImportJob.Status.PARSING]
    ).update(status=ImportJob.Status.PARSING, progress=0, updated_at=now)
    if not claimed:
        return
    job = ImportJob.objects.select_related("owner").get(pk=job_id)

    def progress(count: int) -> None:
        ImportJob.objects.filter(pk=job.pk).update(progress=count)

    try:
        with job.upload.open("rb") as handle:
            data = handle.read()
        parsed = _parse(job, data, progress=progress)
    except (ImportRejected, OSError, ValueError) as error:
        message = str(error) if isinstance(error, ImportRejected) else "The upload was lost."
        ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PARSING).update(
            status=ImportJob.Status.FAILED, error=message, finished_at=now
        )
        _discard_upload(job)
        return
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PARSING).update(
        status=ImportJob.Status.READY, progress=job.estimated, **_preview_fields(job, parsed)
    )
    _discard_upload(job)


def _discard_upload(job: ImportJob) -> None:
    if job.upload:
        job.upload.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(upload="")


def import_cancel(*, job: ImportJob, now: dt.datetime) -> bool:
    changed = ImportJob.objects.filter(
        pk=job.pk,
        status__in=[
            ImportJob.Status.UPLOADED,
            ImportJob.Status.PARSING,
            ImportJob.Status.READY,
        ],
    ).update(status=ImportJob.Status.CANCELLED, rows=[], finished_at=now)
    if changed:
        _discard_upload(job)
    return bool(changed)


def import_confirm(
    *, job: ImportJob, now: dt.datetime, zone: ZoneInfo, with_scheduling: bool = True
) -> ImportJob:
    """Import a previewed job: now if small, else queue it. A second confirm does nothing.

    ``with_scheduling`` brings in the schedule and review log an Anki package carries
    (see cards.imports.anki_schedule), dated in ``zone``.
    """
    with transaction.atomic():
        locked = (
            ImportJob.objects.select_for_update(of=("self",)).select_related("owner").get(pk=job.pk)
        )
        if locked.status != ImportJob.Status.READY:
            return locked
        # Only a package with a schedule keeps one (the done page says which it was).
        locked.with_scheduling = with_scheduling and any(row.get("schedule") for row in locked.rows)
        locked.time_zone = zone.key
        if locked.to_add > settings.CADENCE_IMPORT_ASYNC_CARDS:
            locked.status = ImportJob.Status.QUEUED
            locked.progress = 0
            locked.save(
                update_fields=["status", "progress", "with_scheduling", "time_zone", "updated_at"]
            )
            transaction.on_commit(lambda: enqueue(RUN_TASK, job_id=str(locked.pk)))
            return locked
        _apply(locked, now=now)
    return locked


def import_run(*, job_id: str, now: dt.datetime) -> None:
    """The worker's half of import_confirm for a large import. Safe to run twice."""
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.IMPORTING]
    ).update(status=ImportJob.Status.IMPORTING, updated_at=now)
    if not claimed:
        return
    with transaction.atomic():
        # The row lock makes a second run wait for the first, then find the job done.
        job = (
            ImportJob.objects.select_for_update()
            .select_related("owner")
            .filter(pk=job_id, status=ImportJob.Status.IMPORTING)
            .first()
        )
        if job is None:
            return

        def progress(count: int) -> None:
            # Inside the transaction the job row is not visible to the page yet; the
            # count goes through the cache (Redis in production) instead.
            cache.set(progress_key(job.pk), count, timeout=3600)

        _apply(job, now=now, progress=progress)
    cache.delete(progress_key(job_id))


def _apply(job: ImportJob, *, now: dt.datetime, progress: Any = None) -> None:
    """Write the job's cards; the caller holds the transaction and the job's row lock."""
    user = job.owner
    data_changed(user_id=user.pk)
    rows = [ParsedCard.from_json(row) for row in job.rows]
    existing = _existing_fronts(user)
    fallback = job.default_topic or "Imported cards"
    topics = topics_for_titles(user=user, titles=[row.topic or fallback for row in rows])
    position = (Card.objects.filter(owner=user).aggregate(top=Max("position"))["top"] or 0) + 1
    new_cards: list[Card] = []
    kept_rows: list[ParsedCard] = []
    skipped = 0
    for row in rows:
        key = normalize_front(row.front)
        if key in existing:  # added since the preview was made
            skipped += 1
            continue
        existing.add(key)
        new_cards.append(
            Card(
                owner=user,
                topic=topics[(row.topic or fallback).casefold()],
                key="",
                kind=row.kind if row.kind in Card.Kind.values else Card.Kind.QA,
                **card_html(row.front, row.back),
                front=row.front,
                back=row.back,
                tags=" ".join(row.tags)[:400],
                source=row.source[:400],
                position=position + len(new_cards),
            )
        )
        kept_rows.append(row)
    scheduled: list[tuple[Card, ParsedCard]] = []
    kept = {id(card): row for card, row in zip(new_cards, kept_rows, strict=True)}
    for start in range(0, len(new_cards), BATCH):
        batch = new_cards[start : start + BATCH]
        Card.objects.bulk_create(batch)
        if job.with_scheduling:
            scheduled.extend(
                (card, kept[id(card)]) for card in batch if kept[id(card)].schedule is not None
            )
        if progress:
            progress(min(start + BATCH, len(new_cards)))
    if scheduled:
        _write_schedules(user, scheduled, zone=ZoneInfo(job.time_zone), now=now)
    job.status = ImportJob.Status.DONE
    job.added = len(new_cards)
    job.skipped += skipped
    job.progress = len(new_cards)
    job.rows = []
    job.finished_at = now
    job.save(
        update_fields=[
            "status",
            "added",
            "skipped",
            "progress",
            "rows",
            "finished_at",
            "with_scheduling",
            "time_zone",
            "updated_at",
        ]
    )


def _write_schedules(
    user: User, cards: list[tuple[Card, ParsedCard]], *, zone: ZoneInfo, now: dt.datetime
) -> None:
    """Anki's schedule and review log for cards just written (the caller's transaction)."""
    states: list[ReviewState] = []
    logs: list[ReviewLog] = []
    days: set[dt.date] = set()
    for card, row in cards:
        assert row.schedule is not None
        imported = anki_schedule.state(row.schedule, row.history, zone=zone, now=now)
        if imported is not None:
            states.append(
                ReviewState(
                    user=user,
                    card=card,
                    repetitions=imported.repetitions,
                    interval=imported.interval,
                    easiness=imported.easiness,
                    due=imported.due,
                    lapses=imported.lapses,
                    last_reviewed_at=imported.last_reviewed_at,
                    suspended=imported.suspended,
                    buried_on=imported.buried_on,
                    introduced_on=imported.introduced_on,
                )
            )
        for review in anki_schedule.reviews(row.history, zone=zone):
            days.add(review.local_date)
            logs.append(
                ReviewLog(
                    user=user,
                    card=card,
                    quality=review.quality,
                    reviewed_at=review.reviewed_at,
                    local_date=review.local_date,
                    is_repeat=review.is_repeat,
                    answer_ms=review.answer_ms,
                    repetitions_before=review.repetitions_before,
                    interval_before=review.interval_before,
                    easiness_before=review.easiness_before,
                    due_before=review.due_before,
                    repetitions_after=review.repetitions_after,
                    interval_after=review.interval_after,
                    easiness_after=review.easiness_after,
                    due_after=review.due_after,
                )
            )
    ReviewState.objects.bulk_create(states, batch_size=BATCH)
    ReviewLog.objects.bulk_create(logs, batch_size=BATCH)
    # A day of Anki reviews counts toward the streak, as it does in Anki.
    StudyDay.objects.bulk_create(
        [
            StudyDay(user=user, local_date=day, finished_at=min(now, _day_end(day, zone)))
            for day in sorted(days)
        ],
        batch_size=BATCH,
        ignore_conflicts=True,
    )
    if logs:
        # The memory model carries the history over too (stability, difficulty and the
        # recall each past grade was predicted at).
        memory_rebuild(user_ids=[user.pk])


def _day_end(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59), tzinfo=zone)
