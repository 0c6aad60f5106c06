from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.views import PasswordResetView
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cards.memory import MIN_FIT_REVIEWS
from cards.models import MemoryParameters, ReviewLog, ReviewState
from cards.selectors import streaks
from cards.tasks import memory_fit_task
from core.localtime import local_date
from prep.accounts import signup_activate, signup_request
from prep.client_ip import client_ip
from prep.feed import plan_calendar
from prep.forms import (
    ExtraNewCardsForm,
    KeepGoingForm,
    OnboardingForm,
    ProfileForm,
    QueuedPasswordResetForm,
    SignUpForm,
)
from prep.middleware import AuthedHttpRequest
from prep.models import EmailDelivery, Plan, PlanItem, PlanWeek, Profile
from prep.plan_drills import plan_drills_tick
from prep.selectors import current_week, today_load
from prep.services import (
    InterviewNotPassed,
    PlanNotPossible,
    feed_token_revoke,
    feed_token_rotate,
    interview_after_choose,
    onboarding_complete,
    plan_generate,
    plan_item_set_done,
    profile_extra_new_cards_set,
    profile_save_and_replan,
)
from prep.stats import (
    at_risk_many,
    calibration,
    dashboard_history,
    dashboard_queue_counts,
    interview_readiness,
)
from prep.throttle import throttle_allow

TOO_MANY_EMAILS = (
    "Too many e-mails were asked for this address or from your network in the last hour. "
    "Check your inbox (and spam folder) for the one already sent, or try again in an hour."
)


def _account_emails_allowed(request: HttpRequest, *, scope: str, email: str) -> bool:
    return throttle_allow(scope=scope, values=[f"email:{email}", f"ip:{client_ip(request)}"])


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        if not _account_emails_allowed(request, scope="signup", email=email):
            form.add_error(None, TOO_MANY_EMAILS)
            return render(request, "registration/signup.html", {"form": form}, status=429)
        # The same answer whether or not the address has an account (prep.accounts).
        signup_request(
            username=form.cleaned_data["username"],
            email=email,
            password=form.cleaned_data["password1"],
            time_zone=form.cleaned_data["time_zone"],
        )
        return redirect("signup_done")
    return render(request, "registration/signup.html", {"form": form})


@login_not_required
@require_GET
def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_done.html")


