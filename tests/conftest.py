from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import Client
from django.urls import reverse

from config.celery import app
from prep.services import user_create
from tests import throttle_keys

PASSWORD = "correct-horse-battery"  # noqa: S105


@pytest.fixture(autouse=True)
def fresh_login_throttle() -> None:
    """Each test counts failed logins and account e-mails from zero, in every thread, on
    local memory and on a shared Redis alike (tests/throttle_keys.py)."""
    throttle_keys.namespace_renew()


@pytest.fixture
def eager(transactional_db: Any, settings: Any) -> Iterator[None]:
    """Tasks run in the request, so the e-mails they send land in mail.outbox (on a
    transactional database: they are enqueued when the request commits)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


def signup_post(client: Client, **fields: str) -> Any:
    data = {
        "username": "newbie",
        "email": "newbie@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "time_zone": "UTC",
        **fields,
    }
    return client.post(reverse("signup"), data)


def link_in(message: Any, marker: str) -> str:
    """The path of the first link in an e-mail's text whose URL contains ``marker``."""
    url = next(word for word in message.body.split() if marker in word)
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def owner(db: Any) -> Any:
    return user_create(
        username="olivia", email="olivia@example.com", password=PASSWORD, time_zone="Europe/Berlin"
    )


@pytest.fixture
def other_user(db: Any) -> Any:
    return user_create(
        username="sam", email="sam@example.com", password=PASSWORD, time_zone="America/Los_Angeles"
    )


@pytest.fixture
def owner_client(owner: Any) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def other_client(other_user: Any) -> Client:
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def stranger_client(db: Any) -> Client:
    """Nobody logged in."""
    return Client()


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def worker(transactional_db: Any) -> Iterator[Any]:
    """A real Celery worker in this process, on the configured broker (filesystem or Redis).

    Messages earlier tests enqueued without a worker are purged first: their rows are
    gone, and a solo worker working through them would only delay this test's tasks.
    """
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as running:
        yield running


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of PostgreSQL's own behaviour run in the PostgreSQL run; on SQLite they are
    deselected, not skipped: nothing is missing, they do not apply."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    kept = [item for item in items if item.get_closest_marker("postgresql") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
