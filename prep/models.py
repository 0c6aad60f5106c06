from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from cards.interview import FSRS, SM2, Horizon
from cards.memory import DEFAULT_RETENTION
from cards.models import LEECH_LAPSES, Topic
from cards.queue import DailyLimits


def validate_time_zone(value: str) -> None:
    if value not in available_time_zones():
        raise ValidationError(f"{value!r} is not a time zone name from the IANA database.")


_ZONES: frozenset[str] | None = None


def available_time_zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(zoneinfo.available_timezones())
    return _ZONES


class Track(models.Model):
    """A plan template: ordered topics with activities and weights, then a finale."""

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=160)
    summary = models.TextField(blank=True)
    description = models.TextField(blank=True, help_text="Markdown.")
    source = models.CharField(max_length=300, blank=True)
    order = models.IntegerField(default=0)
    # [{"kind": "mock", "title": "...", "minutes": 60}, ...]: closes every plan.
    finale = models.JSONField(default=list, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "title"]

    def __str__(self) -> str:
        return self.title


class TrackTopic(models.Model):
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="track_topics")
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveIntegerField()
    weight = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    # [{"kind": "derive", "title": "...", "minutes": 45}, ...]
    activities = models.JSONField(default=list)

    class Meta:
        ordering = ["track", "order"]
        constraints = [
            models.UniqueConstraint(fields=["track", "topic"], name="tracktopic_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.track.slug}: {self.topic.slug}"


# The share of the weekly hours the daily drill takes in interview mode (its time
# budget); the plan's reading, drills of weak topics and mock interviews take the rest.
DRILL_SHARE = 1 / 3

# What Profile.limits reads, for loading many profiles with .only().
LIMIT_FIELDS = (
    "id",
    "new_cards_per_day",
    "max_reviews_per_day",
    "interview_date",
    "scheduler",
    "desired_retention",
    "hours_per_week",
    "extra_new_cards",
    "extra_new_on",
    "suspend_leeches",
    "pace_new_cards",
    "paced_new_cards",
    "paced_on",
)


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA name, for example Europe/Berlin.",
    )
    reminder_time = models.TimeField(default=dt.time(8, 0), help_text="Local time.")
    email_reminders = models.BooleanField(default=True)
    weekly_summary = models.BooleanField(default=True)
    remind_when_empty = models.BooleanField(
        default=False, help_text="Send the daily e-mail even when nothing is due."
    )
    new_cards_per_day = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(200)]
    )
    max_reviews_per_day = models.PositiveSmallIntegerField(
        default=150, validators=[MinValueValidator(1), MaxValueValidator(2000)]
    )

    class Grading(models.TextChoices):
        SIX = "six", "Six buttons: SM-2's qualities 0 to 5 (keys 0-5)"
        FOUR = "four", "Four buttons: Again, Hard, Good, Easy (keys 1-4; Space is Good)"

    grading = models.CharField(
        max_length=4,
        choices=Grading.choices,
        default=Grading.SIX,
        help_text="Four buttons map onto SM-2's qualities: Again 1, Hard 3, Good 4, Easy 5.",
    )
    interview_date = models.DateField(null=True, blank=True)

    class Scheduler(models.TextChoices):
        SM2 = SM2, "SM-2 (the classic intervals)"
        FSRS = FSRS, "FSRS (intervals from your memory model)"

    scheduler = models.CharField(
        max_length=8,
        choices=Scheduler.choices,
        default=Scheduler.SM2,
        help_text="Switching keeps all your history; both know your interview date.",
    )
    desired_retention = models.FloatField(
        default=DEFAULT_RETENTION,
        validators=[MinValueValidator(0.7), MaxValueValidator(0.97)],
        help_text="FSRS: the recall to keep each card at (0.90 = 90%).",
    )
    hours_per_week = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(80)],
    )

    # After the interview date has passed, the profile and the plan ask whether to keep
    # going; the answer is kept here, with the date that passed.
    class AfterInterview(models.TextChoices):
        UNANSWERED = "", "Not asked yet"
        NEW_DATE = "new-date", "A new interview date"
        KEEP = "keep", "Keep practising without a date"

    after_interview = models.CharField(
        max_length=8, choices=AfterInterview.choices, default="", blank=True
    )
    past_interview_date = models.DateField(null=True, blank=True)
    # Custom study's "extra new cards today": that many more new cards on that local date.
    extra_new_cards = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(200)]
    )
    extra_new_on = models.DateField(null=True, blank=True)
    pace_new_cards = models.BooleanField(
        default=True,
        help_text="With an interview date ahead, bring in more new cards than the daily limit "
        "when that is what meeting every card of your track by the date takes, as far as your "
        "daily minutes hold them.",
    )
    # Interview mode: the new cards a day that meet the track by the date, as the nightly
    # rollover of ``paced_on`` (a local date) found them (cards.interview.new_card_pace).
    paced_new_cards = models.PositiveIntegerField(default=0, editable=False)
    paced_on = models.DateField(null=True, blank=True, editable=False)
    suspend_leeches = models.BooleanField(
        default=False,
        help_text=f"Suspend a card when you fail it for the {LEECH_LAPSES}th time "
        "(undo takes it back).",
    )
    track = models.ForeignKey(
        Track, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    onboarded_at = models.DateTimeField(null=True, blank=True)
    # The secret in the private calendar-feed URL; empty when the feed is off (revoked).
    feed_token = models.CharField(max_length=64, blank=True, default="")
    # The next instant (UTC) a daily reminder is due, computed in the user's zone; the
    # reminder sweep reads this index.
    next_reminder_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The local date of the last reminder claimed: "once per local day".
    last_reminder_on = models.DateField(null=True, blank=True)
    # The local date next_reminder_at belongs to: the claim compares it with
    # last_reminder_on, so the claim needs no time-zone arithmetic in SQL.
    next_reminder_on = models.DateField(null=True, blank=True)
    # The next local midnight (UTC), when the nightly rollover runs, the local date it
    # starts, and the last local date that was rolled over (prep.scheduled.rollover).
    next_rollover_at = models.DateTimeField(null=True, blank=True, db_index=True)
    next_rollover_on = models.DateField(null=True, blank=True)
    last_rollover_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["feed_token"], condition=~Q(feed_token=""), name="profile_feed_token"
            ),
        ]

    def __str__(self) -> str:
        return f"profile of {self.user_id}"

    @property
    def limits(self) -> DailyLimits:
        return DailyLimits(
            new_cards_per_day=self.new_cards_per_day,
            max_reviews_per_day=self.max_reviews_per_day,
            horizon=self.horizon,
            scheduler=self.scheduler,
            desired_retention=self.desired_retention,
            minutes_per_day=float(self.hours_per_week) * 60 / 7 * DRILL_SHARE,
            extra_new_cards=self.extra_new_cards,
            extra_new_on=self.extra_new_on,
            paced_new_cards=self.paced_new_cards if self.pace_new_cards else 0,
            paced_on=self.paced_on,
            suspend_leeches=self.suspend_leeches,
        )

    def interview_passed(self, today: dt.date) -> bool:
        """The interview date is behind: time to ask whether to keep going."""
        return self.interview_date is not None and self.interview_date < today

    @property
    def horizon(self) -> Horizon:
        return Horizon(interview=self.interview_date)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Plan(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plans"
    )
    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="+")
    starts_on = models.DateField()
    interview_date = models.DateField()
    hours_per_week = models.DecimalField(max_digits=4, decimal_places=1)
    is_active = models.BooleanField(default=True)
    # What the generator had to leave out when the time was too short, for the page.
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_active=True), name="plan_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.track} for {self.user_id} to {self.interview_date}"


