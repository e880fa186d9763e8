"""Turn the text a language model wrote into a validated :class:`PersonaOutput`.

Models are asked for one JSON object, either with the proof of concept's Chinese keys (prompt
style "zh") or with the schema's English keys (style "en", see :func:`persona_json_schema`).
What they return is rarely that clean: fences, prose, trailing commas, single quotes, Chinese or
title-case key names, hashtags as one string, percentages as "30%" or fractions, sums of 97.

:func:`parse_persona_output` accepts all of that, in three stages, and records every change it
makes as a short stable string ``"<code>: <detail>"`` in :attr:`ParseResult.repairs`, so a
generation can show exactly how far the model's answer was from the schema:

1. text: length cap, code fences, surrounding prose, then (only if strict JSON fails) lexical
   JSON repairs done on a token stream, so nothing inside a string is ever touched;
2. structure: top-level list or wrapper key, key aliases, flat or nested profile;
3. values: profile texts, hashtags, and the two percentage distributions, which always leave
   here as integers summing to exactly 100 (largest-remainder rounding).

Anything that cannot be repaired without guessing raises :class:`PersonaParseError` with a stable
``code`` (see :data:`ERROR_CODES`) and a message naming the field, key and values at fault.

Text is kept verbatim (``<script>`` included): escaping is the template's job, not the parser's.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, field_validator

# --------------------------------------------------------------------------------------------
# Limits and vocabulary
# --------------------------------------------------------------------------------------------

# A persona is a few kB; anything far larger is a runaway generation, and scanning it with the
# pure-Python repair lexer would be slow for nothing.
MAX_RAW_CHARS = 100_000
MAX_FIELD_CHARS = 2000
MAX_SUMMARY_CHARS = 2000
MAX_HASHTAG_CHARS = 50
MIN_HASHTAGS = 2
MAX_HASHTAGS = 3
DISTRIBUTION_TOTAL = 100
# A sum this close to 100 is rounding noise and is normalised; further off, the model got the
# numbers wrong and we refuse to invent a distribution.
DISTRIBUTION_TOLERANCE = 10
# How many "{" in the text are tried as the start of the object before giving up.
MAX_JSON_CANDIDATES = 10

DEFAULT_AGE_GROUPS: tuple[str, ...] = ("15-19", "20-25", "26-35", "36-45", "46-59", "60+")
DEFAULT_GENDERS: tuple[str, ...] = ("male", "female")

PROFILE_FIELDS: tuple[str, ...] = (
    "basic_attributes",
    "personality",
    "mental_state",
    "interests",
    "lifestyle",
)
PROFILE_LABELS_ZH: dict[str, str] = {
    "basic_attributes": "基本屬性",
    "personality": "個性",
    "mental_state": "心理狀態",
    "interests": "個人興趣",
    "lifestyle": "生活方式",
}
HASHTAG_LANGUAGES: tuple[str, ...] = ("zh", "en")

REPAIR_CODES: frozenset[str] = frozenset(
    {
        "bom_removed",
        "json_fenced",
        "json_extracted",
        "json_double_encoded",
        "json_smart_quotes",
        "json_single_quotes",
        "json_fullwidth_punctuation",
        "json_control_character",
        "json_comment",
        "json_python_literal",
        "json_unquoted_key",
        "json_unquoted_value",
        "json_trailing_comma",
        "json_extra_comma",
        "json_missing_comma",
        "top_level_list",
        "unwrapped",
        "key_alias",
        "key_moved",
        "ignored_key",
        "profile_flat",
        "field_joined",
        "control_characters_removed",
        "hashtags_split",
        "hashtags_by_script",
        "hashtag_hash_stripped",
        "hashtag_duplicate",
        "hashtags_truncated",
        "distribution_list",
        "age_group_alias",
        "gender_alias",
        "value_coerced",
        "distribution_filled",
        "distribution_fractions",
        "distribution_normalised",
    }
)

ERROR_CODES: frozenset[str] = frozenset(
    {
        "empty_output",
        "too_long",
        "no_json",
        "truncated_json",
        "invalid_json",
        "not_an_object",
        "missing_field",
        "bad_type",
        "field_too_long",
        "hashtags_too_few",
        "hashtag_too_long",
        "unknown_age_group",
        "unknown_gender",
        "duplicate_key",
        "bad_value",
        "negative_value",
        "incomplete_distribution",
        "bad_distribution",
        "invalid_output",
    }
)

# --------------------------------------------------------------------------------------------
# The validated shape (what gets stored)
# --------------------------------------------------------------------------------------------

ProfileText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_FIELD_CHARS)
]
HashtagText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_HASHTAG_CHARS)
]
HashtagList = Annotated[list[HashtagText], Field(min_length=MIN_HASHTAGS, max_length=MAX_HASHTAGS)]
# Strict: the parser has already coerced "30%" and 30.0; a bool sneaking in as 1 is a bug.
Percentage = Annotated[int, Strict(), Field(ge=0, le=DISTRIBUTION_TOTAL)]


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    basic_attributes: ProfileText
    personality: ProfileText
    mental_state: ProfileText
    interests: ProfileText
    lifestyle: ProfileText


class Hashtags(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zh: HashtagList
    en: HashtagList


class PersonaOutput(BaseModel):
    """One persona as stored (``model_dump()``) and rendered."""

    model_config = ConfigDict(extra="forbid")

    summary: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=MAX_SUMMARY_CHARS)
    ] = ""
    profile: Profile
    hashtags: Hashtags
    age_groups: dict[str, Percentage]
    gender: dict[str, Percentage]

    @field_validator("age_groups", "gender")
    @classmethod
    def _sums_to_total(cls, value: dict[str, int]) -> dict[str, int]:
        # Every consumer (charts, comparisons) assumes whole percentages adding up to 100.
        if not value:
            raise ValueError("must not be empty")
        total = sum(value.values())
        if total != DISTRIBUTION_TOTAL:
            raise ValueError(f"must sum to {DISTRIBUTION_TOTAL}, not {total}")
        return value


@dataclass(frozen=True)
class ParseResult:
    output: PersonaOutput
    repairs: tuple[str, ...]


class PersonaParseError(Exception):
    """The model's answer could not be turned into a persona.

    ``code`` is stable snake_case (one of :data:`ERROR_CODES`) and is stored on the generation;
    ``message`` is for people and names the field, key and values at fault. ``position`` is the
    character offset reported by the JSON decoder, when there is one. ``repairs`` lists what
    had been repaired before the parser gave up, so a failed generation shows it too.
    """

    def __init__(self, code: str, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.position = position
        self.repairs: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"PersonaParseError({self.code!r}, {self.message!r})"


# --------------------------------------------------------------------------------------------
# JSON schema for structured output ("en" style)
# --------------------------------------------------------------------------------------------

_FIELD_DESCRIPTIONS = {
    "basic_attributes": "基本屬性: age, occupation, region, income and other demographics.",
    "personality": "個性: personality traits.",
    "mental_state": "心理狀態: needs, pressures and motivations.",
    "interests": "個人興趣: interests and hobbies.",
    "lifestyle": "生活方式: daily routine and habits.",
}


def _percentages_schema(keys: Sequence[str], what: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"Percentage of the audience per {what}; integers summing to 100.",
        "properties": {
            key: {"type": "integer", "minimum": 0, "maximum": DISTRIBUTION_TOTAL} for key in keys
        },
        "required": list(keys),
        "additionalProperties": False,
    }


def _hashtag_array_schema(language: str) -> dict[str, Any]:
    return {
        "type": "array",
        "description": f"{MIN_HASHTAGS} to {MAX_HASHTAGS} hashtags in {language}, without '#'.",
        "items": {"type": "string"},
        "minItems": MIN_HASHTAGS,
        "maxItems": MAX_HASHTAGS,
    }


def persona_json_schema(age_groups: Sequence[str], genders: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of the "en" answer, usable as OpenAI strict structured output.

    Strict mode wants every object closed (``additionalProperties: false``) and every property
    required, so ``summary`` is required here even though the parser treats it as optional.
    """
    ages = _check_keys(age_groups, "age_groups")
    gender_keys = _check_keys(genders, "genders")
    return {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "description": "One sentence describing the persona."},
            "profile": {
                "type": "object",
                "properties": {
                    name: {"type": "string", "description": _FIELD_DESCRIPTIONS[name]}
                    for name in PROFILE_FIELDS
                },
                "required": list(PROFILE_FIELDS),
                "additionalProperties": False,
            },
            "hashtags": {
                "type": "object",
                "properties": {
                    "zh": _hashtag_array_schema("Traditional Chinese"),
                    "en": _hashtag_array_schema("English"),
                },
                "required": list(HASHTAG_LANGUAGES),
                "additionalProperties": False,
            },
            "age_groups": _percentages_schema(ages, "age group"),
            "gender": _percentages_schema(gender_keys, "gender"),
        },
        "required": ["summary", "profile", "hashtags", "age_groups", "gender"],
        "additionalProperties": False,
    }


