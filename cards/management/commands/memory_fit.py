from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from cards.services import memory_fit, memory_fit_due


class Command(BaseCommand):
    help = (
        "Fit personal FSRS parameters to users' review logs (the users due a fit, or the "
        "ones given), as the weekly Celery task does."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", type=int, action="append", help="Fit this user id.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        for user_id in options["user"] or memory_fit_due(now=now):
            stored = memory_fit(user_id=user_id, now=now)
            if stored is None:
                self.stdout.write(f"user {user_id}: too few reviews to fit")
            else:
                self.stdout.write(
                    f"user {user_id}: log loss {stored.log_loss_before:.4f} -> "
                    f"{stored.log_loss_after:.4f} on {stored.reviews} reviews"
                )
