"""What every cards view shares: the request it sees, and the htmx partial it renders."""

from __future__ import annotations

from typing import Protocol
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from cards.queue import DailyLimits


class StudyProfile(Protocol):
    """What the study engine needs of a person's profile (prep.models.Profile has it all;
    cards does not import prep)."""

    time_zone: str
    grading: str  # "six" (SM-2's qualities 0-5) or "four" (Again, Hard, Good, Easy)

    @property
    def zone(self) -> ZoneInfo: ...

    @property
    def limits(self) -> DailyLimits: ...


class AuthedHttpRequest(HttpRequest):
    user: User
    htmx: HtmxDetails
    profile: StudyProfile


def partial(request: AuthedHttpRequest, template: str, name: str) -> str:
    """The page, or only its region ``name`` when htmx asks."""
    return f"{template}#{name}" if request.htmx else template
