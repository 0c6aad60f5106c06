from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse

from prep.emails import email_render, site_url
from prep.models import Profile, Track, available_time_zones
from prep.tasks import deliver_email


@functools.cache
def canonical_time_zones() -> tuple[str, ...]:
    """The zones people live in: tzdata's country table (zone.tab), without the aliases,
    the legacy names (US/Eastern) and oddities (Factory, localtime) of the full list."""
    table = importlib.resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text()
    names = {
        line.split("\t")[2]
        for line in table.splitlines()
        if line and not line.startswith("#") and len(line.split("\t")) >= 3
    }
    return tuple(sorted(names & available_time_zones()))


def time_zone_choices() -> list[tuple[str, Any]]:
    """UTC, then the canonical zones grouped by region ("Europe": "Berlin", ...)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in canonical_time_zones():
        region, _, place = name.partition("/")
        groups.setdefault(region, []).append((name, place.replace("_", " ").replace("/", " / ")))
    return [("UTC", "UTC"), *groups.items()]


class TimeZoneField(forms.ChoiceField):
    """Offers the canonical zones; accepts any IANA name (a browser may report an alias
    such as Asia/Calcutta, and a profile may hold an older name)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=time_zone_choices, **kwargs)
        self.widget.attrs.setdefault("data-time-zone", "")

    def valid_value(self, value: Any) -> bool:
        return str(value) in available_time_zones()


HOURS_MESSAGE = "Enter between 1 and 80 hours a week."


def hours_field(label: str) -> forms.DecimalField:
    """The hours a week, 1 to 80, said so in the field and in every error."""
    return forms.DecimalField(
        label=label,
        min_value=1,
        max_value=80,
        decimal_places=1,
        help_text="1 to 80 hours a week; halves are fine (7.5).",
        error_messages={
            "invalid": HOURS_MESSAGE,
            "min_value": HOURS_MESSAGE,
            "max_value": HOURS_MESSAGE,
            "max_decimal_places": "Use at most one decimal place, as in 7.5.",
        },
        widget=forms.NumberInput(attrs={"step": "0.5"}),
    )


def interview_date_check(day: dt.date, today: dt.date) -> None:
    """Onboarding's and the profile's one rule for the interview date."""
    if day <= today:
        raise forms.ValidationError("The interview date must be after today.")
    if day > today + dt.timedelta(days=3 * 365):
        raise forms.ValidationError("Pick a date within the next three years.")


def keep_current_zone(form: forms.ModelForm[Profile]) -> None:
    """A profile saved with a name the list does not offer keeps it on the list, selected,
    so that saving other settings never moves the person to another zone."""
    current = form.instance.time_zone
    if current and current != "UTC" and current not in canonical_time_zones():
        field = form.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(current, current.replace("_", " ")), *time_zone_choices()]


class SignUpForm(UserCreationForm[User]):
    email = forms.EmailField(required=True, help_text="Reminders and password resets go here.")
    time_zone = TimeZoneField(initial="UTC")
    time_zone.widget.attrs["data-time-zone"] = "guess"  # the browser's zone, preselected

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        # Whether the address has an account is not said here (prep.accounts).
        email: str = self.cleaned_data["email"].strip()
        return email


