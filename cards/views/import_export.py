"""Import (upload, preview, confirm), export (.apkg, CSV, review log) and the images imported
cards show, served to their owner only."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from cards import exports
from cards.forms import ImportForm
from cards.import_jobs import (
    import_cancel,
    import_confirm,
    import_limits,
    import_start,
    progress_key,
)
from cards.imports import IMAGE_TYPES, ImportRejected, check_size, format_size
from cards.imports.anki_schedule import stays_buried, stays_suspended
from cards.imports.common import AnkiSchedule
from cards.media import MEDIA_NAME_RE, media_folder
from cards.models import Card, ImportJob, ReviewLog, Topic
from cards.selectors import (
    export_schedule,
)
from cards.views.common import AuthedHttpRequest, partial
from core.localtime import local_date


@require_http_methods(["GET", "POST"])
def import_upload(request: AuthedHttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                # Refused on the size the upload reports, before a byte is read.
                check_size(upload.size or 0, import_limits())
                job = import_start(
                    user=request.user,
                    filename=upload.name or "upload",
                    data=upload.read(),
                    default_topic=form.cleaned_data["default_topic"],
                    now=timezone.now(),
                )
            except ImportRejected as error:
                form.add_error("file", str(error))
            else:
                return redirect("import_job", job_id=job.pk)
    recent = ImportJob.objects.filter(owner=request.user).defer("rows", "duplicates")[:8]
    context = {
        "form": form,
        "recent": recent,
        "max_size": format_size(import_limits().max_bytes),
    }
    return render(request, "cards/import.html", context, status=status)


def _job(request: AuthedHttpRequest, job_id: Any, *, rows: bool = False) -> ImportJob:
    jobs = ImportJob.objects.all() if rows else ImportJob.objects.defer("rows")
    return get_object_or_404(jobs, pk=job_id, owner=request.user)


def _job_context(job: ImportJob) -> dict[str, Any]:
    if job.status == ImportJob.Status.IMPORTING:
        # Inside the worker's transaction the row does not move; the count is in the cache.
        job.progress = cache.get(progress_key(job.pk), 0)
    ready = job.status == ImportJob.Status.READY
    sample = job.rows[:12] if ready else []
    scheduled = [row for row in job.rows if row.get("schedule")] if ready else []
    schedules = [AnkiSchedule(**row["schedule"]) for row in scheduled]
    return {
        "job": job,
        "progress": job.progress,
        "total": job.progress_total,
        "percent": job.progress_percent,
        "sample": sample,
        # What keeping Anki's scheduling would bring: cards with a schedule, reviews.
        "scheduled": len(scheduled),
        "suspended": sum(1 for schedule in schedules if stays_suspended(schedule)),
        "buried": sum(1 for schedule in schedules if stays_buried(schedule)),
        "history": sum(len(row.get("history") or ()) for row in scheduled),
        # Rows left out, and notices about cards imported all the same (a sound dropped).
        "problems": [p for p in job.problems if not p.get("kept")][:500],
        "notices": [p for p in job.problems if p.get("kept")][:500],
        "refused": sum(1 for p in job.problems if not p.get("kept")),
        "duplicates": job.duplicates[:100],
    }


@require_GET
def import_job(request: AuthedHttpRequest, job_id: Any) -> HttpResponse:
    # Polls while a worker reads or writes: the row's JSON is loaded only for the preview.
    job = _job(request, job_id)
    if job.status == ImportJob.Status.READY:
        job = _job(request, job_id, rows=True)
    context = _job_context(job)
    return render(request, partial(request, "cards/import_job.html", "job"), context)


@require_POST
def import_job_confirm(request: AuthedHttpRequest, job_id: Any) -> HttpResponse:
    # The preview's check box sends "1" after a hidden "0": unticked, only the "0" comes.
    job = import_confirm(
        job=_job(request, job_id),
        now=timezone.now(),
        zone=request.profile.zone,
        with_scheduling=request.POST.get("scheduling", "1") != "0",
    )
    if job.status == ImportJob.Status.DONE:
        messages.success(
            request, f"Imported {job.added} card{'s' * (job.added != 1)} from {job.filename}."
        )
    url = reverse("import_job", args=[job.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_POST
def import_job_cancel(request: AuthedHttpRequest, job_id: Any) -> HttpResponse:
    job = _job(request, job_id)
    if import_cancel(job=job, now=timezone.now()):
        messages.info(request, f"The import of {job.filename} was cancelled; nothing was added.")
    return redirect("import_upload")


# --- Export ---------------------------------------------------------------------------


def _export_cards(request: AuthedHttpRequest) -> QuerySet[Card]:
    user = request.user
    cards = (
        Card.objects.visible_to(user)
        if request.GET.get("scope") == "all"
        else Card.objects.filter(owner=user)
    )
    topic = request.GET.get("topic")
    if topic and topic.isdigit():
        cards = cards.filter(topic_id=int(topic))
    return cards.select_related("topic").order_by("topic__order", "topic_id", "position", "id")


@require_GET
def export(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "own": Card.objects.filter(owner=user).count(),
        "logs": ReviewLog.objects.filter(user=user).count(),
        "topics": Topic.objects.visible_to(user),
        "time_zone": request.profile.time_zone,
    }
    return render(request, "cards/export.html", context)


def _attachment[R: (HttpResponse, StreamingHttpResponse)](response: R, filename: str) -> R:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def export_apkg(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    cards = list(_export_cards(request))
    schedule = None
    if request.GET.get("scheduling"):
        schedule = export_schedule(
            user=user,
            card_ids=[card.pk for card in cards],
            today=local_date(timezone.now(), request.profile.zone),
        )
    data = exports.export_apkg(
        cards=cards,
        user_id=user.pk,
        media_root=media_folder(user.pk).parent,
        states=schedule.states if schedule else None,
        reps=schedule.reps if schedule else None,
        today=schedule.today if schedule else None,
        logs=schedule.logs if schedule else None,
    )
    response = HttpResponse(data, content_type="application/octet-stream")
    return _attachment(response, "cadence-cards.apkg")


@require_GET
def export_cards_csv(request: AuthedHttpRequest) -> StreamingHttpResponse:
    rows = exports.cards_csv(_export_cards(request).iterator(chunk_size=1000))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    return _attachment(response, "cadence-cards.csv")


@require_GET
def export_revlog_csv(request: AuthedHttpRequest) -> StreamingHttpResponse:
    logs = (
        ReviewLog.objects.filter(user=request.user)
        .only("card", "reviewed_at", "quality", "is_repeat", "answer_ms")
        .order_by("card_id", "reviewed_at", "id")
        .iterator(chunk_size=2000)
    )
    response = StreamingHttpResponse(exports.revlog_csv(logs), content_type="text/csv")
    zone = request.profile.time_zone.replace("/", "_")
    return _attachment(response, f"cadence-revlog-{zone}.csv")


# --- Media ----------------------------------------------------------------------------


@require_GET
def card_media(request: AuthedHttpRequest, user_id: int, name: str) -> FileResponse:
    """An image an imported card shows: served to its owner only, never from MEDIA_URL."""
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if user_id != request.user.pk or not MEDIA_NAME_RE.match(name) or suffix not in IMAGE_TYPES:
        raise Http404
    path = media_folder(user_id) / name
    if not path.is_file():
        raise Http404
    response = FileResponse(path.open("rb"), content_type=IMAGE_TYPES[suffix])
    # Names are content-addressed: a name never changes its bytes.
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
