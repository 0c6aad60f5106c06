"""Celery tasks for cards: thin shells that take ids and call one service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from cards.import_jobs import PARSE_TASK, RUN_TASK, import_parse, import_run
from cards.services import memory_fit, memory_fit_due


@shared_task(name=PARSE_TASK)
def import_parse_task(*, job_id: str) -> None:
    import_parse(job_id=job_id, now=timezone.now())


@shared_task(name=RUN_TASK)
def import_run_task(*, job_id: str) -> None:
    import_run(job_id=job_id, now=timezone.now())


@shared_task(name="cards.memory_fit")
def memory_fit_task(*, user_id: int) -> bool:
    """Fit one user's FSRS parameters (on demand from the profile, and weekly)."""
    return memory_fit(user_id=user_id, now=timezone.now()) is not None


@shared_task(name="cards.memory_fit_weekly")
def memory_fit_weekly() -> int:
    """Beat, daily: enqueue a fit for every user with enough reviews and no fit this week."""
    user_ids = memory_fit_due(now=timezone.now())
    for user_id in user_ids:
        memory_fit_task.delay(user_id=user_id)
    return len(user_ids)
