"""Settings, all from environment variables (a ``.env`` file beside manage.py is read if present).

The defaults make a laptop work with nothing installed: SQLite under ``var/``, Celery tasks run
eagerly in-process, the offline LLM backend. Production sets ``DEBUG=0``, ``SECRET_KEY``,
``ALLOWED_HOSTS``, ``DATABASE_URL``, ``CELERY_BROKER_URL`` and, for a real model,
``LLM_BACKEND=openai`` with ``OPENAI_API_KEY``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

load_dotenv(BASE_DIR / ".env")


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if not value:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}.")


def env_number(name: str, default: float, cast: type = float) -> float:
    value = env(name)
    try:
        return cast(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Only ever used with DEBUG on; production refuses to start without a real key.
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "audiences",
    "personas",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "personaplatform.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "personaplatform.wsgi.application"

VAR_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(env_number("DATABASE_CONN_MAX_AGE", 60, int)),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Eager tasks and the dev server write from several threads; wait instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# A shared cache holds the LLM requests-per-minute window, so every worker counts against one
# limit. Redis when there is one; otherwise per-process memory, which is right for one process.
CACHE_URL = env("CACHE_URL") or (
    env("CELERY_BROKER_URL") if env("CELERY_BROKER_URL").startswith("redis") else ""
)
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Celery -------------------------------------------------------------------------------------

# No broker: run tasks in-process, so the product works without Redis ("memory://" is never
# used then; it only keeps Celery from guessing a localhost broker). Exceptions are kept in the
# task's own bookkeeping (a failed generation), not raised into the caller.
CELERY_TASK_ALWAYS_EAGER = not env("CELERY_BROKER_URL")
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or "memory://"
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "celery")
CELERY_TASK_IGNORE_RESULT = True
# Generation tasks are idempotent, so a message is acknowledged only when its task has finished:
# one whose worker dies is delivered again rather than lost. The redelivery finds the row still
# "running" and leaves it; the reaper fails it once it is stale, and it can then be run again.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # LLM calls are slow; don't hoard them on one worker
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Longer than the longest generation, so an unacknowledged task is not redelivered while
    # its worker is still on it.
    "visibility_timeout": 3600,
}
CELERY_BEAT_SCHEDULE = {
    "reap-stale-generations": {
        "task": "personas.tasks.generation_reap_stale_task",
        "schedule": 300.0,
    },
}

# --- LLM ----------------------------------------------------------------------------------------

LLM_BACKEND = env("LLM_BACKEND", "offline")
LLM_BACKENDS = {
    "offline": {"CLASS": "personas.llm.offline.OfflineBackend"},
    "openai": {
        "CLASS": "personas.llm.openai_backend.OpenAIBackend",
        "API_KEY": env("OPENAI_API_KEY"),
        "BASE_URL": env("OPENAI_BASE_URL"),
        "MODEL": env("OPENAI_MODEL", "gpt-4o-mini"),
        "TIMEOUT_S": env_number("LLM_TIMEOUT_S", 60.0),
        "MAX_RETRIES": int(env_number("LLM_MAX_RETRIES", 4, int)),
        "RPM": int(env_number("LLM_RPM", 60, int)),
        # Retry backoff: full jitter over base * 2^n seconds, at most the cap; a server's
        # Retry-After is honoured up to MAX_RETRY_AFTER_S; a worker waits at most RPM_MAX_WAIT_S
        # for a slot in the shared requests-per-minute window before failing the generation
        # with llm_rate_limited_locally.
        "BACKOFF_BASE_S": env_number("LLM_BACKOFF_BASE_S", 0.5),
        "BACKOFF_CAP_S": env_number("LLM_BACKOFF_CAP_S", 20.0),
        "MAX_RETRY_AFTER_S": env_number("LLM_MAX_RETRY_AFTER_S", 60.0),
        "RPM_MAX_WAIT_S": env_number("LLM_RPM_MAX_WAIT_S", 120.0),
    },
}
# US dollars per million tokens, for the cost recorded on every generation. A model missing here
# is recorded at zero cost, which the run summary makes visible.
LLM_PRICES_PER_MTOK = {
    "gpt-4o-mini": {"input": "0.15", "output": "0.60"},
    "gpt-4o": {"input": "2.50", "output": "10.00"},
    "gpt-4.1-mini": {"input": "0.40", "output": "1.60"},
    "gpt-4.1": {"input": "2.00", "output": "8.00"},
    "gpt-3.5-turbo": {"input": "0.50", "output": "1.50"},
}
# A generation still "running" after this long belongs to a worker that died; the reaper (beat,
# and every new run) fails it so it can be run again. It must outlast the slowest live call:
# every attempt timing out, every backoff at its cap, the longest wait for a rate-limit slot.
_openai = LLM_BACKENDS["openai"]
_SLOWEST_CALL_S = (
    _openai["TIMEOUT_S"] * (_openai["MAX_RETRIES"] + 1)
    + max(_openai["BACKOFF_CAP_S"], _openai["MAX_RETRY_AFTER_S"]) * _openai["MAX_RETRIES"]
    + _openai["RPM_MAX_WAIT_S"] * (_openai["MAX_RETRIES"] + 1)
)
GENERATION_STALE_AFTER_S = int(
    env_number("GENERATION_STALE_AFTER_S", max(900, int(_SLOWEST_CALL_S) + 60), int)
)
if GENERATION_STALE_AFTER_S <= _SLOWEST_CALL_S:
    raise ImproperlyConfigured(
        f"GENERATION_STALE_AFTER_S ({GENERATION_STALE_AFTER_S}) must be longer than the slowest "
        f"LLM call the settings allow ({_SLOWEST_CALL_S:.0f} s), or live calls would be reaped."
    )

# --- BigQuery -----------------------------------------------------------------------------------

BIGQUERY_PROJECT = env("BIGQUERY_PROJECT")
BIGQUERY_INSTALLS_TABLE = env("BIGQUERY_INSTALLS_TABLE")
BIGQUERY_API_ENDPOINT = env("BIGQUERY_API_ENDPOINT")

# --- REST framework -----------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

# --- Security -----------------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the admin's and DRF's JavaScript read it
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(env_number("SECURE_HSTS_SECONDS", 31536000, int))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # Eager tasks would log a line per task at INFO; workers log through their own --loglevel.
    "loggers": {"httpx": {"level": "WARNING"}, "celery.app.trace": {"level": "WARNING"}},
}
