"""Cache keys for the login and e-mail throttles under test: one namespace per test.

The namespace is read each time a key is made, by every cache object in every thread
(the live server's too), so nothing counted in one test, or in an earlier run on the
same Redis, is seen by the next.
"""

from __future__ import annotations

import uuid

namespace = uuid.uuid4().hex


def make_key(key: str, key_prefix: str, version: int) -> str:
    return f"{key_prefix}:{namespace}:{version}:{key}"


def namespace_renew() -> None:
    global namespace  # noqa: PLW0603
    namespace = uuid.uuid4().hex
