from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from prep.models import Profile


class AuthedHttpRequest(HttpRequest):
    """The request a signed-in view sees: htmx details and the profile ride on it."""

    user: User
    htmx: HtmxDetails
    profile: Profile


class UserTimezoneMiddleware:
    """Show times in the signed-in user's own zone; the profile rides on request.profile."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        profile = None
        if request.user.is_authenticated:
            try:
                # Loaded with the user (prep.backends.UserBackend): no query of its own.
                profile = request.user.profile
            except Profile.DoesNotExist:
                profile, _ = Profile.objects.select_related("track").get_or_create(
                    user=request.user
                )
            timezone.activate(profile.zone)
        request.profile = profile  # type: ignore[attr-defined]
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
