"""Build ``preferences.csv``: synthetic "installers of app X" preference lists for the catalog.

Run it with ``python -m audiences.sample_data.build_preferences [--output PATH]``. It needs only
the standard library (no Django), and the output is byte-for-byte reproducible: everything random
comes from one seeded ``random.Random`` and every ordering is total.

Simulation model
----------------
A population of synthetic smartphone users lives in one of two regions, Taiwan or Hong Kong
(roughly in proportion to their populations). Each app has a *base rate* per region: how likely
an arbitrary user there is to have it. A base rate of zero means the app is not offered (or not
used) in that region, so HK users never get 高鐵 T Express or 街口支付 from their base rates, and
TW users never get PayMe or MTR Mobile.

Each user also belongs to one to three *segments* (music lovers, hardcore gamers, young parents,
commuters, ...), drawn without replacement with region-specific prevalence weights. A segment
gives its member an extra, independent chance to install each of its apps: strong, medium or
light, plus a few apps it installs even where they are local to the other region (travellers
carrying MTR Mobile or 高鐵 T Express). The chances combine as a noisy-OR with the base rate,
so a user in several relevant segments is more likely, but never certain, to have an app. Some
segments also *damp* base rates (older adults rarely pick up TikTok just because everyone has
it).

Finally each user has an *appetite* for apps: light users keep few, heavy users many. It is an
exponent on the non-install probability, ``p' = 1 - (1 - p) ** appetite``, which keeps every
probability in [0, 1] while shifting heavy users up across the board.

For each seed app the audience is everyone who has it. For every other app, ``share`` is the
fraction of the audience that has it and ``score`` is the lift, ``share`` divided by the app's
share of the whole population. Apps with too little support are dropped because their lift is
noise; the rest are ranked by lift, then share, and the top ones are written out.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

HERE = Path(__file__).resolve().parent
CATALOG_PATH = HERE / "apps.json"
DEFAULT_OUTPUT = HERE / "preferences.csv"

RANDOM_SEED = 20261203
POPULATION = 40_000
AS_OF = "2026-11-30"
MIN_SHARE = 0.03
MIN_SUPPORT = 30
TOP_N = 20

FIELDNAMES = (
    "audience_key",
    "audience_name",
    "app",
    "score",
    "share",
    "rank",
    "as_of",
    "audience_size",
    "seed_app",
)

REGIONS = ("tw", "hk")
# Taiwan has roughly three times Hong Kong's population; a pure 3:1 split would leave some HK
# audiences too small for stable lifts, so HK is slightly over-sampled.
REGION_WEIGHTS = (0.62, 0.38)

# How many segments a user belongs to: (count, weight).
SEGMENT_COUNTS = ((1, 0.30), (2, 0.45), (3, 0.25))

# Appetite exponents and their weights; the mean is close to 1 so base rates keep their meaning.
APPETITE_LEVELS = ((0.6, 0.15), (0.8, 0.25), (1.0, 0.30), (1.25, 0.20), (1.6, 0.10))

STRONG = 0.55
MEDIUM = 0.28
LIGHT = 0.12
VISITING = 0.10
DAMP_FACTOR = 0.35

# Base install rate per region, (tw, hk). Every catalog app must appear here, so adding an app
# to apps.json forces a decision about where it is used.
BASE_RATES: dict[str, tuple[float, float]] = {
    # music
    "Spotify": (0.15, 0.15),
    "KKBOX": (0.20, 0.04),
    "Apple Music": (0.08, 0.10),
    "YouTube Music": (0.12, 0.10),
    "JOOX": (0.0, 0.07),
    "MOOV": (0.0, 0.06),
    "StreetVoice 街聲": (0.02, 0.0),
    "MyMusic": (0.03, 0.0),
    "SoundCloud": (0.02, 0.03),
    "Shazam": (0.04, 0.05),
    "Apple Podcasts": (0.06, 0.05),
    "Smule": (0.02, 0.02),
    # video
    "YouTube": (0.92, 0.92),
    "Netflix": (0.28, 0.30),
    "Disney+": (0.10, 0.10),
    "Prime Video": (0.03, 0.04),
    "friDay影音": (0.08, 0.0),
    "myVideo": (0.06, 0.0),
    "LINE TV": (0.10, 0.0),
    "Hami Video": (0.06, 0.0),
    "KKTV": (0.04, 0.0),
    "CATCHPLAY+": (0.03, 0.0),
    "巴哈姆特動畫瘋": (0.04, 0.0),
    "Viu": (0.0, 0.10),
    "myTV SUPER": (0.0, 0.14),
    "愛奇藝": (0.08, 0.08),
    "bilibili": (0.02, 0.04),
    "Twitch": (0.02, 0.02),
    # social
    "Facebook": (0.75, 0.72),
    "Instagram": (0.55, 0.62),
    "Threads": (0.18, 0.10),
    "X": (0.06, 0.08),
    "TikTok": (0.18, 0.15),
    "小紅書": (0.08, 0.18),
    "Pinterest": (0.05, 0.05),
    "Reddit": (0.02, 0.03),
    "Dcard": (0.10, 0.0),
    "PTT": (0.08, 0.0),
    "巴哈姆特": (0.04, 0.0),
    "Plurk 噗浪": (0.02, 0.0),
    "Mobile01": (0.03, 0.0),
    "LIHKG 連登": (0.0, 0.14),
    "高登討論區": (0.0, 0.03),
    "微博 Weibo": (0.02, 0.06),
    # messaging
    "LINE": (0.96, 0.18),
    "WhatsApp": (0.12, 0.95),
    "Messenger": (0.50, 0.45),
    "WeChat 微信": (0.08, 0.50),
    "Telegram": (0.06, 0.18),
    "Signal": (0.02, 0.06),
    "Discord": (0.04, 0.04),
    # games
    "原神": (0.03, 0.03),
    "崩壞：星穹鐵道": (0.015, 0.015),
    "絕區零": (0.01, 0.01),
    "傳說對決": (0.04, 0.01),
    "PUBG MOBILE": (0.02, 0.02),
    "天堂M": (0.015, 0.0),
    "神魔之塔": (0.015, 0.02),
    "怪物彈珠": (0.015, 0.01),
    "賽馬娘 Pretty Derby": (0.01, 0.01),
    "Fate/Grand Order": (0.01, 0.01),
    "PlayStation App": (0.02, 0.03),
    "Steam": (0.02, 0.02),
    "Nintendo Switch Online": (0.02, 0.03),
    "Pokémon GO": (0.04, 0.04),
    "Pokémon TCG Pocket": (0.02, 0.02),
    "Candy Crush Saga": (0.04, 0.04),
    "Royal Match": (0.03, 0.03),
    "Coin Master": (0.02, 0.02),
    "明星三缺一": (0.03, 0.0),
    "Roblox": (0.01, 0.01),
    "Minecraft": (0.01, 0.01),
    # finance
    "街口支付": (0.25, 0.0),
    "LINE Pay": (0.40, 0.0),
    "全支付": (0.12, 0.0),
    "悠遊付": (0.06, 0.0),
    "國泰世華 CUBE": (0.28, 0.0),
    "中國信託行動銀行": (0.22, 0.0),
    "台新 Richart": (0.10, 0.0),
    "玉山行動銀行": (0.14, 0.0),
    "三竹股市": (0.05, 0.0),
    "元大投資先生": (0.04, 0.0),
    "Yahoo奇摩股市": (0.06, 0.0),
    "PayMe": (0.0, 0.40),
    "八達通 Octopus": (0.0, 0.45),
    "AlipayHK": (0.0, 0.30),
    "HSBC HK": (0.0, 0.32),
    "中銀香港": (0.0, 0.22),
    "恒生銀行 Hang Seng": (0.0, 0.15),
    "ZA Bank": (0.0, 0.06),
    "Mox Bank": (0.0, 0.05),
    "富途牛牛": (0.0, 0.04),
    "TradingView": (0.01, 0.01),
    # shopping
    "蝦皮購物 Shopee": (0.45, 0.0),
    "momo購物": (0.22, 0.0),
    "PChome 24h購物": (0.12, 0.0),
    "酷澎 Coupang": (0.12, 0.0),
    "露天拍賣": (0.04, 0.0),
    "Yahoo奇摩購物中心": (0.05, 0.0),
    "LINE購物": (0.06, 0.0),
    "PX Go! 全聯": (0.14, 0.0),
    "Costco": (0.12, 0.0),
    "HKTVmall": (0.0, 0.25),
    "Price.com.hk 格價": (0.0, 0.05),
    "百佳 PARKnSHOP": (0.0, 0.10),
    "ZALORA": (0.0, 0.03),
    "Carousell 旋轉拍賣": (0.02, 0.22),
    "淘寶 Taobao": (0.06, 0.22),
    "Temu": (0.08, 0.08),
    "SHEIN": (0.05, 0.04),
    "Amazon": (0.02, 0.03),
    "Uniqlo": (0.06, 0.06),
    "IKEA": (0.04, 0.05),
    "屈臣氏 Watsons": (0.05, 0.08),
    "迪卡儂 Decathlon": (0.02, 0.02),
    "誠品線上": (0.02, 0.0),
    # food
    "foodpanda": (0.25, 0.22),
    "Uber Eats": (0.22, 0.0),
    "Deliveroo 戶戶送": (0.0, 0.08),
    "Keeta": (0.0, 0.10),
    "OpenRice": (0.0, 0.22),
    "愛食記": (0.04, 0.0),
    "EZTABLE 簡單桌": (0.02, 0.0),
    "iCook 愛料理": (0.04, 0.0),
    "麥當勞": (0.18, 0.20),
    "星巴克": (0.14, 0.10),
    "肯德基 KFC": (0.06, 0.04),
    "必勝客 Pizza Hut": (0.04, 0.04),
    "路易莎咖啡": (0.06, 0.0),
    # travel
    "Klook": (0.08, 0.12),
    "KKday": (0.06, 0.03),
    "Agoda": (0.06, 0.06),
    "Booking.com": (0.06, 0.07),
    "Trip.com": (0.04, 0.08),
    "Airbnb": (0.04, 0.04),
    "Skyscanner": (0.03, 0.05),
    "Expedia": (0.01, 0.02),
    "Tripadvisor": (0.02, 0.02),
    "中華航空 China Airlines": (0.02, 0.005),
    "長榮航空 EVA Air": (0.03, 0.005),
    "星宇航空 STARLUX": (0.02, 0.003),
    "國泰航空 Cathay Pacific": (0.005, 0.06),
    "HK Express": (0.002, 0.04),
    "雄獅旅遊": (0.02, 0.0),
    "易遊網 ezTravel": (0.015, 0.0),
    # transport
    "Google Maps": (0.90, 0.88),
    "Waze": (0.05, 0.02),
    "Uber": (0.25, 0.15),
    "高鐵 T Express": (0.18, 0.0),
    "台鐵 e訂通": (0.10, 0.0),
    "台北捷運Go": (0.10, 0.0),
    "Bus+": (0.12, 0.0),
    "YouBike 微笑單車": (0.12, 0.0),
    "台灣大車隊 55688": (0.08, 0.0),
    "yoxi": (0.05, 0.0),
    "Gogoro": (0.05, 0.0),
    "WeMo": (0.03, 0.0),
    "iRent": (0.04, 0.0),
    "MTR Mobile": (0.0, 0.30),
    "KMB App1933": (0.0, 0.25),
    "香港出行易 HKeMobility": (0.0, 0.12),
    "HKTaxi": (0.0, 0.10),
    "Citymapper": (0.0, 0.06),
    # news
    "LINE TODAY": (0.20, 0.0),
    "Yahoo新聞": (0.14, 0.08),
    "TVBS新聞": (0.05, 0.0),
    "聯合新聞網": (0.04, 0.0),
    "自由時報": (0.04, 0.0),
    "ETtoday新聞雲": (0.04, 0.0),
    "商業周刊": (0.015, 0.0),
    "明報": (0.0, 0.05),
    "香港01": (0.0, 0.12),
    "on.cc 東網": (0.0, 0.08),
    "無綫新聞 TVB News": (0.0, 0.08),
    "星島頭條": (0.0, 0.05),
    "信報": (0.0, 0.015),
    "Google News": (0.05, 0.05),
    "BBC News": (0.01, 0.02),
    "Bloomberg": (0.005, 0.01),
    # productivity
    "Notion": (0.02, 0.02),
    "Slack": (0.015, 0.02),
    "Zoom": (0.06, 0.08),
    "Google Drive": (0.15, 0.15),
    "Microsoft 365": (0.05, 0.06),
    "Microsoft Teams": (0.04, 0.05),
    "Outlook": (0.05, 0.08),
    "Gmail": (0.45, 0.45),
    "Google Calendar": (0.10, 0.10),
    "Evernote": (0.01, 0.01),
    "ChatGPT": (0.10, 0.08),
    "LinkedIn": (0.03, 0.05),
    "104工作快找": (0.05, 0.0),
    "Jobsdb": (0.0, 0.05),
    "Adobe Acrobat Reader": (0.03, 0.03),
    # education
    "Duolingo": (0.05, 0.05),
    "Cake": (0.02, 0.0),
    "VoiceTube": (0.015, 0.0),
    "希平方": (0.008, 0.0),
    "均一教育平台": (0.01, 0.0),
    "Hahow 好學校": (0.01, 0.0),
    "Coursera": (0.005, 0.008),
    "Quizlet": (0.01, 0.015),
    "Photomath": (0.01, 0.01),
    "Google Classroom": (0.01, 0.02),
    # health
    "Nike Run Club": (0.015, 0.015),
    "Nike Training Club": (0.01, 0.01),
    "Keep": (0.01, 0.01),
    "Strava": (0.01, 0.01),
    "MyFitnessPal": (0.01, 0.01),
    "Garmin Connect": (0.02, 0.015),
    "Samsung Health": (0.06, 0.05),
    "Sleep Cycle": (0.01, 0.01),
    "Flo": (0.02, 0.02),
    "健保快易通": (0.18, 0.0),
    "HA Go": (0.0, 0.15),
    # photo
    "B612": (0.04, 0.03),
    "Meitu 美圖秀秀": (0.04, 0.04),
    "Ulike": (0.02, 0.02),
    "SNOW": (0.02, 0.02),
    "BeautyPlus": (0.02, 0.015),
    "Snapseed": (0.01, 0.01),
    "Lightroom": (0.01, 0.01),
    "VSCO": (0.01, 0.01),
    "醒圖 Hypic": (0.02, 0.03),
    "CapCut": (0.04, 0.04),
    "Canva": (0.04, 0.04),
    "Google Photos": (0.30, 0.30),
    # lifestyle
    "7-ELEVEN": (0.35, 0.0),
    "全家便利商店": (0.30, 0.0),
    "KKTIX": (0.03, 0.0),
    "URBTIX 城市售票網": (0.0, 0.03),
    "591房屋交易": (0.05, 0.0),
    "28Hse 香港屋網": (0.0, 0.04),
    "台灣彩券": (0.04, 0.0),
    "米家 Mi Home": (0.03, 0.03),
    "Google Home": (0.02, 0.02),
    # parenting
    "BabyHome": (0.004, 0.0),
    "媽咪拜": (0.003, 0.0),
    "親子天下": (0.004, 0.0),
    "親子王國 Baby-Kingdom": (0.0, 0.004),
    "BabyCenter": (0.002, 0.003),
    "Pregnancy+": (0.002, 0.002),
    "YouTube Kids": (0.01, 0.01),
    "ClassDojo": (0.002, 0.004),
    # dating
    "Tinder": (0.025, 0.03),
    "Bumble": (0.008, 0.015),
    "Pairs": (0.012, 0.0),
    "Coffee Meets Bagel": (0.005, 0.01),
    "Hinge": (0.002, 0.005),
    "探探 Tantan": (0.005, 0.008),
    "Paktor 拍拖": (0.003, 0.005),
    # sports
    "NBA": (0.02, 0.015),
    "MLB": (0.01, 0.002),
    "ESPN": (0.005, 0.008),
    "FotMob": (0.003, 0.01),
    "OneFootball": (0.002, 0.006),
    "CPBL TV": (0.02, 0.0),
    "愛爾達電視 ELTA": (0.015, 0.0),
    "台灣運彩": (0.02, 0.0),
    "香港賽馬會 HKJC": (0.0, 0.10),
    # books
    "Readmoo": (0.01, 0.003),
    "博客來": (0.08, 0.0),
    "Pubu 電子書城": (0.005, 0.0),
    "Hami書城": (0.01, 0.0),
    "Kobo": (0.01, 0.01),
    "Kindle": (0.005, 0.01),
    "WEBTOON": (0.04, 0.02),
    "BOOK☆WALKER": (0.005, 0.003),
    "MANGA Plus": (0.002, 0.004),
    # tools
    "Google Translate": (0.25, 0.25),
    "Chrome": (0.70, 0.65),
    "Whoscall": (0.20, 0.04),
    "Speedtest": (0.03, 0.03),
    "CamScanner": (0.03, 0.04),
    "生活氣象": (0.12, 0.0),
    "我的天文台 MyObservatory": (0.0, 0.55),
    "iAM Smart 智方便": (0.0, 0.30),
    "TW FidO": (0.05, 0.0),
}


@dataclass(frozen=True)
class Segment:
    """A behavioural segment: who is in it (per region) and what it makes people install."""

    key: str
    weight: tuple[float, float]  # relative prevalence in (tw, hk)
    strong: tuple[str, ...] = ()
    medium: tuple[str, ...] = ()
    light: tuple[str, ...] = ()
    # Installed even where the app is local to the other region, e.g. by visitors.
    visiting: tuple[str, ...] = ()
    # Apps whose base rate this segment cuts: its members resist the mainstream pull.
    damp: tuple[str, ...] = ()

    def boosts(self) -> Iterable[tuple[str, float]]:
        for tier, chance in ((self.strong, STRONG), (self.medium, MEDIUM), (self.light, LIGHT)):
            for app in tier:
                yield app, chance


SEGMENTS: tuple[Segment, ...] = (
    Segment(
        "music_lovers",
        (1.0, 1.0),
        strong=("Spotify", "Shazam", "KKTIX", "URBTIX 城市售票網", "JOOX"),
        medium=(
            "KKBOX",
            "Apple Music",
            "YouTube Music",
            "SoundCloud",
            "StreetVoice 街聲",
            "MOOV",
            "Apple Podcasts",
            "MyMusic",
        ),
        light=("Smule", "Instagram", "Threads", "TikTok", "Twitch"),
    ),
    Segment(
        "drama_bingers",
        (1.1, 1.0),
        strong=("Netflix", "friDay影音", "LINE TV", "Viu", "myTV SUPER", "愛奇藝"),
        medium=("Disney+", "myVideo", "Hami Video", "KKTV", "CATCHPLAY+", "Prime Video"),
        light=(
            "Dcard",
            "小紅書",
            "微博 Weibo",
            "foodpanda",
            "Uber Eats",
            "Keeta",
            "Deliveroo 戶戶送",
        ),
    ),
    Segment(
        "hardcore_gamers",
        (0.8, 0.8),
        strong=("原神", "崩壞：星穹鐵道", "Discord", "Steam", "PlayStation App"),
        medium=(
            "絕區零",
            "傳說對決",
            "PUBG MOBILE",
            "Nintendo Switch Online",
            "Twitch",
            "巴哈姆特",
            "神魔之塔",
            "怪物彈珠",
            "天堂M",
        ),
        light=(
            "Fate/Grand Order",
            "賽馬娘 Pretty Derby",
            "巴哈姆特動畫瘋",
            "bilibili",
            "Reddit",
            "LIHKG 連登",
            "PTT",
            "Speedtest",
            "foodpanda",
            "Uber Eats",
        ),
    ),
    Segment(
        # Players of free-to-play character-collecting games; they tend to play several at once.
        "gacha_fans",
        (0.5, 0.5),
        strong=("原神", "崩壞：星穹鐵道", "絕區零"),
        medium=(
            "Fate/Grand Order",
            "賽馬娘 Pretty Derby",
            "神魔之塔",
            "怪物彈珠",
            "Pokémon TCG Pocket",
        ),
        light=("bilibili", "巴哈姆特", "WEBTOON", "Discord"),
    ),
    Segment(
        "casual_gamers",
        (1.0, 1.0),
        strong=("Candy Crush Saga", "Royal Match", "Pokémon GO"),
        medium=("Coin Master", "明星三缺一", "Pokémon TCG Pocket", "傳說對決"),
        light=("神魔之塔", "怪物彈珠", "Roblox", "Facebook", "LINE TODAY", "TikTok"),
    ),
    Segment(
        "young_parents",
        (0.7, 0.6),
        strong=(
            "BabyHome",
            "媽咪拜",
            "親子天下",
            "親子王國 Baby-Kingdom",
            "YouTube Kids",
            "BabyCenter",
        ),
        medium=(
            "Pregnancy+",
            "ClassDojo",
            "Costco",
            "IKEA",
            "iCook 愛料理",
            "Google Photos",
            "HKTVmall",
            "PX Go! 全聯",
            "百佳 PARKnSHOP",
            "momo購物",
        ),
        light=(
            "Roblox",
            "Minecraft",
            "均一教育平台",
            "Google Classroom",
            "屈臣氏 Watsons",
            "591房屋交易",
            "28Hse 香港屋網",
            "Pokémon GO",
            "米家 Mi Home",
            "Klook",
            "KKday",
        ),
        damp=("Tinder", "Bumble", "Dcard", "LIHKG 連登", "Twitch"),
    ),
    Segment(
        "investors",
        (0.8, 1.0),
        strong=("三竹股市", "富途牛牛", "Yahoo奇摩股市", "TradingView"),
        medium=(
            "元大投資先生",
            "信報",
            "Bloomberg",
            "商業周刊",
            "ZA Bank",
            "Mox Bank",
            "台新 Richart",
            "HSBC HK",
            "恒生銀行 Hang Seng",
            "國泰世華 CUBE",
        ),
        light=(
            "LinkedIn",
            "中國信託行動銀行",
            "玉山行動銀行",
            "中銀香港",
            "X",
            "Google News",
            "591房屋交易",
            "28Hse 香港屋網",
        ),
    ),
    Segment(
        "bargain_shoppers",
        (1.2, 1.1),
        strong=(
            "蝦皮購物 Shopee",
            "酷澎 Coupang",
            "Temu",
            "Carousell 旋轉拍賣",
            "淘寶 Taobao",
            "Price.com.hk 格價",
        ),
        medium=(
            "momo購物",
            "PChome 24h購物",
            "露天拍賣",
            "Yahoo奇摩購物中心",
            "LINE購物",
            "SHEIN",
            "HKTVmall",
            "PX Go! 全聯",
            "全支付",
            "街口支付",
            "7-ELEVEN",
            "全家便利商店",
            "百佳 PARKnSHOP",
            "AlipayHK",
        ),
        light=("屈臣氏 Watsons", "Uniqlo", "小紅書", "Costco", "ZALORA", "台灣彩券", "LINE Pay"),
    ),
    Segment(
        "cashless_payers",
        (1.0, 1.0),
        strong=("街口支付", "LINE Pay", "全支付", "PayMe", "AlipayHK", "八達通 Octopus"),
        medium=("悠遊付", "台新 Richart", "ZA Bank", "Mox Bank", "7-ELEVEN", "全家便利商店"),
        light=("蝦皮購物 Shopee", "HKTVmall", "星巴克", "麥當勞"),
    ),
    Segment(
        "foodies",
        (1.0, 1.0),
        strong=("OpenRice", "愛食記", "EZTABLE 簡單桌", "iCook 愛料理"),
        medium=(
            "foodpanda",
            "Uber Eats",
            "Deliveroo 戶戶送",
            "Keeta",
            "星巴克",
            "路易莎咖啡",
            "小紅書",
            "Instagram",
            "麥當勞",
            "肯德基 KFC",
            "必勝客 Pizza Hut",
        ),
        light=("Tripadvisor", "Klook", "KKday", "Threads", "Meitu 美圖秀秀", "LINE Pay"),
    ),
    Segment(
        # People who order in several times a week and keep every platform to compare offers.
        "takeout_regulars",
        (1.0, 1.1),
        strong=("foodpanda", "Uber Eats", "Deliveroo 戶戶送", "Keeta"),
        medium=("麥當勞", "肯德基 KFC", "必勝客 Pizza Hut", "星巴克"),
        light=("Netflix", "Disney+", "Viu", "myTV SUPER", "Uber", "LINE Pay", "PayMe"),
    ),
    Segment(
        "frequent_travellers",
        (0.9, 1.1),
        strong=("Klook", "Booking.com", "Agoda", "Skyscanner", "Trip.com"),
        medium=(
            "KKday",
            "Airbnb",
            "Expedia",
            "Tripadvisor",
            "中華航空 China Airlines",
            "長榮航空 EVA Air",
            "星宇航空 STARLUX",
            "國泰航空 Cathay Pacific",
            "HK Express",
            "Google Translate",
            "雄獅旅遊",
            "易遊網 ezTravel",
        ),
        light=("Uber", "Instagram", "小紅書", "Duolingo", "Lightroom", "Google Photos", "BBC News"),
        visiting=(
            "MTR Mobile",
            "八達通 Octopus",
            "OpenRice",
            "高鐵 T Express",
            "台鐵 e訂通",
            "台北捷運Go",
            "悠遊付",
            "Citymapper",
        ),
    ),
    Segment(
        "commuters",
        (1.3, 1.4),
        strong=(
            "台北捷運Go",
            "Bus+",
            "MTR Mobile",
            "KMB App1933",
            "YouBike 微笑單車",
            "悠遊付",
            "八達通 Octopus",
        ),
        medium=(
            "香港出行易 HKeMobility",
            "Citymapper",
            "台鐵 e訂通",
            "高鐵 T Express",
            "Uber",
            "台灣大車隊 55688",
            "HKTaxi",
            "WeMo",
            "Apple Podcasts",
            "Spotify",
            "LINE TODAY",
        ),
        light=(
            "yoxi",
            "iRent",
            "Gogoro",
            "香港01",
            "on.cc 東網",
            "星島頭條",
            "Yahoo新聞",
            "生活氣象",
            "我的天文台 MyObservatory",
            "麥當勞",
            "7-ELEVEN",
        ),
    ),
    Segment(
        # Taiwan's scooter and car owners; Hong Kong's few drivers mostly take taxis instead.
        "drivers_and_riders",
        (0.8, 0.3),
        strong=("Gogoro", "Waze"),
        medium=("iRent", "yoxi", "WeMo", "Mobile01", "HKTaxi"),
        light=("台灣運彩", "CPBL TV", "591房屋交易", "28Hse 香港屋網", "台灣大車隊 55688"),
    ),
    Segment(
        "students",
        (1.3, 1.2),
        strong=("Dcard", "Instagram", "TikTok", "LIHKG 連登"),
        medium=(
            "Threads",
            "Quizlet",
            "Google Classroom",
            "Duolingo",
            "Photomath",
            "Discord",
            "Spotify",
            "Cake",
            "VoiceTube",
            "均一教育平台",
            "CapCut",
            "Notion",
            "ChatGPT",
            "巴哈姆特",
            "foodpanda",
            "YouBike 微笑單車",
            "小紅書",
            "Canva",
        ),
        light=(
            "希平方",
            "Hahow 好學校",
            "Coursera",
            "高登討論區",
            "PTT",
            "WEBTOON",
            "傳說對決",
            "原神",
            "B612",
            "SNOW",
            "104工作快找",
            "Jobsdb",
            "Uniqlo",
            "SHEIN",
        ),
        damp=("LINE TODAY", "Costco", "健保快易通", "HA Go", "TVBS新聞", "無綫新聞 TVB News"),
    ),
    Segment(
        "fitness",
        (0.8, 0.8),
        strong=("Nike Run Club", "Strava", "Garmin Connect", "Keep"),
        medium=(
            "Nike Training Club",
            "MyFitnessPal",
            "Sleep Cycle",
            "迪卡儂 Decathlon",
            "Samsung Health",
        ),
        light=(
            "Spotify",
            "YouBike 微笑單車",
            "Instagram",
            "Uniqlo",
            "Flo",
            "我的天文台 MyObservatory",
            "生活氣象",
            "Apple Music",
        ),
    ),
    Segment(
        "selfie_and_beauty",
        (1.0, 1.0),
        strong=("B612", "Meitu 美圖秀秀", "Ulike", "醒圖 Hypic", "小紅書"),
        medium=("SNOW", "BeautyPlus", "Instagram", "屈臣氏 Watsons", "SHEIN", "Threads", "Flo"),
        light=("ZALORA", "Uniqlo", "Pinterest", "TikTok", "Dcard", "Klook", "CapCut"),
    ),
    Segment(
        "photo_and_video_creators",
        (0.7, 0.7),
        strong=("Lightroom", "VSCO", "Snapseed", "CapCut", "Canva"),
        medium=("Instagram", "Threads", "Pinterest", "TikTok", "Google Photos", "醒圖 Hypic"),
        light=("Adobe Acrobat Reader", "Google Drive", "Notion", "Klook", "Booking.com", "Twitch"),
    ),
    Segment(
        "news_readers",
        (1.1, 1.1),
        strong=(
            "Yahoo新聞",
            "LINE TODAY",
            "香港01",
            "明報",
            "on.cc 東網",
            "聯合新聞網",
            "自由時報",
        ),
        medium=(
            "TVBS新聞",
            "ETtoday新聞雲",
            "無綫新聞 TVB News",
            "星島頭條",
            "Google News",
            "PTT",
            "LIHKG 連登",
            "X",
            "BBC News",
            "信報",
            "商業周刊",
        ),
        light=(
            "Bloomberg",
            "生活氣象",
            "我的天文台 MyObservatory",
            "Threads",
            "高登討論區",
            "Mobile01",
        ),
    ),
    Segment(
        "office_workers",
        (1.3, 1.4),
        strong=("Microsoft Teams", "Outlook", "Microsoft 365", "Zoom"),
        medium=(
            "Slack",
            "Notion",
            "Google Calendar",
            "Google Drive",
            "LinkedIn",
            "Adobe Acrobat Reader",
            "CamScanner",
            "ChatGPT",
        ),
        light=(
            "Evernote",
            "104工作快找",
            "Jobsdb",
            "Uber Eats",
            "foodpanda",
            "Deliveroo 戶戶送",
            "Keeta",
            "星巴克",
            "路易莎咖啡",
            "麥當勞",
            "MTR Mobile",
            "台北捷運Go",
            "國泰世華 CUBE",
            "HSBC HK",
        ),
    ),
    Segment(
        "tech_geeks",
        (0.6, 0.5),
        strong=("ChatGPT", "Mobile01", "Speedtest", "Reddit", "Notion", "Telegram"),
        medium=(
            "Signal",
            "X",
            "米家 Mi Home",
            "Google Home",
            "Steam",
            "Slack",
            "Price.com.hk 格價",
            "Gogoro",
            "Discord",
            "Garmin Connect",
        ),
        light=(
            "PTT",
            "高登討論區",
            "TradingView",
            "Twitch",
            "Coursera",
            "Lightroom",
            "Nintendo Switch Online",
        ),
    ),
    Segment(
        "anime_and_comics",
        (0.7, 0.5),
        strong=("WEBTOON", "巴哈姆特動畫瘋", "BOOK☆WALKER", "MANGA Plus", "bilibili"),
        medium=(
            "巴哈姆特",
            "KKTV",
            "原神",
            "崩壞：星穹鐵道",
            "賽馬娘 Pretty Derby",
            "Fate/Grand Order",
            "怪物彈珠",
            "Pokémon TCG Pocket",
            "Plurk 噗浪",
            "X",
        ),
        light=("Discord", "Twitch", "神魔之塔", "絕區零", "Readmoo", "Kobo", "Pubu 電子書城"),
    ),
    Segment(
        "singles_dating",
        (0.9, 0.9),
        strong=("Tinder", "Bumble", "Pairs", "Coffee Meets Bagel"),
        medium=("Hinge", "探探 Tantan", "Paktor 拍拖", "Instagram", "Threads"),
        light=(
            "Keep",
            "Nike Training Club",
            "Spotify",
            "Klook",
            "Meitu 美圖秀秀",
            "B612",
            "Uber",
            "小紅書",
            "Dcard",
            "星巴克",
            "Uniqlo",
        ),
        damp=("YouTube Kids", "BabyHome", "媽咪拜", "親子王國 Baby-Kingdom"),
    ),
    Segment(
        "book_lovers",
        (0.6, 0.5),
        strong=("Readmoo", "博客來", "Kobo", "Kindle", "Pubu 電子書城", "誠品線上"),
        medium=("Hami書城", "BOOK☆WALKER", "商業周刊", "Apple Podcasts", "Evernote", "明報"),
        light=(
            "Notion",
            "Coursera",
            "Hahow 好學校",
            "WEBTOON",
            "自由時報",
            "聯合新聞網",
            "Duolingo",
        ),
    ),
    Segment(
        "sports_fans",
        (0.8, 0.8),
        strong=("NBA", "ESPN", "FotMob", "CPBL TV", "香港賽馬會 HKJC", "台灣運彩"),
        medium=("MLB", "OneFootball", "愛爾達電視 ELTA", "myVideo", "PTT", "X"),
        light=(
            "LIHKG 連登",
            "香港01",
            "on.cc 東網",
            "迪卡儂 Decathlon",
            "Nike Run Club",
            "Yahoo新聞",
            "台灣彩券",
        ),
    ),
    Segment(
        "mature_adults",
        (1.2, 1.2),
        strong=(
            "LINE TODAY",
            "Yahoo新聞",
            "TVBS新聞",
            "無綫新聞 TVB News",
            "on.cc 東網",
            "健保快易通",
            "HA Go",
        ),
        medium=(
            "星島頭條",
            "明星三缺一",
            "Facebook",
            "台灣彩券",
            "香港賽馬會 HKJC",
            "愛奇藝",
            "中銀香港",
            "恒生銀行 Hang Seng",
            "玉山行動銀行",
            "Costco",
            "ETtoday新聞雲",
            "自由時報",
            "聯合新聞網",
            "Candy Crush Saga",
            "Whoscall",
            "生活氣象",
            "myTV SUPER",
            "LINE TV",
        ),
        light=("Messenger", "Samsung Health", "悠遊付", "PX Go! 全聯", "明報"),
        damp=(
            "Instagram",
            "Threads",
            "TikTok",
            "Dcard",
            "LIHKG 連登",
            "小紅書",
            "Discord",
            "Spotify",
            "Tinder",
        ),
    ),
    Segment(
        # People with family or business ties across the border use mainland apps daily.
        "mainland_connected",
        (0.3, 1.0),
        strong=("WeChat 微信", "AlipayHK", "淘寶 Taobao", "小紅書"),
        medium=(
            "微博 Weibo",
            "bilibili",
            "Trip.com",
            "Keeta",
            "愛奇藝",
            "探探 Tantan",
            "醒圖 Hypic",
        ),
        light=("Meitu 美圖秀秀", "CapCut", "中銀香港"),
    ),
    Segment(
        "home_movers",
        (0.5, 0.5),
        strong=("591房屋交易", "28Hse 香港屋網", "IKEA"),
        medium=(
            "米家 Mi Home",
            "Google Home",
            "Costco",
            "HKTVmall",
            "Carousell 旋轉拍賣",
            "Mobile01",
        ),
        light=("玉山行動銀行", "國泰世華 CUBE", "HSBC HK", "中銀香港", "Pinterest"),
    ),
)

# The seed apps whose installers form the audiences: (audience key, seed app name).
AUDIENCES: tuple[tuple[str, str], ...] = (
    ("spotify", "Spotify"),
    ("kkbox", "KKBOX"),
    ("joox", "JOOX"),
    ("netflix", "Netflix"),
    ("viu", "Viu"),
    ("ani-gamer", "巴哈姆特動畫瘋"),
    ("genshin-impact", "原神"),
    ("pokemon-go", "Pokémon GO"),
    ("arena-of-valor", "傳說對決"),
    ("candy-crush-saga", "Candy Crush Saga"),
    ("playstation-app", "PlayStation App"),
    ("jkopay", "街口支付"),
    ("payme", "PayMe"),
    ("hsbc-hk", "HSBC HK"),
    ("futubull", "富途牛牛"),
    ("mitake-stock", "三竹股市"),
    ("shopee", "蝦皮購物 Shopee"),
    ("momo", "momo購物"),
    ("hktvmall", "HKTVmall"),
    ("carousell", "Carousell 旋轉拍賣"),
    ("deliveroo", "Deliveroo 戶戶送"),
    ("foodpanda", "foodpanda"),
    ("openrice", "OpenRice"),
    ("ifoodie", "愛食記"),
    ("klook", "Klook"),
    ("agoda", "Agoda"),
    ("mtr-mobile", "MTR Mobile"),
    ("thsr-t-express", "高鐵 T Express"),
    ("gogoro", "Gogoro"),
    ("dcard", "Dcard"),
    ("lihkg", "LIHKG 連登"),
    ("xiaohongshu", "小紅書"),
    ("threads", "Threads"),
    ("babyhome", "BabyHome"),
    ("baby-kingdom", "親子王國 Baby-Kingdom"),
    ("tinder", "Tinder"),
    ("pairs", "Pairs"),
    ("nike-run-club", "Nike Run Club"),
    ("strava", "Strava"),
    ("duolingo", "Duolingo"),
    ("notion", "Notion"),
    ("linkedin", "LinkedIn"),
    ("webtoon", "WEBTOON"),
    ("ming-pao", "明報"),
    ("hk01", "香港01"),
    ("tvbs-news", "TVBS新聞"),
    ("meitu", "Meitu 美圖秀秀"),
    ("nba", "NBA"),
    ("readmoo", "Readmoo"),
)

AUDIENCE_NAME_TEMPLATE = "{app} 使用者"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def load_catalog(path: Path = CATALOG_PATH) -> list[str]:
    """The catalog's app names, in file order (which fixes the simulation's draw order)."""
    with path.open(encoding="utf-8") as fh:
        return [entry["name"] for entry in json.load(fh)]


def check_tables(names: Sequence[str]) -> None:
    """Fail loudly on a typo: a misspelt app in a table would silently drop out of the model."""
    known = set(names)
    problems = []
    if len(known) != len(names):
        problems.append("duplicate app names in the catalog")
    problems += [f"no base rate for {n!r}" for n in names if n not in BASE_RATES]
    problems += [f"base rate for unknown app {n!r}" for n in BASE_RATES if n not in known]
    for segment in SEGMENTS:
        tiers = (segment.strong, segment.medium, segment.light, segment.visiting, segment.damp)
        problems += [
            f"segment {segment.key} names unknown app {n!r}"
            for n in chain.from_iterable(tiers)
            if n not in known
        ]
    keys = [key for key, _ in AUDIENCES]
    if len(set(keys)) != len(keys):
        problems.append("duplicate audience keys")
    problems += [f"audience key {k!r} is not a slug" for k in keys if not SLUG_RE.match(k)]
    problems += [f"unknown seed app {a!r}" for _, a in AUDIENCES if a not in known]
    if problems:
        raise ValueError("; ".join(problems))


def pick_weighted(rng: random.Random, weights: Sequence[float]) -> int:
    """Index drawn with the given weights; hand-rolled so the draws never depend on the
    Python version's implementation of ``random.choices``."""
    target = rng.random() * sum(weights)
    for index, weight in enumerate(weights):
        target -= weight
        if target < 0:
            return index
    return len(weights) - 1