@login_not_required
@require_http_methods(["GET", "POST"])
def signup_activate_view(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The link from the sign-up e-mail. Opening it shows a button; only pressing it
    activates, so a mail scanner that follows links does not."""
    try:
        user = get_user_model().objects.get(pk=int(urlsafe_base64_decode(uidb64)))
    except (ValueError, OverflowError, get_user_model().DoesNotExist):
        user = None
    valid = (
        user is not None and not user.is_active and default_token_generator.check_token(user, token)
    )
    if request.method == "POST" and user is not None and signup_activate(user=user, token=token):
        login(request, user, backend="prep.backends.UserBackend")
        return redirect("onboarding")
    return render(
        request, "registration/signup_activate.html", {"valid": valid}, status=200 if valid else 400
    )


class ThrottledPasswordResetView(PasswordResetView):
    """Django's reset (the same answer for any address), at most
    CADENCE_ACCOUNT_EMAILS_PER_HOUR e-mails an hour to one address or from one client."""

    form_class = QueuedPasswordResetForm

    def form_valid(self, form: Any) -> HttpResponse:
        if not _account_emails_allowed(
            self.request, scope="password-reset", email=form.cleaned_data["email"]
        ):
            form.add_error(None, TOO_MANY_EMAILS)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


@require_GET
def home(request: AuthedHttpRequest) -> HttpResponse:
    if request.profile.onboarded_at is None:
        return redirect("onboarding")
    return redirect("plan")


@require_http_methods(["GET", "POST"])
def onboarding(request: AuthedHttpRequest) -> HttpResponse:
    profile = request.profile
    now = timezone.now()
    today = local_date(now, profile.zone)
    form = OnboardingForm(request.POST or None, instance=profile, today=today)
    if request.method == "POST" and form.is_valid():
        # The date is checked against "today" in the zone the person just chose.
        chosen_today = local_date(now, Profile(time_zone=form.cleaned_data["time_zone"]).zone)
        onboarding_complete(profile=profile, fields=form.cleaned_data, today=chosen_today, now=now)
        messages.success(request, "Your plan is ready. This week's work is below.")
        return redirect("plan")
    return render(request, "prep/onboarding.html", {"form": form})


@require_GET
def plan(request: AuthedHttpRequest) -> HttpResponse:
    profile = request.profile
    if profile.onboarded_at is None:
        return redirect("onboarding")
    now = timezone.now()
    today = local_date(now, profile.zone)
    active = Plan.objects.filter(user=request.user, is_active=True).select_related("track").first()
    plan_drills_tick(user_ids=[request.user.pk], on=today, now=now)
    week = current_week(user=request.user, today=today)
    later_weeks = (
        PlanWeek.objects.filter(plan=active, starts_on__gt=today).prefetch_related("items")
        if active
        else PlanWeek.objects.none()
    )
    counts = dashboard_queue_counts(user=request.user, limits=profile.limits, today=today)
    history = dashboard_history(user=request.user, today=today)
    standing = history.standing
    items = list(week.items.all()) if week else []
    context = {
        "plan": active,
        "today": today,
        "today_box": today_load(
            user=request.user,
            week=week,
            today=today,
            reviews=counts.due + counts.repeat,
            new=counts.new,
        ),
        "week": week,
        "items": items,
        "planned_minutes": sum(i.minutes for i in items),
        "done_minutes": sum(i.minutes for i in items if i.done_at),
        "later_weeks": later_weeks,
        "days_left": (profile.interview_date - today).days if profile.interview_date else None,
        "interview_passed": profile.interview_passed(today),
        "counts": counts,
        "standing": standing,
        "heatmap": history.heatmap,
        "forecast": history.forecast,
        "streak": streaks(user_ids=[request.user.pk], today=today).get(request.user.pk, 0),
        "readiness": interview_readiness(
            user=request.user, profile=profile, standing=standing, today=today
        ),
        "at_risk": [
            risk.sentence(profile.horizon.target)
            for risk in at_risk_many(profiles=[profile], today=today)[profile.user_id]
        ],
        "new_cards_stopped": profile.limits.new_cards_stopped(today, reviews_due=counts.due),
        "new_cards_paced": _new_cards_paced(profile, today=today, reviews_due=counts.due),
        "leeches": ReviewState.objects.filter(user=request.user).leeches().count(),
        "calibration": calibration(user=request.user),
    }
    return render(request, "prep/plan.html", context)


@require_POST
def plan_item_toggle(request: AuthedHttpRequest, item_id: int) -> HttpResponse:
    try:
        item = plan_item_set_done(
            user=request.user,
            item_id=item_id,
            done=request.POST.get("done") == "1",
            now=timezone.now(),
        )
    except PlanItem.DoesNotExist:
        raise Http404 from None
    if not request.htmx:
        return redirect("plan")
    week = current_week(user=request.user, today=local_date(timezone.now(), request.profile.zone))
    items = list(week.items.all()) if week and week.pk == item.week_id else [item]
    return render(
        request,
        "prep/plan.html#week-progress-oob",
        {
            "item": item,
            "items": items,
            "planned_minutes": sum(i.minutes for i in items),
            "done_minutes": sum(i.minutes for i in items if i.done_at),
        },
    )


@require_POST
def plan_rebuild(request: AuthedHttpRequest) -> HttpResponse:
    try:
        plan_generate(user=request.user, today=local_date(timezone.now(), request.profile.zone))
    except PlanNotPossible as error:
        messages.error(request, str(error))
        return redirect("profile")
    messages.success(request, "Plan rebuilt from today; everything you had done is kept.")
    return redirect("plan")


@require_http_methods(["GET", "POST"])
def profile(request: AuthedHttpRequest) -> HttpResponse:
    current = request.profile
    today = local_date(timezone.now(), current.zone)
    form = ProfileForm(
        request.POST or None, instance=Profile.objects.get(pk=current.pk), today=today
    )
    if request.method == "POST" and form.is_valid():
        saved_at = timezone.now()
        today = local_date(saved_at, current.zone)
        try:
            replanned = profile_save_and_replan(
                profile=current, fields=form.cleaned_data, today=today
            )
        except PlanNotPossible as error:
            messages.error(request, f"Saved, but the plan could not be rebuilt: {error}")
            return redirect("profile")
        messages.success(
            request,
            "Saved. Your plan was rebuilt from today; done items are kept."
            if replanned
            else "Profile saved.",
        )
        if note := _reminder_note(current, since=saved_at):
            messages.info(request, note)
        return redirect("profile")
    context = {
        "form": form,
        "feed_url": _feed_url(request),
        "fit": MemoryParameters.objects.filter(user=request.user).first(),
        "fit_reviews": ReviewLog.objects.filter(user=request.user, is_repeat=False).count(),
        "fit_minimum": MIN_FIT_REVIEWS,
        "next_reminder_at": current.next_reminder_at,
        "interview_passed": current.interview_passed(today),
    }
    return render(request, "prep/profile.html", context)


def _new_cards_paced(profile: Profile, *, today: dt.date, reviews_due: int) -> int:
    """Today's new cards when interview mode's pace raises them above the profile's limit
    (0 otherwise): what the plan page says."""
    limits = profile.limits
    day_new = limits.new_cards_on(today, reviews_due=reviews_due)
    return day_new if day_new > limits.new_cards_limit(today) else 0


@require_POST
def keep_going(request: AuthedHttpRequest) -> HttpResponse:
    """The answer to "keep going?" once the interview date has passed (plan or profile)."""
    profile = request.profile
    today = local_date(timezone.now(), profile.zone)
    form = KeepGoingForm(request.POST, today=today)
    back = reverse("profile") if request.POST.get("next") == "profile" else reverse("plan")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    new_date = (
        form.cleaned_data["interview_date"] if form.cleaned_data["choice"] == "new-date" else None
    )
    try:
        interview_after_choose(
            profile=profile,
            keep_going_without_date=new_date is None,
            new_date=new_date,
            today=today,
        )
    except InterviewNotPassed:
        return redirect(back)
    except PlanNotPossible as error:
        messages.error(request, f"Saved, but the plan could not be rebuilt: {error}")
        return redirect("profile")
    messages.success(
        request,
        f"New interview date: {new_date:%A %-d %B %Y}. Your plan runs to it from today."
        if new_date
        else "Keep practising: no interview date, so your cards follow their normal schedule. "
        "Set a date on your profile any time.",
    )
    return redirect(back)


@require_POST
def extra_new_cards(request: AuthedHttpRequest) -> HttpResponse:
    """Custom study's "extra new cards today" (the form is on the custom study page)."""
    form = ExtraNewCardsForm(request.POST)
    if form.is_valid():
        extra = form.cleaned_data["extra"]
        profile_extra_new_cards_set(profile=request.profile, extra=extra, now=timezone.now())
        messages.success(
            request,
            f"{extra} extra new card{'s' if extra != 1 else ''} today, on top of your "
            f"{request.profile.new_cards_per_day} a day; tomorrow the daily limit is back."
            if extra
            else "No extra new cards today.",
        )
    else:
        messages.error(request, "Extra new cards: a number from 0 to 200.")
    return redirect(reverse("custom_study") + "#extra-new")


@require_POST
def memory_fit_request(request: AuthedHttpRequest) -> HttpResponse:
    """Fit the user's own memory parameters now, in a worker."""
    user_id = request.user.pk
    transaction.on_commit(lambda: memory_fit_task.delay(user_id=user_id))
    messages.success(request, "Fitting your memory model; reload this page in a minute.")
    return redirect(reverse("profile") + "#memory")


def _reminder_note(profile: Profile, *, since: dt.datetime) -> str | None:
    """What a change of reminder time or zone did to a day still owed (prep.scheduled)."""
    fresh = Profile.objects.get(pk=profile.pk)
    if fresh.next_reminder_at is not None and fresh.next_reminder_at <= since:
        return "Today's reminder time has already passed: it goes out now."
    skipped = (
        EmailDelivery.objects.filter(
            user_id=profile.user_id, status=EmailDelivery.Status.SKIPPED, claimed_at__gte=since
        )
        .exclude(error="")
        .first()
    )
    if skipped is not None:
        return (
            f"No reminder for {skipped.local_date:%A %-d %B}: the new time had passed too long "
            "ago to send it. The next one goes out as scheduled."
        )
    return None


def _feed_url(request: AuthedHttpRequest) -> str | None:
    token = request.profile.feed_token
    if not token:
        return None
    return request.build_absolute_uri(reverse("plan_feed", args=[token]))


@require_POST
def feed_settings(request: AuthedHttpRequest) -> HttpResponse:
    if request.POST.get("action") == "revoke":
        feed_token_revoke(profile=request.profile)
        messages.success(request, "Calendar feed turned off: the old address no longer works.")
    else:
        had_one = bool(request.profile.feed_token)
        feed_token_rotate(profile=request.profile)
        messages.success(
            request,
            "New calendar address made: the old address stops working."
            if had_one
            else "Calendar feed on: subscribe to the address below in your calendar app.",
        )
    return redirect(reverse("profile") + "#calendar")


@login_not_required
@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    # The secret token is the only credential: an empty or unknown one is a 404.
    profile = (
        Profile.objects.filter(feed_token=token)
        .exclude(feed_token="")
        .select_related("user")
        .first()
    )
    if profile is None or len(token) < 20:
        raise Http404
    active = Plan.objects.filter(user=profile.user, is_active=True).select_related("track").first()
    body = plan_calendar(plan=active, profile=profile)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="cadence-plan.ics"'
    response["Cache-Control"] = "private, max-age=900"
    return response
