"""The offline backend: a deterministic persona writer grounded in the audience's data.

It is the default backend, so the product works with no API key and no network. It never reads
the rendered messages; it writes from ``request.context`` (the same data the prompt was rendered
from) and answers in the JSON shape the prompt asks for, so its output goes through the same
parser as a real model's.

Method
------
1. **Evidence per category.** Every preferred app adds ``score × share`` (lift × the fraction of
   the audience that has it) to its category. Lift alone over-rewards niche apps that few members
   use; share alone rewards apps everybody has anyway. Their product favours apps that are both
   distinctive and widespread in the audience. If no item carries any evidence (all zeros), the
   ranking itself is the evidence: ``1 / rank``.
2. **Voice.** The persona is written from the strongest categories: up to three whose evidence is
   at least a fifth of the leader's. ``other`` says nothing about who people are, so it is used
   only when no descriptive category has a real share of the evidence.
3. **Distributions.** Each category has age and gender priors (games skew young and male,
   parenting 26-45 and female, finance and news 26-59 …). They are mixed by the evidence shares,
   mapped onto the context's age buckets by year overlap (so "18-24" works as well as the
   defaults; a key that is not an age range gets an even share; gender keys other than male and
   female share a small fixed remainder evenly), nudged a little per sample and rounded to
   integers summing to exactly 100 by the largest-remainder method.
4. **Variation.** Every wording slot has variants. The variant is ``stable_hash(audience_key,
   slot) + sample_index`` modulo the number of variants, so a given draft is byte-identical on
   every run, and consecutive samples differ in every slot. The distribution nudge is seeded from
   ``audience_key`` and ``sample_index``. Hashes come from hashlib, never from ``hash()``, which
   Python randomises per process.
5. **Data is data.** App and audience names are inserted verbatim (the templates escape them),
   after collapsing whitespace and control characters and capping their length, so a hostile
   name can neither break the sentence structure nor bloat the text. ``json.dumps`` keeps them
   inside string values.

Change ``OFFLINE_MODEL`` whenever the generator's output changes (phrases, frames, priors): it is
recorded on every generation, so drafts written by an older generator can be told apart.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .base import LLMError, LLMRequest, LLMResponse, PromptContext, PromptItem

OFFLINE_MODEL = "offline-v1"

# A name longer than this is cut (with an ellipsis): enough for "Deliveroo 戶戶送" and friends,
# too short for a prompt-injection essay.
APP_NAME_MAX_CHARS = 60
# How many apps one phrase names ("常用 Spotify、KKBOX、StreetVoice 聆聽音樂").
APPS_PER_PHRASE = 3
# At most this many categories shape the wording; weaker ones only move the distributions.
VOICE_CATEGORIES = 3
# A category joins the voice if its evidence is at least this fraction of the leader's.
VOICE_RELATIVE_THRESHOLD = 0.2
# Below this share of all evidence, descriptive categories give way to "other".
VOICE_MIN_SHARE = 0.1
# Samples move each bucket's mass by at most ±8 %: visibly different drafts, same overall story.
DISTRIBUTION_NUDGE = 0.08
# Gender keys with no prior ("other", "unknown" …) share this much between them, evenly.
UNKNOWN_GENDER_SHARE = 0.04

FALLBACK_CATEGORY = "other"
UNNAMED_APP = "（未命名 app）"


@dataclass(frozen=True)
class _Voice:
    """How one category reads in a persona, and what it says about who the audience is."""

    label: str  # the interest, as a noun ("音樂")
    noun: str  # the people ("音樂愛好者")
    tail: str  # a summary attribute ("熱愛音樂")
    activities: tuple[str, ...]  # with an {apps} placeholder
    traits: tuple[str, ...]
    minds: tuple[str, ...]
    interests: tuple[str, ...]
    lives: tuple[str, ...]
    hashtags: tuple[tuple[str, str], ...]  # (zh, en) pairs, aligned
    ages: tuple[float, ...]  # prior over PRIOR_AGE_SPANS, in order
    male: float  # prior share of men


# The buckets the age priors are written over, as [first year, year after last).
PRIOR_AGE_SPANS: tuple[tuple[int, int], ...] = (
    (15, 20),  # 15-19
    (20, 26),  # 20-25
    (26, 36),  # 26-35
    (36, 46),  # 36-45
    (46, 60),  # 46-59
    (60, 75),  # 60+ (capped: the priors have to put the mass somewhere)
)

VOICES: dict[str, _Voice] = {
    "music": _Voice(
        label="音樂",
        noun="音樂愛好者",
        tail="熱愛音樂",
        activities=("常用 {apps} 聆聽音樂", "習慣用 {apps} 追新歌、整理歌單"),
        traits=("感性細膩，對聲音與氛圍敏感", "品味鮮明，樂於和朋友分享喜歡的歌"),
        minds=("習慣用音樂調節情緒、替自己紓壓", "在忙碌的節奏中渴望屬於自己的片刻"),
        interests=("音樂串流與新歌探索", "演唱會、現場演出與獨立音樂"),
        lives=("通勤與工作時耳機幾乎不離身", "一天從播放清單開始，也以音樂收尾"),
        hashtags=(
            ("音樂愛好者", "MusicLover"),
            ("歌單控", "PlaylistAddict"),
            ("耳機不離身", "AlwaysListening"),
        ),
        ages=(0.20, 0.27, 0.27, 0.15, 0.08, 0.03),
        male=0.50,
    ),
    "video": _Voice(
        label="影音",
        noun="追劇族",
        tail="愛追劇看影片",
        activities=("常在 {apps} 追劇、看影片", "習慣用 {apps} 收看影集與直播"),
        traits=("好奇心強，容易被好故事吸引", "喜歡話題，樂於和朋友討論最新劇情"),
        minds=("下班後需要放空，把追劇當作充電", "對新內容保持期待，不想錯過熱門話題"),
        interests=("影集、電影與各式影音內容", "熱門劇集、綜藝與創作者頻道"),
        lives=("晚上與週末常窩在家追劇", "零碎時間也會打開影片消磨"),
        hashtags=(
            ("追劇達人", "BingeWatcher"),
            ("影音控", "StreamingFan"),
            ("電影迷", "MovieBuff"),
        ),
        ages=(0.18, 0.26, 0.26, 0.16, 0.10, 0.04),
        male=0.48,
    ),
    "social": _Voice(
        label="社群",
        noun="社群活躍族",
        tail="熱衷社群互動",
        activities=("常在 {apps} 分享生活、追蹤朋友動態", "習慣用 {apps} 關注潮流與話題"),
        traits=("外向健談，重視人際連結", "在意形象，樂於表達自己"),
        minds=("重視他人的回饋與認同", "害怕錯過朋友與潮流的最新動態"),
        interests=("社群互動與網路流行話題", "追蹤網紅、潮流與生活分享"),
        lives=("隨時滑手機更新動態", "生活大小事都習慣拍照上傳分享"),
        hashtags=(
            ("社群達人", "SocialButterfly"),
            ("潮流追蹤者", "TrendWatcher"),
            ("分享生活", "ShareTheMoment"),
        ),
        ages=(0.22, 0.30, 0.25, 0.13, 0.07, 0.03),
        male=0.45,
    ),
    "messaging": _Voice(
        label="即時通訊",
        noun="重度通訊用戶",
        tail="重視即時聯繫",
        activities=("靠 {apps} 與親友、同事保持聯繫", "常用 {apps} 傳訊息、開群組"),
        traits=("重視人情，回訊息迅速", "務實可靠，常是群組裡的聯絡窗口"),
        minds=("希望隨時掌握身邊的人的近況", "看到未讀訊息就想立刻回覆"),
        interests=("與親友聊天、群組互動", "即時通訊與貼圖交流"),
        lives=("工作與生活的溝通都在手機上完成", "通勤空檔也不停回覆訊息"),
        hashtags=(
            ("即時回覆", "AlwaysConnected"),
            ("群組達人", "GroupChatPro"),
            ("人脈經營", "PeopleFirst"),
        ),
        ages=(0.12, 0.20, 0.25, 0.20, 0.15, 0.08),
        male=0.48,
    ),
    "games": _Voice(
        label="遊戲",
        noun="遊戲玩家",
        tail="熱愛遊戲",
        activities=("常在 {apps} 上玩遊戲、和朋友組隊", "習慣用 {apps} 追蹤遊戲活動與更新"),
        traits=("好勝心強，喜歡挑戰與破關", "重視策略與反應，享受和隊友合作"),
        minds=("把遊戲當成紓壓與成就感的來源", "追求升級與收集帶來的滿足"),
        interests=("手機與主機遊戲", "電競賽事、遊戲實況與新作消息"),
        lives=("下課或下班後常上線打幾場", "週末會安排長時間的遊戲時光"),
        hashtags=(
            ("遊戲玩家", "GamerLife"),
            ("電競迷", "EsportsFan"),
            ("手遊控", "MobileGamer"),
        ),
        ages=(0.28, 0.32, 0.24, 0.10, 0.05, 0.01),
        male=0.68,
    ),
    "finance": _Voice(
        label="理財",
        noun="理財族",
        tail="精打細算、重視理財",
        activities=("常用 {apps} 管理帳戶與投資", "習慣用 {apps} 查看帳戶、追蹤市場行情"),
        traits=("理性務實，做決定前會比較評估", "自律謹慎，重視長期規劃"),
        minds=("在意財務安全感，希望資產穩定成長", "對經濟與市場波動保持警覺"),
        interests=("投資理財與財經新聞", "股票、基金與個人理財規劃"),
        lives=("每天固定查看帳戶與行情", "消費前會精打細算、善用回饋與優惠"),
        hashtags=(
            ("精打細算", "SmartSaver"),
            ("投資理財", "InvestSmart"),
            ("財務自由", "FinancialFreedom"),
        ),
        ages=(0.03, 0.12, 0.32, 0.28, 0.20, 0.05),
        male=0.58,
    ),
    "shopping": _Voice(
        label="購物",
        noun="網購族",
        tail="熱衷網購",
        activities=("常在 {apps} 比價、搶優惠", "習慣用 {apps} 逛商品、下單"),
        traits=("精明有主見，會貨比三家", "容易被新品與限時活動吸引"),
        minds=("享受找到好物與好價格的成就感", "對促銷與優惠資訊特別敏感"),
        interests=("網路購物與限時優惠", "新品開箱、好物推薦與比價"),
        lives=("睡前習慣逛一下購物 app", "生活用品多半在網路上下單"),
        hashtags=(
            ("網購達人", "ShopSmart"),
            ("優惠獵人", "DealHunter"),
            ("好物分享", "MustHaves"),
        ),
        ages=(0.08, 0.22, 0.32, 0.22, 0.12, 0.04),
        male=0.38,
    ),
    "food": _Voice(
        label="美食",
        noun="美食饕客",
        tail="講究美食與便利",
        activities=("常用 {apps} 點外送、找餐廳", "習慣在 {apps} 上訂餐、查看優惠"),
        traits=("重視享受，願意為好吃的花時間", "隨性務實，凡事追求方便"),
        minds=("把美食當作犒賞自己的方式", "工作忙碌時希望用餐省時省力"),
        interests=("美食探店與外送新品", "餐廳評比、咖啡與甜點"),
        lives=("工作日常靠外送解決三餐", "週末會和朋友去試新餐廳"),
        hashtags=(
            ("美食控", "Foodie"),
            ("外送達人", "DeliveryLover"),
            ("吃貨日常", "EatWell"),
        ),
        ages=(0.08, 0.25, 0.33, 0.20, 0.10, 0.04),
        male=0.47,
    ),
    "travel": _Voice(
        label="旅遊",
        noun="旅人",
        tail="熱愛旅行",
        activities=("常用 {apps} 訂房、規劃行程", "習慣在 {apps} 上比較機票與住宿"),
        traits=("好奇心旺盛，喜歡探索新事物", "獨立有行動力，說走就走"),
        minds=("渴望暫時離開日常、替自己充電", "透過旅行累積經驗、打開視野"),
        interests=("旅遊規劃與各地文化", "自由行、美食旅遊與景點探索"),
        lives=("假期前就開始研究行程", "常利用連假安排國內外旅行"),
        hashtags=(
            ("旅遊愛好者", "Wanderlust"),
            ("說走就走", "TravelMore"),
            ("自由行", "TravelGram"),
        ),
        ages=(0.04, 0.16, 0.32, 0.26, 0.16, 0.06),
        male=0.46,
    ),
    "transport": _Voice(
        label="交通出行",
        noun="通勤族",
        tail="重視交通便利",
        activities=("每天用 {apps} 查路線、叫車", "習慣靠 {apps} 掌握交通與路況"),
        traits=("講求效率，重視時間規劃", "務實穩定，凡事提早準備"),
        minds=("希望通勤順暢、掌握每天的行程節奏", "對遲到與不確定性比較在意"),
        interests=("交通資訊與城市移動", "自駕、單車與城市探索"),
        lives=("每天往返住家與公司", "出門前習慣先查好路線與時間"),
        hashtags=(
            ("通勤族", "DailyCommuter"),
            ("城市移動", "OnTheMove"),
            ("準時達人", "AlwaysOnTime"),
        ),
        ages=(0.07, 0.20, 0.30, 0.22, 0.15, 0.06),
        male=0.55,
    ),
    "news": _Voice(
        label="新聞時事",
        noun="資訊控",
        tail="關心時事",
        activities=("每天用 {apps} 掌握新聞", "習慣在 {apps} 上閱讀時事與評論"),
        traits=("理性好思考，喜歡有根據的觀點", "求知欲強，對社會議題有自己的看法"),
        minds=("希望隨時掌握世界動態、不被資訊落下", "關心社會與經濟變化對生活的影響"),
        interests=("時事新聞與深度報導", "政治、國際與財經議題"),
        lives=("早上通勤時先瀏覽頭條", "睡前會再看一輪新聞"),
        hashtags=(
            ("時事控", "NewsJunkie"),
            ("關心社會", "StayInformed"),
            ("知識吸收", "KeepLearning"),
        ),
        ages=(0.03, 0.10, 0.22, 0.26, 0.27, 0.12),
        male=0.57,
    ),
    "productivity": _Voice(
        label="效率工作",
        noun="上班族",
        tail="重視效率",
        activities=("常用 {apps} 處理文件與會議", "習慣用 {apps} 管理行程、與同事協作"),
        traits=("目標導向，做事有條理", "責任感強，重視專業"),
        minds=("工作壓力不小，追求掌控感與效率", "希望在工作與生活間取得平衡"),
        interests=("職涯成長與效率工具", "時間管理、工作技巧與自我提升"),
        lives=("行程緊湊，手機就是行動辦公室", "習慣列待辦清單、規劃每一天"),
        hashtags=(
            ("效率達人", "ProductivityPro"),
            ("職場人", "WorkSmart"),
            ("自我提升", "LevelUp"),
        ),
        ages=(0.02, 0.14, 0.36, 0.28, 0.16, 0.04),
        male=0.54,
    ),
    "education": _Voice(
        label="學習",
        noun="學習者",
        tail="熱愛學習",
        activities=("常用 {apps} 學語言、上課", "習慣在 {apps} 上複習與練習"),
        traits=("上進好學，願意投資自己", "有耐心，重視一點一滴的累積"),
        minds=("對未來有期待，也帶點升學或求職的壓力", "希望透過學習獲得成就感與競爭力"),
        interests=("語言學習與線上課程", "考試準備、知識內容與技能進修"),
        lives=("每天安排固定時間學習", "通勤時也會利用零碎時間背單字"),
        hashtags=(
            ("終身學習", "LifelongLearner"),
            ("學霸日常", "StudyGram"),
            ("自我成長", "GrowthMindset"),
        ),
        ages=(0.34, 0.32, 0.16, 0.10, 0.06, 0.02),
        male=0.46,
    ),
    "health": _Voice(
        label="健康運動",
        noun="健康生活派",
        tail="注重健康",
        activities=("常用 {apps} 記錄運動與睡眠", "習慣靠 {apps} 追蹤健身與飲食"),
        traits=("自律有恆心，重視規律", "積極正向，願意為目標付出"),
        minds=("重視身心平衡，在意健康與體態", "透過運動釋放壓力、保持好狀態"),
        interests=("健身、跑步與健康飲食", "運動紀錄、瑜伽與睡眠管理"),
        lives=("固定安排運動時間", "作息規律，飲食會留意營養"),
        hashtags=(
            ("健康生活", "HealthyLiving"),
            ("運動日常", "FitLife"),
            ("自律人生", "SelfDiscipline"),
        ),
        ages=(0.06, 0.18, 0.32, 0.24, 0.15, 0.05),
        male=0.47,
    ),
    "photo": _Voice(
        label="攝影美妝",
        noun="美感生活家",
        tail="重視美感",
        activities=("常用 {apps} 拍照、修圖", "習慣在 {apps} 上編輯照片與影片"),
        traits=("重視美感與細節", "有創意，喜歡表達個人風格"),
        minds=("在意自己在鏡頭前的樣子", "透過創作與打扮獲得自信"),
        interests=("攝影修圖與美妝保養", "穿搭、美妝與影像創作"),
        lives=("出門前會花時間打理外表", "到新地方總會先拍照記錄"),
        hashtags=(
            ("美感生活", "AestheticLife"),
            ("拍照打卡", "PhotoDaily"),
            ("美妝控", "BeautyLover"),
        ),
        ages=(0.20, 0.32, 0.26, 0.13, 0.07, 0.02),
        male=0.30,
    ),
    "lifestyle": _Voice(
        label="生活風格",
        noun="生活品味家",
        tail="講究生活品味",
        activities=("常用 {apps} 找生活靈感", "習慣在 {apps} 上規劃日常、記錄生活"),
        traits=("重視生活品質，有自己的步調", "溫和隨性，喜歡嘗試新事物"),
        minds=("追求平衡與生活中的小確幸", "希望日常多一點儀式感"),
        interests=("居家佈置、生活風格與小旅行", "質感好物、咖啡與生活靈感"),
        lives=("週末喜歡探索城市角落", "重視居家環境與日常儀式感"),
        hashtags=(
            ("生活品味", "GoodLife"),
            ("小確幸", "LittleJoys"),
            ("質感生活", "SlowLiving"),
        ),
        ages=(0.07, 0.20, 0.32, 0.22, 0.14, 0.05),
        male=0.42,
    ),
    "parenting": _Voice(
        label="親子育兒",
        noun="年輕爸媽",
        tail="以家庭為重",
        activities=(
            "常用 {apps} 記錄孩子成長、找育兒資訊",
            "習慣靠 {apps} 安排家庭與孩子的大小事",
        ),
        traits=("有責任感，凡事以家人為先", "細心有耐心，重視安全與品質"),
        minds=("常在工作與育兒之間分身乏術", "關心孩子的成長與教育，也需要喘息的空間"),
        interests=("育兒知識與親子活動", "親子出遊、兒童教育與家庭用品"),
        lives=("生活節奏圍繞孩子的作息", "週末多是親子出遊與家庭時光"),
        hashtags=(
            ("新手爸媽", "ParentLife"),
            ("親子時光", "FamilyTime"),
            ("育兒日常", "ParentingDaily"),
        ),
        ages=(0.01, 0.06, 0.44, 0.38, 0.09, 0.02),
        male=0.32,
    ),
    "dating": _Voice(
        label="交友",
        noun="單身交友族",
        tail="積極拓展交友圈",
        activities=("常用 {apps} 認識新朋友", "習慣在 {apps} 上配對、聊天"),
        traits=("外向主動，樂於認識新朋友", "重視自我形象與第一印象"),
        minds=("渴望陪伴與穩定的關係", "對感情抱持期待，也有些不安"),
        interests=("交友約會與感情話題", "約會餐廳、聚會與新體驗"),
        lives=("下班後常有聚會或約會", "週末喜歡安排社交活動"),
        hashtags=(
            ("單身日常", "SingleLife"),
            ("交友達人", "MeetNewPeople"),
            ("約會靈感", "DateNight"),
        ),
        ages=(0.06, 0.34, 0.36, 0.15, 0.07, 0.02),
        male=0.62,
    ),
    "sports": _Voice(
        label="運動賽事",
        noun="運動迷",
        tail="熱愛運動賽事",
        activities=("常用 {apps} 追比分、看賽事", "習慣在 {apps} 上關注球隊與賽程"),
        traits=("熱血直率，有團隊精神", "好勝又重視公平，喜歡討論戰術"),
        minds=("在比賽中得到熱血與歸屬感", "心情常跟著支持的球隊起伏"),
        interests=("職業運動與賽事轉播", "籃球、棒球、足球等球類賽事"),
        lives=("比賽日會準時守在螢幕前", "也會約朋友打球或一起看球"),
        hashtags=(
            ("運動迷", "SportsFan"),
            ("熱血球迷", "GameDay"),
            ("賽事直擊", "LiveScore"),
        ),
        ages=(0.10, 0.22, 0.28, 0.20, 0.15, 0.05),
        male=0.72,
    ),
    "books": _Voice(
        label="閱讀",
        noun="閱讀愛好者",
        tail="喜愛閱讀",
        activities=("常用 {apps} 看書、追漫畫", "習慣在 {apps} 上閱讀小說與電子書"),
        traits=("內斂沉穩，想像力豐富", "喜歡思考，享受獨處"),
        minds=("透過閱讀沉澱心情、暫時逃離現實壓力", "渴望知識與故事帶來的滿足"),
        interests=("小說、漫畫與電子書", "閱讀、輕小說與知識類書籍"),
        lives=("睡前習慣讀上幾章", "通勤時也在手機上閱讀"),
        hashtags=(
            ("閱讀愛好者", "BookLover"),
            ("漫畫迷", "ComicFan"),
            ("書蟲日常", "Bookworm"),
        ),
        ages=(0.16, 0.24, 0.26, 0.17, 0.12, 0.05),
        male=0.45,
    ),
    "tools": _Voice(
        label="實用工具",
        noun="實用主義者",
        tail="講求實用",
        activities=("常用 {apps} 處理日常大小事", "習慣靠 {apps} 讓手機更好用"),
        traits=("務實理性，重視功能勝過外表", "喜歡鑽研，樂於嘗試新工具"),
        minds=("希望一切井然有序、在掌握之中", "重視安全與隱私"),
        interests=("科技新知與實用 app", "3C 產品與手機技巧"),
        lives=("手機桌面整理得井井有條", "遇到問題習慣先找工具解決"),
        hashtags=(
            ("科技控", "TechSavvy"),
            ("實用主義", "Practical"),
            ("效率生活", "LifeHacks"),
        ),
        ages=(0.08, 0.20, 0.28, 0.22, 0.16, 0.06),
        male=0.60,
    ),
    "other": _Voice(
        label="多元興趣",
        noun="多元使用者",
        tail="興趣多元",
        activities=("會使用 {apps} 等 app", "偶爾打開 {apps} 探索新功能"),
        traits=("興趣廣泛，願意嘗試", "個性隨和，適應力強"),
        minds=("對新事物保持開放", "在日常中尋找新鮮感"),
        interests=("多元的 app 與新服務", "各式新奇的數位體驗"),
        lives=("手機裡裝著各式各樣的 app", "生活節奏彈性多變"),
        hashtags=(
            ("多元興趣", "CuriousMind"),
            ("嘗鮮派", "EarlyAdopter"),
            ("數位生活", "DigitalLife"),
        ),
        ages=(0.10, 0.20, 0.28, 0.20, 0.15, 0.07),
        male=0.50,
    ),
}
# Ties in evidence break by this order, so equal inputs always read the same.
CATEGORY_ORDER: dict[str, int] = {category: i for i, category in enumerate(VOICES)}

# Sentence frames shared by all categories. Three variants each, so three samples all differ.
BASIC_FRAMES = (
    "{ref} 使用者多為{noun}，{age}，{gender}。",
    "這群 {ref} 使用者以{noun}為主，{age}，{gender}。",
    "{ref} 的使用者輪廓偏向{noun}：{age}，{gender}。",
)
BASIC_APPS_FRAMES = (
    "除了 {ref}，他們也{activity}。",
    "在 {ref} 之外，他們還{activity}。",
    "他們不只用 {ref}，也{activity}。",
)
# Without a seed app the audience's name may be an app among the items: do not contrast them.
BASIC_NO_SEED_FRAMES = ("他們{activity}。", "不少人{activity}。", "多數人{activity}。")
BASIC_MORE_FRAMES = ("同時{activity}。", "此外也{activity}。", "不少人也{activity}。")
PERSONALITY_FRAMES = (
    "個性上{a}；{b}。",
    "他們{a}，同時也{b}。",
    "整體個性{a}，另一方面{b}。",
)
MIND_FRAMES = (
    "心理上{a}；同時{b}。",
    "他們{a}，也{b}。",
    "這群人{a}，而且{b}。",
)
INTEREST_FRAMES = (
    "主要興趣是{interest}，{activity}。",
    "興趣集中在{interest}，{activity}。",
    "最熱衷的是{interest}，{activity}。",
)
INTEREST_MORE_FRAMES = ("也關注{more}。", "其次是{more}。", "另外也喜歡{more}。")
# Lifestyle phrases often open with a time ("週末…", "每天…"), so the frames add none.
LIFESTYLE_FRAMES = ("他們{a}，{b}。", "日常中，他們{a}；{b}。", "{a}，而且{b}。")
LIFESTYLE_APPS_FRAMES = (
    "手機裡常駐 {apps} 等 app。",
    "{apps} 是日常必備的 app。",
    "日常少不了 {apps}。",
)
SUMMARY_FRAMES = (
    "{ref} 使用者偏好 {apps} 等 app，整體是{tails}的{noun}。",
    "{ref} 使用者偏好 {apps} 等 app，可描繪為{tails}的{noun}。",
    "{ref} 使用者偏好 {apps} 等 app，輪廓是{tails}的{noun}。",
)
AGE_PEAK_FRAMES = ("年齡集中在 {a}與 {b}", "年齡以 {a}和 {b}為主")
AGE_SINGLE_FRAME = "年齡集中在 {a}"
AGE_UNKNOWN = "年齡分布廣泛"
GENDER_UNKNOWN = "性別分布平均"

# Gender keys the priors speak about, case-folded. Anything else is "unknown" (see above).
MALE_KEYS = frozenset({"male", "m", "man", "men", "男", "男性"})
FEMALE_KEYS = frozenset({"female", "f", "woman", "women", "女", "女性"})
# The proof of concept's Chinese output names the two genders in Chinese.
ZH_GENDER_LABELS = {"male": "男性", "female": "女性"}

_AGE_RANGE_RE = re.compile(r"^\s*(\d{1,3})\s*(?:-|–|~|至|到)\s*(\d{1,3})\s*歲?\s*$")
_AGE_OPEN_RE = re.compile(r"^\s*(\d{1,3})\s*(?:\+|歲以上|以上)\s*$")
_AGE_UNDER_RE = re.compile(r"^\s*(?:<|under\s*|未滿\s*)(\d{1,3})\s*歲?\s*$", re.IGNORECASE)
_AUDIENCE_SUFFIX_RE = re.compile(r"\s*(?:的)?(?:使用者|用戶|users?|audience)\s*$", re.IGNORECASE)
# Control, format (bidi overrides, zero-width …) and surrogate characters become spaces; the
# zero-width joiner stays so emoji sequences in names survive.
_STRIPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_KEPT_FORMAT_CHARS = frozenset({"\u200d"})


class OfflineBackend:
    """Writes a persona from the prompt context alone: no key, no network, deterministic."""

    def __init__(self, *, name: str = "offline") -> None:
        self.name = name
        # Part of the generation cache key: a new generator version is not served old drafts.
        self.model = OFFLINE_MODEL

    def complete(self, request: LLMRequest) -> LLMResponse:
        started = time.perf_counter()
        text = render_persona(request.context)
        latency_ms = round((time.perf_counter() - started) * 1000)
        return LLMResponse(
            text=text,
            backend=self.name,
            model=OFFLINE_MODEL,
            prompt_tokens=0,
            completion_tokens=0,
            cost_usd=Decimal(0),
            latency_ms=latency_ms,
            structured=bool(request.response_schema),
        )


def render_persona(context: PromptContext) -> str:
    """The persona for ``context`` as the JSON text a model would answer with."""
    if not context.items:
        raise LLMError("The snapshot has no items to write a persona from.", code="empty_input")
    weights = category_weights(context.items)
    voice = _voice_categories(weights)
    pick = _Chooser(context.audience_key, context.sample_index)

    age_groups = _unique(context.age_groups)
    genders = _unique(context.genders)
    ages = age_distribution(weights, age_groups, pick)
    gender = gender_distribution(weights, genders, pick)

    writer = _Writer(context, voice, pick)
    profile = {
        "basic_attributes": writer.basic_attributes(ages, gender),
        "personality": writer.personality(),
        "mental_state": writer.mental_state(),
        "interests": writer.interests(),
        "lifestyle": writer.lifestyle(),
    }
    hashtags_zh, hashtags_en = writer.hashtags()

    if context.output_keys == "zh":
        payload: dict[str, object] = {
            "用戶基本屬性": profile["basic_attributes"],
            "個性": profile["personality"],
            "心理狀態": profile["mental_state"],
            "個人興趣": profile["interests"],
            "生活方式": profile["lifestyle"],
            "Hashtags": {"中文": hashtags_zh, "英文": hashtags_en},
            "年齡分佈": ages,
            "性別分佈": _zh_gender_keys(gender),
        }
    else:
        payload = {
            "summary": writer.summary(),
            "profile": profile,
            "hashtags": {"zh": hashtags_zh, "en": hashtags_en},
            "age_groups": ages,
            "gender": gender,
        }
    return json.dumps(payload, ensure_ascii=False)


# --- evidence -------------------------------------------------------------------------------


def item_evidence(item: PromptItem) -> float:
    """``score × share``; broken numbers (NaN, infinities, negatives) count as no evidence."""
    score, share = float(item.score), float(item.share)
    if not (math.isfinite(score) and math.isfinite(share)) or score <= 0 or share <= 0:
        return 0.0
    return score * min(share, 1.0)


def category_of(item: PromptItem) -> str:
    category = (item.category or "").strip().lower()
    return category if category in VOICES else FALLBACK_CATEGORY


def category_weights(items: Sequence[PromptItem]) -> dict[str, float]:
    """Each category's share of the evidence (summing to 1), strongest first."""
    totals: dict[str, float] = {}
    for item in items:
        category = category_of(item)
        totals[category] = totals.get(category, 0.0) + item_evidence(item)
    if sum(totals.values()) <= 0:
        # No usable lift/share at all: the ranking is the only evidence left.
        totals = {}
        for item in items:
            category = category_of(item)
            totals[category] = totals.get(category, 0.0) + 1.0 / max(int(item.rank), 1)
    grand_total = sum(totals.values())
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1], CATEGORY_ORDER[kv[0]]))
    return {category: weight / grand_total for category, weight in ordered if weight > 0}


