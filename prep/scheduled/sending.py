"""Sending a claimed batch: one read, one SMTP connection, chunks moved to ``sending``
before they are handed over and to ``sent`` after (the package docstring has the rules)."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from prep.models import EmailDelivery
from prep.plan_drills import plan_drills_tick
from prep.scheduled.claims import deliveries_move
from prep.scheduled.digests import daily_digests, weekly_digests
from prep.scheduled.messages import daily_email, daily_renderer, site_links, weekly_email

logger = logging.getLogger(__name__)

Status = EmailDelivery.Status
Kind = EmailDelivery.Kind


class TransientMailError(Exception):
    """The mail server could not take the e-mails now; the task should retry later."""


@dataclass
class SendResult:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    expired: int = 0
    unknown: int = 0
    not_queued: int = 0
    # Still queued when the batch's time ran out: to be sent by a fresh task, at once.
    handed_back: list[int] = field(default_factory=list)


# Seconds between attempts to record an outcome the mail server already gave (about a
# minute in all): a database restart or a killed connection must not turn a delivered
# e-mail into "unknown".
RECORD_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


def _recorded[T](write: Callable[[], T]) -> T:
    """Run a status write after the mail server answered, reconnecting and retrying with
    backoff if the database connection broke: the sender knows what happened, so it must
    write it down. Only a sender that dies without knowing leaves ``unknown``."""
    for delay in (*RECORD_RETRY_DELAYS, None):
        try:
            return write()
        except (OperationalError, InterfaceError) as error:
            if delay is None or connection.in_atomic_block:
                raise
            logger.warning("recording a delivery outcome failed (%s); reconnecting", error)
            # Django opens a new connection on the next query.
            connection.close()
            time.sleep(delay)
    raise AssertionError("unreachable")


def _reply_code(error: BaseException) -> int | None:
    """The SMTP reply code the server refused with, or None if it did not reply."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return min(codes) if codes else None
    if isinstance(error, smtplib.SMTPResponseException) and error.smtp_code > 0:
        return error.smtp_code
    return None


# Where the message itself goes to the server: smtplib's DATA step, and the SMTP
# backend's own when it pipelines (config.mail.send_data).
_DATA_STEPS = {("smtplib.py", "data"), ("mail.py", "send_data")}


def _in_data_phase(error: BaseException) -> bool:
    """Whether the link broke after the message itself was sent (the DATA step): then the
    server may have accepted it."""
    return any(
        (Path(frame.filename).name, frame.name) in _DATA_STEPS
        for frame in traceback.extract_tb(error.__traceback__)
    )


