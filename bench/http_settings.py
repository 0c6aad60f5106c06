"""The production settings with one extra URL, the bare view of bench/http_urls.py."""

from __future__ import annotations

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.http_urls"
# The benchmark makes its users with the test settings' fast hasher.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]
