"""The scheduled work: daily reminders, weekly summaries and the nightly rollover.

- :mod:`~prep.scheduled.claims`: the conditional UPDATE both sweeps claim with, and the
  raw SQL around it;
- :mod:`~prep.scheduled.reminders`: each profile's next instants, the claim of the due
  reminders, the sweep and its safety net;
- :mod:`~prep.scheduled.digests`: what a user's day and week hold, read for a batch;
- :mod:`~prep.scheduled.messages`: the daily and weekly e-mails built from a digest;
- :mod:`~prep.scheduled.sending`: handing a claimed batch to the mail server;
- :mod:`~prep.scheduled.rollover`: the nightly rollover's sweep (no e-mail).

How it runs
-----------

Each profile keeps its next reminder as an instant in UTC (``next_reminder_at``, indexed)
and the local date it belongs to (``next_reminder_on``), computed in the user's own zone by
:mod:`core.occurrences` (DST-correct). One Celery beat entry runs
:func:`reminders_sweep` every minute: it claims the profiles that are due in batches,
records one :class:`~prep.models.EmailDelivery` row per e-mail, and hands each batch to
:func:`reminders_send_batch` (a worker task, or inline from the management command).
Under beat the sweep claims nothing itself: it counts the due batches and enqueues one
claim task for each (``prep.claim_reminder_batch``), so the workers claim in parallel;
each task claims one batch (the same conditional UPDATE) and enqueues its sending. The
weekly summary rides on the same claim: it goes out with the reminder on the local date a
plan week starts.

The claim (once per local day)
------------------------------

A claim is one conditional UPDATE that moves ``last_reminder_on`` up to
``next_reminder_on``, only where ``next_reminder_at <= now`` and the day was not claimed
yet; on PostgreSQL it takes the rows ``FOR UPDATE SKIP LOCKED``, so two sweeps (two beats,
two workers) split the due profiles between them instead of waiting or both taking them.
In the same transaction the profiles get their next instants and the delivery rows are
inserted, unique on (user, kind, local date) with ``ON CONFLICT DO NOTHING``: a second
guard that holds even if a stale profile save moved ``last_reminder_on`` back. A batch
costs the same handful of queries whatever its size.

The delivery guarantee: at most once, and nothing lost silently
---------------------------------------------------------------

**No user ever gets a second e-mail of a kind for the same local date**, with two beats,
two workers, retries, redelivered messages, a killed worker or a restarted Redis. Every
claimed e-mail ends in a recorded state (sent, skipped, failed, expired or unknown); none
just disappears:

- The sender moves a *chunk* of deliveries (``CADENCE_REMINDER_CHUNK``, a few dozen) from
  ``queued`` to ``sending`` with a conditional UPDATE before handing them to the mail
  server over one connection, and to ``sent`` after the server accepted them. A task that
  runs twice (redelivery, a duplicate enqueue) finds them no longer ``queued`` and sends
  nothing.
- Once the mail server has answered, the sender knows the outcome and records it: a
  status write that fails because the database connection broke (a restart,
  ``pg_terminate_backend``) reconnects and tries again with backoff for about a minute,
  so a delivered e-mail ends ``sent``, not ``unknown``.
- A transient mail error (the server unreachable, a 4xx reply) puts the chunk's unsent
  deliveries back to ``queued`` and the task retries with exponential backoff; a permanent
  one (5xx) marks that delivery ``failed`` and the batch goes on.
- A lost task (a worker killed, a broker restarted without its data) leaves its deliveries
  ``queued``: the sweep enqueues ``queued`` deliveries again once they have waited
  ``CADENCE_REMINDER_REQUEUE_AFTER`` seconds.
- **The rule for loss:** if the process dies while a chunk is ``sending``, whether each of
  those e-mails reached the server is unknown. They are not sent again (that could be a
  second e-mail); after ``CADENCE_REMINDER_SENDING_TIMEOUT`` the sweep marks them
  ``unknown`` and logs a warning. The same holds for the one e-mail in flight when the
  connection breaks mid-message. So a hard crash can cost at most one chunk per dying
  sender, and the record says which users.
- An e-mail that cannot go out within ``CADENCE_REMINDER_MAX_DELAY`` of its time (beat or
  workers down for hours) is marked ``expired`` instead of arriving stale. Lateness is
  checked on the clock before each chunk, not once per batch: a sender that stalled
  (a frozen worker, a slow server) expires what became too late instead of sending it.
- **Every owed date ends in a row.** After a sweep outage longer than a day, the claim
  records each local date owed since the claimed one (``expired`` when too late, queued
  and sent when still within the delay) and moves the profile past all of them; the
  result of whatever claimed (the sweep, or the claim task it fanned out) counts the
  expiries made at the claim.

The nightly rollover
--------------------

Each profile also keeps its next local midnight (``next_rollover_at``).
:func:`~prep.scheduled.rollover.rollovers_run_due` claims due profiles the same way
(conditional UPDATE of ``last_rollover_on``) and, in the same transaction, prepares the
day's review queue (:func:`cards.rollover.rollover_prepare`),
so a worker dying mid-batch rolls the claim back and the next sweep does it again. The
preparation is idempotent per local date, and the drill works without it.
"""
