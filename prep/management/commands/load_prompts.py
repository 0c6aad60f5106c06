from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cards.deckfile import DeckFormatError
from prep.mockfile import PROMPT_DIR, read_prompts
from prep.mocks import prompts_load


class Command(BaseCommand):
    help = (
        "Load the mock-interview prompt bank (prep/interviews/*.md), after load_deck. "
        "Idempotent: edited prompts are updated in place, removed ones retired, sessions kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--prompt-dir", type=Path, default=PROMPT_DIR)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = prompts_load(prompts=read_prompts(options["prompt_dir"]), now=timezone.now())
        except DeckFormatError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(str(result))
