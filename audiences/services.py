"""Writes for the catalog, audiences and snapshots; commands, admin and API all call these."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from personaplatform.errors import InvalidInput

from .importers import PreferenceRow, clean_name, read_preference_file
from .models import (
    APP_DESCRIPTION_MAX_LENGTH,
    App,
    AppCategory,
    Audience,
    PreferenceItem,
    PreferenceSnapshot,
    SnapshotSource,
)

SAMPLE_DATA_DIR = Path(__file__).resolve().parent / "sample_data"
SAMPLE_CATALOG = SAMPLE_DATA_DIR / "apps.json"
SAMPLE_PREFERENCES = SAMPLE_DATA_DIR / "preferences.csv"


@dataclass(frozen=True)
class ItemInput:
    app: str
    rank: int
    score: float
    share: float


@dataclass
class ImportResult:
    created: list[PreferenceSnapshot] = field(default_factory=list)
    unchanged: list[PreferenceSnapshot] = field(default_factory=list)
    new_apps: list[str] = field(default_factory=list)
    new_audiences: list[str] = field(default_factory=list)


# --- Catalog ------------------------------------------------------------------------------------


@transaction.atomic
def catalog_load(*, entries: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Create or update catalog apps from ``entries``; return (created, updated)."""
    valid_categories = set(AppCategory.values)
    created = updated = 0
    for index, entry in enumerate(entries, start=1):
        name = clean_name(str(entry.get("name") or ""))
        category = entry.get("category") or AppCategory.OTHER
        if not name:
            raise InvalidInput(f"Catalog entry {index} has no name.")
        if category not in valid_categories:
            raise InvalidInput(f"Catalog entry {index} ({name}): unknown category {category!r}.")
        defaults = {
            "store_id": str(entry.get("store_id") or "")[:200],
            "category": category,
            "description_zh": str(entry.get("description_zh") or "")[:APP_DESCRIPTION_MAX_LENGTH],
            "description_en": str(entry.get("description_en") or "")[:APP_DESCRIPTION_MAX_LENGTH],
            "aliases": [clean_name(str(alias)) for alias in entry.get("aliases") or []],
        }
        _, was_created = App.objects.update_or_create(name=name, defaults=defaults)
        created += was_created
        updated += not was_created
    return created, updated


def catalog_load_file(*, path: Path = SAMPLE_CATALOG) -> tuple[int, int]:
    with path.open(encoding="utf-8") as handle:
        entries = json.load(handle)
    if not isinstance(entries, list):
        raise InvalidInput(f"{path.name}: expected a JSON list of apps.")
    return catalog_load(entries=entries)


def apps_resolve(*, names: Iterable[str]) -> tuple[dict[str, App], list[str]]:
    """Map each name to a catalog app, by name or alias, case-insensitively.

    Names the catalog does not know become new apps in category "other", so nothing in a feed
    is dropped; they are returned so the caller can tell the user.
    """
    wanted = {clean_name(name) for name in names}
    # The catalog is a few thousand rows at most; matching aliases case-insensitively in Python
    # is simpler and faster than a query per name.
    by_key: dict[str, App] = {}
    for app in App.objects.only("id", "name", "aliases", "category"):
        by_key.setdefault(app.name.casefold(), app)
        for alias in app.aliases or []:
            by_key.setdefault(str(alias).casefold(), app)
    missing = sorted(name for name in wanted if name.casefold() not in by_key)
    for name in missing:
        # "Foo" and "foo" in one feed are one new app, named as it was first spelt.
        if name.casefold() not in by_key:
            by_key[name.casefold()] = App.objects.create(name=name, category=AppCategory.OTHER)
    missing = sorted({by_key[name.casefold()].name for name in missing})
    return {name: by_key[name.casefold()] for name in wanted}, missing


# --- Audiences and snapshots --------------------------------------------------------------------


def audience_get_or_create(
    *, key: str, name: str, seed_app: App | None = None, owner=None
) -> tuple[Audience, bool]:
    audience, created = Audience.objects.get_or_create(
        key=key, defaults={"name": name, "seed_app": seed_app, "owner": owner}
    )
    if not created and seed_app and audience.seed_app_id is None:
        audience.seed_app = seed_app
        audience.save(update_fields=["seed_app"])
    return audience, created