class PlanWeek(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="weeks")
    number = models.PositiveSmallIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField()
    title = models.CharField(max_length=200, blank=True)
    topics = models.ManyToManyField(Topic, blank=True, related_name="+")

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="planweek_unique"),
        ]
        indexes = [models.Index(fields=["plan", "starts_on"], name="planweek_plan_start")]

    def __str__(self) -> str:
        return f"week {self.number} ({self.starts_on})"


class PlanItem(models.Model):
    class Kind(models.TextChoices):
        STUDY = "study", "Study"
        DERIVE = "derive", "Derive"
        SKETCH = "sketch", "Sketch"
        DRILL = "drill", "Drill"
        MOCK = "mock", "Mock interview"
        REVIEW = "review", "Review"

    week = models.ForeignKey(PlanWeek, on_delete=models.CASCADE, related_name="items")
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=300)
    minutes = models.PositiveSmallIntegerField()
    order = models.PositiveSmallIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    # Ticked by the drill's time (prep.plan_drills), not by hand: undoing the grade that
    # reached the minutes takes such a tick back; a hand tick stays.
    ticked_by_drill = models.BooleanField(default=False)

    class Meta:
        ordering = ["week", "order", "id"]

    def __str__(self) -> str:
        return self.title


class EmailDelivery(models.Model):
    """One scheduled e-mail to one user for one local day: the claim and its audit record.

    The unique (user, kind, local_date) row is what makes "once per local day" hold; the
    status moves only forward (prep.scheduled explains the delivery guarantee).
    """

    class Kind(models.TextChoices):
        DAILY = "daily", "Daily reminder"
        WEEKLY = "weekly", "Weekly summary"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"  # claimed, not yet handed to the mail server
        SENDING = "sending", "Sending"  # being handed over right now
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"  # nothing to say, or the user opted out meanwhile
        FAILED = "failed", "Failed"  # the mail server refused it for good
        EXPIRED = "expired", "Expired"  # its day was over before it could go out
        # The sender died while this e-mail was with the mail server: it may or may not
        # have arrived, and it is not sent again (at most once).
        UNKNOWN = "unknown", "Unknown"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_deliveries"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    local_date = models.DateField()
    # The instant it was scheduled for (UTC).
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    claimed_at = models.DateTimeField()
    # When a task for it was last put on the queue; a queued row older than this by a
    # margin is put on the queue again (a lost broker message is not a lost e-mail).
    enqueued_at = models.DateTimeField()
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-local_date", "kind"]
        verbose_name_plural = "e-mail deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "local_date"], name="emaildelivery_once_a_day"
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "enqueued_at"],
                condition=Q(status__in=["queued", "sending"]),
                name="emaildelivery_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.user_id} for {self.local_date}: {self.status}"