def _check_keys(keys: Sequence[str], name: str) -> tuple[str, ...]:
    # A programming error (a bad prompt version), not a bad answer: ValueError, not a parse error.
    if isinstance(keys, str):
        raise TypeError(f"{name} must be a sequence of keys, not a string")
    result = tuple(keys)
    if not result or not all(isinstance(key, str) and key for key in result):
        raise ValueError(f"{name} must be a non-empty sequence of non-empty strings")
    if len(set(result)) != len(result):
        raise ValueError(f"{name} has duplicate keys: {result}")
    return result


# --------------------------------------------------------------------------------------------
# Largest-remainder normalisation
# --------------------------------------------------------------------------------------------


def _fraction(value: int | float | Fraction | Decimal) -> Fraction:
    if isinstance(value, float):
        # repr() gives the shortest decimal that round-trips, so 33.3 is exactly 333/10 and
        # ties between equal-looking values stay ties.
        return Fraction(repr(value))
    return Fraction(value)


def normalise_distribution(
    values: Mapping[str, int | float | Fraction | Decimal], total: int = DISTRIBUTION_TOTAL
) -> dict[str, int]:
    """Scale ``values`` to non-negative integers summing to exactly ``total``.

    Largest-remainder (Hamilton) method: floor every scaled quota, then hand the missing units
    to the largest remainders. Ties go to the key that comes first, so the result is stable.
    Integers already summing to ``total`` come back unchanged.
    """
    quotas_in = {key: _fraction(value) for key, value in values.items()}
    if any(quota < 0 for quota in quotas_in.values()):
        raise ValueError("values must not be negative")
    current = sum(quotas_in.values(), Fraction(0))
    if current <= 0:
        raise ValueError("values must have a positive sum")
    quotas = {key: quota * total / current for key, quota in quotas_in.items()}
    result = {key: math.floor(quota) for key, quota in quotas.items()}
    missing = total - sum(result.values())
    position = {key: index for index, key in enumerate(quotas)}
    by_remainder = sorted(quotas, key=lambda key: (-(quotas[key] - result[key]), position[key]))
    for key in by_remainder[:missing]:
        result[key] += 1
    return result


