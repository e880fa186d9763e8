"""Derive searchable tags from a parsed persona.

Each profile text is matched against a small hand-written vocabulary for its own field
(``tag_vocabulary.json``): a term matches when any of its match strings occurs in the text.
The persona's hashtags become tags of category ``"hashtag"`` as they are.

Matching rules, chosen so the vocabulary stays predictable to edit:

* case- and width-insensitive (NFKC + casefold on both sides);
* strings containing CJK match as substrings (Chinese has no word boundaries);
* other strings match whole words only, with an optional plural "s"/"es", so "pet" matches
  "pets" but not "petrol", and "car" not "career".

It is keyword matching, not understanding: "不外向" still yields 外向. The tags are a browsing
aid, and the persona text itself stays the source of truth.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from personas.parsing import PROFILE_FIELDS, PersonaOutput

VOCABULARY_PATH = Path(__file__).with_name("tag_vocabulary.json")
HASHTAG_CATEGORY = "hashtag"
TAG_CATEGORIES: tuple[str, ...] = (*PROFILE_FIELDS, HASHTAG_CATEGORY)
# Enough to describe a persona; more would mostly be noise from long, rambling texts.
MAX_TAGS_PER_CATEGORY = 10

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


@dataclass(frozen=True)
class ExtractedTag:
    name: str
    category: str


@dataclass(frozen=True)
class VocabularyTerm:
    name: str
    match: tuple[str, ...]
    pattern: re.Pattern[str]

    def matches(self, normalised_text: str) -> bool:
        return self.pattern.search(normalised_text) is not None


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _term_pattern(match: tuple[str, ...]) -> re.Pattern[str]:
    parts = []
    for string in match:
        escaped = re.escape(_normalise(string))
        if _CJK.search(string):
            parts.append(escaped)
        else:
            parts.append(rf"(?<![0-9a-z]){escaped}(?:s|es)?(?![0-9a-z])")
    return re.compile("|".join(parts))


def _parse_vocabulary(data: object, source: str) -> dict[str, tuple[VocabularyTerm, ...]]:
    # Validate eagerly: a typo in the JSON should fail loudly at load, not silently tag nothing.
    if not isinstance(data, dict) or set(data) != set(PROFILE_FIELDS):
        raise ValueError(f"{source}: expected exactly the categories {', '.join(PROFILE_FIELDS)}")
    vocabulary: dict[str, tuple[VocabularyTerm, ...]] = {}
    for category in PROFILE_FIELDS:
        terms = data[category]
        if not isinstance(terms, list):
            raise ValueError(f"{source}: {category} must be a list of terms")
        parsed: list[VocabularyTerm] = []
        names: set[str] = set()
        for term in terms:
            name = term.get("name") if isinstance(term, dict) else None
            match = term.get("match") if isinstance(term, dict) else None
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"{source}: {category} has a term without a name: {term!r}")
            if (
                not isinstance(match, list)
                or not match
                or not all(isinstance(s, str) and s.strip() for s in match)
            ):
                raise ValueError(f"{source}: {category}/{name} needs a non-empty match list")
            if name in names:
                raise ValueError(f"{source}: {category} lists {name!r} twice")
            names.add(name)
            strings = tuple(dict.fromkeys((name, *match)))  # the name always matches itself
            parsed.append(VocabularyTerm(name, strings, _term_pattern(strings)))
        vocabulary[category] = tuple(parsed)
    return vocabulary


@cache
def load_vocabulary(path: Path = VOCABULARY_PATH) -> dict[str, tuple[VocabularyTerm, ...]]:
    """The vocabulary at ``path``, validated and compiled; cached per path."""
    with path.open(encoding="utf-8") as handle:
        return _parse_vocabulary(json.load(handle), str(path))


def extract_tags(
    output: PersonaOutput,
    *,
    vocabulary: dict[str, tuple[VocabularyTerm, ...]] | None = None,
) -> list[ExtractedTag]:
    """Tags for ``output``: vocabulary matches per profile field, then the hashtags.

    The order is deterministic (fields in :data:`PROFILE_FIELDS` order, terms in vocabulary
    order, then zh and en hashtags as given), with no duplicates and at most
    :data:`MAX_TAGS_PER_CATEGORY` per category.
    """
    terms_by_category = load_vocabulary() if vocabulary is None else vocabulary
    tags: list[ExtractedTag] = []
    for category in PROFILE_FIELDS:
        text = _normalise(getattr(output.profile, category))
        found = [term.name for term in terms_by_category.get(category, ()) if term.matches(text)]
        tags.extend(ExtractedTag(name, category) for name in found[:MAX_TAGS_PER_CATEGORY])

    seen: set[str] = set()
    hashtag_count = 0
    for hashtag in (*output.hashtags.zh, *output.hashtags.en):
        name = hashtag.strip().lstrip("#＃").strip()
        identity = _normalise(name)
        if not name or identity in seen or hashtag_count >= MAX_TAGS_PER_CATEGORY:
            continue
        seen.add(identity)
        hashtag_count += 1
        tags.append(ExtractedTag(name, HASHTAG_CATEGORY))
    return tags