class Model:
    """Per-region, per-segment probability tables, and a cache of combined install vectors."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        index = {name: i for i, name in enumerate(self.names)}
        n = len(self.names)
        self.base = [[BASE_RATES[name][r] for name in self.names] for r in range(len(REGIONS))]
        # Per segment and region: the chance the segment does NOT make its member install each
        # app, and the damping multiplier on the base rate.
        self.seg_miss: list[list[list[float]]] = []
        self.seg_damp: list[list[float]] = []
        for segment in SEGMENTS:
            per_region = []
            for r in range(len(REGIONS)):
                miss = [1.0] * n
                for app, chance in segment.boosts():
                    i = index[app]
                    if self.base[r][i] > 0:
                        miss[i] *= 1.0 - chance
                for app in segment.visiting:
                    miss[index[app]] *= 1.0 - VISITING
                per_region.append(miss)
            self.seg_miss.append(per_region)
            damp = [1.0] * n
            for app in segment.damp:
                damp[index[app]] = DAMP_FACTOR
            self.seg_damp.append(damp)
        self._cache: dict[tuple[int, tuple[int, ...]], list[tuple[int, float]]] = {}

    def miss_vector(self, region: int, segments: tuple[int, ...]) -> list[tuple[int, float]]:
        """(app index, probability of NOT installing) for every app this user could have."""
        key = (region, segments)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        base = self.base[region]
        damp = [1.0] * len(base)
        for s in segments:
            damp = [d * e for d, e in zip(damp, self.seg_damp[s], strict=True)]
        miss = [1.0 - b * d for b, d in zip(base, damp, strict=True)]
        for s in segments:
            miss = [m * e for m, e in zip(miss, self.seg_miss[s][region], strict=True)]
        vector = [(i, m) for i, m in enumerate(miss) if m < 1.0]
        self._cache[key] = vector
        return vector


def simulate(names: Sequence[str], population: int, seed: int) -> list[list[int]]:
    """Each synthetic user's installed apps, as sorted lists of catalog indices."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not security
    rnd = rng.random
    model = Model(names)
    count_weights = [w for _, w in SEGMENT_COUNTS]
    appetite_weights = [w for _, w in APPETITE_LEVELS]
    users: list[list[int]] = []
    for _ in range(population):
        region = pick_weighted(rng, REGION_WEIGHTS)
        how_many = SEGMENT_COUNTS[pick_weighted(rng, count_weights)][0]
        remaining = list(range(len(SEGMENTS)))
        chosen = []
        for _ in range(how_many):
            k = pick_weighted(rng, [SEGMENTS[s].weight[region] for s in remaining])
            chosen.append(remaining.pop(k))
        appetite = APPETITE_LEVELS[pick_weighted(rng, appetite_weights)][0]
        vector = model.miss_vector(region, tuple(sorted(chosen)))
        # P(rnd() >= miss ** appetite) is exactly the appetite-adjusted install probability.
        users.append([i for i, miss in vector if rnd() >= miss**appetite])
    return users


