from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.db.models import Q

from cards.memory import Memory
from cards.scheduling import INITIAL_EASINESS, Sm2State

# Anki's line between young and mature cards: an interval of this many days or more.
MATURE_DAYS = 21
# Anki's leech threshold: a card failed this many times (after it was learned) is a leech,
# better rewritten or suspended than drilled again.
LEECH_LAPSES = 8


class TopicQuerySet(models.QuerySet["Topic"]):
    def live(self) -> TopicQuerySet:
        return self.filter(retired_at__isnull=True)

    def visible_to(self, user: User | int) -> TopicQuerySet:
        return self.filter(Q(owner__isnull=True, retired_at__isnull=True) | Q(owner=user))


class Topic(models.Model):
    """A subject area. Built-in topics (no owner) are shared; a user's own are private."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="topics",
    )
    slug = models.SlugField(max_length=80)
    title = models.CharField(max_length=120)
    summary = models.TextField(blank=True)
    order = models.IntegerField(default=0)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = TopicQuerySet.as_manager()

    class Meta:
        ordering = ["order", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["slug"], condition=Q(owner__isnull=True), name="topic_builtin_slug"
            ),
            models.UniqueConstraint(fields=["owner", "slug"], name="topic_owner_slug"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_builtin(self) -> bool:
        return self.owner_id is None


class CardQuerySet(models.QuerySet["Card"]):
    def visible_to(self, user: User | int) -> CardQuerySet:
        return self.filter(Q(owner__isnull=True, retired_at__isnull=True) | Q(owner=user))


class Card(models.Model):
    class Kind(models.TextChoices):
        QA = "qa", "Question"
        DERIVATION = "derivation", "Derivation step"
        COMPARE = "compare", "Compare"
        DESIGN = "design", "Design prompt"
        CODE = "code", "Code drill"

    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="cards")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="cards",
    )
    # The stable id a built-in card has in its deck file; it ties edited text to history.
    key = models.SlugField(max_length=120, blank=True, default="")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.QA)
    front = models.TextField(help_text="Markdown; LaTeX math between $ or $$.")
    back = models.TextField(help_text="Markdown; LaTeX math between $ or $$.")
    # Space-separated, as written, case told apart by nobody; see cards.deckfile.normalize_tags.
    tags = models.CharField(max_length=400, blank=True)
    source = models.CharField(max_length=1000, blank=True)
    # The sides as sanitised HTML, rendered when the text is written (cards.rendering);
    # shown only while html_version is the renderer's RENDER_VERSION.
    front_html = models.TextField(blank=True, default="", editable=False)
    back_html = models.TextField(blank=True, default="", editable=False)
    html_version = models.PositiveSmallIntegerField(default=0, editable=False)
    position = models.IntegerField(default=0, help_text="Order within the deck.")
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CardQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(owner__isnull=True), name="card_builtin_key"
            ),
        ]
        indexes = [
            models.Index(
                fields=["retired_at"],
                condition=Q(retired_at__isnull=False),
                name="card_retired",
            ),
            models.Index(fields=["owner", "position"], name="card_owner_position"),
            models.Index(fields=["topic", "position"], name="card_topic_position"),
            # One person's cards with their topics read from the index alone: the browser's
            # and the dashboard's counts per topic, and the join of a person's states to
            # their cards' topics. Partial, so that no arm of the drill's counts (built-in
            # cards, or a person's whatever their retired_at) can take it: with it, the
            # planner chose it for the new-card count and read far more.
            models.Index(
                fields=["owner", "topic", "id"],
                condition=Q(owner__isnull=False, retired_at__isnull=True),
                name="card_owner_topic",
            ),
            # The distinct tags of one person's cards, read one value at a time (a loose
            # index scan), so their cost follows how many tags there are, not cards.
            models.Index(fields=["owner", "tags"], name="card_owner_tags"),
        ]

    def __str__(self) -> str:
        return self.key or f"card {self.pk}"

    @property
    def is_builtin(self) -> bool:
        return self.owner_id is None

    @property
    def tag_list(self) -> list[str]:
        return self.tags.split()


# Which review states count, written once; as Q objects so that aggregates can filter on
# them too. Live: can come up (not suspended, on a card still in the deck); reviewed: live
# and seen at least once; learning and mature split the reviewed at MATURE_DAYS.
# Retired cards are the few built-in ones taken out of the deck: excluding them by id (a
# small indexed set) keeps these rules off the cards table, which a big deck makes large.
RETIRED_CARDS = Card.objects.filter(retired_at__isnull=False).values("id")
LIVE = Q(suspended=False) & ~Q(card_id__in=RETIRED_CARDS)
REVIEWED = LIVE & Q(last_reviewed_at__isnull=False)
WAITING_NEW = LIVE & Q(last_reviewed_at__isnull=True)
LEARNING = REVIEWED & Q(interval__lt=MATURE_DAYS)
MATURE = REVIEWED & Q(interval__gte=MATURE_DAYS)
LEECH = Q(lapses__gte=LEECH_LAPSES, card__retired_at__isnull=True)


def due_on_q(day: dt.date) -> Q:
    """Reviews owed on ``day``: due then or earlier, and not already a same-day repeat."""
    return REVIEWED & Q(due__lte=day) & ~Q(repeat_on=day) & ~Q(buried_on=day)


def waiting_new_on_q(day: dt.date) -> Q:
    """New cards waiting on ``day``: brought in, not seen yet, not buried that day."""
    return WAITING_NEW & ~Q(buried_on=day)


def repeats_on_q(day: dt.date) -> Q:
    """SM-2 step 7: cards graded below 4 on ``day`` that still owe a repeat."""
    return Q(repeat_on=day, suspended=False) & ~Q(buried_on=day)


class ReviewStateQuerySet(models.QuerySet["ReviewState"]):
    def live(self) -> ReviewStateQuerySet:
        return self.filter(LIVE)

    def reviewed(self) -> ReviewStateQuerySet:
        return self.filter(REVIEWED)

    def due_on(self, day: dt.date) -> ReviewStateQuerySet:
        return self.filter(due_on_q(day))

    def waiting_new(self) -> ReviewStateQuerySet:
        """Cards brought in (by the nightly rollover) and not seen yet."""
        return self.filter(WAITING_NEW)

    def repeats_on(self, day: dt.date) -> ReviewStateQuerySet:
        return self.filter(repeats_on_q(day))

    def learning(self) -> ReviewStateQuerySet:
        return self.filter(LEARNING)

    def mature(self) -> ReviewStateQuerySet:
        return self.filter(MATURE)

    def leeches(self) -> ReviewStateQuerySet:
        """Cards failed LEECH_LAPSES times or more, suspended or not."""
        return self.filter(LEECH)


class ReviewState(models.Model):
    """One user's SM-2 state for one card. Created when the card is first introduced."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_states"
    )
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="review_states")
    repetitions = models.PositiveIntegerField(default=0)
    interval = models.PositiveIntegerField(default=0, help_text="Days.")
    easiness = models.FloatField(default=INITIAL_EASINESS)
    # The user's local calendar date the card is next due on.
    due = models.DateField()
    lapses = models.PositiveIntegerField(default=0)
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    # SM-2 step 7: the local date on which this card still owes a same-day repeat
    # (graded below 4 and not yet brought to 4 or 5).
    repeat_on = models.DateField(null=True, blank=True)
    suspended = models.BooleanField(default=False)
    # Buried: out of the queue for the rest of this local day, back tomorrow as it was.
    buried_on = models.DateField(null=True, blank=True)
    # Moves on every change; a grade names the version it was shown at, so a double
    # submit or a second tab cannot grade the same showing twice.
    version = models.PositiveIntegerField(default=0)
    introduced_on = models.DateField(help_text="Local date the card entered the queue.")
    # The FSRS memory state (cards.memory) after the last grade, and that grade's local
    # date; kept whichever scheduler the user has, null until the first grade.
    stability = models.FloatField(null=True, blank=True)
    difficulty = models.FloatField(null=True, blank=True)
    memory_on = models.DateField(null=True, blank=True)

    objects = ReviewStateQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "card"], name="reviewstate_user_card"),
        ]
        indexes = [
            # The daily queue: a user's unsuspended cards due on or before today.
            models.Index(
                fields=["user", "due"],
                condition=Q(suspended=False),
                name="reviewstate_queue",
            ),
            # The card browser's due order, suspended cards included.
            models.Index(fields=["user", "due", "card"], name="reviewstate_browse_due"),
            models.Index(
                fields=["user", "repeat_on"],
                condition=Q(repeat_on__isnull=False),
                name="reviewstate_repeats",
            ),
            # Cards brought in and not seen yet: a handful among a big deck's states.
            models.Index(
                fields=["user"],
                condition=Q(last_reviewed_at__isnull=True, suspended=False),
                name="reviewstate_waiting",
            ),
            # The dashboard's leech count: a handful among a big deck's states.
            models.Index(
                fields=["user"], condition=Q(lapses__gte=LEECH_LAPSES), name="reviewstate_leeches"
            ),
            # The dashboard's forecast: the reviewed cards by due date, from the index alone.
            models.Index(
                fields=["user", "due", "card"],
                condition=Q(suspended=False, last_reviewed_at__isnull=False),
                name="reviewstate_reviewed_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.card_id} due {self.due}"

    @property
    def memory(self) -> Memory | None:
        if self.stability is None or self.difficulty is None:
            return None
        return Memory(stability=self.stability, difficulty=self.difficulty)

    @property
    def sm2(self) -> Sm2State:
        return Sm2State(
            repetitions=self.repetitions, interval=self.interval, easiness=self.easiness
        )


class ReviewLog(models.Model):
    """One row per grade, kept whole so a later scheduler can be fitted to it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_logs"
    )
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="review_logs")
    quality = models.PositiveSmallIntegerField()
    reviewed_at = models.DateTimeField()
    # The user's local date at reviewed_at, fixed when written: daily aggregates group by
    # it, and a later change of time zone does not move past days.
    local_date = models.DateField()
    # A same-day repeat (SM-2 step 7) does not move the schedule.
    is_repeat = models.BooleanField(default=False)
    answer_ms = models.PositiveIntegerField(null=True, blank=True)
    repetitions_before = models.PositiveIntegerField()
    interval_before = models.PositiveIntegerField()
    easiness_before = models.FloatField()
    due_before = models.DateField(null=True, blank=True)
    repetitions_after = models.PositiveIntegerField()
    interval_after = models.PositiveIntegerField()
    easiness_after = models.FloatField()
    due_after = models.DateField()
    # Everything needed to put the review state back exactly as it was (undo); null when
    # the card had no state before this grade.
    state_before = models.JSONField(null=True, blank=True)
    # The memory model's probability of recall at this grade (cards.memory), from the
    # state before it; null for a card's first grade. Calibration compares it with grades.
    predicted_recall = models.FloatField(null=True, blank=True)
    # Custom study (cards.services.custom_record): it moves the memory state, never the
    # schedule, so it is also marked is_repeat (not one of the day's reviews).
    custom = models.BooleanField(default=False)

    class Meta:
        ordering = ["-reviewed_at"]
        indexes = [
            models.Index(fields=["user", "local_date"], name="reviewlog_user_day"),
            models.Index(fields=["card", "user", "reviewed_at"], name="reviewlog_card_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.card_id} q={self.quality} at {self.reviewed_at:%Y-%m-%d}"


class MemoryParameters(models.Model):
    """A user's own FSRS parameters, fitted to their log (cards.services.memory_fit), and
    how well they predict it against the defaults. Private to the user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memory_parameters"
    )
    parameters = models.JSONField()
    reviews = models.PositiveIntegerField()
    log_loss_before = models.FloatField()
    rmse_before = models.FloatField()
    log_loss_after = models.FloatField()
    rmse_after = models.FloatField()
    fitted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"parameters of {self.user_id} ({self.reviews} reviews)"

    @property
    def improved(self) -> bool:
        return self.log_loss_after < self.log_loss_before

    @property
    def rmse_before_pct(self) -> float:
        return 100 * self.rmse_before

    @property
    def rmse_after_pct(self) -> float:
        return 100 * self.rmse_after


class StudyDay(models.Model):
    """A local day on which the user emptied their queue: the streak counts these."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_days"
    )
    local_date = models.DateField()
    finished_at = models.DateTimeField()

    class Meta:
        ordering = ["-local_date"]
        constraints = [
            models.UniqueConstraint(fields=["user", "local_date"], name="studyday_user_day"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} finished {self.local_date}"


def _import_upload_path(job: ImportJob, filename: str) -> str:
    # Under MEDIA_ROOT, which nothing serves: the upload is read by the worker, then deleted.
    return f"imports/{job.owner_id}/{job.pk}.upload"


class ImportJob(models.Model):
    """One import, from upload to done: the parsed cards wait here for the person to confirm.

    Small files are read in the request and large ones by a Celery worker (the page polls
    ``progress``); confirming writes every card in one transaction, in the request or, for
    a large import, in a worker.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Waiting to be read"
        PARSING = "parsing", "Reading the file"
        READY = "ready", "Ready to import"
        QUEUED = "queued", "Waiting to import"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        TSV = "tsv", "TSV / Anki text"
        MARKDOWN = "markdown", "Markdown deck file"
        APKG = "apkg", "Anki package"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs"
    )
    filename = models.CharField(max_length=255)
    format = models.CharField(max_length=10, choices=Format.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    default_topic = models.CharField(max_length=120, blank=True)
    upload = models.FileField(upload_to=_import_upload_path, blank=True, max_length=200)
    # [{"front", "back", "tags", "topic", "kind", "source", "ref"}]: the cards to add.
    rows = models.JSONField(default=list, blank=True)
    # [{"ref": "line 7", "reason": "no front"}]: rows that will not be imported.
    problems = models.JSONField(default=list, blank=True)
    # [{"ref", "front"}]: rows whose front the person already has (skipped).
    duplicates = models.JSONField(default=list, blank=True)
    estimated = models.PositiveIntegerField(default=0, help_text="Cards expected, for progress.")
    to_add = models.PositiveIntegerField(default=0)
    progress = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Chosen on the preview: bring Anki's scheduling and review log in with the cards,
    # dated in this time zone (the person's when they confirmed).
    with_scheduling = models.BooleanField(default=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="importjob_owner_created")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def is_running(self) -> bool:
        return self.status in {
            self.Status.UPLOADED,
            self.Status.PARSING,
            self.Status.QUEUED,
            self.Status.IMPORTING,
        }

    @property
    def progress_total(self) -> int:
        if self.status in {self.Status.QUEUED, self.Status.IMPORTING}:
            return self.to_add
        return self.estimated

    @property
    def progress_percent(self) -> int:
        total = self.progress_total
        return min(100, round(100 * self.progress / total)) if total else 0