class ProfileForm(forms.ModelForm[Profile]):
    time_zone = TimeZoneField()
    hours_per_week = hours_field("Hours per week")

    class Meta:
        model = Profile
        fields = (
            "time_zone",
            "reminder_time",
            "email_reminders",
            "weekly_summary",
            "remind_when_empty",
            "new_cards_per_day",
            "max_reviews_per_day",
            "grading",
            "interview_date",
            "hours_per_week",
            "track",
            "scheduler",
            "desired_retention",
            "suspend_leeches",
            "pace_new_cards",
        )
        widgets = {
            "reminder_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "interview_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        labels = {
            "email_reminders": "Daily reminder e-mail",
            "weekly_summary": "Weekly summary e-mail",
            "remind_when_empty": "Send the daily e-mail even when nothing is due",
            "grading": "Grade buttons in the drill",
            "suspend_leeches": "Suspend leeches automatically",
            "pace_new_cards": "Pace new cards to the interview date",
        }
        help_texts = {"remind_when_empty": ""}

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        keep_current_zone(self)
        self.fields["grading"].required = False
        self.fields["grading"].widget = forms.RadioSelect(
            choices=self.fields["grading"].choices  # type: ignore[attr-defined]
        )
        track_field = self.fields["track"]
        assert isinstance(track_field, forms.ModelChoiceField)
        track_field.queryset = Track.objects.filter(retired_at__isnull=True)
        # A form that leaves the scheduler out (an older page, a script) keeps the choice.
        for name in ("scheduler", "desired_retention"):
            self.fields[name].required = False

    def clean_scheduler(self) -> str:
        return str(self.cleaned_data.get("scheduler") or self.instance.scheduler)

    def clean_desired_retention(self) -> float:
        value = self.cleaned_data.get("desired_retention")
        return float(value if value is not None else self.instance.desired_retention)

    def clean_grading(self) -> str:
        # Not sent (an older form, a script): the choice stays as it was.
        value: str = self.cleaned_data.get("grading") or self.instance.grading
        return value

    def clean_interview_date(self) -> dt.date | None:
        day: dt.date | None = self.cleaned_data["interview_date"]
        # A date already saved may have passed (the interview happened); saving the other
        # settings must not be blocked by it. A date typed in is checked as onboarding does.
        if day is not None and "interview_date" in self.changed_data:
            interview_date_check(day, self.today)
        return day


class QueuedPasswordResetForm(PasswordResetForm):
    """Renders the reset e-mail in the request (emails/password_reset/), hands the sending
    to the worker."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        path = reverse(
            "password_reset_confirm", kwargs={"uidb64": context["uid"], "token": context["token"]}
        )
        context = {
            **context,
            "reset_url": f"{context['protocol']}://{context['domain']}{path}",
            "profile_url": site_url(reverse("profile")),
        }
        rendered = email_render(template="password_reset", context=context)
        transaction.on_commit(
            lambda: deliver_email.delay(
                subject=rendered.subject, body=rendered.text, html=rendered.html, to=[to_email]
            )
        )


class OnboardingForm(forms.ModelForm[Profile]):
    time_zone = TimeZoneField()
    track = forms.ModelChoiceField(
        queryset=Track.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": "Pick the track that matches your interview."},
    )
    hours_per_week = hours_field("Hours per week you can study")

    class Meta:
        model = Profile
        fields = ("track", "interview_date", "hours_per_week", "time_zone", "reminder_time")
        widgets = {
            "reminder_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "interview_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        labels = {
            "interview_date": "Interview date",
            "hours_per_week": "Hours per week you can study",
            "reminder_time": "Daily reminder at (your local time)",
        }

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        keep_current_zone(self)
        track_field = self.fields["track"]
        assert isinstance(track_field, forms.ModelChoiceField)
        track_field.queryset = Track.objects.filter(retired_at__isnull=True)
        self.fields["interview_date"].required = True

    def clean_interview_date(self) -> dt.date:
        day: dt.date = self.cleaned_data["interview_date"]
        interview_date_check(day, self.today)
        return day


class KeepGoingForm(forms.Form):
    """After the interview: a new date, or keep practising without one."""

    choice = forms.ChoiceField(
        choices=[("new-date", "Set a new interview date"), ("keep", "Keep practising")]
    )
    interview_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("choice") == "new-date":
            day = data.get("interview_date")
            if day is None:
                self.add_error("interview_date", "Pick the new interview date.")
            else:
                try:
                    interview_date_check(day, self.today)
                except forms.ValidationError as error:
                    self.add_error("interview_date", error)
        return data


class ExtraNewCardsForm(forms.Form):
    extra = forms.IntegerField(min_value=0, max_value=200, label="Extra new cards today")