# --------------------------------------------------------------------------------------------
# Stage 1: text → JSON value
# --------------------------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n`]*\n?(.*?)```", re.DOTALL)
_OPEN_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n`]*\n")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_JSON_WORDS = frozenset({"true", "false", "null", "NaN", "Infinity", "-Infinity"})
_PYTHON_LITERALS = {"True": "true", "False": "false", "None": "null"}

_SMART_DOUBLE = "“”„‟″＂"  # look-alikes models put around keys
_SMART_SINGLE = "‘’‚‛′"
_FULLWIDTH_PUNCTUATION = {"：": ":", "，": ","}
_WORD_STOP = frozenset(
    "{}[]:,\"'" + _SMART_DOUBLE + _SMART_SINGLE + "".join(_FULLWIDTH_PUNCTUATION)
)
_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_MISSING: Any = object()


class _Token(NamedTuple):
    kind: str  # "{", "}", "[", "]", ":", ",", "str", "word", "ws" or "comment"
    text: str  # the JSON text this token contributes
    fix: str = ""  # the lexical repair that produced it, e.g. "json_single_quotes"


class _Truncated(Exception):
    """The text ended inside a string or with brackets still open."""

    def __init__(self, depth: int, in_string: bool) -> None:
        super().__init__(f"depth {depth}")
        self.depth = depth
        self.in_string = in_string


def _escape_control(char: str) -> str:
    return _CONTROL_ESCAPES.get(char, f"\\u{ord(char):04x}")


def _read_string(text: str, start: int, closers: str, *, single: bool) -> tuple[str, bool, int]:
    """Read a string opened at ``start``; return its JSON text, whether it held raw control
    characters, and the index after it.

    ``single`` strings (opened by an apostrophe) close only where a closing quote is followed
    by JSON punctuation or a line end, so "It's fun" inside one survives.
    """
    out = ['"']
    control = False
    i = start + 1
    n = len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            if i + 1 >= n:
                break
            nxt = text[i + 1]
            # \' is a Python/JS escape, not a JSON one.
            out.append("'" if nxt == "'" else "\\" + nxt)
            i += 2
            continue
        if char in closers and (not single or _closes_single(text, i + 1)):
            out.append('"')
            return "".join(out), control, i + 1
        if char < " ":
            out.append(_escape_control(char))
            control = True
        elif char == '"':
            out.append('\\"')  # only reachable in quote styles not closed by '"'
        else:
            out.append(char)
        i += 1
    raise _Truncated(0, in_string=True)


def _closes_single(text: str, i: int) -> bool:
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    return i >= n or text[i] in ",:}]\r\n"


def _scan(text: str, start: int) -> tuple[list[_Token], int]:
    """Tokenise the bracketed value opened at ``start`` (a "{" or "[") up to its matching close.

    The lexer is lenient (it understands the quote styles and punctuation we repair), so it
    finds the end of the object in broken JSON as well as in valid JSON.
    """
    tokens: list[_Token] = []
    depth = 0
    i = start
    n = len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            j = i + 1
            while j < n and text[j].isspace():
                j += 1
            tokens.append(_Token("ws", text[i:j]))
            i = j
        elif char in "{[":
            depth += 1
            tokens.append(_Token(char, char))
            i += 1
        elif char in "}]":
            depth -= 1
            tokens.append(_Token(char, char))
            i += 1
            if depth == 0:
                return tokens, i
        elif char in ":,":
            tokens.append(_Token(char, char))
            i += 1
        elif char in _FULLWIDTH_PUNCTUATION:
            ascii_char = _FULLWIDTH_PUNCTUATION[char]
            tokens.append(_Token(ascii_char, ascii_char, "json_fullwidth_punctuation"))
            i += 1
        elif char == '"' or char in _SMART_DOUBLE or char == "'" or char in _SMART_SINGLE:
            if char == '"':
                closers, single, fix = '"', False, ""
            elif char in _SMART_DOUBLE:
                closers, single, fix = _SMART_DOUBLE + '"', False, "json_smart_quotes"
            elif char == "'":
                closers, single, fix = "'" + _SMART_SINGLE, True, "json_single_quotes"
            else:
                closers, single, fix = "'" + _SMART_SINGLE, True, "json_smart_quotes"
            try:
                json_text, control, i = _read_string(text, i, closers, single=single)
            except _Truncated as exc:
                raise _Truncated(depth, in_string=True) from exc
            if control and not fix:
                fix = "json_control_character"
            tokens.append(_Token("str", json_text, fix))
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            tokens.append(_Token("comment", text[i:end]))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end == -1:
                raise _Truncated(depth, in_string=False)
            tokens.append(_Token("comment", text[i : end + 2]))
            i = end + 2
        else:
            j = i
            while (
                j < n
                and text[j] not in _WORD_STOP
                and not text[j].isspace()
                and not text.startswith(("//", "/*"), j)
            ):
                j += 1
            j = max(j, i + 1)
            tokens.append(_Token("word", text[i:j]))
            i = j
    raise _Truncated(depth, in_string=False)


def _next_significant(tokens: list[_Token], index: int) -> _Token | None:
    for token in tokens[index + 1 :]:
        if token.kind not in ("ws", "comment"):
            return token
    return None


def _repair_tokens(tokens: list[_Token], repairs: list[str]) -> str:
    """Apply the lexical repairs, each recorded once with a count, and return JSON text."""
    counts: dict[str, int] = {}

    def bump(code: str) -> None:
        counts[code] = counts.get(code, 0) + 1

    for token in tokens:
        if token.fix:
            bump(token.fix)

    # Comments become a space so they never glue two tokens together.
    fixed: list[_Token] = []
    for token in tokens:
        if token.kind == "comment":
            bump("json_comment")
            fixed.append(_Token("ws", " "))
        else:
            fixed.append(token)
    tokens = fixed

    # Bare words: Python literals, then unquoted keys / values ("30%", 中文 text).
    fixed = []
    for index, token in enumerate(tokens):
        if token.kind == "word":
            word = token.text
            following = _next_significant(tokens, index)
            if following is not None and following.kind == ":":
                bump("json_unquoted_key")
                token = _Token("str", json.dumps(word, ensure_ascii=False))
            elif word in _PYTHON_LITERALS:
                bump("json_python_literal")
                token = _Token("word", _PYTHON_LITERALS[word])
            elif word not in _JSON_WORDS and not _JSON_NUMBER.fullmatch(word):
                bump("json_unquoted_value")
                token = _Token("str", json.dumps(word, ensure_ascii=False))
        fixed.append(token)
    tokens = fixed

    # Commas: drop those before a closer (trailing) or after an opener/comma (extra).
    fixed = []
    previous_kind = ""
    for index, token in enumerate(tokens):
        if token.kind == ",":
            following = _next_significant(tokens, index)
            if following is not None and following.kind in ("}", "]"):
                bump("json_trailing_comma")
                continue
            if previous_kind in ("{", "[", ","):
                bump("json_extra_comma")
                continue
        if token.kind != "ws":
            previous_kind = token.kind
        fixed.append(token)
    tokens = fixed

    # Missing commas: a value directly followed by another key or value.
    fixed = []
    previous_kind = ""
    for token in tokens:
        if previous_kind in ("str", "word", "}", "]") and token.kind in ("str", "word", "{", "["):
            bump("json_missing_comma")
            # Put the comma right after the previous value, before any whitespace.
            position = len(fixed)
            while position > 0 and fixed[position - 1].kind == "ws":
                position -= 1
            fixed.insert(position, _Token(",", ","))
        if token.kind != "ws":
            previous_kind = token.kind
        fixed.append(token)
    tokens = fixed

    details = {
        "json_smart_quotes": "replaced {} strings",
        "json_single_quotes": "converted {} strings",
        "json_fullwidth_punctuation": "replaced {}",
        "json_control_character": "escaped raw control characters in {} strings",
        "json_comment": "removed {}",
        "json_python_literal": "converted {} (True/False/None)",
        "json_unquoted_key": "quoted {}",
        "json_unquoted_value": "quoted {}",
        "json_trailing_comma": "removed {}",
        "json_extra_comma": "removed {}",
        "json_missing_comma": "inserted {}",
    }
    for code, detail in details.items():
        if counts.get(code):
            repairs.append(f"{code}: {detail.format(counts[code])}")
    return "".join(token.text for token in tokens)


def _loads(text: str) -> tuple[Any, ValueError | None]:
    try:
        return json.loads(text), None
    except RecursionError:
        return _MISSING, ValueError("nested too deeply")
    except ValueError as exc:  # JSONDecodeError, or Python's int-size limit
        return _MISSING, exc


def _describe_decode_error(exc: ValueError) -> tuple[str, int | None]:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})", exc.pos
    return str(exc), None


def _load_object(raw: str, repairs: list[str], *, nested: bool = False) -> dict[str, Any]:
    """Find, repair and decode the one JSON object in ``raw``."""
    text = raw.strip()
    if text.startswith("\ufeff"):
        text = text.lstrip("\ufeff").strip()
        repairs.append("bom_removed: removed byte order mark")
    if not text:
        raise PersonaParseError("empty_output", "the model returned no text")

    fence = next((m for m in _FENCE.finditer(text) if "{" in m.group(2) or "[" in m.group(2)), None)
    if fence is not None:
        text = fence.group(2).strip()
        repairs.append(f"json_fenced: removed ```{fence.group(1)} fence")
    else:
        opening = _OPEN_FENCE.search(text)
        if opening is not None and "{" in text[opening.end() :]:
            # An opening fence with no closing one: usually an answer cut off by max_tokens.
            text = text[opening.end() :].strip()
            repairs.append(f"json_fenced: removed unclosed ```{opening.group(1)} fence")

    value, _ = _loads(text)
    if value is not _MISSING:
        return _as_object(value, repairs, nested=nested)

    first_error: PersonaParseError | None = None
    search_from = 0
    for _ in range(MAX_JSON_CANDIDATES):
        start = text.find("{", search_from)
        if start == -1:
            break
        # "[ {...} ]": start at the bracket so the list is seen (and unwrapped) as a whole.
        before = text[:start].rstrip()
        if before.endswith("[") and len(before) - 1 >= search_from:
            start = len(before) - 1
        attempt: list[str] = []  # kept only if this candidate is the one we use
        try:
            value, end, error = _decode_candidate(text, start, attempt)
        except PersonaParseError as exc:  # truncated: every later "{" is inside this one
            raise (first_error or exc) from None
        if error is not None:
            # Maybe prose with braces ("the {persona} below"); try the next "{" after it.
            first_error = first_error or error
            search_from = end
            continue
        prose_before, prose_after = len(text[:start].strip()), len(text[end:].strip())
        if prose_before or prose_after:
            repairs.append(
                f"json_extracted: removed prose around the object "
                f"({prose_before} chars before, {prose_after} after)"
            )
        repairs.extend(attempt)
        return _as_object(value, repairs, nested=nested)
    if first_error is not None:
        raise first_error
    raise PersonaParseError(
        "no_json", f"no JSON object found in the model's answer: {_preview(text)}"
    )


