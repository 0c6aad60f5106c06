from __future__ import annotations

import datetime as dt
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


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(available_time_zones())]


class SignUpForm(UserCreationForm[User]):
    email = forms.EmailField(required=True, help_text="Reminders and password resets go here.")
    time_zone = forms.ChoiceField(choices=time_zone_choices, initial="UTC")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        # Whether the address has an account is not said here (prep.accounts).
        email: str = self.cleaned_data["email"].strip()
        return email


class ProfileForm(forms.ModelForm[Profile]):
    time_zone = forms.ChoiceField(choices=time_zone_choices)

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
            "interview_date",
            "hours_per_week",
            "track",
        )
        widgets = {
            "reminder_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "interview_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        labels = {
            "email_reminders": "Daily reminder e-mail",
            "weekly_summary": "Weekly summary e-mail",
            "remind_when_empty": "Send the daily e-mail even when nothing is due",
        }
        help_texts = {"remind_when_empty": ""}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        track_field = self.fields["track"]
        assert isinstance(track_field, forms.ModelChoiceField)
        track_field.queryset = Track.objects.filter(retired_at__isnull=True)


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
    time_zone = forms.ChoiceField(choices=time_zone_choices)
    track = forms.ModelChoiceField(
        queryset=Track.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": "Pick the track that matches your interview."},
    )

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
        track_field = self.fields["track"]
        assert isinstance(track_field, forms.ModelChoiceField)
        track_field.queryset = Track.objects.filter(retired_at__isnull=True)
        self.fields["interview_date"].required = True

    def clean_interview_date(self) -> dt.date:
        day: dt.date = self.cleaned_data["interview_date"]
        if day <= self.today:
            raise forms.ValidationError("The interview date must be after today.")
        if day > self.today + dt.timedelta(days=3 * 365):
            raise forms.ValidationError("Pick a date within the next three years.")
        return day
