from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from prep.models import (
    EmailDelivery,
    MockNote,
    MockPrompt,
    MockSession,
    MockShare,
    Plan,
    PlanItem,
    PlanWeek,
    Profile,
    Track,
    TrackTopic,
)
from prep.scheduled.reminders import reminder_schedule_next


class TrackTopicInline(admin.TabularInline[TrackTopic, Track]):
    model = TrackTopic
    extra = 0


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin[Track]):
    list_display = ["title", "slug", "order", "retired_at"]
    inlines = [TrackTopicInline]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin[Profile]):
    list_display = ["user", "time_zone", "reminder_time", "email_reminders", "interview_date"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
    # The schedule is the sweeps' to move: shown, never edited (an edit would skip or
    # repeat a day). Saving reschedules from the fields that were changed.
    readonly_fields = [
        "next_reminder_at",
        "next_reminder_on",
        "last_reminder_on",
        "next_rollover_at",
        "next_rollover_on",
        "last_rollover_on",
        # The person's own answers (custom study's extra new cards for one day, "keep
        # going?" after an interview): shown, theirs to give.
        "extra_new_cards",
        "extra_new_on",
        "after_interview",
        "past_interview_date",
    ]

    def save_model(self, request: HttpRequest, obj: Profile, form: Any, change: bool) -> None:
        if change:
            # Only what the admin changed: a whole-row save of the form's stale copy would
            # move the sweeps' markers back.
            changed = [name for name in form.changed_data if name != "user"]
            if changed:
                obj.save(update_fields=changed)
        else:
            obj.save()
        reminder_schedule_next(profile=obj, now=timezone.now())


class PlanWeekInline(admin.TabularInline[PlanWeek, Plan]):
    model = PlanWeek
    extra = 0
    fields = ["number", "starts_on", "ends_on", "title"]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin[Plan]):
    list_display = ["user", "track", "starts_on", "interview_date", "is_active"]
    list_select_related = ["user", "track"]
    inlines = [PlanWeekInline]


@admin.register(PlanItem)
class PlanItemAdmin(admin.ModelAdmin[PlanItem]):
    list_display = ["title", "week", "kind", "minutes", "done_at"]
    list_select_related = ["week"]


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin[EmailDelivery]):
    list_display = ["user", "kind", "local_date", "status", "attempts", "sent_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
    date_hierarchy = "local_date"


class MockNoteInline(admin.TabularInline[MockNote, MockSession]):
    model = MockNote
    extra = 0
    fields = ["phase", "version", "seconds", "updated_at", "text"]
    readonly_fields = ["phase", "version", "seconds", "updated_at", "text"]


@admin.register(MockPrompt)
class MockPromptAdmin(admin.ModelAdmin[MockPrompt]):
    list_display = ["title", "key", "kind", "seed", "topic", "retired_at"]
    list_filter = ["kind", "seed", "retired_at"]
    list_select_related = ["topic"]
    search_fields = ["key", "title"]
    # The bank is edited in prep/interviews/*.md and loaded with load_prompts.
    readonly_fields = ["key", "updated_at"]


@admin.register(MockSession)
class MockSessionAdmin(admin.ModelAdmin[MockSession]):
    list_display = ["title", "user", "started_at", "finished_at", "score"]
    list_select_related = ["user"]
    list_filter = ["finished_at"]
    search_fields = ["user__username", "title"]
    raw_id_fields = ["user", "prompt", "plan_item"]
    inlines = [MockNoteInline]


@admin.register(MockShare)
class MockShareAdmin(admin.ModelAdmin[MockShare]):
    list_display = ["session", "recipient", "created_at", "revoked_at"]
    list_select_related = ["session", "recipient"]
    raw_id_fields = ["session", "recipient"]
    exclude = ["nonce"]
