from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prep.management.commands._scheduled import StopFlag, add_now_argument, parse_now
from prep.models import EmailDelivery
from prep.scheduled.sending import TransientMailError, reminders_send_batch


class Command(BaseCommand):
    help = (
        "Send claimed e-mails that are still queued (the prep.send_reminder_batch task): "
        "the given delivery ids, or with --all every queued one, for example after the mail "
        "server was down. Never sends an e-mail twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="EmailDelivery ids.")
        parser.add_argument("--all", action="store_true", help="Every queued delivery.")
        parser.add_argument("--batch-size", type=int, default=500)
        add_now_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_now(options["now"])
        if options["all"]:
            ids = list(
                EmailDelivery.objects.filter(status=EmailDelivery.Status.QUEUED)
                .order_by("id")
                .values_list("id", flat=True)
            )
        elif options["ids"]:
            ids = options["ids"]
        else:
            raise CommandError("Give delivery ids, or --all.")
        size = options["batch_size"]
        with StopFlag() as stop:
            for start in range(0, len(ids), size):
                if stop():
                    break
                batch = ids[start : start + size]
                while batch and not stop():
                    try:
                        outcome = reminders_send_batch(delivery_ids=batch, now=now)
                    except TransientMailError as error:
                        raise CommandError(f"mail server unavailable, try later: {error}") from None
                    self.stdout.write(f"batch of {len(batch)}: {asdict(outcome)}")
                    # Out of time: the rest of the batch, still queued, goes next.
                    batch = outcome.handed_back