def _decode_candidate(
    text: str, start: int, repairs: list[str]
) -> tuple[Any, int, PersonaParseError | None]:
    """Decode the bracketed value at ``start``: strictly, else after the lexical repairs.

    Returns the value (or ``_MISSING``), the index after it and the error if it failed; an
    answer that ends before the value closes raises ``truncated_json``.
    """
    try:
        tokens, end = _scan(text, start)
    except _Truncated as exc:
        where = "inside a string" if exc.in_string else f"with {exc.depth} bracket(s) still open"
        raise PersonaParseError(
            "truncated_json",
            f"the answer ends {where} ({len(text)} chars); was it cut off by max_tokens?",
            position=len(text),
        ) from None
    value, strict_error = _loads(text[start:end])
    if value is not _MISSING:
        return value, end, None
    value, _ = _loads(_repair_tokens(tokens, repairs))
    if value is not _MISSING:
        return value, end, None
    detail, position = (
        _describe_decode_error(strict_error) if strict_error else ("undecodable", None)
    )
    error = PersonaParseError(
        "invalid_json",
        f"the JSON object is invalid and could not be repaired: {detail}",
        position=None if position is None else start + position,
    )
    return _MISSING, end, error


def _as_object(value: Any, repairs: list[str], *, nested: bool) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        repairs.append("top_level_list: took the only object from a list")
        return value[0]
    if isinstance(value, str) and not nested and value.strip()[:1] in ("{", "["):
        repairs.append("json_double_encoded: decoded JSON given as a JSON string")
        return _load_object(value, repairs, nested=True)
    if isinstance(value, list):
        described = f"a list of {len(value)} items"
    else:
        described = f"{_json_type(value)} {_preview(json.dumps(value, ensure_ascii=False))}"
    raise PersonaParseError("not_an_object", f"the answer is {described}, not one JSON object")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _preview(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# --------------------------------------------------------------------------------------------
# Stage 2 and 3: JSON value → PersonaOutput
# --------------------------------------------------------------------------------------------

_KEY_NOISE = re.compile(r"[\s_\-.:：/()（）\[\]【】「」\"'*%#＃]+")


def _key(name: str) -> str:
    """Normalise a key for alias lookup: width, case, spaces and punctuation don't matter."""
    return _KEY_NOISE.sub("", unicodedata.normalize("NFKC", name).casefold())


def _alias_map(aliases: Mapping[str, Sequence[str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for canonical, variants in aliases.items():
        for variant in (canonical, *variants):
            result.setdefault(_key(variant), canonical)
    return result


# Simplified spellings are listed too: models drift into them even when asked for Traditional.
_FIELD_ALIASES = _alias_map(
    {
        "basic_attributes": (
            "basic attributes",
            "basic attribute",
            "demographics",
            "用戶基本屬性",
            "用户基本属性",
            "使用者基本屬性",
            "基本屬性",
            "基本属性",
            "用戶屬性",
            "基本資料",
        ),
        "personality": (
            "personality traits",
            "traits",
            "個性",
            "个性",
            "性格",
            "個性特徵",
            "個性特質",
            "人格特質",
        ),
        "mental_state": (
            "mental state",
            "psychological state",
            "psychology",
            "mindset",
            "心理狀態",
            "心理状态",
            "心理",
            "心態",
        ),
        "interests": (
            "interest",
            "hobbies",
            "個人興趣",
            "个人兴趣",
            "興趣",
            "兴趣",
            "興趣愛好",
            "兴趣爱好",
        ),
        "lifestyle": ("life style", "生活方式", "生活型態", "生活形態", "生活習慣"),
    }
)
_SECTION_ALIASES = _alias_map(
    {
        "summary": ("overview", "摘要", "總結", "总结", "概述", "簡介", "简介", "總覽"),
        "profile": (
            "user profile",
            "persona profile",
            "用戶輪廓",
            "用户轮廓",
            "用戶畫像",
            "用户画像",
            "用戶檔案",
            "輪廓",
        ),
        "hashtags": (
            "hashtag",
            "tags",
            "hash tags",
            "標籤",
            "标签",
            "話題標籤",
            "主題標籤",
        ),
        "age_groups": (
            "age",
            "ages",
            "age group",
            "age distribution",
            "年齡分佈",
            "年齡分布",
            "年龄分布",
            "年龄分佈",
            "年齡",
            "年齡層",
            "年齡層分佈",
            "年齡組",
        ),
        "gender": (
            "genders",
            "gender distribution",
            "sex",
            "性別分佈",
            "性別分布",
            "性别分布",
            "性别分佈",
            "性別",
            "性别",
            "性別比例",
        ),
    }
)
_LANGUAGE_ALIASES = _alias_map(
    {
        "zh": (
            "zh-tw",
            "zh-hk",
            "zh-hant",
            "chinese",
            "traditional chinese",
            "chinese traditional",
            "中文",
            "繁體中文",
            "繁体中文",
            "華文",
        ),
        "en": ("english", "英文", "英語", "英语"),
    }
)
# Hashtags given as two top-level keys instead of one object.
_SPLIT_HASHTAG_ALIASES = _alias_map(
    {
        "hashtags.zh": (
            "hashtags zh",
            "zh hashtags",
            "chinese hashtags",
            "hashtags chinese",
            "中文hashtags",
            "hashtags中文",
            "中文標籤",
        ),
        "hashtags.en": (
            "hashtags en",
            "en hashtags",
            "english hashtags",
            "hashtags english",
            "英文hashtags",
            "hashtags英文",
            "英文標籤",
        ),
    }
)
_GENDER_ALIASES = _alias_map(
    {
        "male": ("m", "man", "men", "男", "男性", "男生", "男士"),
        "female": ("f", "woman", "women", "女", "女性", "女生", "女士"),
        "other": ("others", "其他", "其它", "non-binary", "nonbinary", "非二元"),
    }
)

_AGE_DASHES = re.compile(r"\s*(?:[–—―‐‑‒−~〜]|至|到|\bto\b)\s*")
_AGE_UNITS = re.compile(r"歲|岁|years?\s*old|years?|yrs?|y/?o")
_AGE_PLUS = re.compile(r"及以上|或以上|以上|and\s+above|and\s+over|or\s+above|or\s+older|or\s+more")
_AGE_AT_LEAST = re.compile(r"^(?:>=|≥|>)(\d+)\+?$")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TAG_SEPARATORS = re.compile(r"[,，、;；|\n]+")
# Split before each "#" (kept, so stripping it is counted as a repair) and at separators.
_TAG_SEPARATORS_WITH_HASH = re.compile(r"[,，、;；|\s]+|(?=[#＃])")
_PERCENT_TEXT = re.compile(r"\+?(\d+(?:\.\d*)?|\.\d+)")


def _age_key(name: str) -> str:
    """Normalise an age-group label: "15–19歲", "15 ~ 19", "60歲以上", "60 +" → "15-19", "60+"."""
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    text = _AGE_UNITS.sub("", text)
    text = _AGE_PLUS.sub("+", text)
    text = _AGE_DASHES.sub("-", text)
    text = re.sub(r"\s+", "", text).replace("++", "+")
    at_least = _AGE_AT_LEAST.match(text)
    return f"{at_least.group(1)}+" if at_least else text


def _format_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.4f}".rstrip("0").rstrip(".")


def _path_label(path: str) -> str:
    field = path.rsplit(".", 1)[-1]
    return f"{path} ({PROFILE_LABELS_ZH[field]})" if field in PROFILE_LABELS_ZH else path


class _Builder:
    """Stages 2 and 3. One instance per parse; repairs are appended in the order they happen."""

    def __init__(
        self, age_groups: tuple[str, ...], genders: tuple[str, ...], repairs: list[str]
    ) -> None:
        self.age_groups = age_groups
        self.genders = genders
        self.repairs = repairs
        self.controls_removed = 0
        self._age_lookup = {_age_key(key): key for key in reversed(age_groups)}
        self._gender_lookup = {_key(key): key for key in reversed(genders)}

    def fail(self, code: str, message: str) -> PersonaParseError:
        return PersonaParseError(code, message)

    # -- structure ---------------------------------------------------------------------------

    def build(self, data: dict[str, Any]) -> PersonaOutput:
        data = self._unwrap(data)
        sections, flat_fields, container = self._sections(data)
        fields = self._profile_fields(container, flat_fields, sections)
        profile = {name: self._profile_text(fields.get(name), name) for name in PROFILE_FIELDS}
        summary = self._summary(sections.get("summary"))
        hashtags = self._hashtags(sections)
        age_groups = self._distribution(
            sections.get("age_groups", _MISSING), "age_groups", self.age_groups, self._age_group
        )
        gender = self._distribution(
            sections.get("gender", _MISSING), "gender", self.genders, self._gender
        )
        if self.controls_removed:
            self.repairs.append(f"control_characters_removed: {self.controls_removed}")
        try:
            return PersonaOutput(
                summary=summary,
                profile=Profile(**profile),
                hashtags=Hashtags(**hashtags),
                age_groups=age_groups,
                gender=gender,
            )
        except ValueError as exc:  # pydantic.ValidationError; the checks above should prevent it
            raise self.fail("invalid_output", f"the persona failed validation: {exc}") from exc

    def _unwrap(self, data: dict[str, Any]) -> dict[str, Any]:
        # {"persona": {...everything...}}: a single wrapper key around the real object.
        if len(data) == 1:
            ((key, inner),) = data.items()
            if isinstance(inner, dict) and any(
                _SECTION_ALIASES.get(_key(str(k))) in ("hashtags", "age_groups", "gender")
                for k in inner
            ):
                self.repairs.append(f"unwrapped: {key}")
                return inner
        return data

    def _classify(self, key: str) -> str | None:
        normal = _key(key)
        return (
            _SECTION_ALIASES.get(normal)
            or _FIELD_ALIASES.get(normal)
            or _SPLIT_HASHTAG_ALIASES.get(normal)
            # "1. 用戶基本屬性": numbered headings.
            or _FIELD_ALIASES.get(normal.lstrip("0123456789"))
        )

    def _sections(
        self, data: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        sections: dict[str, Any] = {}
        flat_fields: dict[str, Any] = {}
        for key, value in data.items():
            name = self._classify(str(key))
            if name is None:
                self.repairs.append(f"ignored_key: {key}")
                continue
            target = flat_fields if name in PROFILE_FIELDS else sections
            if name in target:
                self.repairs.append(f"ignored_key: {key} (duplicate of {name})")
                continue
            if key != name:
                self.repairs.append(f"key_alias: {key} → {name}")
            target[name] = value
        container = sections.get("profile")
        if container is not None and not isinstance(container, dict):
            raise self.fail(
                "bad_type", f"profile must be an object of texts, not {_json_type(container)}"
            )
        return sections, flat_fields, container

    def _profile_fields(
        self,
        container: dict[str, Any] | None,
        flat_fields: dict[str, Any],
        sections: dict[str, Any],
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key, value in (container or {}).items():
            name = self._classify(str(key))
            if name in PROFILE_FIELDS:
                if name in fields:
                    self.repairs.append(f"ignored_key: profile.{key} (duplicate of {name})")
                    continue
                if key != name:
                    self.repairs.append(f"key_alias: {key} → {name}")
                fields[name] = value
            elif name is not None and name != "profile" and name not in sections:
                # Hashtags or distributions nested inside the profile: hoist them.
                self.repairs.append(f"key_moved: profile.{key} → {name}")
                sections[name] = value
            else:
                self.repairs.append(f"ignored_key: profile.{key}")
        moved = 0
        for name, value in flat_fields.items():
            if name in fields:
                self.repairs.append(f"ignored_key: {name} (also under profile)")
            else:
                fields[name] = value
                moved += 1
        if moved:
            self.repairs.append(f"profile_flat: {moved} fields at top level")
        return fields

    # -- texts -------------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        # NUL and other C0 controls are never meant, and PostgreSQL's jsonb rejects \u0000.
        cleaned, count = _CONTROL_CHARS.subn("", text)
        self.controls_removed += count
        return cleaned.strip()

    def _text(self, value: Any, path: str) -> str:
        if isinstance(value, str):
            return self._clean(value)
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            items = [self._clean(item) for item in value]
            items = [item for item in items if item]
            separator = "、" if any(_CJK.search(item) for item in items) else ", "
            self.repairs.append(f"field_joined: {path} given as a list of {len(value)}")
            return separator.join(items)
        raise self.fail("bad_type", f"{_path_label(path)} must be text, not {_json_type(value)}")

    def _profile_text(self, value: Any, name: str) -> str:
        path = f"profile.{name}"
        if value is None:
            raise self.fail("missing_field", f"{_path_label(path)} is missing")
        text = self._text(value, path)
        if not text:
            raise self.fail("missing_field", f"{_path_label(path)} is empty")
        if len(text) > MAX_FIELD_CHARS:
            raise self.fail(
                "field_too_long",
                f"{_path_label(path)} has {len(text)} characters (at most {MAX_FIELD_CHARS})",
            )
        return text

    def _summary(self, value: Any) -> str:
        if value is None:
            return ""
        text = self._text(value, "summary")
        if len(text) > MAX_SUMMARY_CHARS:
            raise self.fail(
                "field_too_long",
                f"summary has {len(text)} characters (at most {MAX_SUMMARY_CHARS})",
            )
        return text

    # -- hashtags ----------------------------------------------------------------------------

    def _hashtags(self, sections: dict[str, Any]) -> dict[str, list[str]]:
        value = sections.get("hashtags")
        languages: dict[str, list[str]] = {}
        if isinstance(value, dict):
            for key, tags in value.items():
                language = _LANGUAGE_ALIASES.get(_key(str(key)))
                if language is None:
                    self.repairs.append(f"ignored_key: hashtags.{key}")
                    continue
                if language in languages:
                    self.repairs.append(f"ignored_key: hashtags.{key} (duplicate of {language})")
                    continue
                if key != language:
                    self.repairs.append(f"key_alias: {key} → hashtags.{language}")
                languages[language] = self._tags(tags, f"hashtags.{language}")
        elif isinstance(value, list | str):
            # One list for both languages: Chinese tags are the ones written in CJK script.
            tags = self._tags(value, "hashtags")
            languages = {
                "zh": [tag for tag in tags if _CJK.search(tag)],
                "en": [tag for tag in tags if not _CJK.search(tag)],
            }
            self.repairs.append(f"hashtags_by_script: split {len(tags)} hashtags into zh and en")
        elif value is not None:
            raise self.fail(
                "bad_type", f"hashtags must be an object with zh and en, not {_json_type(value)}"
            )
        for language in HASHTAG_LANGUAGES:
            split_value = sections.get(f"hashtags.{language}")
            if split_value is not None and language not in languages:
                languages[language] = self._tags(split_value, f"hashtags.{language}")
        if not languages:
            raise self.fail("missing_field", "hashtags is missing")
        result: dict[str, list[str]] = {}
        for language in HASHTAG_LANGUAGES:
            path = f"hashtags.{language}"
            if language not in languages:
                raise self.fail("missing_field", f"{path} is missing")
            tags = languages[language]
            if len(tags) < MIN_HASHTAGS:
                listed = ", ".join(tags) or "none"
                raise self.fail(
                    "hashtags_too_few",
                    f"{path} has {len(tags)} hashtag(s) ({listed}); at least {MIN_HASHTAGS} needed",
                )
            if len(tags) > MAX_HASHTAGS:
                self.repairs.append(
                    f"hashtags_truncated: {path} had {len(tags)}, kept the first {MAX_HASHTAGS}"
                )
                tags = tags[:MAX_HASHTAGS]
            result[language] = tags
        return result

    def _tags(self, value: Any, path: str) -> list[str]:
        """Clean one list of hashtags: split strings, strip '#', drop empties and duplicates."""
        if isinstance(value, str):
            items = _split_tags(value)
            self.repairs.append(f"hashtags_split: {path} given as one string")
        elif isinstance(value, list):
            items = []
            for item in value:
                if not isinstance(item, str):
                    raise self.fail(
                        "bad_type", f"{path} must hold text, not {_json_type(item)} {item!r}"
                    )
                stripped = item.strip()
                if _TAG_SEPARATORS.search(stripped) or re.search("[#＃]", stripped.lstrip("#＃")):
                    items.extend(_split_tags(stripped))
                    self.repairs.append(f"hashtags_split: {path} item {stripped!r}")
                else:
                    items.append(stripped)
        else:
            raise self.fail("bad_type", f"{path} must be a list of text, not {_json_type(value)}")
        tags: list[str] = []
        seen: set[str] = set()
        stripped_hash = duplicates = 0
        for item in items:
            tag = self._clean(item)
            if tag[:1] in ("#", "＃"):
                tag = tag.lstrip("#＃").strip()
                stripped_hash += 1
            if not tag:
                continue
            identity = unicodedata.normalize("NFKC", tag).casefold()
            if identity in seen:
                duplicates += 1
                continue
            if len(tag) > MAX_HASHTAG_CHARS:
                raise self.fail(
                    "hashtag_too_long",
                    f"{path} has a {len(tag)}-character hashtag {_preview(tag)} "
                    f"(at most {MAX_HASHTAG_CHARS})",
                )
            seen.add(identity)
            tags.append(tag)
        if stripped_hash:
            self.repairs.append(f"hashtag_hash_stripped: {path} ({stripped_hash})")
        if duplicates:
            self.repairs.append(f"hashtag_duplicate: removed {duplicates} from {path}")
        return tags

    # -- distributions -----------------------------------------------------------------------

    def _age_group(self, key: str) -> str:
        if key in self.age_groups:
            return key
        canonical = self._age_lookup.get(_age_key(key))
        if canonical is None:
            raise self.fail(
                "unknown_age_group",
                f"age_groups has an unknown group {key!r}; expected {', '.join(self.age_groups)}",
            )
        self.repairs.append(f"age_group_alias: {key} → {canonical}")
        return canonical

    def _gender(self, key: str) -> str:
        if key in self.genders:
            return key
        normal = _key(key)
        canonical = self._gender_lookup.get(normal)
        if canonical is None:
            alias = _GENDER_ALIASES.get(normal)
            canonical = self._gender_lookup.get(_key(alias)) if alias else None
        if canonical is None:
            raise self.fail(
                "unknown_gender",
                f"gender has an unknown key {key!r}; expected {', '.join(self.genders)}",
            )
        self.repairs.append(f"gender_alias: {key} → {canonical}")
        return canonical

    def _pairs(self, value: list[Any], name: str) -> dict[str, Any]:
        """[{"age": "15-19", "percent": 30}, …] or [["15-19", 30], …] → {"15-19": 30, …}."""
        result: dict[str, Any] = {}
        for item in value:
            pair = list(item.values()) if isinstance(item, dict) else item
            if not isinstance(pair, list) or len(pair) != 2:
                raise self.fail(
                    "bad_type", f"{name} must be an object of percentages, not a list of {item!r}"
                )
            labels = [
                index
                for index, part in enumerate(pair)
                if isinstance(part, str) and not _is_percent(part)
            ]
            if len(labels) != 1:
                raise self.fail("bad_type", f"{name} has a list item without one label: {item!r}")
            label, number = pair[labels[0]], pair[1 - labels[0]]
            if label in result:
                raise self.fail("duplicate_key", f"{name} lists {label!r} twice")
            result[label] = number
        self.repairs.append(f"distribution_list: {name} given as a list of {len(value)}")
        return result

    def _number(self, value: Any, name: str, key: str) -> tuple[Fraction, bool]:
        where = f"{name}[{key!r}]"
        if isinstance(value, bool) or value is None:
            raise self.fail("bad_value", f"{where} is {json.dumps(value)}, not a percentage")
        if isinstance(value, int):
            return Fraction(value), False
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail("bad_value", f"{where} is {value}, not a percentage")
            return _fraction(value), False
        if isinstance(value, str):
            text = unicodedata.normalize("NFKC", value).strip()
            text = re.sub(r"\s*(?:%|percent)$", "", text, flags=re.IGNORECASE).strip()
            match = _PERCENT_TEXT.fullmatch(text)
            if match is not None:
                return Fraction(match.group(1).rstrip(".") or "0"), True
            if re.fullmatch(r"-\s*\d+(?:\.\d*)?", text):
                raise self.fail("negative_value", f"{where} is negative: {value!r}")
        raise self.fail("bad_value", f"{where} is {value!r}, not a percentage")

    def _distribution(
        self, value: Any, name: str, keys: tuple[str, ...], resolve: Callable[[str], str]
    ) -> dict[str, int]:
        if value is _MISSING or value is None:
            raise self.fail("missing_field", f"{name} is missing")
        if isinstance(value, list):
            value = self._pairs(value, name)
        if not isinstance(value, dict):
            raise self.fail(
                "bad_type", f"{name} must be an object of percentages, not {_json_type(value)}"
            )
        found: dict[str, Fraction] = {}
        coerced = 0
        for raw_key, raw_value in value.items():
            key = resolve(str(raw_key))
            if key in found:
                raise self.fail("duplicate_key", f"{name} gives {key!r} twice (as {raw_key!r})")
            number, was_text = self._number(raw_value, name, str(raw_key))
            if number < 0:
                raise self.fail(
                    "negative_value", f"{name}[{raw_key!r}] is negative: {_format_number(number)}"
                )
            coerced += was_text
            found[key] = number
        if coerced:
            self.repairs.append(f"value_coerced: {name} ({coerced} text values)")
        missing = [key for key in keys if key not in found]
        if len(missing) * 2 > len(keys):
            raise self.fail(
                "incomplete_distribution",
                f"{name} is missing {len(missing)} of {len(keys)} keys: {', '.join(missing)}",
            )
        if missing:
            self.repairs.append(f"distribution_filled: {name} {', '.join(missing)} set to 0")
        values = {key: found.get(key, Fraction(0)) for key in keys}
        total = sum(values.values(), Fraction(0))
        described = ", ".join(f"{key}={_format_number(v)}" for key, v in values.items())
        if total == 0:
            raise self.fail("bad_distribution", f"{name} sums to 0 ({described})")
        low, high = (
            DISTRIBUTION_TOTAL - DISTRIBUTION_TOLERANCE,
            DISTRIBUTION_TOTAL + DISTRIBUTION_TOLERANCE,
        )
        if all(v <= 1 for v in values.values()) and low <= total * DISTRIBUTION_TOTAL <= high:
            # Fractions of one (0.3, 0.45 …) rather than percentages.
            self.repairs.append(
                f"distribution_fractions: {name} summed to {_format_number(total)}, "
                "scaled to percentages"
            )
            values = {key: v * DISTRIBUTION_TOTAL for key, v in values.items()}
            total *= DISTRIBUTION_TOTAL
        if not low <= total <= high:
            raise self.fail(
                "bad_distribution",
                f"{name} sums to {_format_number(total)} ({described}); "
                f"expected {DISTRIBUTION_TOTAL}",
            )
        result = normalise_distribution(values)
        if any(result[key] != values[key] for key in keys):
            self.repairs.append(
                f"distribution_normalised: {name} summed to {_format_number(total)}"
            )
        return result


def _is_percent(text: str) -> bool:
    cleaned = re.sub(r"\s*(?:%|percent)$", "", unicodedata.normalize("NFKC", text).strip())
    return _PERCENT_TEXT.fullmatch(cleaned.strip()) is not None


def _split_tags(text: str) -> list[str]:
    text = text.strip()
    if "#" in text or "＃" in text:
        parts = _TAG_SEPARATORS_WITH_HASH.split(text)
    elif _TAG_SEPARATORS.search(text):
        parts = _TAG_SEPARATORS.split(text)
    else:
        parts = text.split()
    return [part.strip() for part in parts if part.strip()]


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def parse_persona_output(
    raw: str, *, age_groups: Sequence[str], genders: Sequence[str]
) -> ParseResult:
    """Parse, repair and validate one model answer; raise :class:`PersonaParseError` if hopeless.

    ``age_groups`` and ``genders`` are the prompt version's canonical keys; the distributions
    come back with exactly those keys, in that order.
    """
    age_keys = _check_keys(age_groups, "age_groups")
    gender_keys = _check_keys(genders, "genders")
    if not isinstance(raw, str):
        raise TypeError(f"raw must be str, not {type(raw).__name__}")
    if len(raw) > MAX_RAW_CHARS:
        raise PersonaParseError(
            "too_long", f"the answer has {len(raw)} characters (at most {MAX_RAW_CHARS})"
        )
    repairs: list[str] = []
    try:
        data = _load_object(raw, repairs)
        output = _Builder(age_keys, gender_keys, repairs).build(data)
    except PersonaParseError as exc:
        exc.repairs = tuple(repairs)
        raise
    return ParseResult(output=output, repairs=tuple(repairs))