def _voice_categories(weights: dict[str, float]) -> list[str]:
    descriptive = [
        (category, weight)
        for category, weight in weights.items()
        if category != FALLBACK_CATEGORY and weight >= VOICE_MIN_SHARE
    ]
    if not descriptive:
        return [FALLBACK_CATEGORY]
    leader = descriptive[0][1]
    chosen = [c for c, w in descriptive if w >= leader * VOICE_RELATIVE_THRESHOLD]
    return chosen[:VOICE_CATEGORIES]


# --- distributions --------------------------------------------------------------------------


def age_distribution(
    weights: dict[str, float], keys: Sequence[str], pick: _Chooser
) -> dict[str, int]:
    """Integer percentages over ``keys`` (summing to 100) from the mixed category priors."""
    if not keys:
        return {}
    mixed = [0.0] * len(PRIOR_AGE_SPANS)
    for category, weight in weights.items():
        for i, prior in enumerate(VOICES[category].ages):
            mixed[i] += weight * prior

    masses: list[float | None] = []
    for key in keys:
        span = parse_age_span(key)
        masses.append(None if span is None else _span_mass(span, mixed))
    known = [m for m in masses if m is not None]
    # A key that is not an age range gets an even share: the mean of the ranges we understand.
    even = sum(known) / len(known) if known and sum(known) > 0 else 1.0
    filled = [even if m is None else m for m in masses]
    nudged = [m * pick.nudge("age", key) for m, key in zip(filled, keys, strict=True)]
    return dict(zip(keys, largest_remainder(nudged), strict=True))


