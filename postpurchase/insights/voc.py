"""Voice of the customer: NPS and return comments grouped into topics, with their delivery facts.

Method: a curated seed lexicon per topic, matched on lemmas. Japanese is tokenised by SudachiPy
(``sudachidict_core``) in its longest and shortest split modes, so both 再配達 and 配達 are seen and
conjugated forms (遅れて, 潰れていた) meet their dictionary form; English by a word regex matched on
stems (word prefixes). A term followed (Japanese) or preceded (English) closely by a negation does
not count: 「破損もなく」 is not a damage complaint.

Why a lexicon and not NMF or LDA: a brand gets tens of comments a week, too few for topics learned
per brand to be stable from one week to the next, and a trend per topic needs the same topics every
week with names a merchant can act on. The lexicon is readable and testable against hand labels
(tests/insights/voc_labels.py); what it misses shows up as :attr:`Voice.keywords`, the most frequent
nouns of comments without a topic, from which the lexicon is extended.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from postpurchase.i18n import to_local
from postpurchase.models import (
    Brand,
    Feedback,
    Order,
    ReturnLine,
    ReturnRequest,
    Shipment,
    ShipmentFigures,
)
from postpurchase.models.enums import ConditionGrade

if TYPE_CHECKING:
    from sudachipy import Tokenizer


class Topic(StrEnum):
    late = "late"
    redelivery = "redelivery"
    damaged = "damaged"
    size_fit = "size_fit"
    quality = "quality"
    packaging = "packaging"
    service = "service"
    price = "price"


@dataclass(frozen=True)
class Lexicon:
    #: Japanese lemmas (Sudachi's normalised form) and English word stems.
    ja: frozenset[str]
    en: tuple[str, ...]


def _lexicon(ja: str, en: str) -> Lexicon:
    return Lexicon(frozenset(ja.split()), tuple(en.split()))


#: The seed terms of each topic. English terms ending in ``*`` are stems (word prefixes).
LEXICON: dict[Topic, Lexicon] = {
    Topic.late: _lexicon(
        "遅れる 遅い 遅延 遅れ 待つ 待たす 予定日 指定日 到着予定 何日 日数 いつ",
        "late delay* slow* wait* waited overdue forever",
    ),
    Topic.redelivery: _lexicon(
        "再配達 不在 不在票 不在連絡票 置き配 持ち帰る 留守 宅配ボックス 再配",
        "redeliver* redelivery missed absent attempt* slip",
    ),
    Topic.damaged: _lexicon(
        "破損 壊れる 割れる 潰れる 凹む へこむ 傷 欠ける 汚れ 汚れる 濡れる 破れる 染み ひび",
        "damag* broke broken crush* dent* scratch* crack* torn wet stain*",
    ),
    Topic.size_fit: _lexicon(
        "サイズ 小さい 大きい きつい 緩い ゆるい 丈 着丈 袖丈 ウエスト 窮屈 ぶかぶか 寸法 ぴったり",
        "size* small* big* large* tight* loose* fit fits fitting length sleeve* waist",
    ),
    Topic.quality: _lexicon(
        "品質 質 生地 縫製 解れる ほつれる 解れ 安っぽい 毛玉 色落ち 色移り 不良 素材 耐久 変色 縮む 作り",
        "quality fabric* stitch* seam* pilling fade* faded flimsy defect* shrank shrink* material*",
    ),
    Topic.packaging: _lexicon(
        "梱包 包装 箱 段ボール 緩衝材 袋 簡易 過剰包装 ラッピング 包み プチプチ",
        "packaging packing packed box boxes wrap* cardboard bubble envelope*",
    ),
    Topic.service: _lexicon(
        "問い合わせ 問合せ 対応 返信 窓口 電話 カスタマー サポート スタッフ 返事 問い合わせる",
        "support service reply replied respon* staff contact* call* agent*",
    ),
    Topic.price: _lexicon(
        "価格 値段 高い 安い 送料 料金 割高 コスパ 値引き 円 手数料 高額",
        "price* pric* expensive cheap* cost* fee fees overpriced money",
    ),
}

#: Words that undo a term just before them (Japanese) or just after them (English).
JA_NEGATIONS = frozenset({"無い", "ない", "ず", "ぬ", "無し", "なし", "ません"})
EN_NEGATIONS = frozenset({"no", "not", "never", "without", "didn't", "wasn't", "isn't", "nothing"})
#: Tokens a negation may be away from its term: 「遅れることもなく」 is four.
JA_NEGATION_REACH = 4
EN_NEGATION_REACH = 2
#: Topics whose terms a negation undoes (「破損もなく」); on the others a negation is the complaint
#: (「返信がない」, 「サイズが合わない」).
NEGATABLE = frozenset({Topic.late, Topic.damaged, Topic.redelivery})
#: Terms that are a complaint only when negated: 「間に合わなかった」, 「届かない」.
JA_WHEN_NEGATED: dict[Topic, frozenset[str]] = {
    Topic.late: frozenset({"間に合う", "届く"}),
    Topic.redelivery: frozenset({"受け取れる", "受け取る"}),
}

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_WORD = re.compile(r"[a-z][a-z']*")


@cache
def _tokenizer() -> Tokenizer:
    """Sudachi's tokenizer over the core dictionary, loaded on first use (a few hundred ms)."""
    from sudachipy import Dictionary

    return Dictionary(dict="core").tokenizer()


