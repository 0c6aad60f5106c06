"""A real Celery worker takes a task from the configured broker (filesystem or Redis)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from config.celery import app
from tests.workers import wait_for

pytestmark = pytest.mark.worker


def test_a_password_reset_email_is_sent_by_the_worker(worker: Any, owner: Any, client: Any) -> None:
    response = client.post(reverse("password_reset"), {"email": "olivia@example.com"})
    assert response.status_code == 302
    assert wait_for(lambda: len(mail.outbox) == 1), "the worker never sent the e-mail"
    assert mail.outbox[0].to == ["olivia@example.com"]


def test_the_broker_is_the_configured_one(settings: Any) -> None:
    expected = settings.REDIS_URL or "filesystem://"
    assert app.conf.broker_url == expected
