"""Custom study: drill a topic now, the weakest cards, or tomorrow's reviews, without
moving the schedule (cards.services.custom_record). Plain pages and forms. The page's
"extra new cards today" form posts to the profile's own view (prep.views.extra_new_cards)."""

from __future__ import annotations

import contextlib
from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cards.models import Card, Topic
from cards.selectors import CUSTOM_MODES, custom_queue
from cards.services import StaleGrade, custom_record
from cards.views.common import AuthedHttpRequest
from cards.views.drill import GRADES
from core.localtime import local_date


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _url(mode: str, topic_id: int | None) -> str:
    query = {"mode": mode, **({"topic": str(topic_id)} if topic_id is not None else {})}
    return f"{reverse('custom_study')}?{urlencode(query)}"


@require_GET
def custom_study(request: AuthedHttpRequest) -> HttpResponse:
    mode = request.GET.get("mode", "")
    topic_id = _int(request.GET.get("topic"))
    today = local_date(timezone.now(), request.profile.zone)
    queue = custom_queue(user=request.user, mode=mode, today=today, topic_id=topic_id)
    limits = request.profile.limits
    context = {
        "modes": CUSTOM_MODES,
        "mode": mode if mode in CUSTOM_MODES else "",
        "topic_id": topic_id,
        "topics": Topic.objects.visible_to(request.user)
        .filter(
            cards__review_states__user=request.user,
            cards__review_states__last_reviewed_at__isnull=False,
        )
        .distinct(),
        "current": queue[0] if queue else None,
        "left": len(queue),
        "reveal": request.GET.get("show") == "1",
        "grades": GRADES,
        # The extra new cards asked for today (the profile keeps the day they are for).
        "extra_new_today": limits.new_cards_limit(today) - limits.new_cards_per_day,
    }
    return render(request, "cards/custom.html", context)


@require_POST
def custom_grade(request: AuthedHttpRequest) -> HttpResponse:
    mode = request.POST.get("mode", "")
    topic_id = _int(request.POST.get("topic"))
    card_id, quality = _int(request.POST.get("card")), _int(request.POST.get("quality"))
    version = _int(request.POST.get("version"))
    if card_id is None or quality is None or version is None or not 0 <= quality <= 5:
        return redirect(_url(mode, topic_id))
    card = get_object_or_404(Card.objects.visible_to(request.user), pk=card_id)
    # StaleGrade: a second click, or a card not studied yet; nothing is recorded.
    with contextlib.suppress(StaleGrade):
        custom_record(
            user=request.user,
            card=card,
            quality=quality,
            now=timezone.now(),
            shown_version=version,
            zone=request.profile.zone,
        )
    return redirect(_url(mode, topic_id))