def _ja_lemmas(text: str) -> list[list[str]]:
    """Per long unit of ``text``: its lemma followed by the lemmas of its short units."""
    from sudachipy import SplitMode

    units = []
    for morpheme in _tokenizer().tokenize(text, SplitMode.C):
        lemmas = [morpheme.normalized_form(), morpheme.dictionary_form()]
        lemmas += [m.normalized_form() for m in morpheme.split(SplitMode.A)]
        units.append(lemmas)
    return units


def _ja_topics(text: str) -> set[Topic]:
    units = _ja_lemmas(text)
    found = set()
    for index, lemmas in enumerate(units):
        after = units[index + 1 : index + 1 + JA_NEGATION_REACH]
        negated = any(lemma in JA_NEGATIONS for unit in after for lemma in unit[:2])
        for topic, lexicon in LEXICON.items():
            when_negated = JA_WHEN_NEGATED.get(topic, frozenset())
            if negated:
                hit = bool(when_negated.intersection(lemmas)) or (
                    topic not in NEGATABLE and bool(lexicon.ja.intersection(lemmas))
                )
            else:
                hit = bool(lexicon.ja.intersection(lemmas))
            if hit:
                found.add(topic)
    return found


def _en_match(word: str, terms: tuple[str, ...]) -> bool:
    """``word`` is a term, or starts with a stem written ``stem*``."""
    return any(word.startswith(t[:-1]) if t.endswith("*") else word == t for t in terms)


def _en_topics(text: str) -> set[Topic]:
    words = _WORD.findall(text.lower())
    found = set()
    for index, word in enumerate(words):
        before = words[max(0, index - EN_NEGATION_REACH) : index]
        negated = any(w in EN_NEGATIONS for w in before)
        for topic, lexicon in LEXICON.items():
            if _en_match(word, lexicon.en) and not (negated and topic in NEGATABLE):
                found.add(topic)
    return found


def topics(text: str) -> set[Topic]:
    """The topics ``text`` speaks of (empty for praise or anything the lexicon does not know)."""
    return _ja_topics(text) if _JAPANESE.search(text) else _en_topics(text)


def keywords(texts: Iterable[str], limit: int = 10) -> list[tuple[str, int]]:
    """The most frequent content words of ``texts`` (Japanese nouns, English words of 4+ letters)."""
    counts: Counter[str] = Counter()
    for text in texts:
        if _JAPANESE.search(text):
            seen = {
                m.normalized_form()
                for m in _tokenizer().tokenize(text)
                if m.part_of_speech()[0] == "名詞"
                and m.part_of_speech()[1] not in ("数詞", "代名詞")
                and len(m.normalized_form()) > 1
            }
        else:
            seen = {w for w in _WORD.findall(text.lower()) if len(w) > 3}
        counts.update(seen)
    return counts.most_common(limit)


class Source(StrEnum):
    nps = "nps"
    returns = "return"


@dataclass(frozen=True)
class VoiceComment:
    """A comment with the order and delivery it is about; a fact is None when it is not known."""

    source: Source
    text: str
    day: date
    order_number: str | None
    carrier_code: str | None
    score: int | None
    reason_code: str | None
    late: bool | None
    damaged: bool | None
    failed_attempt: bool | None
    topics: frozenset[Topic]


