from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from cards.deckfile import DeckFormatError, read_deck
from cards.services import deck_load
from prep.services import tracks_load
from prep.trackfile import read_tracks


class Command(BaseCommand):
    help = (
        "Load the built-in deck (cards/deck/*.md) and the plan tracks built on it "
        "(prep/tracks/*.md), in one transaction. "
        "Idempotent: edited cards are updated in place, removed ones retired, history kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--deck-dir", type=Path, default=settings.CADENCE_DECK_DIR)
        parser.add_argument("--track-dir", type=Path, default=settings.CADENCE_TRACK_DIR)

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        try:
            topics = read_deck(options["deck_dir"])
            tracks = read_tracks(options["track_dir"])
            with transaction.atomic():
                deck = deck_load(topics=topics, now=now)
                track_result = tracks_load(tracks=tracks, now=now)
        except DeckFormatError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{deck}\n{track_result}")
