"""Shared fixtures. The LLM server fixture (``llm_server``) lives in tests/llm_server.py."""

from __future__ import annotations

import importlib
import os
import socket
from urllib.parse import urlsplit

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group

from personaplatform.celery import app as celery_app

from .factories import ItemSpec, make_snapshot

pytest_plugins = ["tests.llm_server"]

# Data migrations whose rows tests rely on: (module in personas/migrations, function).
SEED_MIGRATIONS = (
    ("0003_roles", "create_roles"),
    ("0004_audience_persona_prompt", "create_prompt"),
)


def pytest_collection_modifyitems(config, items):
    """Tests that need real services skip, with the reason, unless REQUIRE_SERVICES=1."""
    required = os.environ.get("REQUIRE_SERVICES") == "1"
    for item in items:
        if "services" not in item.keywords:
            continue
        reason = missing_services()
        if reason and not required:
            item.add_marker(pytest.mark.skip(reason=reason))


def missing_services() -> str:
    """Why the services end-to-end tests cannot run here, or "" if they can."""
    database_url = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        return "needs DATABASE_URL pointing at PostgreSQL (set REQUIRE_SERVICES=1 to insist)"
    if not broker.startswith("redis://"):
        return "needs CELERY_BROKER_URL pointing at Redis (set REQUIRE_SERVICES=1 to insist)"
    for url, default_port in ((database_url, 5432), (broker, 6379)):
        parts = urlsplit(url)
        address = (parts.hostname or "127.0.0.1", parts.port or default_port)
        try:
            socket.create_connection(address, timeout=2).close()
        except OSError as exc:
            return f"cannot reach {address[0]}:{address[1]}: {exc}"
    return ""


@pytest.fixture(autouse=True)
def seed_data(request):
    """The roles and prompts the data migrations create, for tests that flush the database.

    Transactional tests (real commits, a real worker) empty every table when they finish, data
    migrations' rows included; pytest-django runs them last, so re-creating those rows at
    their start is enough.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and marker.kwargs.get("transaction")
    )
    if transactional:
        request.getfixturevalue("transactional_db")
        for module, function in SEED_MIGRATIONS:
            getattr(importlib.import_module(f"personas.migrations.{module}"), function)(
                django_apps, None
            )
    yield


@pytest.fixture(autouse=True)
def eager_celery(request):
    """Unit tests run tasks in-process even when CI points the settings at a real broker.

    The app reads Django settings under the CELERY_ namespace, so the prefixed name is the one
    to change.
    """
    if "services" in request.keywords:
        yield
        return
    previous = celery_app.conf.CELERY_TASK_ALWAYS_EAGER
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True
    yield
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = previous


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (task dispatch) inside the test's transaction."""

    def run(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


@pytest.fixture
def analyst(django_user_model):
    user = django_user_model.objects.create_user("alice", password="pw-alice-123")
    user.groups.add(Group.objects.get(name="analyst"))
    return user


@pytest.fixture
def other_analyst(django_user_model):
    user = django_user_model.objects.create_user("bob", password="pw-bob-123")
    user.groups.add(Group.objects.get(name="analyst"))
    return user


@pytest.fixture
def manager(django_user_model):
    user = django_user_model.objects.create_user("mona", password="pw-mona-123")
    user.groups.add(Group.objects.get(name="manager"))
    return user


@pytest.fixture
def music_snapshot(db, analyst):
    return make_snapshot(
        key="spotify",
        name="Spotify 使用者",
        owner=analyst,
        items=[
            ItemSpec("KKBOX", "music", 3.2, 0.41),
            ItemSpec("StreetVoice 街聲", "music", 2.9, 0.12),
            ItemSpec("YouTube Music", "music", 2.1, 0.33),
            ItemSpec("Netflix", "video", 1.6, 0.52),
            ItemSpec("Instagram", "social", 1.2, 0.81),
        ],
    )


@pytest.fixture
def openai_settings(settings, llm_server):
    """Point the openai backend at the loopback server, with fast retries."""
    settings.LLM_BACKENDS = {
        **settings.LLM_BACKENDS,
        "openai": {
            **settings.LLM_BACKENDS["openai"],
            "API_KEY": "test-key",
            "BASE_URL": llm_server.base_url,
            "MODEL": "gpt-4o-mini",
            "TIMEOUT_S": 2.0,
            "MAX_RETRIES": 2,
            "RPM": 0,
            "BACKOFF_BASE_S": 0.01,
        },
    }
    return settings