#: Topics that complain about a delivery fact, and the fact: (topic, fact attribute).
FACT_OF_TOPIC: tuple[tuple[Topic, str], ...] = (
    (Topic.late, "late"),
    (Topic.damaged, "damaged"),
    (Topic.redelivery, "failed_attempt"),
)


@dataclass(frozen=True)
class TopicRow:
    topic: Topic
    count: int
    #: Comments per week, in the order of :attr:`Voice.weeks`.
    weekly: list[int]


@dataclass(frozen=True)
class FactLink:
    """How often the parcels behind comments on ``topic`` really had ``fact``, against the others."""

    topic: Topic
    fact: str
    #: Comments on the topic whose fact is known, and those of them with the fact.
    known: int
    confirmed: int
    #: The same for comments not on the topic: the baseline.
    other_known: int
    other_confirmed: int

    @property
    def share(self) -> float | None:
        return self.confirmed / self.known if self.known else None

    @property
    def other_share(self) -> float | None:
        return self.other_confirmed / self.other_known if self.other_known else None


@dataclass(frozen=True)
class Voice:
    start: date
    end: date
    comments: list[VoiceComment]
    #: Mondays of the weeks of the period.
    weeks: list[date]
    topics: list[TopicRow]
    untopical: int
    links: list[FactLink]
    keywords: list[tuple[str, int]]

    def count(self, topic: Topic) -> int:
        return next((row.count for row in self.topics if row.topic == topic), 0)

    def example(self, topic: Topic) -> VoiceComment | None:
        """The newest comment on ``topic``."""
        return next((c for c in self.comments if topic in c.topics), None)


def _parcel_facts(session: Session, shipment_ids: set[int]) -> dict[int, dict[str, bool | None]]:
    """late / damaged / failed attempt per parcel, from the figures rollup, the carrier and returns.

    Damaged is what the carrier reported (a sub-status naming damage) or the returns inspection
    graded C: the customer's own words are not evidence for the fact they are compared with.
    """
    if not shipment_ids:
        return {}
    rows = session.execute(
        sa_select(
            col(Shipment.id),
            col(Shipment.order_id),
            col(Shipment.sub_status),
            col(Shipment.failed_attempts),
            col(ShipmentFigures.delivered),
            col(ShipmentFigures.promised),
            col(ShipmentFigures.on_time),
        )
        .outerjoin(ShipmentFigures, col(ShipmentFigures.shipment_id) == Shipment.id)
        .where(col(Shipment.id).in_(shipment_ids))
    ).all()
    order_ids = {row.order_id for row in rows if row.order_id is not None}
    graded_damaged = set(
        session.execute(
            sa_select(col(ReturnRequest.order_id))
            .join(ReturnLine, col(ReturnLine.return_id) == ReturnRequest.id)
            .where(
                col(ReturnRequest.order_id).in_(order_ids),
                col(ReturnLine.grade) == ConditionGrade.C,
            )
        ).scalars()
    )
    facts: dict[int, dict[str, bool | None]] = {}
    for row in rows:
        facts[row.id] = {
            "late": (not row.on_time) if row.delivered and row.promised else None,
            "damaged": "damage" in (row.sub_status or "").lower() or row.order_id in graded_damaged,
            "failed_attempt": row.failed_attempts > 0,
        }
    return facts


def _first_parcels(session: Session, order_ids: set[int]) -> dict[int, int]:
    """The first parcel of each order: the one a return comment is compared with."""
    firsts: dict[int, int] = {}
    for order_id, shipment_id in session.execute(
        sa_select(col(Shipment.order_id), col(Shipment.id))
        .where(col(Shipment.order_id).in_(order_ids))
        .order_by(col(Shipment.parcel_index), col(Shipment.id))
    ).all():
        firsts.setdefault(order_id, shipment_id)
    return firsts