def gender_distribution(
    weights: dict[str, float], keys: Sequence[str], pick: _Chooser
) -> dict[str, int]:
    """Integer percentages over ``keys`` (summing to 100) from the mixed category priors."""
    if not keys:
        return {}
    male = sum(weight * VOICES[category].male for category, weight in weights.items())
    sides = [_gender_side(key) for key in keys]
    unknown = sides.count(None)
    known_share = 1.0 - UNKNOWN_GENDER_SHARE if unknown and unknown < len(keys) else 1.0
    male_keys, female_keys = sides.count("male"), sides.count("female")

    masses: list[float] = []
    for key, side in zip(keys, sides, strict=True):
        if unknown == len(keys):
            mass = 1.0
        elif side == "male":
            mass = known_share * male / male_keys
        elif side == "female":
            mass = known_share * (1.0 - male) / female_keys
        else:
            mass = UNKNOWN_GENDER_SHARE / unknown
        masses.append(mass * pick.nudge("gender", key))
    return dict(zip(keys, largest_remainder(masses), strict=True))


def largest_remainder(masses: Sequence[float], total: int = 100) -> list[int]:
    """Integers proportional to ``masses`` that sum to exactly ``total`` (Hamilton's method)."""
    if not masses:
        return []
    clean = [m if math.isfinite(m) and m > 0 else 0.0 for m in masses]
    mass_sum = sum(clean)
    if mass_sum <= 0:
        clean, mass_sum = [1.0] * len(clean), float(len(clean))
    exact = [m * total / mass_sum for m in clean]
    floors = [math.floor(x) for x in exact]
    missing = total - sum(floors)
    # Biggest remainders first; ties go to the earlier key so the result is stable.
    order = sorted(range(len(exact)), key=lambda i: (floors[i] - exact[i], i))
    for i in order[:missing]:
        floors[i] += 1
    return floors


