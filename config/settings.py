"""Cadence settings: one module, configured by environment variables only.

The defaults run on a machine that has nothing but Python: SQLite in ``var/``, a Celery
broker on the filesystem (a real worker and beat, no server), a local-memory cache and
e-mails written as ``.eml`` files to ``var/outbox``. Setting ``DATABASE_URL``,
``REDIS_URL`` and ``EMAIL_HOST`` switches each to its production counterpart.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

# Lets ModelAdmin[Model], ModelForm[Model] and QuerySet[Model] be subscripted at runtime.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DATA_DIR = Path(env_str("CADENCE_DATA_DIR", str(BASE_DIR / "var")))
# Each silenced check says why where it is added.
SILENCED_SYSTEM_CHECKS: list[str] = []

# --- Core -------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-set-SECRET_KEY-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The public address used in e-mails and calendar feeds (no trailing slash).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "cards",
    "prep",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages are compressed (whitenoise compresses static files itself). Django's gzip
    # pads each response against BREACH, and CSRF tokens are masked per response.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "prep.middleware.UserTimezoneMiddleware",
    # Last, as django-axes asks: it turns a lockout into the "too many attempts" page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cards.context_processors.thresholds",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    # Parameters bound by the server, and a statement run five times on a connection kept
    # prepared (psycopg's automatic preparation): the drill's few small indexed statements
    # took longer to plan than to run. Behind a pooler in transaction mode (which cannot
    # keep prepared statements) set DATABASE_PREPARED=0.
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
        "DATABASE_PREPARED", default=True
    ):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 5}
        )
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "cadence.sqlite3"),
            # WAL lets the web process read while the worker writes.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
# Whether every process (web and workers) shares the default cache: only then may reads be
# cached under a token that writes move (cards.versions). A per-process cache could not.
CADENCE_SHARED_CACHE = bool(REDIS_URL)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "cadence",
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    # Redis as a broker (the server must run with `maxmemory-policy noeviction`: queued
    # tasks are data, not cache; docker-compose.yml sets it and the worker warns if not).
    # With acks_late a task stays in Redis, unacknowledged, until it finishes, and is handed
    # to another worker if not acknowledged within the visibility timeout. So it must
    # outlast the longest task (a deck import: minutes; a reminder batch: at most
    # prep.tasks.SEND_BATCH_TIME_LIMIT) and the longest retry countdown (an ETA task is held
    # unacknowledged too: prep.tasks.RETRY_BACKOFF_MAX), or a task would run twice.
    # A worker killed outright has its tasks redelivered only after this timeout; reminders
    # do not wait for that (prep.scheduled enqueues lost ones again from the database).
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 2 * 60 * 60}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    BROKER_DIR = DATA_DIR / "broker"
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Acknowledge after the task ran: a worker killed mid-task leaves the message to be
# redelivered. Tasks are written to be safe to run twice (claim before send).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = "UTC"
# Keep reconnecting while the broker restarts, however long it takes; tasks that were
# queued in a Redis that lost its data are found again by the sweeps (prep.scheduled).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# On a lost broker connection, let running tasks finish: a reminder batch in the middle of
# its SMTP conversation is better completed than cut off.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# Scheduled work: per-user times live in the database (prep.scheduled); beat only runs two
# sweeps every minute. A sweep message that waited longer than its interval is dropped:
# the next one does the same work.
CADENCE_SWEEP_SECONDS = env_int("CADENCE_SWEEP_SECONDS", 60)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "send-due-reminders": {
        "task": "prep.send_due_reminders",
        "schedule": timedelta(seconds=CADENCE_SWEEP_SECONDS),
        "options": {"expires": CADENCE_SWEEP_SECONDS},
    },
    "run-rollovers": {
        "task": "prep.schedule_reviews",  # prep.tasks.run_rollovers
        "schedule": timedelta(seconds=CADENCE_SWEEP_SECONDS),
        "options": {"expires": CADENCE_SWEEP_SECONDS},
    },
    # Personal memory parameters: each user with enough reviews is fitted once a week.
    "fit-memory-parameters": {
        "task": "cards.memory_fit_weekly",
        "schedule": timedelta(hours=24),
        "options": {"expires": 60 * 60},
    },
}
# Profiles claimed per batch (one task, one SMTP connection each) and e-mails claimed
# together before they are handed to the mail server (the most a crash can leave unknown).
CADENCE_REMINDER_BATCH = env_int("CADENCE_REMINDER_BATCH", 500)
CADENCE_REMINDER_CHUNK = env_int("CADENCE_REMINDER_CHUNK", 20)
# Seconds a batch task may spend claiming chunks: past it the rest is handed to a fresh
# task. Must leave room for one chunk on a slow server under the task's hard time limit
# (prep.tasks.SEND_BATCH_TIME_LIMIT, 300 s).
CADENCE_REMINDER_BATCH_SECONDS = env_int("CADENCE_REMINDER_BATCH_SECONDS", 120)
# Seconds: a queued e-mail whose task was lost is enqueued again after REQUEUE_AFTER; one
# left "sending" by a dead sender is given up as unknown after SENDING_TIMEOUT; one that
# could not go out within MAX_DELAY of its time expires. The first retry waits BACKOFF.
CADENCE_REMINDER_REQUEUE_AFTER = env_int("CADENCE_REMINDER_REQUEUE_AFTER", 10 * 60)
CADENCE_REMINDER_SENDING_TIMEOUT = env_int("CADENCE_REMINDER_SENDING_TIMEOUT", 15 * 60)
CADENCE_REMINDER_MAX_DELAY = env_int("CADENCE_REMINDER_MAX_DELAY", 6 * 60 * 60)
CADENCE_MAIL_RETRY_BACKOFF = env_int("CADENCE_MAIL_RETRY_BACKOFF", 30)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- E-mail -----------------------------------------------------------------------------

email_host = env_str("EMAIL_HOST")
if email_host:
    email_port = env_int("EMAIL_PORT", 587)
    MAILERS: dict[str, dict[str, object]] = {
        "default": {
            "BACKEND": "config.mail.SmtpBackend",
            "OPTIONS": {
                "host": email_host,
                "port": email_port,
                "username": env_str("EMAIL_HOST_USER") or None,
                "password": env_str("EMAIL_HOST_PASSWORD") or None,
                "use_tls": env_bool("EMAIL_USE_TLS", default=email_port == 587),
                "use_ssl": env_bool("EMAIL_USE_SSL", default=False),
                "timeout": env_int("EMAIL_TIMEOUT", 20),
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "config.mail.OutboxFileBackend",
            "OPTIONS": {"directory": str(DATA_DIR / "outbox")},
        }
    }
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Cadence <cadence@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Auth -------------------------------------------------------------------------------

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = int(timedelta(hours=3).total_seconds())

# Login throttling (django-axes): after CADENCE_LOGIN_FAILURE_LIMIT wrong passwords for
# one account, or from one address, that account or address is refused for
# CADENCE_LOGIN_COOLOFF_MINUTES, even with the right password. The counts live in the
# cache (Redis in production, shared by every process; the development default,
# local memory, counts per process), never in the database.
# prep.backends.UserBackend is Django's model backend loading the profile with the user.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "prep.backends.UserBackend",
]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env_int("CADENCE_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CADENCE_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLE_ADMIN = False
if not REDIS_URL:
    # django-axes warns that a local-memory cache counts per process. Without Redis,
    # Cadence serves from one process (`make run`), so that is the same count; with more
    # web processes, set REDIS_URL (README, "Accounts").
    SILENCED_SYSTEM_CHECKS.append("axes.W001")
# Behind a reverse proxy every request comes from the proxy: the client's address is
# then read from X-Forwarded-For, trusting CADENCE_TRUSTED_PROXIES hops (prep.client_ip).
CADENCE_TRUSTED_PROXIES = env_int("CADENCE_TRUSTED_PROXIES", 0)
AXES_CLIENT_IP_CALLABLE = "prep.client_ip.client_ip"
# Password-reset and sign-up e-mails: at most this many to one address, and from one
# client address, per hour (prep.throttle).
CADENCE_ACCOUNT_EMAILS_PER_HOUR = env_int("CADENCE_ACCOUNT_EMAILS_PER_HOUR", 3)
CADENCE_THROTTLE_CACHE = "default"

# --- Security ---------------------------------------------------------------------------

# Sessions read from the cache (Redis when configured), written through to the database:
# a lost cache costs a database read, never a session.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Production defaults pass `manage.py check --deploy` with no warning: HTTPS only. Behind
# a proxy that terminates TLS, the proxy must set X-Forwarded-Proto (and strip a client's
# own): that header is how Django knows the request was HTTPS (README, "Production").
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 60 * 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Asking browsers to preload the domain's HSTS is for its owner to decide (it is hard to
# undo): off unless SECURE_HSTS_PRELOAD=1, and check --deploy's hint about it is silenced.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS.append("security.W021")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", True) else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Card text is user content: the policy forbids inline script even if sanitising missed
# something. htmx's own indicator styles are switched off in base.html.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- I18n, time, static -----------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# In development static files come straight from the app folders, without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"

# --- Product ----------------------------------------------------------------------------

CADENCE_DECK_DIR = BASE_DIR / "cards" / "deck"
CADENCE_TRACK_DIR = BASE_DIR / "prep" / "tracks"
# Imports (CSV/TSV, Markdown deck files, Anki packages). An upload over the size limit is
# refused before it is read; an archive is refused if it would unpack to more than the
# total, or if any member is compressed more than the ratio (a zip bomb). Imports of more
# cards than CADENCE_IMPORT_ASYNC_CARDS are read and written by a Celery worker.
CADENCE_IMPORT_MAX_BYTES = env_int("CADENCE_IMPORT_MAX_BYTES", 50 * 1024 * 1024)
CADENCE_IMPORT_MAX_UNCOMPRESSED_BYTES = env_int(
    "CADENCE_IMPORT_MAX_UNCOMPRESSED_BYTES", 500 * 1024 * 1024
)
CADENCE_IMPORT_MAX_RATIO = env_int("CADENCE_IMPORT_MAX_RATIO", 200)
CADENCE_IMPORT_MAX_CARDS = env_int("CADENCE_IMPORT_MAX_CARDS", 50_000)
CADENCE_IMPORT_ASYNC_CARDS = env_int("CADENCE_IMPORT_ASYNC_CARDS", 2_000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
