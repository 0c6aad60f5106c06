"""Celery tasks: thin shells that take plain JSON arguments and call one function.

Each is also a management command (``send_due_reminders``, ``send_reminder_batch``,
``run_rollovers``), the cron fallback and what a person runs by hand.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

import redis
from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import KombuError

from prep.emails import email_send
from prep.scheduled.reminders import reminders_claim_batch, reminders_sweep
from prep.scheduled.rollover import rollovers_run_due
from prep.scheduled.sending import TransientMailError, deliveries_postpone, reminders_send_batch

logger = logging.getLogger(__name__)

# Longest a reminder batch may run (one SMTP connection, a few hundred e-mails). The
# broker's visibility timeout and CADENCE_REMINDER_SENDING_TIMEOUT must both exceed it.
SEND_BATCH_TIME_LIMIT = 5 * 60
RETRY_BACKOFF_MAX = 10 * 60


@shared_task(
    name="prep.deliver_email",
    autoretry_for=(OSError,),  # SMTP connection trouble is transient; bad input is not.
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def deliver_email(*, subject: str, body: str, to: list[str], html: str = "") -> None:
    email_send(subject=subject, text=body, html=html, to=to)


def enqueue_reminder_batch(delivery_ids: list[int]) -> None:
    """Hand a claimed batch to a worker. Called after the claim committed; if the broker
    cannot take it, the deliveries stay queued and the sweep enqueues them again later."""
    try:
        send_reminder_batch.delay(delivery_ids=delivery_ids)
    except (KombuError, OSError):
        logger.exception("could not enqueue %d reminders; the sweep retries", len(delivery_ids))


def enqueue_reminder_claims(batches: int) -> None:
    """Hand the claim of ``batches`` batches to the workers. A claim task the broker did
    not take changes nothing: its profiles stay due for the next sweep."""
    try:
        for _ in range(batches):
            claim_reminder_batch.delay()
    except (KombuError, OSError):
        logger.exception("could not enqueue the claim of %d batches; the sweep retries", batches)


@shared_task(name="prep.send_due_reminders")
def send_due_reminders() -> dict[str, int]:
    """Beat, every minute: fan the claim of the due reminders out to the workers, a task a
    batch, and recover what lost tasks left behind."""
    return asdict(
        reminders_sweep(
            now=timezone.now(), send=enqueue_reminder_batch, fan_out=enqueue_reminder_claims
        )
    )


@shared_task(name="prep.claim_reminder_batch")
def claim_reminder_batch() -> dict[str, int]:
    """One batch of the sweep: claim it, then enqueue its sending."""
    batch = reminders_claim_batch(now=timezone.now(), send=enqueue_reminder_batch)
    return {
        "profiles": len(batch.profile_ids),
        "deliveries": len(batch.delivery_ids),
        "expired": batch.expired,
    }


def retry_countdown(retries: int) -> int:
    """Exponential backoff from CADENCE_MAIL_RETRY_BACKOFF seconds, capped, with jitter so
    that batches failing together do not all come back at once."""
    base = int(settings.CADENCE_MAIL_RETRY_BACKOFF)
    countdown: int = min(base * 2**retries, RETRY_BACKOFF_MAX)
    return countdown + random.randint(0, max(countdown // 5, 0))


@shared_task(
    name="prep.send_reminder_batch",
    bind=True,
    max_retries=8,
    time_limit=SEND_BATCH_TIME_LIMIT,
)
def send_reminder_batch(self: Task[Any, Any], *, delivery_ids: list[int]) -> dict[str, int]:
    """Send one claimed batch; retried with backoff on transient mail errors only."""
    try:
        result = reminders_send_batch(delivery_ids=delivery_ids, now=timezone.now())
    except TransientMailError as error:
        countdown = retry_countdown(self.request.retries)
        deliveries_postpone(
            delivery_ids=delivery_ids,
            until=timezone.now() + dt.timedelta(seconds=countdown),
        )
        logger.warning("mail server unavailable (%s); retrying in %ss", error, countdown)
        raise self.retry(exc=error, countdown=countdown) from error
    if result.handed_back:
        # Out of time before the hard limit: the rest, still queued, in a fresh task.
        enqueue_reminder_batch(result.handed_back)
    return asdict(result)


# The task keeps its first name so that queued messages and beat schedules still find it.
@shared_task(name="prep.schedule_reviews")
def run_rollovers() -> dict[str, int]:
    """Beat, every minute: the nightly rollover of users whose local day began."""
    budget = settings.CADENCE_SWEEP_SECONDS
    return asdict(rollovers_run_due(now=timezone.now(), time_budget=budget * 0.8))


def redis_broker_problems(client: Any) -> list[str]:
    """What is wrong with a Redis server as a Celery broker (empty when all is well).

    Redis may evict keys under memory pressure unless told not to: a broker's queue is
    data, not cache, so ``maxmemory-policy`` must be ``noeviction``.
    """
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except Exception as error:  # managed Redis may forbid CONFIG
        return [f"could not read maxmemory-policy ({error}); make sure it is noeviction"]
    if policy != "noeviction":
        return [
            f"Redis maxmemory-policy is {policy!r}: queued tasks can be evicted; "
            "set it to noeviction"
        ]
    return []


@worker_ready.connect
def check_broker(**kwargs: Any) -> None:
    url = getattr(settings, "REDIS_URL", "")
    if not url or urlsplit(url).scheme not in {"redis", "rediss"}:
        return
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        for problem in redis_broker_problems(client):
            logger.warning("broker: %s", problem)
    finally:
        client.close()