def parse_age_span(key: str) -> tuple[int, int] | None:
    """``"26-35"`` → (26, 36), ``"60+"`` → (60, 75), ``"<18"`` → (0, 18); otherwise None."""
    if match := _AGE_RANGE_RE.match(key):
        low, high = sorted((int(match[1]), int(match[2])))
        return low, high + 1
    if match := _AGE_OPEN_RE.match(key):
        low = int(match[1])
        return low, max(PRIOR_AGE_SPANS[-1][1], low + 10)
    if match := _AGE_UNDER_RE.match(key):
        return 0, int(match[1])
    return None


def _span_mass(span: tuple[int, int], mixed: Sequence[float]) -> float:
    """Prior mass inside ``span``: each prior bucket's mass spread evenly over its years."""
    low, high = span
    mass = 0.0
    for (bucket_low, bucket_high), prior in zip(PRIOR_AGE_SPANS, mixed, strict=True):
        overlap = min(high, bucket_high) - max(low, bucket_low)
        if overlap > 0:
            mass += prior * overlap / (bucket_high - bucket_low)
    return mass


def _gender_side(key: str) -> str | None:
    folded = key.strip().casefold()
    if folded in MALE_KEYS:
        return "male"
    if folded in FEMALE_KEYS:
        return "female"
    return None


