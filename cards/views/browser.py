"""The card browser: search and filters over every card a person sees, and bulk changes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cards.forms import BrowseForm, BulkForm
from cards.models import Card, Topic
from cards.selectors import (
    BrowseFilters,
    BrowseRows,
    browse_cards,
    browse_state,
    browse_tags,
)
from cards.services import (
    cards_delete,
    cards_move,
    cards_reset,
    cards_retag,
    cards_suspend,
)
from cards.views.common import AuthedHttpRequest, partial

PAGE_SIZE = 50
BROWSE_FIELDS = ("q", "topic", "tag", "state", "owner", "due_from", "due_to", "sort")


def _browse_filters(user: User, data: QueryDict) -> tuple[BrowseForm, BrowseFilters]:
    """The browser's filter form and the filters it reads."""
    form = BrowseForm(data, topics=Topic.objects.visible_to(user))
    form.is_valid()
    f = form.cleaned_data
    filters = BrowseFilters(
        q=f.get("q") or "",
        topic=f.get("topic"),
        tag=f.get("tag") or "",
        state=f.get("state") or "",
        owner=f.get("owner") or "",
        due_from=f.get("due_from"),
        due_to=f.get("due_to"),
        sort=f.get("sort") or "",
    )
    return form, filters


def _browse(user: User, data: QueryDict) -> tuple[BrowseForm, QuerySet[Card]]:
    """The browser's filter form and the cards it selects."""
    form, filters = _browse_filters(user, data)
    return form, browse_cards(user=user, filters=filters)


def _filters(data: QueryDict) -> str:
    """The browser's filters as a query string (no page), to carry through forms and links."""
    return urlencode([(k, data[k]) for k in BROWSE_FIELDS if data.get(k)])


def _browser_context(request: AuthedHttpRequest, data: QueryDict) -> dict[str, Any]:
    user = request.user
    form, filters = _browse_filters(user, data)
    paginator: Paginator[Card] = Paginator(BrowseRows(user=user, filters=filters), PAGE_SIZE)
    page = paginator.get_page(data.get("page"))
    tags = browse_tags(user=user)
    return {
        "form": form,
        "page": page,
        "rows": [{"card": card, "state": browse_state(card)} for card in page.object_list],
        "tags": tags,
        "topics": form.fields["topic"].queryset,  # type: ignore[attr-defined]
        "filters": _filters(data),
        "bulk_actions": BulkForm.base_fields["action"].choices,  # type: ignore[attr-defined]
    }


@require_GET
def card_browser(request: AuthedHttpRequest) -> HttpResponse:
    context = _browser_context(request, request.GET)
    return render(request, partial(request, "cards/browser.html", "results"), context)


def _bulk_ids(request: AuthedHttpRequest, form: BulkForm, filters: QueryDict) -> list[int]:
    if form.cleaned_data.get("everything"):
        _, cards = _browse(request.user, filters)
        return list(cards.values_list("pk", flat=True))
    ids: list[int] = form.cleaned_data["ids"]
    return ids


@require_POST
def cards_bulk(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    filters = QueryDict(request.POST.get("filters", ""))
    back = f"{reverse('card_browser')}?{_filters(filters)}".rstrip("?")
    form = BulkForm(request.POST, topics=Topic.objects.visible_to(user))
    if not form.is_valid():
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        messages.error(request, errors[0] if errors else "That change was not understood.")
        return _after_bulk(request, filters, back)
    action = form.cleaned_data["action"]
    ids = _bulk_ids(request, form, filters)
    own = Card.objects.filter(owner=user, pk__in=ids).count()
    builtin = len(ids) - own
    if action == "delete" and ids and not own:
        # Nothing of theirs to delete: no "Delete 0 cards?" to confirm.
        messages.info(
            request,
            "None of the selected cards is yours to delete: built-in cards stay. "
            "Suspend them to keep them out of your drill.",
        )
        return _after_bulk(request, filters, back)
    if action == "delete" and not form.cleaned_data.get("confirm"):
        context = {
            "ids": ids if not form.cleaned_data.get("everything") else [],
            "everything": form.cleaned_data.get("everything"),
            "own": own,
            "builtin": builtin,
            "filters": _filters(filters),
            "back": back,
        }
        return render(request, partial(request, "cards/browser_delete.html", "confirm"), context)
    now, zone = timezone.now(), request.profile.zone
    word = "card" if len(ids) == 1 else "cards"
    match action:
        case "suspend" | "unsuspend":
            cards_suspend(
                user=user, card_ids=ids, suspended=action == "suspend", now=now, zone=zone
            )
            messages.success(request, f"{action.title()}ed {len(ids)} {word}.")
        case "reset":
            cards_reset(user=user, card_ids=ids, now=now, zone=zone)
            messages.success(
                request, f"Reset the schedule of {len(ids)} {word}: they are new again."
            )
        case "retag":
            changed = cards_retag(
                user=user,
                card_ids=ids,
                add=form.cleaned_data["add_tags"],
                remove=form.cleaned_data["remove_tags"],
            )
            messages.success(request, f"Changed the tags of {changed} card{'s' * (changed != 1)}.")
        case "move":
            topic = form.cleaned_data["move_to"]
            moved = cards_move(user=user, card_ids=ids, topic=topic)
            messages.success(request, f"Moved {moved} card{'s' * (moved != 1)} to {topic.title}.")
        case "delete":
            deleted = cards_delete(user=user, card_ids=ids)
            messages.success(request, f"Deleted {deleted} card{'s' * (deleted != 1)}.")
    if builtin and action in {"retag", "move", "delete"}:
        messages.info(
            request,
            f"{builtin} built-in card{'s were' if builtin != 1 else ' was'} left as "
            f"{'they were' if builtin != 1 else 'it was'}: built-in cards can be suspended, "
            "not changed. Copy one to your cards to change it.",
        )
    return _after_bulk(request, filters, back)


def _after_bulk(request: AuthedHttpRequest, filters: QueryDict, back: str) -> HttpResponse:
    if request.htmx:
        context = _browser_context(request, filters)
        return render(request, "cards/browser.html#results", context)
    return redirect(back)
