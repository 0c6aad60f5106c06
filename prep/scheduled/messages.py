"""The scheduled e-mails themselves: a digest in, a message out (prep.emails builds it)."""

from __future__ import annotations

import datetime as dt
import functools

from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils.formats import date_format

from prep.emails import (
    BatchRenderer,
    email_build,
    list_headers,
    site_url,
    stable_message_id,
    unsubscribe_url,
)
from prep.models import EmailDelivery, PlanWeek
from prep.scheduled.digests import DailyDigest, WeeklyDigest

Kind = EmailDelivery.Kind


def week_label(week: PlanWeek | None) -> str:
    """What the subject calls the week: its first topic ("RLHF week"), or its title."""
    if week is None:
        return ""
    # The daily digest prefetches the topics into a list; the weekly one, into the manager.
    prefetched = getattr(week, "prefetched_topics", None)
    topics = sorted(
        week.topics.all() if prefetched is None else prefetched, key=lambda t: (t.order, t.title)
    )
    if topics:
        return f"{topics[0].title} week"
    return week.title or f"Week {week.number}"


def site_links() -> dict[str, str]:
    """The links every scheduled e-mail carries (one reverse() per batch, not per e-mail)."""
    return {
        "review_url": site_url(reverse("drill")),
        "home_url": site_url(reverse("home")),
        "plan_url": site_url(reverse("plan")),
        "profile_url": site_url(reverse("profile")),
    }


@functools.lru_cache(maxsize=64)
def day_label(day: dt.date) -> str:
    """How the e-mails name a day: "Monday 23 November"."""
    return date_format(day, "l j F")


def daily_renderer() -> BatchRenderer:
    """A batch's renderer of the daily reminder: the name and the unsubscribe link are
    the only values that differ between two users whose days look the same."""
    return BatchRenderer("daily_reminder", slots=("name", "unsubscribe_url"))


def daily_email(
    *,
    user: User,
    today: dt.date,
    digest: DailyDigest,
    links: dict[str, str] | None = None,
    renderer: BatchRenderer | None = None,
) -> EmailMultiAlternatives:
    unsubscribe = unsubscribe_url(user_id=user.pk, kind=Kind.DAILY)
    label = week_label(digest.week)
    # Plain values, not model instances: this template is rendered 100,000 times a
    # morning, and flat lookups are the cheap ones.
    context = {
        "name": user.first_name or user.username,
        "day": day_label(today),
        "cards": digest.cards,
        "due": digest.due,
        "new": digest.new,
        "repeat": digest.repeat,
        "streak": digest.streak,
        "days_to_go": digest.days_to_go,
        "at_risk": digest.at_risk,
        "has_week": digest.week is not None,
        "week_label": label,
        "week_title": (digest.week.title if digest.week else "") or label,
        "items_left": len(digest.items_left),
        "items": [{"title": i.title, "minutes": i.minutes} for i in digest.items_left[:6]],
        "more_items": max(len(digest.items_left) - 6, 0),
        "unsubscribe_url": unsubscribe,
        **(links or site_links()),
    }
    return email_build(
        template="daily_reminder",
        context=context,
        renderer=renderer,
        to=[user.email],
        headers=list_headers(
            unsubscribe=unsubscribe,
            message_id=stable_message_id("daily", user.pk, today.isoformat()),
        ),
    )


def weekly_email(
    *, user: User, today: dt.date, digest: WeeklyDigest, links: dict[str, str] | None = None
) -> EmailMultiAlternatives:
    unsubscribe = unsubscribe_url(user_id=user.pk, kind=Kind.WEEKLY)
    context = {
        "user": user,
        "today": today,
        "digest": digest,
        "week": digest.week,
        "items": digest.items_left,
        "unsubscribe_url": unsubscribe,
        **(links or site_links()),
    }
    return email_build(
        template="weekly_summary",
        context=context,
        to=[user.email],
        headers=list_headers(
            unsubscribe=unsubscribe,
            message_id=stable_message_id("weekly", user.pk, today.isoformat()),
        ),
    )


# --- Sending ----------------------------------------------------------------------------
