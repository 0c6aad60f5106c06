"""The one card editor: write a card with a live preview, change or delete one's own, copy
a built-in card to change it, suspend or unsuspend any; and a person's own topics.

Opened from the drill (``?next=drill``), saving, copying or suspending returns to the
drill with the same card on screen."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from cards.forms import CardForm, TopicForm
from cards.models import Card, ReviewState, Topic
from cards.rendering import math_problems, too_long
from cards.services import (
    card_copy_to_own,
    card_create,
    card_delete,
    card_move,
    card_update,
    cards_suspend,
    topic_create,
    topic_delete,
    topic_update,
    topics_for_titles,
)
from cards.views.common import AuthedHttpRequest
from cards.views.drill import card_text, drill_action_push, drill_context, drill_response


def _from_drill(request: AuthedHttpRequest) -> bool:
    return (request.POST.get("next") or request.GET.get("next")) == "drill"


def _back_to_drill(card: Card) -> str:
    """The drill, showing ``card`` with its answer (the person was looking at it)."""
    return f"{reverse('drill')}?card={card.pk}&show=1"


def _editor_url(card: Card, *, from_drill: bool) -> str:
    url = reverse("card_change", args=[card.pk])
    return f"{url}?next=drill" if from_drill else url


def _preview(front: str, back: str) -> dict[str, Any]:
    """What the preview shows; a side over the cap is refused unrendered (MAX_TEXT)."""
    refused = [
        (side, reason)
        for side, text in (("Front", front), ("Back", back))
        if (reason := too_long(text))
    ]
    if refused:
        problems = [f"{side}: not previewed, it is {reason}." for side, reason in refused]
        return {"preview_front": "", "preview_back": "", "preview_problems": problems}
    problems = [
        f"{side}: {problem}"
        for side, text in (("Front", front), ("Back", back))
        for problem in math_problems(text)
    ]
    return {"preview_front": front, "preview_back": back, "preview_problems": problems}


def _form_text(form: CardForm, name: str) -> str:
    value = form.data.get(name) if form.is_bound else form.initial.get(name)
    return str(value or "")


@require_POST
def card_preview(request: AuthedHttpRequest) -> HttpResponse:
    context = _preview(request.POST.get("front", ""), request.POST.get("back", ""))
    return render(request, "cards/card_form.html#preview", context)


def _topic_from(request: AuthedHttpRequest, form: CardForm) -> Topic:
    topic: Topic | None = form.cleaned_data.get("topic")
    if title := form.cleaned_data["new_topic"]:
        topic = topics_for_titles(user=request.user, titles=[title], builtin=False)[
            title.casefold()
        ]
    assert topic is not None  # the form requires one or the other
    return topic


@require_http_methods(["GET", "POST"])
def card_new(request: AuthedHttpRequest) -> HttpResponse:
    form = CardForm(
        request.POST or None, user=request.user, initial={"topic": request.GET.get("topic")}
    )
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        with transaction.atomic():
            topic = _topic_from(request, form)
            card = card_create(
                user=request.user,
                topic=topic,
                front=form.cleaned_data["front"],
                back=form.cleaned_data["back"],
                tags=form.cleaned_data["tags"],
            )
        if "another" in request.POST:
            messages.success(request, "Card added. Here is a fresh one, in the same topic.")
            return redirect(f"{reverse('card_new')}?topic={topic.pk}")
        messages.success(request, "Card added.")
        return redirect("card_change", card_id=card.pk)
    status = 400 if request.method == "POST" and form.errors else 200
    context = {
        "form": form,
        "card": None,
        **_preview(_form_text(form, "front"), _form_text(form, "back")),
    }
    return render(request, "cards/card_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
def card_change(request: AuthedHttpRequest, card_id: int) -> HttpResponse:
    card = get_object_or_404(
        Card.objects.visible_to(request.user).select_related("topic"), pk=card_id
    )
    from_drill = _from_drill(request)
    if card.is_builtin:
        state = ReviewState.objects.filter(user=request.user, card=card).first()
        return render(
            request,
            "cards/card_builtin.html",
            {"card": card, "state": state, "from_drill": from_drill},
        )
    form = CardForm(
        request.POST or None,
        user=request.user,
        initial={"topic": card.topic_id, "front": card.front, "back": card.back, "tags": card.tags},
    )
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        before = card_text(card)
        with transaction.atomic():
            topic = _topic_from(request, form)
            card_update(
                card=card,
                front=form.cleaned_data["front"],
                back=form.cleaned_data["back"],
                tags=form.cleaned_data["tags"],
            )
            if topic.pk != card.topic_id:
                card_move(card=card, topic=topic)
        if from_drill:
            if card_text(card) != before:
                drill_action_push(request, kind="edit", card=card, before=before)
            messages.success(request, "Card saved; undo in the drill puts the old text back.")
            return redirect(_back_to_drill(card))
        messages.success(request, "Card saved.")
        return redirect("card_change", card_id=card.pk)
    status = 400 if request.method == "POST" and form.errors else 200
    context: dict[str, Any] = {
        "form": form,
        "card": card,
        "from_drill": from_drill,
        **_preview(_form_text(form, "front"), _form_text(form, "back")),
    }
    return render(request, "cards/card_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
def card_remove(request: AuthedHttpRequest, card_id: int) -> HttpResponse:
    card = get_object_or_404(Card.objects.select_related("topic"), pk=card_id, owner=request.user)
    if request.method == "POST":
        card_delete(card=card)
        messages.success(request, "Card deleted.")
        return redirect("card_browser")
    return render(request, "cards/card_delete.html", {"card": card})


@require_POST
def card_copy(request: AuthedHttpRequest, card_id: int) -> HttpResponse:
    card = get_object_or_404(Card.objects.visible_to(request.user), pk=card_id, owner=None)
    copy = card_copy_to_own(
        user=request.user, card=card, now=timezone.now(), zone=request.profile.zone
    )
    messages.success(request, "Copied to your cards (the built-in one is suspended for you).")
    url = _editor_url(copy, from_drill=_from_drill(request))
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_POST
def card_suspension(request: AuthedHttpRequest, card_id: int) -> HttpResponse:
    card = get_object_or_404(Card.objects.visible_to(request.user), pk=card_id)
    suspended = request.POST.get("suspended") == "1"
    cards_suspend(
        user=request.user,
        card_ids=[card.pk],
        suspended=suspended,
        now=timezone.now(),
        zone=request.profile.zone,
    )
    if _from_drill(request):
        if suspended:
            drill_action_push(request, kind="suspend", card=card)
        messages.success(
            request,
            "Card suspended: it will not come up again until you unsuspend it.",
            extra_tags="undoable",
        )
        if request.htmx:
            return drill_response(request, drill_context(request, finished_check=True))
        return redirect("drill")
    messages.success(request, "Card suspended." if suspended else "Card unsuspended.")
    return redirect("card_change", card_id=card.pk)


# --- Topics ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def topics(request: AuthedHttpRequest) -> HttpResponse:
    form = TopicForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        topic = topic_create(
            user=request.user,
            title=form.cleaned_data["title"],
            summary=form.cleaned_data["summary"],
        )
        messages.success(request, f"Topic “{topic.title}” added.")
        return redirect("topics")
    own = Topic.objects.filter(owner=request.user).annotate(
        card_count=Count("cards", filter=Q(cards__owner=request.user))
    )
    status = 400 if request.method == "POST" else 200
    return render(request, "cards/topics.html", {"form": form, "topics": own}, status=status)


@require_http_methods(["GET", "POST"])
def topic_change(request: AuthedHttpRequest, topic_id: int) -> HttpResponse:
    topic = get_object_or_404(Topic, pk=topic_id, owner=request.user)
    form = TopicForm(request.POST or None, initial={"title": topic.title, "summary": topic.summary})
    if request.method == "POST" and form.is_valid():
        topic_update(
            topic=topic, title=form.cleaned_data["title"], summary=form.cleaned_data["summary"]
        )
        messages.success(request, "Topic saved.")
        return redirect("topics")
    count = Card.objects.filter(topic=topic, owner=request.user).count()
    return render(request, "cards/topic_form.html", {"form": form, "topic": topic, "count": count})


@require_http_methods(["GET", "POST"])
def topic_remove(request: AuthedHttpRequest, topic_id: int) -> HttpResponse:
    topic = get_object_or_404(Topic, pk=topic_id, owner=request.user)
    if request.method == "POST":
        deleted = topic_delete(topic=topic)
        messages.success(
            request, f"Topic “{topic.title}” deleted, with {deleted} card{'s' * (deleted != 1)}."
        )
        return redirect("topics")
    count = Card.objects.filter(topic=topic, owner=request.user).count()
    return render(request, "cards/topic_delete.html", {"topic": topic, "count": count})