def _zh_gender_keys(gender: dict[str, int]) -> dict[str, int]:
    renamed: dict[str, int] = {}
    for key, value in gender.items():
        label = ZH_GENDER_LABELS.get(key, key)
        # Never merge two keys: if the Chinese label is taken already, keep the original key.
        renamed[label if label not in renamed and label not in gender else key] = value
    return renamed


# --- wording --------------------------------------------------------------------------------


class _Chooser:
    """Deterministic choices for one draft, seeded from the audience key and sample index."""

    def __init__(self, audience_key: str, sample_index: int) -> None:
        self.audience_key = audience_key
        self.sample_index = int(sample_index)

    def choose(self, options: Sequence[str], slot: str) -> str:
        # Rotating by the sample index (rather than rehashing) makes consecutive samples differ
        # in every slot that has a choice.
        offset = _stable_int(self.audience_key, slot)
        return options[(offset + self.sample_index) % len(options)]

    def index(self, count: int, slot: str) -> int:
        return (_stable_int(self.audience_key, slot) + self.sample_index) % count

    def nudge(self, *slot: str) -> float:
        """A factor in [1 - DISTRIBUTION_NUDGE, 1 + DISTRIBUTION_NUDGE)."""
        unit = _stable_int(self.audience_key, self.sample_index, *slot) / 2**64
        return 1.0 + DISTRIBUTION_NUDGE * (2.0 * unit - 1.0)


