"""Test-only overrides of config.settings."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "test-secret-key")
if "CADENCE_DATA_DIR" not in os.environ:
    # Made by the first process of a run and removed when it ends; the workers and servers
    # it starts inherit the variable, and with it the folder.
    os.environ["CADENCE_DATA_DIR"] = tempfile.mkdtemp(prefix="cadence-test-data-")
    atexit.register(shutil.rmtree, os.environ["CADENCE_DATA_DIR"], ignore_errors=True)

from config.settings import *  # noqa: E402,F403
from config.settings import STORAGES  # noqa: E402

# Login throttling counts in its own cache alias, the same backend as the default (Redis
# when REDIS_URL is set), with keys in a namespace tests/conftest.py renews for each test.
CACHES = {  # noqa: F405
    **CACHES,  # noqa: F405
    # Each pytest-xdist worker keeps its keys apart (tests.caches.cache_clear empties only
    # its own: a FLUSHDB would take another worker's sessions and tokens with it).
    "default": {
        **CACHES["default"],  # noqa: F405
        "KEY_PREFIX": f"cadence-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}",
    },
    "axes": {
        **CACHES["default"],  # noqa: F405
        "KEY_PREFIX": "cadence-test-axes",
        "KEY_FUNCTION": "tests.throttle_keys.make_key",
    },
}
AXES_CACHE = "axes"
CADENCE_THROTTLE_CACHE = "axes"

# Cached reads wait for writes to commit to move their token (cards.versions), and most
# tests run inside one transaction: the tests that check the caching turn it on.
CADENCE_SHARED_CACHE = False

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# The test client and the live server speak plain HTTP.
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files from the app folders, as in development; no collectstatic in tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405

# On SQLite, test on a file rather than Django's shared in-memory database: its shared
# cache locks whole tables and fails at once under concurrent writers, where a real
# SQLite file waits (busy timeout) and serialises them, as in `make run`.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(Path(DATA_DIR) / "test.sqlite3")}  # noqa: F405
