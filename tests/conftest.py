from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import caches
from django.test import Client

from config.celery import app
from prep.services import user_create

PASSWORD = "correct-horse-battery"  # noqa: S105


@pytest.fixture(autouse=True)
def fresh_login_throttle() -> Iterator[None]:
    """Each test counts failed logins and account e-mails from zero: a fresh key prefix
    on the throttle's cache, which works the same on local memory and on a shared Redis."""
    cache = caches["axes"]
    before = cache.key_prefix
    cache.key_prefix = f"cadence-test-{uuid.uuid4().hex}"
    yield
    cache.key_prefix = before


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
    """A real Celery worker in this process, on the configured broker (filesystem or Redis)."""
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as running:
        yield running
