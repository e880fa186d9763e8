"""Test data built through the services, so tests exercise the same paths as users do."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

import factory

from audiences.models import App, AppCategory, Audience
from audiences.services import ItemInput, audience_get_or_create, snapshot_create


class AppFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = App
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"App {n}")
    category = AppCategory.OTHER
    description_zh = factory.LazyAttribute(lambda o: f"{o.name} 的說明")
    description_en = factory.LazyAttribute(lambda o: f"What {o.name} does")


class AudienceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Audience

    key = factory.Sequence(lambda n: f"audience-{n}")
    name = factory.LazyAttribute(lambda o: f"{o.key} users")


class ItemSpec(NamedTuple):
    app: str
    category: str
    score: float
    share: float


def make_snapshot(*, key: str, name: str, items: list[ItemSpec], owner=None, taken_at=None):
    for spec in items:
        AppFactory(name=spec.app, category=spec.category)
    audience, _ = audience_get_or_create(key=key, name=name, owner=owner)
    snapshot, _ = snapshot_create(
        audience=audience,
        items=[
            ItemInput(spec.app, rank, spec.score, spec.share)
            for rank, spec in enumerate(items, start=1)
        ],
        taken_at=taken_at or date(2026, 11, 30),
        source_ref="tests",
    )
    return snapshot
