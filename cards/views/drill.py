"""The daily drill: show the next card, grade it, undo, and a card's history. With htmx
the same URL returns only the drill region (a named partial of cards/drill.html)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.views.decorators.http import require_GET, require_POST

from cards.models import LEECH_LAPSES, Card, ReviewLog, ReviewState
from cards.queue import NextCard, card_queued, next_card, queue_counts
from cards.scheduling import SAME_DAY_REPEAT_BELOW, format_interval
from cards.selectors import day_summary, memory_model_of, streaks
from cards.services import (
    NothingToUndo,
    NotQueued,
    StaleGrade,
    card_restore,
    interval_preview,
    review_bury,
    review_grade,
    review_suspend,
    review_undo,
    study_day_mark,
)
from cards.versions import tokens_deferred
from cards.views.common import AuthedHttpRequest
from core.localtime import local_date
from prep.plan_drills import plan_drills_tick, plan_drills_untick
from prep.selectors import current_week, current_week_topic_ids, drill_minutes, plan_step

# SM-2's six qualities, each with a word of its own.
GRADES = [
    (0, "Blank", "no memory of it"),
    (1, "Wrong", "wrong, but familiar"),
    (2, "Almost", "wrong, easy once seen"),
    (3, "Hard", "right, with effort"),
    (4, "Good", "right, after a pause"),
    (5, "Easy", "right, at once"),
]
# The four-button mode (the profile's choice), as Anki users know it, mapped onto SM-2's
# qualities: Again 1, Hard 3, Good 4, Easy 5. Keys 1-4.
FOUR_GRADES = [
    (1, "Again", "forgot it: SM-2 quality 1"),
    (3, "Hard", "right, with effort: quality 3"),
    (4, "Good", "right, after a pause: quality 4"),
    (5, "Easy", "right, at once: quality 5"),
]
MAX_ANSWER_MS = 10 * 60 * 1000


def _visible_card(request: AuthedHttpRequest, card_id: int) -> Card:
    # Another user's card is a 404, never a 403: its existence is not revealed.
    return get_object_or_404(
        Card.objects.visible_to(request.user).select_related("topic"), pk=card_id
    )


def _interval_label(section: str, quality: int, interval: int) -> str:
    """What will really happen: below 4 the card comes back today (SM-2 step 7)."""
    if section == "repeat":
        # Same-day repeats do not move the schedule: below 4 it comes back, else it is done.
        return "again today" if quality < SAME_DAY_REPEAT_BELOW else "done for today"
    if quality < SAME_DAY_REPEAT_BELOW:
        return f"again today, then {format_interval(interval)}"
    return format_interval(interval)


def _section(state: ReviewState | None, today: dt.date) -> str:
    if state is not None and state.repeat_on == today:
        return "repeat"
    return "new" if state is None or state.last_reviewed_at is None else "due"


def drill_context(
    request: AuthedHttpRequest,
    *,
    reveal: bool = False,
    exclude_card_id: int | None = None,
    show: Card | None = None,
    finished_check: bool = False,
) -> dict[str, Any]:
    """The drill's state: counters, the card to show (``show``, or the queue's next) and
    its grade buttons, or the day's summary when the queue is empty."""
    profile = request.profile
    limits = profile.limits
    now = timezone.now()
    today = local_date(now, profile.zone)
    # The next review is read with the counts unless a card to show is given.
    counts = queue_counts(user=request.user, limits=limits, today=today, with_next=show is None)
    current: NextCard | None = None
    if show is not None:
        state = ReviewState.objects.filter(user=request.user, card=show).first()
        current = NextCard(card=show, state=state, section=_section(state, today))
    elif counts.total:
        current = next_card(
            user=request.user,
            counts=counts,
            today=today,
            priority_topic_ids=lambda: current_week_topic_ids(user=request.user, today=today),
            exclude_card_id=exclude_card_id,
        )
    context: dict[str, Any] = {
        "grading": profile.grading,
        "counts": counts,
        "current": current,
        "reveal": reveal,
        "shown_at": int(now.timestamp() * 1000),
        "can_undo": counts.reviewed_today + counts.new_today > 0
        or bool(request.session.get(ACTIONS_KEY)),
    }
    if current is None:
        context["summary"] = day_summary(user=request.user, today=today)
        if finished_check and counts.reviewed_today + counts.new_today > 0:
            # The queue just emptied after an answer or a suspension: the day counts.
            study_day_mark(user=request.user, local_date=today, now=now)
        context["streak"] = streaks(user_ids=[request.user.pk], today=today).get(request.user.pk, 0)
        # Not a dead end: the plan's next step for today.
        week = current_week(user=request.user, today=today)
        if week is not None:
            context["next_step"] = plan_step(
                week=week,
                today=today,
                spent=drill_minutes(user=request.user, week=week),
            )
        return context
    state = current.state
    intervals = interval_preview(
        state=state,
        limits=limits,
        today=today,
        model=memory_model_of(user=request.user),
    )
    section = current.section
    labels = (_interval_label(section, q, intervals[q]) for q, _, _ in _grades(profile.grading))
    context["grade_buttons"] = grade_buttons(profile.grading, tuple(labels))
    context["version"] = state.version if state else 0
    return context