def _stable_int(*parts: object) -> int:
    # Unit separators keep ("a", "bc") and ("ab", "c") apart.
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


class _Writer:
    """Builds the persona's sentences from the voice categories and their apps."""

    def __init__(self, context: PromptContext, voice: list[str], pick: _Chooser) -> None:
        self.voice = voice
        self.pick = pick
        # The seed app names the audience best ("Spotify 使用者"); without one, the audience's
        # own name, minus a trailing "users" so the frames do not say it twice.
        self.seed_name = clean_name(context.seed_app) if context.seed_app.strip() else ""
        self.ref = self.seed_name or _audience_ref(context.audience_name or context.audience_key)
        seed = " ".join((context.seed_app or "").split()).casefold()
        # Apps the audience prefers other than the seed app (it defines the audience: saying
        # "Spotify users use Spotify" is no insight), strongest first within each category.
        ranked = sorted(context.items, key=lambda item: (item.rank, item.app))
        self.top_apps = _names(ranked, exclude=seed)[:APPS_PER_PHRASE]
        by_category: dict[str, list[PromptItem]] = {}
        for item in sorted(ranked, key=lambda item: -item_evidence(item)):
            by_category.setdefault(category_of(item), []).append(item)
        self.category_apps = {
            category: _names(items, exclude=seed)[:APPS_PER_PHRASE]
            for category, items in by_category.items()
        }
        if not self.top_apps:  # the seed app was all there was
            self.top_apps = _names(ranked)[:APPS_PER_PHRASE]

    def _v(self, rank: int) -> _Voice:
        return VOICES[self.voice[rank]]

    def _phrase(self, rank: int, field: str, *, shift: int = 0) -> str:
        """One of the voice category's ``field`` phrases; ``shift`` takes a different one."""
        options: tuple[str, ...] = getattr(self._v(rank), field)
        index = self.pick.index(len(options), f"{field}:{self.voice[rank]}")
        return options[(index + shift) % len(options)]

    def _second(self, field: str) -> str:
        """The runner-up category's phrase, or the leader's other phrase if there is none."""
        if len(self.voice) > 1:
            return self._phrase(1, field)
        return self._phrase(0, field, shift=1)

    def _activity(self, rank: int, *, shift: int = 0) -> str:
        apps = self.category_apps.get(self.voice[rank]) or self.top_apps
        return self._phrase(rank, "activities", shift=shift).format(apps=_join(apps))

    def basic_attributes(self, ages: dict[str, int], gender: dict[str, int]) -> str:
        text = self.pick.choose(BASIC_FRAMES, "basic").format(
            ref=self.ref, noun=self._v(0).noun, age=self._age_phrase(ages), gender=_gender(gender)
        )
        frames = BASIC_APPS_FRAMES if self.seed_name else BASIC_NO_SEED_FRAMES
        text += self.pick.choose(frames, "basic-apps").format(
            ref=self.ref, activity=self._activity(0)
        )
        if len(self.voice) > 1:
            text += self.pick.choose(BASIC_MORE_FRAMES, "basic-more").format(
                activity=self._activity(1)
            )
        return text

    def personality(self) -> str:
        return self.pick.choose(PERSONALITY_FRAMES, "personality").format(
            a=self._phrase(0, "traits"), b=self._second("traits")
        )

    def mental_state(self) -> str:
        return self.pick.choose(MIND_FRAMES, "mind").format(
            a=self._phrase(0, "minds"), b=self._second("minds")
        )

    def interests(self) -> str:
        text = self.pick.choose(INTEREST_FRAMES, "interests").format(
            interest=self._phrase(0, "interests"), activity=self._activity(0, shift=1)
        )
        more = [self._phrase(rank, "interests") for rank in range(1, len(self.voice))]
        if more:
            text += self.pick.choose(INTEREST_MORE_FRAMES, "interests-more").format(
                more="，以及".join(more)
            )
        return text

    def lifestyle(self) -> str:
        text = self.pick.choose(LIFESTYLE_FRAMES, "lifestyle").format(
            a=self._phrase(0, "lives"), b=self._second("lives")
        )
        return text + self.pick.choose(LIFESTYLE_APPS_FRAMES, "lifestyle-apps").format(
            apps=_join(_names_unique([self.seed_name, *self.top_apps]))
        )

    def summary(self) -> str:
        tails = [VOICES[category].tail for category in self.voice[1:]] or [self._v(0).tail]
        noun = self._v(0).noun if len(self.voice) > 1 else "族群"
        return self.pick.choose(SUMMARY_FRAMES, "summary").format(
            ref=self.ref, apps=_join(self.top_apps), tails="、".join(tails), noun=noun
        )

    def hashtags(self) -> tuple[list[str], list[str]]:
        """Two or three aligned zh/en pairs: one per voice category, topped up from the leader."""
        count = 2 + self.pick.index(2, "hashtag-count")
        pairs: list[tuple[str, str]] = []
        candidates = [self._tag(rank) for rank in range(len(self.voice))]
        candidates += [self._tag(0, shift=s) for s in range(1, len(self._v(0).hashtags))]
        for zh, en in candidates:
            if all(zh != z and en != e for z, e in pairs):
                pairs.append((zh, en))
        pairs = pairs[:count]
        return [zh for zh, _ in pairs], [en for _, en in pairs]

    def _tag(self, rank: int, *, shift: int = 0) -> tuple[str, str]:
        tags = self._v(rank).hashtags
        index = self.pick.index(len(tags), f"hashtag:{self.voice[rank]}")
        return tags[(index + shift) % len(tags)]

    def _age_phrase(self, ages: dict[str, int]) -> str:
        if not ages:
            return AGE_UNKNOWN
        # Peak buckets, listed in the context's order (younger first for the usual keys).
        keys = [key for key in ages if parse_age_span(key) is not None]
        if not keys:
            return AGE_UNKNOWN
        peaks = sorted(keys, key=lambda k: (-ages[k], keys.index(k)))[:2]
        peaks.sort(key=keys.index)
        labels = [_age_label(key) for key in peaks]
        if len(labels) == 1:
            return AGE_SINGLE_FRAME.format(a=labels[0])
        return self.pick.choose(AGE_PEAK_FRAMES, "age").format(a=labels[0], b=labels[1])


