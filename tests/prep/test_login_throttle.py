"""Login throttling (django-axes, counting in the cache): per account and per address."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.test.client import RequestFactory
from django.urls import reverse

from prep.client_ip import client_ip
from tests.conftest import PASSWORD

LIMIT = 5


def log_in(username: str, password: str, address: str) -> Any:
    return Client().post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_an_account_is_paused_after_five_wrong_passwords_from_any_addresses(owner: Any) -> None:
    for attempt in range(LIMIT - 1):
        assert log_in("olivia", "wrong", f"10.0.0.{attempt + 1}").status_code == 200
    assert log_in("olivia", "wrong", "10.0.0.9").status_code == 429  # the fifth
    response = log_in("olivia", PASSWORD, "10.0.1.1")
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many attempts" in body
    assert "paused after 5 wrong passwords in a row" in body
    assert "Try again in 15 min 00 s" in body
    assert "_auth_user_id" not in response.client.session
    # Another account is not affected.
    assert log_in("sam", "wrong", "10.0.1.2").status_code == 200


def test_an_address_is_paused_after_five_wrong_passwords_for_any_accounts(
    owner: Any, other_user: Any
) -> None:
    for attempt in range(LIMIT - 1):
        assert log_in(f"nobody{attempt}", "wrong", "10.9.9.9").status_code == 200
    assert log_in("nobody9", "wrong", "10.9.9.9").status_code == 429
    assert log_in("olivia", PASSWORD, "10.9.9.9").status_code == 429
    # The account itself is not locked: from elsewhere the right password works.
    assert log_in("olivia", PASSWORD, "10.9.9.10").status_code == 302


def test_a_right_password_before_the_limit_starts_the_count_again(owner: Any) -> None:
    for _ in range(LIMIT - 1):
        log_in("olivia", "wrong", "10.1.1.1")
    assert log_in("olivia", PASSWORD, "10.1.1.1").status_code == 302
    for _ in range(LIMIT - 1):
        log_in("olivia", "wrong", "10.1.1.1")
    assert log_in("olivia", PASSWORD, "10.1.1.1").status_code == 302


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "6.6.6.6", "10.0.0.1"),  # no proxy: the header is the client's to forge
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # the proxy appended the real one
        (2, "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.1"),  # did not come through both proxies
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(
    settings: Any, proxies: int, forwarded: str, expected: str
) -> None:
    settings.CADENCE_TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
