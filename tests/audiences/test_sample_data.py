"""Checks on the committed sample catalog and the synthetic preference lists built from it.

None of these touch the database: they read apps.json and preferences.csv directly, and re-run
the (stdlib-only) build script to prove the committed CSV is what the seeded simulation makes.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "audiences" / "sample_data"
CATALOG_PATH = DATA / "apps.json"
PREFERENCES_PATH = DATA / "preferences.csv"

HEADER = [
    "audience_key",
    "audience_name",
    "app",
    "score",
    "share",
    "rank",
    "as_of",
    "audience_size",
    "seed_app",
]
FIELDS = {"name", "store_id", "category", "description_zh", "description_en", "aliases"}
BIG_CATEGORIES = ("music", "games", "finance", "shopping", "food", "travel", "social", "video")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
STORE_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)+$")

# Hand-picked independently of the build script, so the regional check does not just replay the
# script's own tables: apps that only people living in one of the two places would have.
HK_LOCAL = {
    "MTR Mobile",
    "KMB App1933",
    "香港出行易 HKeMobility",
    "HKTaxi",
    "八達通 Octopus",
    "PayMe",
    "AlipayHK",
    "中銀香港",
    "恒生銀行 Hang Seng",
    "ZA Bank",
    "Mox Bank",
    "富途牛牛",
    "HKTVmall",
    "Price.com.hk 格價",
    "百佳 PARKnSHOP",
    "OpenRice",
    "Deliveroo 戶戶送",
    "Keeta",
    "LIHKG 連登",
    "高登討論區",
    "明報",
    "香港01",
    "on.cc 東網",
    "星島頭條",
    "信報",
    "無綫新聞 TVB News",
    "Viu",
    "myTV SUPER",
    "MOOV",
    "JOOX",
    "Jobsdb",
    "28Hse 香港屋網",
    "URBTIX 城市售票網",
    "HA Go",
    "香港賽馬會 HKJC",
    "我的天文台 MyObservatory",
    "iAM Smart 智方便",
    "親子王國 Baby-Kingdom",
}
TW_LOCAL = {
    "街口支付",
    "LINE Pay",
    "全支付",
    "悠遊付",
    "國泰世華 CUBE",
    "中國信託行動銀行",
    "台新 Richart",
    "玉山行動銀行",
    "三竹股市",
    "元大投資先生",
    "蝦皮購物 Shopee",
    "momo購物",
    "PChome 24h購物",
    "酷澎 Coupang",
    "PX Go! 全聯",
    "Costco",
    "Uber Eats",
    "高鐵 T Express",
    "台鐵 e訂通",
    "台北捷運Go",
    "YouBike 微笑單車",
    "Gogoro",
    "PTT",
    "Dcard",
    "LINE TODAY",
    "TVBS新聞",
    "7-ELEVEN",
    "全家便利商店",
    "健保快易通",
    "生活氣象",
    "BabyHome",
    "博客來",
}


@pytest.fixture(scope="module")
def catalog() -> list[dict]:
    with CATALOG_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def category_of(catalog: list[dict]) -> dict[str, str]:
    return {app["name"]: app["category"] for app in catalog}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with PREFERENCES_PATH.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def audiences(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        grouped[row["audience_key"]].append(row)
    for items in grouped.values():
        items.sort(key=lambda r: int(r["rank"]))
    return dict(grouped)


def top_apps(audiences: dict[str, list[dict[str, str]]], key: str, n: int) -> list[str]:
    assert key in audiences, f"no audience {key!r} in preferences.csv"
    return [row["app"] for row in audiences[key][:n]]


# --- catalog


def test_catalog_is_large_with_unique_names(catalog: list[dict]) -> None:
    names = [app["name"] for app in catalog]
    assert len(names) >= 150
    assert len(set(names)) == len(names)


def test_catalog_entries_are_complete(catalog: list[dict]) -> None:
    from audiences.models import APP_DESCRIPTION_MAX_LENGTH, APP_NAME_MAX_LENGTH

    limit = min(300, APP_DESCRIPTION_MAX_LENGTH)
    for app in catalog:
        assert set(app) == FIELDS, app
        assert app["name"].strip() == app["name"] != ""
        assert len(app["name"]) <= APP_NAME_MAX_LENGTH
        assert STORE_ID_RE.match(app["store_id"]), app
        for field in ("description_zh", "description_en"):
            text = app[field]
            assert text.strip(), (app["name"], field)
            assert len(text) <= limit, (app["name"], field)
            assert "\n" not in text, (app["name"], field)
        assert isinstance(app["aliases"], list)
        assert all(isinstance(a, str) and a.strip() for a in app["aliases"]), app


def test_catalog_zh_descriptions_are_chinese(catalog: list[dict]) -> None:
    for app in catalog:
        assert re.search(r"[\u4e00-\u9fff]", app["description_zh"]), app["name"]


def test_aliases_do_not_point_at_two_apps(catalog: list[dict]) -> None:
    owner: dict[str, str] = {}
    for app in catalog:
        for label in [app["name"], *app["aliases"]]:
            folded = label.casefold()
            assert owner.setdefault(folded, app["name"]) == app["name"], label


def test_catalog_categories_are_valid_and_covered(catalog: list[dict]) -> None:
    from audiences.models import AppCategory

    valid = set(AppCategory.values)
    per_category = Counter(app["category"] for app in catalog)
    assert set(per_category) <= valid
    for category in valid - {AppCategory.OTHER}:
        assert per_category[category] >= 3, category
    for category in BIG_CATEGORIES:
        assert per_category[category] >= 10, category


# --- preference lists


def test_preferences_header(rows: list[dict[str, str]]) -> None:
    with PREFERENCES_PATH.open(encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == HEADER
    assert rows


def test_preferences_cover_many_audiences(audiences: dict[str, list[dict[str, str]]]) -> None:
    assert len(audiences) >= 30
    for key in audiences:
        assert SLUG_RE.match(key), key


def test_audience_level_columns_are_consistent(
    audiences: dict[str, list[dict[str, str]]], category_of: dict[str, str]
) -> None:
    names = set()
    for key, items in audiences.items():
        first = items[0]
        for row in items:
            for column in ("audience_name", "as_of", "audience_size", "seed_app"):
                assert row[column] == first[column], (key, column)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", first["as_of"])
        assert int(first["audience_size"]) > 0
        assert first["seed_app"] in category_of, key
        names.add(first["audience_name"])
    assert len(names) == len(audiences)


def test_every_listed_app_is_in_the_catalog(
    rows: list[dict[str, str]], category_of: dict[str, str]
) -> None:
    missing = {row["app"] for row in rows} - set(category_of)
    assert not missing


def test_item_values_are_well_formed(audiences: dict[str, list[dict[str, str]]]) -> None:
    for key, items in audiences.items():
        ranks = [int(row["rank"]) for row in items]
        assert ranks == list(range(1, len(items) + 1)), key
        apps = [row["app"] for row in items]
        assert len(set(apps)) == len(apps), key
        assert items[0]["seed_app"] not in apps, key
        size = int(items[0]["audience_size"])
        scores = []
        for row in items:
            share = float(row["share"])
            score = float(row["score"])
            assert 0 < share <= 1, (key, row["app"])
            assert score > 0, (key, row["app"])
            # Each lift must rest on enough users to mean something.
            assert share * size >= 29.5, (key, row["app"])
            scores.append(score)
        assert scores == sorted(scores, reverse=True), key


def test_build_script_reproduces_committed_file(tmp_path: Path) -> None:
    output = tmp_path / "preferences.csv"
    subprocess.run(
        [sys.executable, "-m", "audiences.sample_data.build_preferences", "--output", str(output)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert output.read_bytes() == PREFERENCES_PATH.read_bytes()


# --- the lists make sense (each of these would fail on uniform noise)


def test_regional_oracle_names_exist(category_of: dict[str, str]) -> None:
    assert set(category_of) >= HK_LOCAL | TW_LOCAL


def test_spotify_audience_prefers_music_and_video(
    audiences: dict[str, list[dict[str, str]]],
    catalog: list[dict],
    category_of: dict[str, str],
) -> None:
    media = {"music", "video"}
    base_rate = sum(app["category"] in media for app in catalog) / len(catalog)
    hits = sum(category_of[app] in media for app in top_apps(audiences, "spotify", 10))
    assert hits >= max(3, 2 * 10 * base_rate)


def test_babyhome_audience_is_parents(
    audiences: dict[str, list[dict[str, str]]], category_of: dict[str, str]
) -> None:
    top = top_apps(audiences, "babyhome", 10)
    assert sum(category_of[app] == "parenting" for app in top) >= 3
    assert category_of[top[0]] == "parenting"


def test_hsbc_hk_audience_lives_in_hong_kong(audiences: dict[str, list[dict[str, str]]]) -> None:
    top = top_apps(audiences, "hsbc-hk", 20)
    assert len(set(top) & HK_LOCAL) >= 10
    assert not set(top) & TW_LOCAL


def test_jkopay_audience_lives_in_taiwan(audiences: dict[str, list[dict[str, str]]]) -> None:
    top = top_apps(audiences, "jkopay", 20)
    assert not set(top) & HK_LOCAL
    assert set(top) & TW_LOCAL


def test_genshin_audience_plays_games(
    audiences: dict[str, list[dict[str, str]]], category_of: dict[str, str]
) -> None:
    top = top_apps(audiences, "genshin-impact", 10)
    assert sum(category_of[app] == "games" for app in top) >= 7


def test_runners_and_daters_cluster(
    audiences: dict[str, list[dict[str, str]]], category_of: dict[str, str]
) -> None:
    runners = top_apps(audiences, "nike-run-club", 5)
    assert sum(category_of[app] == "health" for app in runners) >= 3
    daters = top_apps(audiences, "tinder", 5)
    assert sum(category_of[app] == "dating" for app in daters) >= 3
