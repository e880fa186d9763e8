"""Reading preference files (CSV or JSON) into validated rows, or one error that says where.

Reading is separate from storing: the whole file is read and checked before anything is
written, so a bad row on line 4,000 rejects the file without leaving the first 3,999 behind.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from personaplatform.errors import InvalidInput

from .models import APP_NAME_MAX_LENGTH

REQUIRED_COLUMNS = ("audience_key", "audience_name", "app", "score", "share", "rank")
OPTIONAL_COLUMNS = ("as_of", "audience_size", "seed_app")
# A preference file is a few thousand rows; refuse what is clearly not one before parsing it.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
# Errors beyond this many are counted, not listed: the first few are what a person fixes.
MAX_REPORTED_ERRORS = 20

# The database's integer columns hold at most this.
MAX_INTEGER = 2_147_483_647

AUDIENCE_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
CONTROL_CHARS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
WHITESPACE_RE = re.compile(r"\s+")


class ImportFileError(InvalidInput):
    code = "invalid_file"


@dataclass(frozen=True)
class PreferenceRow:
    line: int
    audience_key: str
    audience_name: str
    app: str
    score: float
    share: float
    rank: int
    as_of: date | None = None
    audience_size: int | None = None
    seed_app: str = ""


def clean_name(value: str) -> str:
    """Collapse whitespace (newlines included) so a name is one line of data."""
    return WHITESPACE_RE.sub(" ", value).strip()


def read_preference_file(stream: IO[bytes], *, filename: str) -> list[PreferenceRow]:
    """Parse and validate a whole preference file; raise ImportFileError naming every problem."""
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(f"{filename}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{filename}: not UTF-8 text (byte {exc.start} cannot be decoded)."
        ) from None
    if not text.strip():
        raise ImportFileError(f"{filename}: the file is empty.")
    is_json = filename.lower().endswith(".json") or text.lstrip()[:1] in "[{"
    records = _json_records(text, filename) if is_json else _csv_records(text, filename)

    rows: list[PreferenceRow] = []
    errors: list[str] = []
    for where, record in records:
        try:
            rows.append(_row(where, record))
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
        if len(rows) > MAX_ROWS:
            raise ImportFileError(f"{filename}: more than {MAX_ROWS} rows.")
    if not errors:
        errors = list(_cross_row_errors(rows))
    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        more = len(errors) - len(shown)
        suffix = f"\n… and {more} more." if more else ""
        raise ImportFileError(
            f"{filename}: {len(errors)} problem(s); nothing was imported.\n"
            + "\n".join(shown)
            + suffix,
            detail={"errors": shown, "total": len(errors)},
        )
    if not rows:
        raise ImportFileError(f"{filename}: no rows after the header.")
    return rows


def _csv_records(text: str, filename: str) -> Iterator[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [(name or "").strip() for name in reader.fieldnames or []]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ImportFileError(
            f"{filename}: line 1: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)})."
        )
    reader.fieldnames = header
    try:
        for record in reader:
            if None in record:
                yield f"line {reader.line_num}", {"__extra__": record[None]}
                continue
            if not any((value or "").strip() for value in record.values()):
                continue
            yield f"line {reader.line_num}", record
    except csv.Error as exc:
        raise ImportFileError(f"{filename}: line {reader.line_num}: {exc}.") from None


def _json_records(text: str, filename: str) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{filename}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})."
        ) from None
    if isinstance(document, dict) and isinstance(document.get("rows"), list):
        document = document["rows"]
    if not isinstance(document, list):
        raise ImportFileError(
            f'{filename}: expected a JSON list of rows (or {{"rows": [...]}}), '
            f"got {type(document).__name__}."
        )
    for index, record in enumerate(document, start=1):
        if not isinstance(record, dict):
            yield f"row {index}", {"__not_object__": record}
        else:
            yield f"row {index}", record


def _row(where: str, record: dict[str, Any]) -> PreferenceRow:
    if "__extra__" in record:
        raise ValueError("more values than columns in the header")
    if "__not_object__" in record:
        raise ValueError("each row must be a JSON object")
    missing = [c for c in REQUIRED_COLUMNS if record.get(c) is None or str(record[c]).strip() == ""]
    if missing:
        raise ValueError(f"missing value for {', '.join(missing)}")

    key = str(record["audience_key"]).strip()
    if not AUDIENCE_KEY_RE.fullmatch(key):
        raise ValueError(
            f"audience_key {key[:60]!r} must be 1–100 lowercase letters, digits, '-' or '_'"
        )
    return PreferenceRow(
        line=_line_number(where),
        audience_key=key,
        audience_name=_text(record["audience_name"], "audience_name", 200),
        app=_text(record["app"], "app", APP_NAME_MAX_LENGTH),
        score=_number(record["score"], "score", minimum=0.0),
        share=_number(record["share"], "share", minimum=0.0, maximum=1.0),
        rank=_integer(record["rank"], "rank", minimum=1),
        as_of=_date(record.get("as_of")),
        audience_size=(
            _integer(record["audience_size"], "audience_size", minimum=1)
            if str(record.get("audience_size") or "").strip()
            else None
        ),
        seed_app=(
            _text(record["seed_app"], "seed_app", APP_NAME_MAX_LENGTH)
            if str(record.get("seed_app") or "").strip()
            else ""
        ),
    )


def _cross_row_errors(rows: Iterable[PreferenceRow]) -> Iterator[str]:
    names: dict[str, PreferenceRow] = {}
    dates: dict[str, PreferenceRow] = {}
    ranks: dict[tuple[str, int], PreferenceRow] = {}
    apps: dict[tuple[str, str], PreferenceRow] = {}
    for row in rows:
        first = names.setdefault(row.audience_key, row)
        if first.audience_name != row.audience_name:
            yield (
                f"line {row.line}: audience {row.audience_key!r} is named "
                f"{row.audience_name!r} here but {first.audience_name!r} on line {first.line}"
            )
        first_dated = dates.setdefault(row.audience_key, row)
        if first_dated.as_of != row.as_of:
            yield (
                f"line {row.line}: as_of {row.as_of} differs from {first_dated.as_of} on line "
                f"{first_dated.line}; one audience's rows are one snapshot, of one date"
            )
        clash = ranks.setdefault((row.audience_key, row.rank), row)
        if clash is not row:
            yield (
                f"line {row.line}: rank {row.rank} of audience {row.audience_key!r} "
                f"is already used on line {clash.line}"
            )
        clash = apps.setdefault((row.audience_key, row.app.casefold()), row)
        if clash is not row:
            yield (
                f"line {row.line}: app {row.app!r} is listed twice for audience "
                f"{row.audience_key!r} (also line {clash.line})"
            )


def _line_number(where: str) -> int:
    return int(where.rsplit(" ", 1)[-1])


def _text(value: Any, column: str, max_length: int) -> str:
    if not isinstance(value, str | int | float):
        raise ValueError(f"{column} must be text")
    text = clean_name(str(value))
    if CONTROL_CHARS_RE.search(text):
        raise ValueError(f"{column} {text[:60]!r} contains control characters")
    if not text:
        raise ValueError(f"{column} is empty")
    if len(text) > max_length:
        raise ValueError(f"{column} is longer than {max_length} characters ({len(text)})")
    return text


def _number(value: Any, column: str, *, minimum: float, maximum: float | None = None) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{column} must be a number, not {value!r}")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{column} {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{column} must be a finite number, not {value!r}")
    if number < minimum or (maximum is not None and number > maximum):
        bounds = (
            f"between {_show(minimum)} and {_show(maximum)}"
            if maximum is not None
            else (f"≥ {_show(minimum)}")
        )
        raise ValueError(f"{column} {number:g} must be {bounds}")
    return number


def _show(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _integer(value: Any, column: str, *, minimum: int) -> int:
    number = _number(value, column, minimum=minimum, maximum=MAX_INTEGER)
    if not number.is_integer():
        raise ValueError(f"{column} {value!r} must be a whole number")
    return int(number)


def _date(value: Any) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"as_of {text[:40]!r} is not a date (YYYY-MM-DD)") from None
