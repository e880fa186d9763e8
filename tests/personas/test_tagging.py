"""Tests for personas.tagging and its vocabulary. No database: run with ``--noconftest``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from personas.parsing import PROFILE_FIELDS, PersonaOutput
from personas.tagging import (
    HASHTAG_CATEGORY,
    MAX_TAGS_PER_CATEGORY,
    TAG_CATEGORIES,
    VOCABULARY_PATH,
    ExtractedTag,
    extract_tags,
    load_vocabulary,
)

RAW_VOCABULARY: dict[str, list[dict[str, Any]]] = json.loads(
    VOCABULARY_PATH.read_text(encoding="utf-8")
)


def make_output(
    *,
    hashtags: dict[str, list[str]] | None = None,
    **profile: str,
) -> PersonaOutput:
    texts = dict.fromkeys(PROFILE_FIELDS, "—")
    texts.update(profile)
    return PersonaOutput(
        profile=texts,
        hashtags=hashtags
        or {"zh": ["音樂愛好者", "多元生活"], "en": ["MusicLover", "DiverseLife"]},
        age_groups={"15-19": 50, "20-25": 50},
        gender={"male": 50, "female": 50},
    )


def names(tags: list[ExtractedTag], category: str) -> list[str]:
    return [tag.name for tag in tags if tag.category == category]


# --------------------------------------------------------------------------------------------
# The vocabulary file
# --------------------------------------------------------------------------------------------


def test_the_vocabulary_has_exactly_the_five_profile_categories() -> None:
    assert list(RAW_VOCABULARY) == list(PROFILE_FIELDS)
    assert TAG_CATEGORIES[:-1] == PROFILE_FIELDS
    assert TAG_CATEGORIES[-1] == HASHTAG_CATEGORY


@pytest.mark.parametrize("category", PROFILE_FIELDS)
def test_each_category_has_fifteen_to_thirty_well_formed_terms(category: str) -> None:
    terms = RAW_VOCABULARY[category]
    assert 15 <= len(terms) <= 30
    for term in terms:
        assert set(term) == {"name", "match"}
        assert term["name"].strip() == term["name"] != ""
        assert term["name"] in term["match"], f"{term['name']} does not match itself"
        assert all(isinstance(s, str) and s.strip() for s in term["match"])
    assert len({term["name"] for term in terms}) == len(terms)


@pytest.mark.parametrize("category", PROFILE_FIELDS)
def test_no_match_string_belongs_to_two_terms_of_one_category(category: str) -> None:
    counts = Counter(s.casefold() for term in RAW_VOCABULARY[category] for s in term["match"])
    assert [s for s, n in counts.items() if n > 1] == []


def test_the_vocabulary_includes_the_terms_personas_need() -> None:
    def category_names(category: str) -> set[str]:
        return {term["name"] for term in RAW_VOCABULARY[category]}

    assert {"學生", "上班族", "年輕族群", "家長", "專業人士", "香港", "台灣"} <= category_names(
        "basic_attributes"
    )
    assert {"男性為主", "女性為主"} <= category_names("basic_attributes")
    assert {"外向", "好奇", "務實", "理性", "創意"} <= category_names("personality")
    assert {"壓力", "追求效率", "焦慮", "樂觀", "尋求放鬆"} <= category_names("mental_state")
    assert {
        "音樂",
        "遊戲",
        "動漫",
        "投資理財",
        "旅遊",
        "美食",
        "運動健身",
        "閱讀",
        "影音串流",
        "購物",
        "攝影",
        "科技",
    } <= category_names("interests")
    assert {"通勤", "外食", "夜貓族", "精打細算", "健康生活", "社交活躍"} <= category_names(
        "lifestyle"
    )


def write_vocabulary(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "vocabulary.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "broken",
    [
        {"interests": [{"name": "音樂", "match": ["音樂"]}]},  # categories missing
        {**RAW_VOCABULARY, "interests": [{"name": "音樂", "match": []}]},
        {**RAW_VOCABULARY, "interests": [{"name": "", "match": ["x"]}]},
        {**RAW_VOCABULARY, "interests": [{"name": "a", "match": ["a"]}] * 2},
    ],
)
def test_a_malformed_vocabulary_fails_loudly_at_load(tmp_path: Path, broken: Any) -> None:
    with pytest.raises(ValueError):
        load_vocabulary(write_vocabulary(tmp_path, broken))


# --------------------------------------------------------------------------------------------
# extract_tags
# --------------------------------------------------------------------------------------------


def test_profile_texts_yield_tags_in_their_own_category() -> None:
    output = make_output(
        basic_attributes="主要為香港大學生及上班族，男性略多，收入中等。",
        personality="外向、好奇，做決定時務實理性。",
        mental_state="工作壓力大，追求效率，希望放鬆一下。",
        interests="音樂、手遊、動漫和追劇，亦關注投資理財。",
        lifestyle="每日乘搭港鐵通勤，經常外食，屬於夜貓族，精打細算。",
    )
    tags = extract_tags(output)
    assert names(tags, "basic_attributes") == ["學生", "上班族", "香港", "男性為主", "中等收入"]
    assert names(tags, "personality") == ["外向", "好奇", "務實", "理性"]
    assert names(tags, "mental_state") == ["壓力", "追求效率", "尋求放鬆"]
    assert names(tags, "interests") == ["音樂", "遊戲", "動漫", "投資理財", "影音串流"]
    assert names(tags, "lifestyle") == ["通勤", "外食", "夜貓族", "精打細算"]


def test_a_term_only_matches_in_its_own_field() -> None:
    tags = extract_tags(make_output(lifestyle="喜歡音樂，經常外食"))
    assert ExtractedTag("外食", "lifestyle") in tags
    assert all(tag.name != "音樂" for tag in tags)


def test_matching_ignores_case_and_width() -> None:
    tags = extract_tags(make_output(interests="Loves MUSIC, Anime and ＧＡＭＩＮＧ"))
    assert names(tags, "interests") == ["音樂", "遊戲", "動漫"]


def test_english_terms_match_whole_words_and_plurals_only() -> None:
    tags = extract_tags(make_output(interests="career-minded, drives on petrol"))
    assert names(tags, "interests") == []
    tags = extract_tags(make_output(interests="owns two pets and many cars"))
    assert names(tags, "interests") == ["寵物", "汽車"]


def test_hashtags_become_tags_without_hash_and_without_duplicates() -> None:
    output = make_output(
        hashtags={"zh": ["#音樂愛好者", "多元生活"], "en": ["#MusicLover", "musiclover"]}
    )
    assert names(extract_tags(output), HASHTAG_CATEGORY) == ["音樂愛好者", "多元生活", "MusicLover"]


def test_tags_come_after_each_other_in_field_then_vocabulary_order() -> None:
    output = make_output(interests="攝影、音樂", lifestyle="通勤", personality="好奇、外向")
    tags = extract_tags(output)
    assert [(tag.category, tag.name) for tag in tags] == [
        ("personality", "外向"),
        ("personality", "好奇"),
        ("interests", "音樂"),
        ("interests", "攝影"),
        ("lifestyle", "通勤"),
        ("hashtag", "音樂愛好者"),
        ("hashtag", "多元生活"),
        ("hashtag", "MusicLover"),
        ("hashtag", "DiverseLife"),
    ]
    assert extract_tags(output) == tags
    assert len(set(tags)) == len(tags)


def test_each_category_is_capped() -> None:
    every_interest = "、".join(term["name"] for term in RAW_VOCABULARY["interests"])
    tags = extract_tags(make_output(interests=every_interest))
    expected = [term["name"] for term in RAW_VOCABULARY["interests"]][:MAX_TAGS_PER_CATEGORY]
    assert names(tags, "interests") == expected


def test_hostile_text_produces_no_tags_and_no_errors() -> None:
    tags = extract_tags(make_output(interests="<script>alert(1)</script> ((((( [[[ \\"))
    assert names(tags, "interests") == []


def test_a_custom_vocabulary_can_be_passed_in(tmp_path: Path) -> None:
    data = {category: [{"name": "X", "match": ["x"]}] for category in PROFILE_FIELDS}
    vocabulary = load_vocabulary(write_vocabulary(tmp_path, data))
    tags = extract_tags(make_output(personality="x marks the spot"), vocabulary=vocabulary)
    assert ExtractedTag("X", "personality") in tags
