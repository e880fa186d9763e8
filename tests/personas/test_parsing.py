"""Tests for personas.parsing: the corpus of real-world messy answers, plus unit tests.

No database: run with ``--noconftest``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from personas.parsing import (
    DEFAULT_AGE_GROUPS,
    DEFAULT_GENDERS,
    ERROR_CODES,
    MAX_FIELD_CHARS,
    MAX_RAW_CHARS,
    PROFILE_FIELDS,
    PROFILE_LABELS_ZH,
    REPAIR_CODES,
    ParseResult,
    PersonaOutput,
    PersonaParseError,
    normalise_distribution,
    parse_persona_output,
    persona_json_schema,
)

CORPUS = Path(__file__).with_name("parsing_corpus")
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (CORPUS / "expected.json").read_text(encoding="utf-8")
)
CORPUS_FILES = sorted(path.name for path in CORPUS.glob("*.txt"))
REPAIR_FORMAT = re.compile(r"^(?P<code>[a-z_]+): \S.*$", re.DOTALL)


def parse(raw: str, **keys: Any) -> ParseResult:
    keys.setdefault("age_groups", DEFAULT_AGE_GROUPS)
    keys.setdefault("genders", DEFAULT_GENDERS)
    return parse_persona_output(raw, **keys)


def parse_error(raw: str, **keys: Any) -> PersonaParseError:
    with pytest.raises(PersonaParseError) as info:
        parse(raw, **keys)
    return info.value


def repair_codes(result: ParseResult) -> list[str]:
    return [repair.split(":", 1)[0] for repair in result.repairs]


def persona(**overrides: Any) -> dict[str, Any]:
    """A valid "en" answer as a dict."""
    data: dict[str, Any] = {
        "summary": "愛音樂的香港通勤族。",
        "profile": {
            "basic_attributes": "香港大學生及上班族。",
            "personality": "外向、好奇。",
            "mental_state": "壓力大，追求效率。",
            "interests": "音樂、手遊。",
            "lifestyle": "通勤、外食。",
        },
        "hashtags": {"zh": ["音樂愛好者", "多元生活"], "en": ["MusicLover", "DiverseLife"]},
        "age_groups": {"15-19": 30, "20-25": 40, "26-35": 20, "36-45": 5, "46-59": 3, "60+": 2},
        "gender": {"male": 60, "female": 40},
    }
    data.update(overrides)
    return data


def assert_subset(expected: Any, actual: Any, path: str = "output") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path} is not an object: {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} is missing"
            assert_subset(value, actual[key], f"{path}.{key}")
    else:
        assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------


def test_the_corpus_holds_at_least_thirty_answers() -> None:
    assert len(CORPUS_FILES) >= 30


def test_every_expectation_names_a_corpus_file() -> None:
    assert sorted(set(EXPECTED) - set(CORPUS_FILES)) == []


def test_corpus_files_are_named_with_a_number_and_a_description() -> None:
    for name in CORPUS_FILES:
        assert re.fullmatch(r"\d{2}_[a-z0-9_]+\.txt", name), name


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_answer_parses_as_expected(name: str) -> None:
    if name not in EXPECTED:
        pytest.fail(f"{name} has no entry in parsing_corpus/expected.json")
    expectation = EXPECTED[name]
    raw = (CORPUS / name).read_text(encoding="utf-8")

    if "error" in expectation:
        error = parse_error(raw)
        assert error.code == expectation["error"], error.message
        assert error.code in ERROR_CODES
        assert error.message
        return

    result = parse(raw)
    dump = result.output.model_dump()
    assert_subset(expectation["ok"], dump)
    codes = repair_codes(result)
    for code in expectation["repairs"]:
        assert code in codes, f"repair {code!r} not recorded; got {result.repairs}"
    if expectation.get("no_other_repairs"):
        assert sorted(set(codes)) == sorted(expectation["repairs"]), result.repairs
    for repair in result.repairs:
        match = REPAIR_FORMAT.match(repair)
        assert match, f"repair {repair!r} is not '<code>: <detail>'"
        assert match["code"] in REPAIR_CODES, repair
    # What is stored is valid on its own and has the version's keys, in the version's order.
    assert PersonaOutput.model_validate(dump) == result.output
    assert list(dump["age_groups"]) == list(DEFAULT_AGE_GROUPS)
    assert list(dump["gender"]) == list(DEFAULT_GENDERS)
    assert sum(dump["age_groups"].values()) == sum(dump["gender"].values()) == 100


# --------------------------------------------------------------------------------------------
# Repairs: exact wording of a few, and what they must never touch
# --------------------------------------------------------------------------------------------


def test_a_clean_answer_needs_no_repairs() -> None:
    result = parse(json.dumps(persona(), ensure_ascii=False))
    assert result.repairs == ()
    assert result.output.model_dump() == persona()


def test_chinese_keys_are_recorded_as_key_aliases() -> None:
    raw = json.dumps(
        {
            "用戶基本屬性": "學生",
            "個性": "外向",
            "心理狀態": "壓力",
            "個人興趣": "音樂",
            "生活方式": "通勤",
            "Hashtags": {"中文": ["音樂", "生活"], "英文": ["Music", "Life"]},
            "年齡分佈": persona()["age_groups"],
            "性別分佈": {"男性": 60, "女性": 40},
        },
        ensure_ascii=False,
    )
    result = parse(raw)
    assert "key_alias: 用戶基本屬性 → basic_attributes" in result.repairs
    assert "gender_alias: 男性 → male" in result.repairs
    assert result.output.profile.basic_attributes == "學生"
    assert result.output.summary == ""


def test_fence_and_trailing_commas_are_recorded_with_details() -> None:
    body = json.dumps(persona(), ensure_ascii=False)
    raw = "```json\n" + body.replace("40}}", "40,},}").replace('"DiverseLife"]', '"DiverseLife",]')
    raw += "\n```"
    result = parse(raw)
    assert result.repairs[0] == "json_fenced: removed ```json fence"
    assert "json_trailing_comma: removed 3" in result.repairs


def test_a_sum_of_97_is_normalised_and_the_sum_is_recorded() -> None:
    ages = {"15-19": 30, "20-25": 40, "26-35": 20, "36-45": 4, "46-59": 2, "60+": 1}
    result = parse(json.dumps(persona(age_groups=ages)))
    assert "distribution_normalised: age_groups summed to 97" in result.repairs
    assert sum(result.output.age_groups.values()) == 100


def test_repairs_never_change_text_inside_strings() -> None:
    tricky = "他說“你好”，然後 True // 不是註釋 ,} '引號'"
    raw = json.dumps(persona(summary=tricky), ensure_ascii=False)
    # Break the JSON elsewhere so the lexical repairs run over the whole object.
    raw = raw.replace('"gender"', "'gender'").replace("40}}", "40},}")
    result = parse(raw)
    assert result.output.summary == tricky
    assert "json_single_quotes: converted 1 strings" in result.repairs
    assert "json_trailing_comma: removed 1" in result.repairs


def test_smart_quotes_inside_a_valid_value_are_kept_verbatim() -> None:
    result = parse(json.dumps(persona(summary="「音樂」與“遊戲”"), ensure_ascii=False))
    assert result.output.summary == "「音樂」與“遊戲”"
    assert result.repairs == ()


def test_hashtags_given_as_one_string_are_split() -> None:
    hashtags = {"zh": "#音樂愛好者，#多元生活", "en": "Music Lover, Diverse Life"}
    result = parse(json.dumps(persona(hashtags=hashtags), ensure_ascii=False))
    assert result.output.hashtags.zh == ["音樂愛好者", "多元生活"]
    # Spaces inside an English tag survive when a comma is the separator.
    assert result.output.hashtags.en == ["Music Lover", "Diverse Life"]
    assert "hashtag_hash_stripped: hashtags.zh (2)" in result.repairs


def test_more_than_three_hashtags_keeps_the_first_three() -> None:
    hashtags = {"zh": ["甲", "乙", "丙", "丁"], "en": ["A", "B"]}
    result = parse(json.dumps(persona(hashtags=hashtags), ensure_ascii=False))
    assert result.output.hashtags.zh == ["甲", "乙", "丙"]
    assert "hashtags_truncated: hashtags.zh had 4, kept the first 3" in result.repairs


def test_custom_version_keys_are_honoured() -> None:
    raw = json.dumps(
        persona(
            age_groups={"18–24": 50, "25-34歲": 30, "35歲以上": 20},
            gender={"男": 45, "女": 45, "其他": 10},
        ),
        ensure_ascii=False,
    )
    result = parse(raw, age_groups=["18-24", "25-34", "35+"], genders=["male", "female", "other"])
    assert result.output.age_groups == {"18-24": 50, "25-34": 30, "35+": 20}
    assert result.output.gender == {"male": 45, "female": 45, "other": 10}


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_an_answer_over_the_length_cap_is_refused() -> None:
    error = parse_error("x" * (MAX_RAW_CHARS + 1))
    assert error.code == "too_long"
    assert str(MAX_RAW_CHARS) in error.message


def test_error_messages_name_the_field_key_and_values() -> None:
    ages = {"15-19": 10, "20-25": 20, "26-35": 15, "36-45": 5, "46-59": 5, "60+": 5}
    error = parse_error(json.dumps(persona(age_groups=ages)))
    assert error.code == "bad_distribution"
    assert "age_groups" in error.message and "60" in error.message

    error = parse_error(json.dumps(persona(gender={"male": 50, "female": 40, "x-gender": 10})))
    assert error.code == "unknown_gender"
    assert "x-gender" in error.message

    profile = dict(persona()["profile"], lifestyle="")
    error = parse_error(json.dumps(persona(profile=profile)))
    assert error.code == "missing_field"
    assert "lifestyle" in error.message and PROFILE_LABELS_ZH["lifestyle"] in error.message


def test_invalid_json_reports_the_decoder_position() -> None:
    error = parse_error('Result: {"summary": "x", "profile": {"basic_attributes": : "y"}}')
    assert error.code == "invalid_json"
    assert "line 1 column" in error.message
    assert error.position == len('Result: {"summary": "x", "profile": {"basic_attributes": ')


def test_a_profile_field_over_the_cap_is_refused() -> None:
    profile = dict(persona()["profile"], interests="音" * (MAX_FIELD_CHARS + 1))
    error = parse_error(json.dumps(persona(profile=profile), ensure_ascii=False))
    assert error.code == "field_too_long"
    assert "interests" in error.message


@pytest.mark.parametrize("value", [True, None, "NaN", "大約三成"])
def test_a_percentage_that_is_not_a_number_is_refused(value: Any) -> None:
    raw = json.dumps(persona(gender={"male": value, "female": 40}), ensure_ascii=False)
    error = parse_error(raw.replace('"NaN"', "NaN"))
    assert error.code == "bad_value"
    assert "male" in error.message


def test_deeply_nested_input_fails_cleanly_instead_of_recursing() -> None:
    error = parse_error('{"a": ' * 5000 + "1" + "}" * 5000)
    assert error.code == "invalid_json"


def test_a_non_string_answer_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        parse(b"{}")  # type: ignore[arg-type]


def test_empty_version_keys_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse("{}", age_groups=[])


def test_the_model_itself_rejects_sums_other_than_100_and_booleans() -> None:
    data = persona()
    PersonaOutput.model_validate(data)
    with pytest.raises(ValueError):
        PersonaOutput.model_validate({**data, "gender": {"male": 60, "female": 30}})
    with pytest.raises(ValueError):
        PersonaOutput.model_validate({**data, "gender": {"male": True, "female": 99}})


# --------------------------------------------------------------------------------------------
# Largest-remainder normalisation
# --------------------------------------------------------------------------------------------


def test_normalised_distributions_always_sum_to_exactly_100() -> None:
    rng = random.Random(1234)
    for _ in range(500):
        values = {f"k{i}": rng.uniform(0, 40) for i in range(rng.randint(1, 8))}
        if sum(values.values()) == 0:
            continue
        result = normalise_distribution(values)
        assert sum(result.values()) == 100
        assert list(result) == list(values)
        assert all(value >= 0 for value in result.values())


def test_normalisation_breaks_ties_in_key_order() -> None:
    assert normalise_distribution({"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert normalise_distribution({"c": 1, "b": 1, "a": 1}) == {"c": 34, "b": 33, "a": 33}
    # Equal-looking floats are exact ties, not float noise.
    assert normalise_distribution({"x": 33.3, "y": 33.3, "z": 33.4}) == {"x": 33, "y": 33, "z": 34}


def test_normalisation_gives_the_extra_points_to_the_largest_remainders() -> None:
    assert normalise_distribution({"a": 62, "b": 41}) == {"a": 60, "b": 40}
    assert normalise_distribution({"a": 0.3, "b": 0.4, "c": 0.3}) == {"a": 30, "b": 40, "c": 30}


def test_an_already_normalised_distribution_is_unchanged_and_no_repair_is_recorded() -> None:
    ages = {"15-19": 30, "20-25": 40, "26-35": 20, "36-45": 5, "46-59": 3, "60+": 2}
    assert normalise_distribution(ages) == ages
    result = parse(json.dumps(persona(age_groups={k: float(v) for k, v in ages.items()})))
    assert result.output.age_groups == ages
    assert "distribution_normalised" not in repair_codes(result)


@pytest.mark.parametrize("values", [{"a": 0, "b": 0}, {"a": -1, "b": 101}, {}])
def test_normalisation_refuses_negative_or_empty_distributions(values: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        normalise_distribution(values)


# --------------------------------------------------------------------------------------------
# JSON schema
# --------------------------------------------------------------------------------------------


def conforms(instance: Any, schema: dict[str, Any]) -> bool:
    """A hand check of the subset of JSON schema that persona_json_schema uses."""
    kind = schema["type"]
    if kind == "object":
        if not isinstance(instance, dict):
            return False
        properties = schema["properties"]
        if any(key not in instance for key in schema["required"]):
            return False
        if schema.get("additionalProperties") is False and set(instance) - set(properties):
            return False
        return all(conforms(instance[key], properties[key]) for key in instance)
    if kind == "array":
        return (
            isinstance(instance, list)
            and schema.get("minItems", 0) <= len(instance) <= schema.get("maxItems", 10**9)
            and all(conforms(item, schema["items"]) for item in instance)
        )
    if kind == "integer":
        return (
            isinstance(instance, int)
            and not isinstance(instance, bool)
            and schema.get("minimum", instance) <= instance <= schema.get("maximum", instance)
        )
    if kind == "string":
        return isinstance(instance, str)
    raise AssertionError(f"unexpected schema type {kind!r}")


def walk_objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema] if schema.get("type") == "object" else []
    for child in schema.get("properties", {}).values():
        found.extend(walk_objects(child))
    if "items" in schema:
        found.extend(walk_objects(schema["items"]))
    return found


def test_the_schema_is_strict_every_object_closed_and_every_property_required() -> None:
    schema = persona_json_schema(DEFAULT_AGE_GROUPS, DEFAULT_GENDERS)
    json.dumps(schema)  # serialisable as is
    objects = walk_objects(schema)
    assert len(objects) == 5  # root, profile, hashtags, age_groups, gender
    for node in objects:
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])


def test_the_schema_uses_the_given_keys_and_hashtag_limits() -> None:
    schema = persona_json_schema(["18-24", "25+"], ["male", "female", "other"])
    properties = schema["properties"]
    assert list(properties["profile"]["properties"]) == list(PROFILE_FIELDS)
    assert list(properties["age_groups"]["properties"]) == ["18-24", "25+"]
    assert list(properties["gender"]["properties"]) == ["male", "female", "other"]
    for key_schema in properties["gender"]["properties"].values():
        assert key_schema["type"] == "integer"
    for language in ("zh", "en"):
        array = properties["hashtags"]["properties"][language]
        assert (array["type"], array["minItems"], array["maxItems"]) == ("array", 2, 3)
        assert array["items"] == {"type": "string"}


def test_a_valid_en_answer_passes_the_schema_and_broken_ones_do_not() -> None:
    schema = persona_json_schema(DEFAULT_AGE_GROUPS, DEFAULT_GENDERS)
    assert conforms(persona(), schema)
    parsed = parse((CORPUS / "01_clean_en.txt").read_text(encoding="utf-8"))
    assert conforms(parsed.output.model_dump(), schema)

    missing = persona()
    del missing["profile"]["lifestyle"]
    assert not conforms(missing, schema)
    assert not conforms(persona(extra="x"), schema)
    assert not conforms(persona(hashtags={"zh": ["一"], "en": ["A", "B"]}), schema)
    assert not conforms(persona(gender={"male": "60", "female": 40}), schema)


def test_the_schema_refuses_duplicate_or_empty_keys() -> None:
    with pytest.raises(ValueError):
        persona_json_schema(["15-19", "15-19"], DEFAULT_GENDERS)
    with pytest.raises(ValueError):
        persona_json_schema(DEFAULT_AGE_GROUPS, [])
