"""Celery tasks for cards: thin shells that take a job id and call one service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from cards.import_jobs import PARSE_TASK, RUN_TASK, import_parse, import_run


@shared_task(name=PARSE_TASK)
def import_parse_task(*, job_id: str) -> None:
    import_parse(job_id=job_id, now=timezone.now())


@shared_task(name=RUN_TASK)
def import_run_task(*, job_id: str) -> None:
    import_run(job_id=job_id, now=timezone.now())
