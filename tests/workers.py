"""What every real-worker test shares: the in-process worker fixture lives in
tests/conftest.py (``worker``); processes of their own are in tests/integration/."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, step: float = 0.1) -> bool:
    """Poll until ``predicate`` holds or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