def snapshot_content_hash(items: Iterable[ItemInput]) -> str:
    """A hash of the normalised items: equal lists hash equal however they were formatted."""
    normalised = sorted(
        (item.rank, clean_name(item.app).casefold(), round(item.score, 6), round(item.share, 6))
        for item in items
    )
    payload = json.dumps(normalised, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


@transaction.atomic
def snapshot_create(
    *,
    audience: Audience,
    items: Sequence[ItemInput],
    taken_at: date | None = None,
    source: str = SnapshotSource.FILE,
    source_ref: str = "",
    audience_size: int | None = None,
    created_by=None,
    apps: Mapping[str, App] | None = None,
) -> tuple[PreferenceSnapshot, bool]:
    """Store a snapshot of ``audience``; return the existing one if the content is identical.

    ``apps`` is what :func:`apps_resolve` returned for these names, when the caller has it.
    """
    if not items:
        raise InvalidInput(f"Audience {audience.key!r}: a snapshot needs at least one app.")
    if source not in SnapshotSource.values:
        raise InvalidInput(f"Unknown snapshot source {source!r}.")
    ranks = [item.rank for item in items]
    if len(set(ranks)) != len(ranks):
        raise InvalidInput(f"Audience {audience.key!r}: ranks must be unique.")
    content_hash = snapshot_content_hash(items)
    existing = PreferenceSnapshot.objects.filter(
        audience=audience, content_hash=content_hash
    ).first()
    if existing:
        return existing, False

    if apps is None:
        apps, _ = apps_resolve(names=[item.app for item in items])
    resolved = [(apps[clean_name(item.app)], item) for item in items]
    seen: dict[int, ItemInput] = {}
    for app, item in resolved:
        if app.pk in seen:
            raise InvalidInput(
                f"Audience {audience.key!r}: {item.app!r} and {seen[app.pk].app!r} are the same "
                f"app ({app.name}) in the catalog."
            )
        seen[app.pk] = item

    snapshot = PreferenceSnapshot.objects.create(
        audience=audience,
        taken_at=taken_at or timezone.localdate(),
        source=source,
        source_ref=source_ref[:500],
        audience_size=audience_size,
        content_hash=content_hash,
        item_count=len(items),
        created_by=created_by,
    )
    PreferenceItem.objects.bulk_create(
        PreferenceItem(
            snapshot=snapshot, app=app, rank=item.rank, score=item.score, share=item.share
        )
        for app, item in resolved
    )
    return snapshot, True


@transaction.atomic
def preferences_import(
    *,
    stream: IO[bytes],
    filename: str,
    owner=None,
    taken_at: date | None = None,
    source: str = SnapshotSource.FILE,
) -> ImportResult:
    """Import a CSV or JSON preference file: one snapshot per audience, all or nothing."""
    rows = read_preference_file(stream, filename=filename)
    by_audience: dict[str, list[PreferenceRow]] = {}
    for row in rows:
        by_audience.setdefault(row.audience_key, []).append(row)

    result = ImportResult()
    apps, result.new_apps = apps_resolve(
        names=[row.app for row in rows] + [row.seed_app for row in rows if row.seed_app]
    )
    for key, audience_rows in by_audience.items():
        first = audience_rows[0]
        audience, created = audience_get_or_create(
            key=key,
            name=first.audience_name,
            seed_app=apps[first.seed_app] if first.seed_app else None,
            owner=owner,
        )
        if created:
            result.new_audiences.append(key)
        snapshot, was_created = snapshot_create(
            audience=audience,
            items=[ItemInput(r.app, r.rank, r.score, r.share) for r in audience_rows],
            taken_at=first.as_of or taken_at,
            source=source,
            source_ref=filename,
            audience_size=first.audience_size,
            created_by=owner,
            apps=apps,
        )
        (result.created if was_created else result.unchanged).append(snapshot)
    return result


def preferences_import_path(
    *, path: Path, owner=None, taken_at: date | None = None
) -> ImportResult:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from None
    with handle:
        return preferences_import(stream=handle, filename=path.name, owner=owner, taken_at=taken_at)
