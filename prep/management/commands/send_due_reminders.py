from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from prep.management.commands._scheduled import StopFlag, add_now_argument, parse_now
from prep.scheduled.reminders import reminders_sweep
from prep.scheduled.sending import TransientMailError, reminders_send_batch
from prep.tasks import enqueue_reminder_batch

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Claim the daily reminders and weekly summaries that are due and send them: in this "
        "process (the cron fallback, no worker needed) or, with --enqueue, through the "
        "Celery workers. Safe to run at any time and alongside beat: each e-mail is claimed "
        "once per local day."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--enqueue", action="store_true", help="Hand the batches to the Celery workers."
        )
        add_now_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_now(options["now"])
        if options["enqueue"]:
            send = enqueue_reminder_batch
        else:

            def send(delivery_ids: list[int]) -> None:
                while delivery_ids:
                    try:
                        outcome = reminders_send_batch(delivery_ids=delivery_ids, now=now)
                    except TransientMailError as error:
                        # The deliveries stay queued; the next run (or the sweep) sends them.
                        self.stderr.write(f"mail server unavailable, will retry: {error}")
                        return
                    self.stdout.write(f"batch of {len(delivery_ids)}: {asdict(outcome)}")
                    # A batch out of time hands the rest back; send it as a new batch.
                    delivery_ids = outcome.handed_back

        with StopFlag() as stop:
            result = reminders_sweep(now=now, send=send, stop=stop)
        self.stdout.write(self.style.SUCCESS(f"reminders: {asdict(result)}"))