def _grades(grading: str) -> list[tuple[int, str, str]]:
    return FOUR_GRADES if grading == "four" else GRADES


@functools.lru_cache(maxsize=1024)
def grade_buttons(grading: str, labels: tuple[str, ...]) -> str:
    """The grade buttons with their interval labels, rendered once per web process for each
    grading mode and set of labels, which are all the markup depends on: rendered each time,
    the loop over six buttons was two fifths of the drill region's template calls. A day's
    cards share a few dozen sets of labels."""
    four = grading == "four"
    grades = [
        {"quality": q, "key": n + 1 if four else q, "word": word, "hint": hint, "interval": label}
        for n, ((q, word, hint), label) in enumerate(zip(_grades(grading), labels, strict=True))
    ]
    context = {"grading": grading, "grades": grades}
    return render_to_string("cards/drill.html#grade_buttons", context)


def drill_response(
    request: AuthedHttpRequest, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    template = "cards/drill.html#drill" if request.htmx else "cards/drill.html"
    return render(request, template, context, status=status)


@require_GET
def drill(request: AuthedHttpRequest) -> HttpResponse:
    reveal = request.GET.get("show") is not None
    card_id = _int(request.GET.get("card"))
    shown = _queued_card(request, card_id) if card_id is not None else None
    # After an undo or an edit without JavaScript: show the card that came back. A card
    # not in today's queue is not shown by its id: the queue's next card is.
    return drill_response(request, drill_context(request, show=shown, reveal=reveal))


def _queued_card(request: AuthedHttpRequest, card_id: int) -> Card | None:
    return _if_queued(request, _visible_card(request, card_id))


def _if_queued(request: AuthedHttpRequest, card: Card) -> Card | None:
    profile = request.profile
    today = local_date(timezone.now(), profile.zone)
    queued = card_queued(user=request.user, card=card, limits=profile.limits, today=today)
    return card if queued else None


def _int(value: str | None, default: int | None = None) -> int | None:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


@require_POST
# The grade's token move goes to the cache with the next card's first read.
@tokens_deferred()
def grade(request: AuthedHttpRequest) -> HttpResponse:
    profile = request.profile
    card_id = _int(request.POST.get("card"))
    quality = _int(request.POST.get("quality"))
    version = _int(request.POST.get("version"))
    if card_id is None or version is None or quality is None or not 0 <= quality <= 5:
        messages.error(request, "That grade was not understood; the card is still here.")
        return (
            redirect("drill")
            if not request.htmx
            else drill_response(request, drill_context(request, reveal=True), status=400)
        )
    now = timezone.now()
    shown_at = _int(request.POST.get("shown_at"))
    answer_ms = None
    if shown_at is not None:
        answer_ms = max(0, min(int(now.timestamp() * 1000) - shown_at, MAX_ANSWER_MS))
    try:
        outcome = review_grade(
            user=request.user,
            card_id=card_id,
            quality=quality,
            now=now,
            shown_version=version,
            zone=profile.zone,
            answer_ms=answer_ms,
            limits=profile.limits,
            model=memory_model_of(user=request.user),
        )
    except Card.DoesNotExist:
        # Another user's card is a 404, never a 403: its existence is not revealed.
        raise Http404 from None
    except NotQueued:
        messages.error(request, "That card is not due today: nothing was recorded.")
        return (
            redirect("drill")
            if not request.htmx
            else drill_response(request, drill_context(request), status=400)
        )
    except StaleGrade:
        # Another click, tab or retry graded this showing already: show what is next and
        # record nothing.
        exclude_card_id = card_id
    else:
        card = outcome.state.card
        exclude_card_id = card.pk
        drill_action_push(request, kind="grade", card=card)
        if outcome.leech_suspended:
            messages.warning(
                request,
                f"{_named(card)} is a leech: failed {LEECH_LAPSES} times, so it is suspended "
                "(your profile's choice). Rewrite it, or undo to keep drilling it.",
                extra_tags="undoable",
            )
        # The grade's minutes count toward this week's drill item of its topic at once.
        plan_drills_tick(
            user_ids=[request.user.pk],
            on=local_date(now, profile.zone),
            now=now,
            topic_ids=[card.topic_id],
        )
    context = drill_context(request, exclude_card_id=exclude_card_id, finished_check=True)
    if not request.htmx:
        return redirect("drill")
    return drill_response(request, context)


@require_POST
def bury(request: AuthedHttpRequest, card_id: int) -> HttpResponse:
    """Hide the card until tomorrow, as Anki's "bury" does; U undoes it."""
    card = _visible_card(request, card_id)
    review_bury(
        user=request.user, card=card, buried=True, now=timezone.now(), zone=request.profile.zone
    )
    drill_action_push(request, kind="bury", card=card)
    messages.success(request, "Card buried: it comes back tomorrow.", extra_tags="undoable")
    if not request.htmx:
        return redirect("drill")
    return drill_response(request, drill_context(request, finished_check=True))


# The drill's own actions, newest last, in the session: undo takes back the last one,
# a grade, a suspension, a burial or an edit (whose text before it rides along). A grade
# made elsewhere is still undone from the review log.
ACTIONS_KEY = "drill_actions"
ACTIONS_KEPT = 20


def drill_action_push(
    request: AuthedHttpRequest, *, kind: str, card: Card, before: dict[str, Any] | None = None
) -> None:
    held = request.session.get(ACTIONS_KEY, [])
    if kind == "grade" and not held:
        # With nothing held, undo takes back the last grade from the review log anyway: a
        # grade is kept only to order it after another action, and no session is written.
        return
    action: dict[str, Any] = {"kind": kind, "card": card.pk}
    if before is not None:
        action["before"] = before
    actions = [*held, action]
    request.session[ACTIONS_KEY] = actions[-ACTIONS_KEPT:]


def card_text(card: Card) -> dict[str, Any]:
    """What an edit changes, kept so that undo can put it back."""
    return {"front": card.front, "back": card.back, "tags": card.tags, "topic": card.topic_id}


def _drill_action_pop(request: AuthedHttpRequest) -> dict[str, Any] | None:
    actions = list(request.session.get(ACTIONS_KEY, []))
    if not actions:
        return None
    action: dict[str, Any] = actions.pop()
    request.session[ACTIONS_KEY] = actions
    return action


def _named(card: Card) -> str:
    return f"“{Truncator(' '.join(card.front.split())).chars(60)}”"


@require_POST
def undo(request: AuthedHttpRequest) -> HttpResponse:
    profile = request.profile
    now = timezone.now()
    action = _drill_action_pop(request)
    if action is not None and action["kind"] != "grade":
        card = (
            Card.objects.visible_to(request.user)
            .select_related("topic")
            # Only one's own cards are edited; an edit's undo touches nothing else.
            .filter(
                pk=action["card"], **({"owner": request.user} if action["kind"] == "edit" else {})
            )
            .first()
        )
        if card is not None:
            undone = _undo_action(request, action=action, card=card, now=now)
            messages.success(request, f"Undone: {undone}.")
            return _undone(request, card)
    try:
        card = review_undo(user=request.user, now=now, zone=profile.zone)
    except NothingToUndo:
        messages.info(request, "Nothing to undo today.")
        if not request.htmx:
            return redirect("drill")
        return drill_response(request, drill_context(request))
    # A drill item that grade ticked is open again if the time no longer reaches it.
    plan_drills_untick(
        user_id=request.user.pk, on=local_date(now, profile.zone), topic_ids=[card.topic_id]
    )
    messages.success(request, f"Undone: your grade of {_named(card)}.")
    return _undone(request, card)


def _undo_action(
    request: AuthedHttpRequest, *, action: dict[str, Any], card: Card, now: dt.datetime
) -> str:
    """Take back one of the drill's own actions on ``card``; say what was undone."""
    zone = request.profile.zone
    if action["kind"] == "suspend":
        review_suspend(user=request.user, card=card, suspended=False, now=now, zone=zone)
        return f"the suspension of {_named(card)}"
    if action["kind"] == "bury":
        review_bury(user=request.user, card=card, buried=False, now=now, zone=zone)
        return f"burying {_named(card)}, back in today's queue"
    # An edit: the text (and so the rendered HTML) and the topic it had before.
    before = action["before"]
    edited = _named(card)
    card_restore(
        user=request.user,
        card=card,
        front=before["front"],
        back=before["back"],
        tags=before["tags"],
        topic_id=before["topic"],
    )
    return f"your edit of {edited}"


def _undone(request: AuthedHttpRequest, card: Card) -> HttpResponse:
    context = drill_context(request, show=card)
    if not request.htmx:
        return redirect(f"{reverse('drill')}?card={card.pk}")
    return drill_response(request, context)


@require_GET
def history(request: AuthedHttpRequest, card_id: int) -> HttpResponse:
    card = _visible_card(request, card_id)
    logs = ReviewLog.objects.filter(user=request.user, card=card).order_by("-reviewed_at", "-id")[
        :100
    ]
    context = {"card": card, "logs": logs}
    template = "cards/history.html#history" if request.htmx else "cards/history.html"
    return render(request, template, context)