def _clip(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def reminders_send_batch(
    *,
    delivery_ids: Sequence[int],
    now: dt.datetime,
    chunk_size: int | None = None,
    time_budget: float | None = None,
) -> SendResult:
    """Send the queued deliveries among ``delivery_ids``: one read per batch, one SMTP
    connection, chunks claimed before they are handed over. Raises TransientMailError
    (after putting what was not handed over back to ``queued``) when the mail server
    should be tried again later.

    Batches are sized by time, not only by count: once ``time_budget`` seconds
    (``CADENCE_REMINDER_BATCH_SECONDS``) have passed, no new chunk is claimed and the rest
    is returned in ``handed_back``, still queued, for the caller to send in a fresh task.
    A slow mail server then costs time, never records (a task killed at its hard time
    limit would leave a chunk ``unknown``)."""
    chunk_size = chunk_size or settings.CADENCE_REMINDER_CHUNK
    budget = settings.CADENCE_REMINDER_BATCH_SECONDS if time_budget is None else time_budget
    deadline = time.monotonic() + budget
    result = SendResult()
    # By id alone, the status checked here: a filter on it could lead PostgreSQL to the
    # partial index of pending deliveries (see claims.deliveries_move). A row read queued
    # is only claimed by the compare-and-set before its chunk goes out, as before.
    deliveries = [
        d
        for d in EmailDelivery.objects.filter(id__in=list(delivery_ids))
        .select_related("user__profile")
        .order_by("id")
        if d.status == Status.QUEUED
    ]
    result.not_queued = len(set(delivery_ids)) - len(deliveries)
    max_delay = dt.timedelta(seconds=settings.CADENCE_REMINDER_MAX_DELAY)

    late = {d.pk for d in deliveries if now - d.due_at > max_delay}
    result.expired = len(deliveries_move(late, from_status=Status.QUEUED, to_status=Status.EXPIRED))
    skip: list[int] = []
    groups: dict[tuple[str, dt.date], list[EmailDelivery]] = defaultdict(list)
    for delivery in deliveries:
        if delivery.pk in late:
            continue
        profile = getattr(delivery.user, "profile", None)
        wanted = profile is not None and (
            profile.email_reminders if delivery.kind == Kind.DAILY else profile.weekly_summary
        )
        if not wanted or not delivery.user.email or not delivery.user.is_active:
            skip.append(delivery.pk)
        else:
            groups[(delivery.kind, delivery.local_date)].append(delivery)

    links = site_links()
    renderer = daily_renderer()
    due_at = {d.pk: d.due_at for d in deliveries}
    outgoing: list[tuple[int, EmailMultiAlternatives]] = []
    for (kind, day), group in groups.items():
        # What the drill has done counts before anything is said about it: today's week,
        # and for a summary (sent on a week's first day) the week that ended yesterday.
        user_ids = [d.user_id for d in group]
        plan_drills_tick(user_ids=user_ids, on=day, now=now)
        if kind == Kind.WEEKLY:
            plan_drills_tick(user_ids=user_ids, on=day - dt.timedelta(days=1), now=now)
        if kind == Kind.DAILY:
            digests = daily_digests(profiles=[d.user.profile for d in group], today=day)
            for d in group:
                digest = digests[d.user_id]
                if digest.is_empty and not d.user.profile.remind_when_empty:
                    skip.append(d.pk)
                else:
                    outgoing.append(
                        (
                            d.pk,
                            daily_email(
                                user=d.user,
                                today=day,
                                digest=digest,
                                links=links,
                                renderer=renderer,
                            ),
                        )
                    )
        else:
            weekly = weekly_digests(user_ids=[d.user_id for d in group], today=day)
            for d in group:
                if d.user_id not in weekly:
                    skip.append(d.pk)  # the plan changed since the claim
                    continue
                summary = weekly_email(
                    user=d.user, today=day, digest=weekly[d.user_id], links=links
                )
                outgoing.append((d.pk, summary))
    result.skipped = len(deliveries_move(skip, from_status=Status.QUEUED, to_status=Status.SKIPPED))
    if outgoing:
        _deliver(outgoing, chunk_size=chunk_size, result=result, due_at=due_at, deadline=deadline)
    return result


def _expire_late(
    chunk: Sequence[tuple[int, EmailMultiAlternatives]],
    *,
    due_at: dict[int, dt.datetime],
    result: SendResult,
) -> Sequence[tuple[int, EmailMultiAlternatives]]:
    """Lateness is checked again before each chunk, on the clock, not once per batch: a
    sender that stalled (a frozen worker, a slow server) must not send what has become
    too late. Those are recorded ``expired``; the rest of the chunk goes on."""
    max_delay = dt.timedelta(seconds=settings.CADENCE_REMINDER_MAX_DELAY)
    now = timezone.now()
    late = [delivery_id for delivery_id, _ in chunk if now - due_at[delivery_id] > max_delay]
    if not late:
        return chunk
    moved = deliveries_move(late, from_status=Status.QUEUED, to_status=Status.EXPIRED)
    result.expired += len(moved)
    logger.warning("%d reminders became too late while their batch ran; expired", len(moved))
    return [(delivery_id, message) for delivery_id, message in chunk if delivery_id not in late]


def _deliver(
    outgoing: Sequence[tuple[int, EmailMultiAlternatives]],
    *,
    chunk_size: int,
    result: SendResult,
    due_at: dict[int, dt.datetime],
    deadline: float,
) -> None:
    backend = mail.mailers.default
    try:
        backend.open()
    except OSError as error:
        raise TransientMailError(_clip(error)) from error
    deferred: list[str] = []
    try:
        for start in range(0, len(outgoing), chunk_size):
            # The first chunk always goes: every batch makes progress, however slow.
            if start and time.monotonic() > deadline:
                result.handed_back = [delivery_id for delivery_id, _ in outgoing[start:]]
                logger.info(
                    "batch out of time; handing %d reminders to a new task",
                    len(result.handed_back),
                )
                break
            chunk = _expire_late(outgoing[start : start + chunk_size], due_at=due_at, result=result)
            if chunk:
                deferred += _deliver_chunk(backend, chunk, result=result)
    finally:
        try:
            backend.close()
        except OSError:
            logger.info("the mail connection did not close cleanly", exc_info=True)
    if deferred:
        raise TransientMailError(f"{len(deferred)} deferred by the server: {deferred[0]}")


def _deliver_chunk(
    backend: Any,
    chunk: Sequence[tuple[int, EmailMultiAlternatives]],
    *,
    result: SendResult,
) -> list[str]:
    """Hand one claimed chunk to the open connection; the errors of those deferred."""
    taken = set(
        deliveries_move(
            [delivery_id for delivery_id, _ in chunk],
            from_status=Status.QUEUED,
            to_status=Status.SENDING,
            extra=", attempts = attempts + 1, sending_at = %s",
            params=[timezone.now()],
        )
    )
    sent: list[int] = []
    settled: set[int] = set()
    deferred: dict[int, str] = {}
    current: int | None = None
    try:
        for delivery_id, message in chunk:
            if delivery_id not in taken:
                continue  # another sender has it
            current = delivery_id
            try:
                backend.send_messages([message])
            except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as error:
                code = _reply_code(error)
                if code is None or code == 421:
                    raise  # no reply, or the server is closing the connection
                settled.add(delivery_id)
                if code >= 500:
                    _recorded(
                        partial(
                            deliveries_move,
                            [delivery_id],
                            from_status=Status.SENDING,
                            to_status=Status.FAILED,
                            extra=", error = %s",
                            params=[_clip(error)],
                        )
                    )
                    result.failed += 1
                    logger.warning("delivery %s refused for good: %s", delivery_id, error)
                else:
                    deferred[delivery_id] = _clip(error)
                continue
            sent.append(delivery_id)
            settled.add(delivery_id)
        current = None
    except (smtplib.SMTPException, OSError) as error:
        _finish(sent, result=result)
        if current is not None and _reply_code(error) is None and _in_data_phase(error):
            # The link broke while this one was with the server: it may have arrived, so
            # it is not sent again (at most once).
            _recorded(
                partial(
                    deliveries_move,
                    [current],
                    from_status=Status.SENDING,
                    to_status=Status.UNKNOWN,
                    extra=", error = %s",
                    params=[_clip(error)],
                )
            )
            result.unknown += 1
            settled.add(current)
        back = [d for d in taken if d not in settled] + list(deferred)
        _recorded(
            partial(
                deliveries_move,
                back,
                from_status=Status.SENDING,
                to_status=Status.QUEUED,
                extra=", error = %s",
                params=[_clip(error)],
            )
        )
        raise TransientMailError(_clip(error)) from error
    _finish(sent, result=result)
    for delivery_id, error_text in deferred.items():
        _recorded(
            partial(
                deliveries_move,
                [delivery_id],
                from_status=Status.SENDING,
                to_status=Status.QUEUED,
                extra=", error = %s",
                params=[error_text],
            )
        )
    return list(deferred.values())


def _finish(sent: list[int], *, result: SendResult) -> None:
    moved = _recorded(
        partial(
            deliveries_move,
            sent,
            from_status=Status.SENDING,
            to_status=Status.SENT,
            extra=", sent_at = %s",
            params=[timezone.now()],
        )
    )
    result.sent += len(moved)


def deliveries_postpone(*, delivery_ids: Sequence[int], until: dt.datetime) -> None:
    """A retry is scheduled for these: the sweep should not enqueue them again before."""
    EmailDelivery.objects.filter(id__in=list(delivery_ids), status=Status.QUEUED).update(
        enqueued_at=until
    )
