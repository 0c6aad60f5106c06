"""Mock interviews: pick a prompt, write against the clock, score the rubric, share.

Every view works as a plain page with forms; with htmx the notes autosave and the timer
pauses in place (named partials of templates/prep/mock_session.html). A session is only
ever its owner's: anyone else gets a 404, except a study partner through a live share
link, who may read it and score it, nothing more.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from cards.models import Card, ReviewState
from prep.middleware import AuthedHttpRequest
from prep.mock_selectors import (
    history,
    kind_trends,
    live_prompts,
    phases_of,
    prompts_for_item,
    rubric_of,
    session_markdown,
    surprise_prompt,
)
from prep.mocks import (
    MAX_MARK_NOTE_CHARS,
    MAX_NOTE_CHARS,
    MockError,
    StaleNote,
    mock_finish,
    mock_note_save,
    mock_pause,
    mock_phase_go,
    mock_score,
    mock_share_create,
    mock_share_revoke,
    mock_start,
    share_from_token,
    share_token,
    shared_session_of,
)
from prep.models import MockMark, MockPrompt, MockSession, MockShare, PlanItem
from prep.selectors import current_week_topic_ids

# The history table pages through every session; none is ever left off.
HISTORY_PAGE_SIZE = 50


def _today(request: AuthedHttpRequest) -> dt.date:
    return timezone.now().astimezone(request.profile.zone).date()


def _own_session(request: AuthedHttpRequest, pk: int) -> MockSession:
    # Another person's session is a 404, never a 403: its existence is not revealed.
    return get_object_or_404(
        MockSession.objects.select_related("prompt", "plan_item"), pk=pk, user=request.user
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@require_GET
def mock_index(request: AuthedHttpRequest) -> HttpResponse:
    kinds = dict(MockPrompt.Kind.choices)
    kind = request.GET.get("kind", "")
    kind = kind if kind in kinds else ""
    this_week = request.GET.get("week") == "1"
    topic_ids = (
        current_week_topic_ids(user=request.user, today=_today(request)) if this_week else []
    )
    item = None
    item_id = _int(request.GET.get("item"))
    if item_id is not None:
        item = get_object_or_404(
            PlanItem.objects.select_related("topic"),
            pk=item_id,
            week__plan__user=request.user,
            week__plan__is_active=True,
        )
    prompts = list(live_prompts(kind=kind, topic_ids=topic_ids))
    sessions_page = Paginator(history(user=request.user), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "kinds": kinds,
        "kind": kind,
        "this_week": this_week,
        "week_empty": this_week and not topic_ids,
        "item": item,
        "suggested": prompts_for_item(item=item) if item else [],
        "item_sessions": list(history(user=request.user).filter(plan_item=item)) if item else [],
        "prompts": prompts,
        "sessions": sessions_page.object_list,
        "sessions_page": sessions_page,
        "query": query.urlencode(),
        "trends": kind_trends(user=request.user),
    }
    return render(request, "prep/mock_index.html", context)


@require_POST
def mock_begin(request: AuthedHttpRequest) -> HttpResponse:
    item_id = _int(request.POST.get("item"))
    if request.POST.get("surprise"):
        prompt = surprise_prompt(user=request.user, kind=request.POST.get("kind", ""))
        if prompt is None:
            messages.error(request, "No prompt of that kind is in the bank.")
            return redirect("mock_index")
    else:
        prompt = get_object_or_404(
            MockPrompt, key=request.POST.get("prompt", ""), retired_at__isnull=True
        )
    try:
        session = mock_start(
            user=request.user, prompt=prompt, now=timezone.now(), plan_item_id=item_id
        )
    except MockError as error:
        messages.error(request, str(error))
        return redirect("mock_index")
    return redirect("mock_session", pk=session.pk)


def _writing_context(request: AuthedHttpRequest, session: MockSession) -> dict[str, Any]:
    phases = phases_of(session=session, now=timezone.now())
    current = phases[session.phase]
    return {
        "session": session,
        "phases": phases,
        "current": current,
        "is_last": session.phase == len(phases) - 1,
        "total_minutes": sum(p.minutes for p in phases),
        "max_note_chars": MAX_NOTE_CHARS,
    }


def _review_context(
    request: AuthedHttpRequest, session: MockSession, *, shared: MockShare | None = None
) -> dict[str, Any]:
    now = timezone.now()
    points, mine, others = rubric_of(session=session, scorer=request.user)
    context: dict[str, Any] = {
        "session": session,
        "phases": phases_of(session=session, now=now),
        "points": points,
        "mine": mine,
        "others": others,
        "marks": MockMark.Mark.choices,
        "shared": shared,
        "max_mark_note_chars": MAX_MARK_NOTE_CHARS,
    }
    if shared is None:
        context["brought_forward"] = _brought_forward(session=session, points=points)
        context["shares"] = [
            (share, request.build_absolute_uri(reverse("mock_shared", args=[share_token(share)])))
            for share in session.shares.filter(revoked_at__isnull=True).select_related("recipient")
        ]
        context["score_url"] = reverse("mock_score", args=[session.pk])
    else:
        context["score_url"] = request.path
    return context


def _brought_forward(*, session: MockSession, points: list[Any]) -> list[tuple[Card, Any]]:
    """The related cards of the owner's missed and partly-met points, with their due dates."""
    if session.score is None:
        return []
    keys: dict[str, None] = {}
    for point in points:
        if point.mark and point.mark != MockMark.Mark.MET:
            keys.update(dict.fromkeys(point.cards or session.prompt.card_keys))
    cards = list(
        Card.objects.filter(owner__isnull=True, key__in=list(keys)).select_related("topic")
    )
    due = dict(
        ReviewState.objects.filter(user=session.user, card__in=cards).values_list("card_id", "due")
    )
    return [(card, due.get(card.pk)) for card in cards]