def voice_comments(
    *, session: Session, brand_id: int, start: date, end: date, limit: int = 2000
) -> list[VoiceComment]:
    """NPS and return comments written from ``start`` to ``end`` (brand's local days), newest first."""
    brand = session.get(Brand, brand_id)
    timezone = brand.timezone if brand else "Asia/Tokyo"
    # A day either side in UTC, then the exact local days below.
    since = datetime.combine(start - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    raw: list[dict[str, Any]] = [
        {"source": Source.nps, "reason": None, **row._asdict()}
        for row in session.execute(
            sa_select(
                col(Feedback.comment),
                col(Feedback.created_at),
                col(Feedback.nps_score),
                col(Feedback.shipment_id),
                col(Order.number),
                col(Order.id).label("order_id"),
            )
            .outerjoin(Order, col(Order.id) == Feedback.order_id)
            .where(
                col(Feedback.brand_id) == brand_id,
                col(Feedback.comment).is_not(None),
                col(Feedback.comment) != "",
                col(Feedback.created_at) >= since,
                col(Feedback.created_at) < until,
            )
            .order_by(col(Feedback.created_at).desc(), col(Feedback.id).desc())
            .limit(limit)
        ).all()
    ]
    raw += [
        {
            "source": Source.returns,
            "nps_score": None,
            "shipment_id": None,
            "reason": row.reason_code,
            **row._asdict(),
        }
        for row in session.execute(
            sa_select(
                col(ReturnLine.comment),
                col(ReturnRequest.created_at),
                col(ReturnLine.reason_code),
                col(Order.number),
                col(Order.id).label("order_id"),
            )
            .join(ReturnRequest, col(ReturnRequest.id) == ReturnLine.return_id)
            .join(Order, col(Order.id) == ReturnRequest.order_id)
            .where(
                col(ReturnLine.brand_id) == brand_id,
                col(ReturnLine.comment).is_not(None),
                col(ReturnLine.comment) != "",
                col(ReturnRequest.created_at) >= since,
                col(ReturnRequest.created_at) < until,
            )
            .order_by(col(ReturnRequest.created_at).desc(), col(ReturnLine.id).desc())
            .limit(limit)
        ).all()
    ]
    raw = [r for r in raw if start <= to_local(r["created_at"], timezone).date() <= end]
    firsts = _first_parcels(session, {r["order_id"] for r in raw if r["shipment_id"] is None})
    for r in raw:
        if r["shipment_id"] is None:
            r["shipment_id"] = firsts.get(r["order_id"])
    facts = _parcel_facts(session, {r["shipment_id"] for r in raw if r["shipment_id"]})
    carriers = dict(
        session.execute(
            sa_select(col(Shipment.id), col(Shipment.carrier_code)).where(
                col(Shipment.id).in_({r["shipment_id"] for r in raw if r["shipment_id"]})
            )
        ).all()
    )
    result = []
    for r in sorted(raw, key=lambda r: r["created_at"], reverse=True)[:limit]:
        fact = facts.get(r["shipment_id"], {})
        result.append(
            VoiceComment(
                source=r["source"],
                text=r["comment"],
                day=to_local(r["created_at"], timezone).date(),
                order_number=r["number"],
                carrier_code=carriers.get(r["shipment_id"]),
                score=r["nps_score"],
                reason_code=r["reason"],
                late=fact.get("late"),
                damaged=fact.get("damaged"),
                failed_attempt=fact.get("failed_attempt"),
                topics=frozenset(topics(r["comment"])),
            )
        )
    return result


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def summarise(start: date, end: date, comments: Sequence[VoiceComment]) -> Voice:
    """Counts per topic and week, and the link of each delivery topic with its fact."""
    weeks = []
    monday = _monday(start)
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(days=7)
    rows = []
    for topic in Topic:
        on_topic = [c for c in comments if topic in c.topics]
        per_week = Counter(_monday(c.day) for c in on_topic)
        rows.append(TopicRow(topic, len(on_topic), [per_week[week] for week in weeks]))
    rows.sort(key=lambda row: -row.count)
    links = []
    for topic, fact in FACT_OF_TOPIC:
        mine = [getattr(c, fact) for c in comments if topic in c.topics]
        others = [getattr(c, fact) for c in comments if topic not in c.topics]
        links.append(
            FactLink(
                topic=topic,
                fact=fact,
                known=sum(v is not None for v in mine),
                confirmed=sum(v is True for v in mine),
                other_known=sum(v is not None for v in others),
                other_confirmed=sum(v is True for v in others),
            )
        )
    untopical = [c.text for c in comments if not c.topics]
    return Voice(
        start=start,
        end=end,
        comments=list(comments),
        weeks=weeks,
        topics=rows,
        untopical=len(untopical),
        links=links,
        keywords=keywords(untopical),
    )


def voice(*, session: Session, brand_id: int, start: date, end: date) -> Voice:
    """The VoC page's content for the comments written from ``start`` to ``end``."""
    return summarise(
        start,
        end,
        voice_comments(session=session, brand_id=brand_id, start=start, end=end),
    )
