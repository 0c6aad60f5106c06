"""The drill's grade of a studied card: read without a lock, written only if the row has
not moved since, else made again on the locked row."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards import services
from cards.models import ReviewLog, ReviewState
from cards.queue import DailyLimits
from cards.services import StaleGrade, review_grade
from cards.statements import row_update_then_insert
from tests.factories import CardFactory

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 23)
LIMITS = DailyLimits(new_cards_per_day=10, max_reviews_per_day=200)


def studied(user: Any, **values: Any) -> ReviewState:
    return ReviewState.objects.create(
        user=user,
        card=CardFactory(),
        repetitions=3,
        interval=10,
        easiness=2.5,
        due=values.pop("due", TODAY),
        introduced_on=TODAY - dt.timedelta(days=40),
        last_reviewed_at=NOW - dt.timedelta(days=10),
        version=values.pop("version", 3),
        **values,
    )


def grade(user: Any, state: ReviewState, quality: int = 4, **values: Any) -> Any:
    return review_grade(
        user=user,
        card_id=state.card_id,
        quality=quality,
        now=NOW,
        shown_version=values.pop("shown_version", state.version),
        zone=BERLIN,
        limits=LIMITS,
        **values,
    )


def test_a_studied_cards_grade_is_a_read_and_one_write(owner: Any) -> None:
    state = studied(owner)
    model = services.memory_model(user_id=owner.pk)
    with CaptureQueriesContext(connection) as captured:
        outcome = grade(owner, state, model=model)
    verbs = [q["sql"].split()[0] for q in captured.captured_queries]
    # PostgreSQL: the update and the log's insert in one statement; elsewhere the two in a
    # transaction (a savepoint inside the test's).
    if connection.vendor == "postgresql":
        assert verbs == ["SELECT", "WITH"]
    else:
        assert [v for v in verbs if v not in {"SAVEPOINT", "RELEASE"}] == [
            "SELECT",
            "UPDATE",
            "INSERT",
        ]
    state.refresh_from_db()
    assert (state.version, state.interval, state.due) == (4, 25, TODAY + dt.timedelta(days=25))
    log = ReviewLog.objects.get()
    assert outcome.log.pk == log.pk
    assert (log.due_before, log.due_after, log.repetitions_before) == (
        TODAY,
        state.due,
        3,
    )
    assert log.state_before is not None
    assert log.state_before["due"] == TODAY.isoformat()


@pytest.mark.parametrize(
    "moved",
    [
        {"due": TODAY - dt.timedelta(days=3)},  # the nightly rollover spreading a backlog
        {"stability": 7.5, "difficulty": 4.0, "memory_on": TODAY - dt.timedelta(days=9)},
        {"introduced_on": TODAY - dt.timedelta(days=39)},  # a zone change
    ],
)
def test_a_row_moved_between_the_read_and_the_write_is_graded_again_locked(
    owner: Any, monkeypatch: Any, moved: dict[str, Any]
) -> None:
    state = studied(owner, stability=3.0, difficulty=5.0, memory_on=TODAY - dt.timedelta(days=10))
    calls: list[bool] = []

    def moved_first(*args: Any, **kwargs: Any) -> bool:
        # Another writer, which does not move the version, lands after the grade's read.
        ReviewState.objects.filter(pk=state.pk).update(**moved)
        calls.append(row_update_then_insert(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(services, "row_update_then_insert", moved_first)
    outcome = grade(owner, state)
    assert calls == [False]  # nothing written from the stale read
    log = ReviewLog.objects.get()
    row = ReviewState.objects.get(pk=state.pk)
    assert row.version == 4
    assert outcome.state.version == 4
    # The grade was made from the row as the other writer left it.
    for name, value in moved.items():
        assert log.state_before[name] == (
            value.isoformat() if isinstance(value, dt.date) else value
        )
    if "due" in moved:
        assert log.due_before == moved["due"]


def test_a_showing_graded_between_the_read_and_the_write_is_refused(
    owner: Any, monkeypatch: Any
) -> None:
    state = studied(owner)

    def graded_first(*args: Any, **kwargs: Any) -> bool:
        # Another tab's grade of the same showing lands first.
        monkeypatch.setattr(services, "row_update_then_insert", row_update_then_insert)
        grade(owner, state, quality=2)
        return row_update_then_insert(*args, **kwargs)

    monkeypatch.setattr(services, "row_update_then_insert", graded_first)
    with pytest.raises(StaleGrade):
        grade(owner, state, quality=5)
    assert list(ReviewLog.objects.values_list("quality", flat=True)) == [2]
    assert ReviewState.objects.get(pk=state.pk).version == 4


def test_the_write_changes_nothing_when_the_row_moved(owner: Any) -> None:
    state = studied(owner)
    ReviewState.objects.filter(pk=state.pk).update(due=TODAY + dt.timedelta(days=1))
    state.interval, state.version = 99, 4
    log = ReviewLog(
        user=owner,
        card=state.card,
        quality=4,
        reviewed_at=NOW,
        local_date=TODAY,
        repetitions_before=3,
        interval_before=10,
        easiness_before=2.5,
        repetitions_after=4,
        interval_after=99,
        easiness_after=2.5,
        due_after=TODAY,
    )
    written = row_update_then_insert(
        state, ["interval", "version"], unchanged={"version": 3, "due": TODAY}, then=log
    )
    assert not written
    assert log.pk is None
    assert not ReviewLog.objects.exists()
    assert ReviewState.objects.get(pk=state.pk).interval == 10
    assert row_update_then_insert(
        state,
        ["interval", "version"],
        unchanged={"version": 3, "due": TODAY + dt.timedelta(days=1), "repeat_on": None},
        then=log,
    )
    assert ReviewLog.objects.get().pk == log.pk
    assert ReviewState.objects.get(pk=state.pk).interval == 99


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_grades_of_a_studied_cards_showing_record_one(owner: Any) -> None:
    state = studied(owner)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def post(quality: int) -> None:
        barrier.wait()
        try:
            grade(owner, state, quality=quality)
            results.append("graded")
        except StaleGrade:
            results.append("stale")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(q,)) for q in (4, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["graded", "stale"]
    assert ReviewLog.objects.count() == 1
    assert ReviewState.objects.get().version == 4
