from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from prep.models import Profile, Track
from prep.services import plan_generate, user_create


class Command(BaseCommand):
    help = (
        "Create the demo account for a local run (once) and print how to log in. "
        "The password is kept in the data folder so it stays the same across runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        secret_file = settings.DATA_DIR / f"{username}-password.txt"
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None or not secret_file.exists():
            password = secrets.token_urlsafe(9)
            if user is None:
                user = user_create(
                    username=username, email=f"{username}@example.com", password=password
                )
                self._set_up_plan(user)
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            secret_file.write_text(password + "\n")
            secret_file.chmod(0o600)
        password = secret_file.read_text().strip()
        self.stdout.write(self.style.SUCCESS(f"Demo login: {username} / {password}"))

    def _set_up_plan(self, user: User) -> None:
        """Give the demo account the first track and an interview six weeks out."""
        track = Track.objects.filter(retired_at__isnull=True).order_by("order").first()
        if track is None:
            return
        now = timezone.now()
        today = now.date()
        Profile.objects.filter(user=user).update(
            track=track, interview_date=today + dt.timedelta(weeks=6), onboarded_at=now
        )
        plan_generate(user=user, today=today)
