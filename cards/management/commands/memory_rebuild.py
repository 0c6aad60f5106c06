from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cards.services import memory_rebuild


class Command(BaseCommand):
    help = (
        "Compute every card's FSRS memory state (stability, difficulty) from the review "
        "log: for histories that predate the memory model. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", type=int, action="append", help="Only this user id.")

    def handle(self, *args: Any, **options: Any) -> None:
        written = memory_rebuild(user_ids=options["user"])
        self.stdout.write(f"{written} review states written")