def build_rows(names: Sequence[str], users: Sequence[Sequence[int]]) -> list[dict[str, str]]:
    population = len(users)
    installers: list[list[int]] = [[] for _ in names]
    for u, apps in enumerate(users):
        for i in apps:
            installers[i].append(u)
    overall = [len(members) / population for members in installers]
    index = {name: i for i, name in enumerate(names)}

    rows: list[dict[str, str]] = []
    for key, seed_name in AUDIENCES:
        seed = index[seed_name]
        members = installers[seed]
        size = len(members)
        # Counting co-installs through each member's own list touches only the apps members
        # actually have, instead of intersecting the audience with every app's installers.
        counts = Counter(chain.from_iterable(users[u] for u in members))
        del counts[seed]
        candidates = []
        for i, count in counts.items():
            share = count / size
            if count < MIN_SUPPORT or share < MIN_SHARE:
                continue
            lift = share / overall[i]
            candidates.append((round(lift, 3), round(share, 4), names[i]))
        # Sort on the rounded values so that the ranks agree with the numbers written out.
        candidates.sort(key=lambda c: (-c[0], -c[1], c[2]))
        if not candidates:
            raise ValueError(f"audience {key} has no app with enough support")
        audience_name = AUDIENCE_NAME_TEMPLATE.format(app=seed_name)
        for rank, (score, share, app) in enumerate(candidates[:TOP_N], start=1):
            rows.append(
                {
                    "audience_key": key,
                    "audience_name": audience_name,
                    "app": app,
                    "score": f"{score:.3f}",
                    "share": f"{share:.4f}",
                    "rank": str(rank),
                    "as_of": AS_OF,
                    "audience_size": str(size),
                    "seed_app": seed_name,
                }
            )
    return rows


def write_csv(rows: Iterable[dict[str, str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDNAMES, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the synthetic preference lists in preferences.csv."
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"where to write the CSV (default: {DEFAULT_OUTPUT})",
    )
    args = parser.parse_args(argv)
    names = load_catalog()
    check_tables(names)
    users = simulate(names, POPULATION, RANDOM_SEED)
    rows = build_rows(names, users)
    write_csv(rows, args.output)
    print(f"wrote {len(rows)} rows for {len(AUDIENCES)} audiences to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
