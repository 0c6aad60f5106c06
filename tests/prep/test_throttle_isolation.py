"""The test suite's own guarantee: no throttle count leaks from one test to the next."""

from __future__ import annotations

import threading

from django.core.cache import caches

from prep.throttle import throttle_allow


def _key_in_another_thread(key: str) -> str:
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(caches["axes"].make_key(key)))
    thread.start()
    thread.join()
    return seen[0]


def test_the_live_servers_thread_counts_under_this_tests_keys() -> None:
    assert _key_in_another_thread("attempts") == caches["axes"].make_key("attempts")


def test_a_client_at_its_limit_in_one_test_is_fresh_in_the_next_first() -> None:
    for _ in range(3):
        assert throttle_allow(scope="isolation", values=["127.0.0.1"])
    assert not throttle_allow(scope="isolation", values=["127.0.0.1"])


def test_a_client_at_its_limit_in_one_test_is_fresh_in_the_next_second() -> None:
    assert throttle_allow(scope="isolation", values=["127.0.0.1"])
