from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.localtime import local_date
from prep.management.commands._scheduled import StopFlag, add_now_argument, parse_now
from prep.models import Profile
from prep.scheduled.rollover import rollover_one, rollovers_run_due


class Command(BaseCommand):
    help = (
        "The nightly rollover (the prep.schedule_reviews task): for every user "
        "whose local day has begun, bring in the plan week's new cards and spread a review "
        "backlog over the next days. With --user, prepare that user's current day now. "
        "Idempotent per local date."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="Prepare only this username's day, now.")
        add_now_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_now(options["now"])
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
            profile = Profile.objects.get(user=user)
            day = local_date(now, profile.zone)
            prepared = rollover_one(profile=profile, day=day)
            self.stdout.write(self.style.SUCCESS(f"{user.username} on {day}: {prepared}"))
            return
        with StopFlag() as stop:
            result = rollovers_run_due(now=now, stop=stop)
        self.stdout.write(self.style.SUCCESS(f"rollovers: {asdict(result)}"))
