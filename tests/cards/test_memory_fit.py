"""Personal FSRS parameters: fitted to a user's own log (400+ reviews), in a real Celery
worker too, shown in plain words on the profile, and private."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cards.memory import DEFAULT_PARAMETERS, MIN_FIT_REVIEWS, Memory, Model
from cards.models import MemoryParameters, ReviewLog, ReviewState
from cards.selectors import memory_model
from cards.services import memory_fit, memory_fit_due
from cards.tasks import memory_fit_task
from tests.factories import CardFactory, TopicFactory
from tests.workers import wait_for

START = dt.date(2026, 1, 5)
# A learner who forgets much more slowly than the published defaults say.
TRUE = Model(parameters=tuple(w * 4 if i < 4 else w for i, w in enumerate(DEFAULT_PARAMETERS)))


def simulated_log(user: Any, *, cards: int, reviews_each: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    topic = TopicFactory()
    logs, states = [], []
    for card in CardFactory.create_batch(cards, topic=topic):
        day, memory, last = START + dt.timedelta(days=rng.randrange(30)), None, None
        for n in range(reviews_each):
            recall = TRUE.recall_on(memory, last, day) if memory else 0.5
            quality = rng.choice([3, 4, 4, 5]) if rng.random() < recall else rng.choice([0, 1, 2])
            memory = TRUE.after(memory, quality, (day - last).days if last else 0)
            logs.append(
                ReviewLog(
                    user=user,
                    card=card,
                    quality=quality,
                    reviewed_at=dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC),
                    local_date=day,
                    repetitions_before=n,
                    interval_before=0,
                    easiness_before=2.5,
                    repetitions_after=n + 1,
                    interval_after=1,
                    easiness_after=2.5,
                    due_after=day,
                )
            )
            last, day = day, day + dt.timedelta(days=rng.choice([1, 3, 7, 14]))
        states.append(ReviewState(user=user, card=card, due=day, introduced_on=START))
    ReviewLog.objects.bulk_create(logs)
    ReviewState.objects.bulk_create(states)


@pytest.mark.django_db
def test_a_fit_on_a_users_own_log_predicts_it_better_and_is_used(owner: Any) -> None:
    simulated_log(owner, cards=70, reviews_each=7)
    assert memory_fit_due(now=timezone.now()) == [owner.pk]
    stored = memory_fit(user_id=owner.pk, now=timezone.now())
    assert stored is not None
    assert stored.reviews >= MIN_FIT_REVIEWS
    assert stored.log_loss_after < stored.log_loss_before
    assert stored.improved
    model = memory_model(user_id=owner.pk)
    assert model.parameters == tuple(stored.parameters) != DEFAULT_PARAMETERS
    # The states were recomputed with the user's own parameters.
    state = ReviewState.objects.filter(user=owner).first()
    assert state.stability is not None
    assert memory_fit_due(now=timezone.now()) == []


@pytest.mark.django_db
def test_too_few_reviews_leave_the_defaults(owner: Any) -> None:
    simulated_log(owner, cards=10, reviews_each=5)
    assert memory_fit(user_id=owner.pk, now=timezone.now()) is None
    assert memory_fit_due(now=timezone.now()) == []
    assert memory_model(user_id=owner.pk) == Model()


@pytest.mark.worker
def test_the_fit_runs_in_a_real_worker(worker: Any, owner: Any) -> None:
    simulated_log(owner, cards=70, reviews_each=7)
    memory_fit_task.delay(user_id=owner.pk)
    assert wait_for(lambda: MemoryParameters.objects.filter(user=owner).exists(), timeout=60)


@pytest.mark.django_db
def test_the_profile_shows_the_fit_in_words_to_its_owner_only(
    owner: Any, owner_client: Client, other_client: Client
) -> None:
    MemoryParameters.objects.create(
        user=owner,
        parameters=list(DEFAULT_PARAMETERS),
        reviews=812,
        log_loss_before=0.4213,
        rmse_before=0.061,
        log_loss_after=0.3917,
        rmse_after=0.032,
        fitted_at=timezone.now(),
    )
    mine = owner_client.get(reverse("profile")).content.decode()
    assert "to 812 of your reviews" in mine
    assert "0.421 → 0.392" in mine
    assert "off by 3.2 points on average instead of 6.1" in mine
    theirs = other_client.get(reverse("profile")).content.decode()
    assert "812" not in theirs
    assert "published parameters" in theirs


@pytest.mark.django_db
def test_asking_for_a_fit_enqueues_it_for_oneself_after_commit(
    owner: Any, owner_client: Client, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    asked = []
    monkeypatch.setattr(memory_fit_task, "delay", lambda **kw: asked.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("memory_fit"), {"user_id": 999})
    assert response.status_code == 302
    assert asked == [{"user_id": owner.pk}]


def test_the_defaults_are_a_valid_model() -> None:
    assert Model().retrievability(Memory(2.0, 5.0), 2) == pytest.approx(0.9)
