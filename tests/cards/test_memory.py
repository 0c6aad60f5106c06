"""The memory model against fsrs-rs-python's own computation, and its upkeep on the
review state: every grade moves it, undo puts it back, the log rebuilds it."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import fsrs_rs_python
import pytest
from django.core.management import call_command

from cards.memory import DEFAULT_PARAMETERS, Grade, Memory, Model, rating_for
from cards.models import ReviewLog, ReviewState
from cards.services import review_record, review_undo
from tests.factories import CardFactory

DAY0 = dt.date(2026, 3, 1)

# (days after the first grade, SM-2 quality): hand-made histories, with lapses, same-day
# repeats and long gaps.
HISTORIES = [
    [(0, 4)],
    [(0, 4), (1, 4), (7, 5), (25, 4)],
    [(0, 2), (0, 4), (1, 3), (4, 0), (4, 4), (5, 4), (18, 5)],
    [(0, 5), (3, 1), (3, 3), (10, 4), (60, 2), (61, 4), (90, 4)],
    [(0, 3), (2, 3), (5, 3), (9, 3), (14, 3), (30, 3)],
]


def library_state(history: list[tuple[int, int]]) -> fsrs_rs_python.MemoryState:
    reviews, previous = [], 0
    for day, quality in history:
        reviews.append(fsrs_rs_python.FSRSReview(rating_for(quality), day - previous))
        previous = day
    model = fsrs_rs_python.FSRS(list(DEFAULT_PARAMETERS))
    return model.memory_state(fsrs_rs_python.FSRSItem(reviews), None)


@pytest.mark.parametrize("history", HISTORIES)
def test_grade_by_grade_states_match_the_librarys_whole_history(history: Any) -> None:
    grades = [Grade(quality=q, on=DAY0 + dt.timedelta(days=d)) for d, q in history]
    ours = Model().replay(grades)
    expected = library_state(history)
    assert ours is not None
    assert ours.stability == pytest.approx(expected.stability, rel=1e-5)
    assert ours.difficulty == pytest.approx(expected.difficulty, rel=1e-5)


@pytest.mark.parametrize(("quality", "rating"), [(0, 1), (1, 1), (2, 1), (3, 2), (4, 3), (5, 4)])
def test_sm2_grades_map_to_anki_and_fsrs_ratings(quality: int, rating: int) -> None:
    assert rating_for(quality) == rating


@pytest.mark.parametrize("quality", [-1, 6])
def test_a_quality_outside_zero_to_five_has_no_rating(quality: int) -> None:
    with pytest.raises(ValueError, match="quality must be in 0..5"):
        rating_for(quality)


def test_retrievability_is_ninety_percent_at_the_stability_and_falls() -> None:
    model = Model()
    memory = Memory(stability=10.0, difficulty=5.0)
    assert model.retrievability(memory, 0) == pytest.approx(1.0)
    assert model.retrievability(memory, 10) == pytest.approx(0.9)
    assert model.retrievability(memory, 30) < model.retrievability(memory, 20)
    assert model.retrievability(None, 3) == 0.0


def test_interval_matches_the_librarys_next_interval() -> None:
    model = Model()
    library = fsrs_rs_python.FSRS(list(DEFAULT_PARAMETERS))
    for stability in (1.3, 4.0, 17.5, 80.0):
        for retention in (0.8, 0.9, 0.95):
            expected = library.next_interval(stability, retention, 3)
            assert model.interval(Memory(stability, 5.0), retention) == max(1, round(expected))


BERLIN = ZoneInfo("Europe/Berlin")


def grade(user: Any, card: Any, quality: int, now: dt.datetime) -> ReviewState:
    state = ReviewState.objects.filter(user=user, card=card).first()
    return review_record(
        user=user,
        card=card,
        quality=quality,
        now=now,
        shown_version=state.version if state else 0,
        zone=BERLIN,
    ).state


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 3, 1, hour, tzinfo=dt.UTC) + dt.timedelta(days=day)


@pytest.mark.django_db
def test_every_grade_moves_the_stored_state_as_the_library_computes(owner: Any) -> None:
    card = CardFactory()
    history = HISTORIES[2]
    for day, quality in history:
        state = grade(owner, card, quality, at(day))
    expected = library_state(history)
    state.refresh_from_db()
    assert state.stability == pytest.approx(expected.stability, rel=1e-5)
    assert state.difficulty == pytest.approx(expected.difficulty, rel=1e-5)
    assert state.memory_on == DAY0 + dt.timedelta(days=history[-1][0])
    # Each log keeps the recall the model predicted at that grade, from the state before.
    logs = list(owner.review_logs.order_by("reviewed_at", "id"))
    grades = [Grade(quality=q, on=DAY0 + dt.timedelta(days=d)) for d, q in history]
    expected_recalls = Model().recalls(grades)
    assert logs[0].predicted_recall is None
    assert [log.predicted_recall for log in logs[1:]] == pytest.approx(expected_recalls[1:])


@pytest.mark.django_db
def test_undo_puts_the_memory_state_back(owner: Any) -> None:
    card = CardFactory()
    grade(owner, card, 4, at(0))
    before = ReviewState.objects.get(user=owner, card=card)
    grade(owner, card, 1, at(3))
    review_undo(user=owner, now=at(3, 10), zone=BERLIN)
    after = ReviewState.objects.get(user=owner, card=card)
    assert (after.stability, after.difficulty, after.memory_on) == (
        before.stability,
        before.difficulty,
        before.memory_on,
    )


@pytest.mark.django_db
def test_undo_of_a_grade_logged_before_memory_states_replays_the_rest(owner: Any) -> None:
    card = CardFactory()
    grade(owner, card, 4, at(0))
    expected = ReviewState.objects.get(user=owner, card=card)
    log = grade(owner, card, 5, at(2)) and owner.review_logs.order_by("-reviewed_at").first()
    for key in ("stability", "difficulty", "memory_on"):
        log.state_before.pop(key)
    log.save(update_fields=["state_before"])
    review_undo(user=owner, now=at(2, 10), zone=BERLIN)
    state = ReviewState.objects.get(user=owner, card=card)
    assert state.stability == pytest.approx(expected.stability)
    assert state.memory_on == expected.memory_on


@pytest.mark.django_db
def test_the_rebuild_command_computes_states_from_the_log(owner: Any, other_user: Any) -> None:
    cards = [CardFactory(), CardFactory()]
    for user in (owner, other_user):
        for card, history in zip(cards, HISTORIES[1:3], strict=True):
            for day, quality in history:
                grade(user, card, quality, at(day))
    expected = {s.pk: (s.stability, s.difficulty, s.memory_on) for s in ReviewState.objects.all()}
    recalls = dict(ReviewLog.objects.values_list("id", "predicted_recall"))
    ReviewState.objects.update(stability=None, difficulty=None, memory_on=None)
    ReviewLog.objects.update(predicted_recall=None)
    call_command("memory_rebuild")
    rebuilt = dict(ReviewLog.objects.values_list("id", "predicted_recall"))
    assert rebuilt.keys() == recalls.keys()
    for log_id, recall in recalls.items():
        assert rebuilt[log_id] == (None if recall is None else pytest.approx(recall))
    for state in ReviewState.objects.all():
        stability, difficulty, memory_on = expected[state.pk]
        assert state.stability == pytest.approx(stability)
        assert state.difficulty == pytest.approx(difficulty)
        assert state.memory_on == memory_on