# --- Mock interviews: prompts from prep/interviews/*.md, sessions, notes, marks, shares ---


class MockPrompt(models.Model):
    """One prompt of the bank, matched to its file by a stable key (like a deck card)."""

    class Kind(models.TextChoices):
        SYSTEM_DESIGN = "system-design", "System design"
        DERIVATION = "derivation", "Derivation"
        DEEP_DIVE = "deep-dive", "ML fundamentals deep dive"
        TPM_SCENARIO = "tpm-scenario", "TPM scenario"
        PROJECT = "project-deep-dive", "Project deep dive"

    key = models.SlugField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=300)
    seed = models.CharField(max_length=8)
    source = models.CharField(max_length=400)
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(help_text="Markdown.")
    # [{"title": "Scope and requirements", "minutes": 8, "hint": "..."}, ...]
    phases = models.JSONField(default=list)
    # [{"key": "memory", "weight": 3, "text": "...", "cards": ["ts-memory-100b"]}, ...]
    rubric = models.JSONField(default=list)
    outline = models.TextField(help_text="The model answer outline, Markdown.")
    card_keys = models.JSONField(default=list, help_text="Related built-in card ids.")
    position = models.PositiveIntegerField(default=0)
    retired_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def total_minutes(self) -> int:
        return sum(int(phase["minutes"]) for phase in self.phases)


class MockSession(models.Model):
    """One attempt at a prompt. The prompt's text, phases and rubric are copied in at the
    start, so a session reads (and scores) the same after its prompt is edited or retired."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mock_sessions"
    )
    prompt = models.ForeignKey(MockPrompt, on_delete=models.PROTECT, related_name="sessions")
    plan_item = models.ForeignKey(
        PlanItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="mock_sessions"
    )
    title = models.CharField(max_length=300)
    body = models.TextField()
    phases = models.JSONField(default=list)
    rubric = models.JSONField(default=list)
    outline = models.TextField()
    # The phase on screen, the seconds spent in it before the running stretch, and when
    # that stretch began (null while paused): the timer survives reloads and other tabs.
    phase = models.PositiveSmallIntegerField(default=0)
    phase_elapsed = models.PositiveIntegerField(default=0)
    phase_resumed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    # The owner's own score: the weighted share of the rubric met, 0..1.
    score = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["user", "-started_at"], name="mocksession_user_started")]

    def __str__(self) -> str:
        return f"{self.title} ({self.user_id}, {self.started_at:%Y-%m-%d})"

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None

    @property
    def is_paused(self) -> bool:
        return self.finished_at is None and self.phase_resumed_at is None


class MockNote(models.Model):
    """The notes of one phase. ``version`` moves on every save: a save names the version
    it was typed on, and a stale one is refused (last write wins, never blindly)."""

    session = models.ForeignKey(MockSession, on_delete=models.CASCADE, related_name="notes")
    phase = models.PositiveSmallIntegerField()
    text = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=0)
    seconds = models.PositiveIntegerField(default=0, help_text="Time spent in this phase.")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session", "phase"]
        constraints = [
            models.UniqueConstraint(fields=["session", "phase"], name="mocknote_session_phase"),
        ]

    def __str__(self) -> str:
        return f"session {self.session_id} phase {self.phase} v{self.version}"


class MockMark(models.Model):
    """One scorer's mark for one rubric point: the owner's, or a study partner's."""

    class Mark(models.TextChoices):
        MET = "met", "Met"
        PARTLY = "partly", "Partly"
        MISSED = "missed", "Missed"

    session = models.ForeignKey(MockSession, on_delete=models.CASCADE, related_name="marks")
    scorer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mock_marks"
    )
    point = models.SlugField(max_length=60)
    mark = models.CharField(max_length=8, choices=Mark.choices)
    note = models.CharField(max_length=500, blank=True)
    marked_at = models.DateTimeField()

    class Meta:
        ordering = ["session", "scorer", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "scorer", "point"], name="mockmark_one_per_point"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.point}: {self.mark}"


class MockShare(models.Model):
    """A finished session shown to one study partner through a signed link.

    The link signs (share id, nonce); revoking clears the nonce, so every link made for
    it stops working at once. A new share for the same partner gets a new nonce.
    """

    session = models.ForeignKey(MockSession, on_delete=models.CASCADE, related_name="shares")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mock_shares_received"
    )
    nonce = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["session", "recipient"], name="mockshare_once"),
        ]

    def __str__(self) -> str:
        return f"session {self.session_id} shared with {self.recipient_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and bool(self.nonce)
