"""The one-click unsubscribe link of scheduled e-mails (RFC 8058).

GET shows a page with one button; POST unsubscribes. Mail providers that show an
"Unsubscribe" button POST ``List-Unsubscribe=One-Click`` to the same URL without cookies or
a CSRF token, so the view is exempt from both login and CSRF: the signed token is the
credential, and it can only turn an e-mail off.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from prep.emails import unsubscribe_read
from prep.models import Profile
from prep.scheduled.reminders import email_unsubscribe

KIND_NAMES = {"daily": "daily reminders", "weekly": "weekly summaries"}


@login_not_required
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    target = unsubscribe_read(token)
    profile = (
        Profile.objects.select_related("user").filter(user_id=target.user_id).first()
        if target
        else None
    )
    if target is None or profile is None:
        return render(request, "prep/unsubscribe.html", {"state": "invalid"}, status=404)
    context = {"kind_name": KIND_NAMES[target.kind], "email": profile.user.email}
    if request.method == "POST":
        email_unsubscribe(profile=profile, kind=target.kind, now=timezone.now())
        return render(request, "prep/unsubscribe.html", {**context, "state": "done"})
    return render(request, "prep/unsubscribe.html", {**context, "state": "confirm"})