@require_GET
def mock_session(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    session = _own_session(request, pk)
    if session.is_finished:
        return render(request, "prep/mock_review.html", _review_context(request, session))
    return render(request, "prep/mock_session.html", _writing_context(request, session))


def _save_from_form(request: AuthedHttpRequest, session: MockSession) -> HttpResponse | None:
    """Save the notes a plain form carried; a response when that failed, else None."""
    if "text" not in request.POST:
        return None
    phase = _int(request.POST.get("phase"))
    version = _int(request.POST.get("version"))
    if phase is None or version is None:
        messages.error(request, "The form was missing its phase or version; nothing was saved.")
        return redirect("mock_session", pk=session.pk)
    try:
        mock_note_save(
            session=session,
            phase=phase,
            text=request.POST["text"],
            version=version,
            now=timezone.now(),
        )
    except StaleNote as stale:
        context = _writing_context(request, session)
        context.update(conflict=stale.note, mine=request.POST["text"])
        return render(request, "prep/mock_session.html", context, status=409)
    except MockError as error:
        context = _writing_context(request, session)
        context.update(error=str(error), mine=request.POST["text"])
        return render(request, "prep/mock_session.html", context, status=400)
    return None


@require_POST
def mock_note(request: AuthedHttpRequest, pk: int, phase: int) -> HttpResponse:
    """Autosave (htmx, debounced) and the plain "Save" button."""
    session = _own_session(request, pk)
    version = _int(request.POST.get("version"))
    text = request.POST.get("text", "")
    status = 200
    context: dict[str, Any] = {"session": session, "phase": phase}
    try:
        if version is None:
            raise MockError("The save named no version; nothing was saved.")
        note = mock_note_save(
            session=session, phase=phase, text=text, version=version, now=timezone.now()
        )
        context.update(note=note)
    except StaleNote as stale:
        status = 409
        context.update(conflict=stale.note)
    except MockError as error:
        status = 400
        context.update(error=str(error))
    if request.htmx:
        return render(request, "prep/mock_session.html#save-status", context, status=status)
    if status == 200:
        messages.success(request, "Notes saved.")
        return redirect("mock_session", pk=session.pk)
    full = _writing_context(request, session)
    full.update(context, mine=text)
    return render(request, "prep/mock_session.html", full, status=status)


@require_POST
def mock_phase(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    session = _own_session(request, pk)
    failed = _save_from_form(request, session)
    if failed is not None:
        return failed
    to = _int(request.POST.get("to"))
    try:
        if to is None:
            raise MockError("Which phase? Nothing was changed.")
        mock_phase_go(session=session, phase=to, now=timezone.now())
    except MockError as error:
        messages.error(request, str(error))
    return redirect("mock_session", pk=session.pk)


@require_POST
def mock_timer(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    session = _own_session(request, pk)
    shown = _int(request.POST.get("phase"))
    if request.htmx and shown is not None and shown != session.phase and not session.is_finished:
        # Another tab moved the session on: this tab's clock is of a phase no longer running,
        # so the page reloads on the phase that is (its notes are saved per phase).
        messages.info(request, "This session moved to another phase in another tab.")
        return HttpResponseClientRedirect(reverse("mock_session", args=[session.pk]))
    try:
        session = mock_pause(
            session=session, paused=request.POST.get("paused") == "1", now=timezone.now()
        )
    except MockError as error:
        messages.error(request, str(error))
        # From htmx, a redirect would be followed in place and the whole page swapped into
        # the timer (a session finished in another tab): the browser loads it instead.
        url = reverse("mock_session", args=[session.pk])
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if request.htmx:
        return render(request, "prep/mock_session.html#timer", _writing_context(request, session))
    return redirect("mock_session", pk=session.pk)


@require_POST
def mock_end(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    session = _own_session(request, pk)
    if not session.is_finished:
        failed = _save_from_form(request, session)
        if failed is not None:
            return failed
    session = mock_finish(session=session, now=timezone.now())
    if session.plan_item_id is not None:
        messages.success(request, "Finished, and ticked off in your plan. Now score it.")
    return redirect("mock_session", pk=session.pk)


def _marks_from(post: Any) -> dict[str, tuple[str, str]]:
    return {
        name.removeprefix("mark-"): (value, post.get(f"note-{name.removeprefix('mark-')}", ""))
        for name, value in post.items()
        if name.startswith("mark-")
    }


def _score(
    request: AuthedHttpRequest, session: MockSession, shared: MockShare | None
) -> HttpResponse:
    try:
        outcome = mock_score(
            session=session,
            scorer=request.user,
            marks=_marks_from(request.POST),
            now=timezone.now(),
            zone=request.profile.zone,
        )
    except MockError as error:
        context = _review_context(request, session, shared=shared)
        context.update(error=str(error), posted=request.POST)
        return render(request, "prep/mock_review.html", context, status=400)
    note = f"Scored {round(100 * outcome.score)}%."
    if outcome.brought_forward:
        note += (
            f" {len(outcome.brought_forward)} related card"
            f"{'s are' if len(outcome.brought_forward) != 1 else ' is'} now due by "
            f"{outcome.due_by:%a %-d %b}."
        )
    messages.success(request, note)
    target = request.path if shared else reverse("mock_session", args=[session.pk])
    return redirect(target + "#score")


@require_POST
def mock_score_view(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    return _score(request, _own_session(request, pk), None)


@require_GET
def mock_export(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    session = _own_session(request, pk)
    body = session_markdown(session=session, viewer=request.user, now=timezone.now())
    response = HttpResponse(body, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mock-{session.pk}.md"'
    return response


@require_POST
def mock_share(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    session = _own_session(request, pk)
    name = request.POST.get("username", "").strip()
    users = get_user_model().objects
    # The exact name first; else a case-insensitive match, but only one: with "Sam" and
    # "sam" both here (an admin can make both), "SAM" must not pick one of them at random.
    recipient = users.filter(username=name).first() if name else None
    if recipient is None and name:
        matches = list(users.filter(username__iexact=name)[:2])
        if len(matches) > 1:
            messages.error(
                request, f"More than one person is called {name!r} in some case: type it exactly."
            )
            return redirect(reverse("mock_session", args=[session.pk]) + "#share")
        recipient = matches[0] if matches else None
    try:
        share = mock_share_create(session=session, recipient=recipient, now=timezone.now())
    except MockError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Shared with {share.recipient.username}: send them the link below. "
            "Only they can open it, and only until you revoke it.",
        )
    return redirect(reverse("mock_session", args=[session.pk]) + "#share")


@require_POST
def mock_share_stop(request: AuthedHttpRequest, pk: int, share_id: int) -> HttpResponse:
    session = _own_session(request, pk)
    share = get_object_or_404(MockShare, pk=share_id, session=session)
    mock_share_revoke(share=share, now=timezone.now())
    messages.success(request, f"The link for {share.recipient.username} no longer works.")
    return redirect(reverse("mock_session", args=[session.pk]) + "#share")


@require_http_methods(["GET", "POST"])
def mock_shared(request: AuthedHttpRequest, token: str) -> HttpResponse:
    """A study partner's view: the prompt, the notes and their own scoring; nothing else."""
    share = share_from_token(token=token, user=request.user)
    if share is None:
        own = shared_session_of(token=token, user=request.user)
        if own is None:
            raise Http404
        # The owner following their own link: their session, where they score it.
        messages.info(request, "This is your own session: the link is for your partner.")
        return redirect("mock_session", own.pk)
    if request.method == "POST":
        return _score(request, share.session, share)
    return render(
        request, "prep/mock_review.html", _review_context(request, share.session, shared=share)
    )