def _age_label(key: str) -> str:
    key = clean_name(key)
    if _AGE_OPEN_RE.match(key) and key.endswith("+"):
        return f"{key[:-1].strip()} 歲以上"
    if _AGE_RANGE_RE.match(key) and not key.endswith("歲"):
        return f"{key} 歲"
    return key


def _gender(gender: dict[str, int]) -> str:
    male = sum(v for k, v in gender.items() if _gender_side(k) == "male")
    female = sum(v for k, v in gender.items() if _gender_side(k) == "female")
    if not any(_gender_side(k) == "male" for k in gender) or not any(
        _gender_side(k) == "female" for k in gender
    ):
        return GENDER_UNKNOWN
    gap = male - female
    if gap >= 20:
        return "以男性為主"
    if gap >= 6:
        return "男性略多"
    if gap <= -20:
        return "以女性為主"
    if gap <= -6:
        return "女性略多"
    return "男女比例相當"


# --- names ----------------------------------------------------------------------------------


def clean_name(name: str) -> str:
    """One line, no control characters, at most APP_NAME_MAX_CHARS characters."""
    spaced = "".join(
        " "
        if unicodedata.category(ch) in _STRIPPED_CATEGORIES and ch not in _KEPT_FORMAT_CHARS
        else ch
        for ch in str(name)
    )
    collapsed = " ".join(spaced.split())
    if len(collapsed) > APP_NAME_MAX_CHARS:
        collapsed = collapsed[: APP_NAME_MAX_CHARS - 1].rstrip() + "…"
    return collapsed or UNNAMED_APP


def _names(items: Iterable[PromptItem], *, exclude: str = "") -> list[str]:
    """Cleaned, de-duplicated app names in order, without the app called ``exclude``."""
    seen: set[str] = set()
    names: list[str] = []
    for item in items:
        if exclude and " ".join(str(item.app).split()).casefold() == exclude:
            continue
        name = clean_name(item.app)
        if name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return names


def _names_unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(name for name in names if name))


def _audience_ref(name: str) -> str:
    return _AUDIENCE_SUFFIX_RE.sub("", clean_name(name)) or clean_name(name)


def _join(names: Sequence[str]) -> str:
    return "、".join(names)


def _unique(keys: Iterable[str]) -> list[str]:
    # Duplicate keys would collapse in the JSON object and break the sum of 100.
    return list(dict.fromkeys(keys))
