"""Questions the dealership's own information answers: hours, location, contact, financing, trade-ins,
service prices. Hours come from the dealer config; everything else is quoted from the knowledge
documents retrieved in this turn (never paraphrased into new figures)."""

from __future__ import annotations

import datetime as dt
import re

from agent.guards import format_phone
from agent.offline.state import Turn
from agent.offline.text import normalize
from tools.context import ToolError
from tools.dates import day_label, parse_when
from tools.knowledge import open_now, search_knowledge

_DEPT_WORDS = {"service": r"\bservice\b|\bshop\b|\bmechanic", "parts": r"\bparts\b"}


def department_of(t: Turn, default: str = "sales") -> str:
    for dept, rx in _DEPT_WORDS.items():
        if dept in t.deps.dealer.departments and re.search(rx, t.parse.norm):
            return dept
    return default if default in t.deps.dealer.departments else next(iter(t.deps.dealer.departments))


def fmt_time(x: dt.time) -> str:
    hour = x.hour % 12 or 12
    suffix = "AM" if x.hour < 12 else "PM"
    return f"{hour} {suffix}" if x.minute == 0 else f"{hour}:{x.minute:02d} {suffix}"


def day_ranges(t: Turn, dept: str, day: dt.date) -> tuple[str | None, str]:
    """(holiday name, "9 AM–8 PM" or "closed") for one local day."""
    dealer = t.deps.dealer
    holiday = dealer.holiday_on(day, dept)
    if holiday:
        return holiday.name, "closed"
    ranges = dealer.department(dept).open_hours(day).ranges
    if not ranges:
        return None, "closed"
    return None, ", ".join(f"{fmt_time(a)}–{fmt_time(b)}" for a, b in ranges)


def next_opening(t: Turn, dept: str, at: dt.datetime) -> dt.datetime | None:
    dealer = t.deps.dealer
    local = at.astimezone(dealer.tz)
    for offset in range(15):
        day = local.date() + dt.timedelta(days=offset)
        if dealer.holiday_on(day, dept):
            continue
        for start, _ in dealer.department(dept).open_hours(day).ranges:
            when = dt.datetime.combine(day, start, tzinfo=dealer.tz)
            if when > local:
                return when
    return None


def relative_day(t: Turn, day: dt.date) -> str:
    today = t.now.date()
    if day == today:
        return "today"
    if day == today + dt.timedelta(days=1):
        return "tomorrow"
    if 0 < (day - today).days < 7:
        return f"{day:%A}"
    return day_label(day)


_HOLIDAY_WORDS = {
    "thanksgiving": "Thanksgiving",
    "christmas": "Christmas",
    "new year": "New Year",
    "memorial": "Memorial",
    "labor day": "Labor",
    "july 4": "Independence",
    "4th of july": "Independence",
    "fourth of july": "Independence",
    "independence": "Independence",
}


def holiday_date(t: Turn, text: str) -> tuple[str, dt.date] | None:
    """The next date of a holiday the customer names ("thanksgiving"), from the dealer's calendar."""
    s = text.lower()
    for word, name in _HOLIDAY_WORDS.items():
        if word in s:
            upcoming = sorted(
                (h for h in t.deps.dealer.holidays if name.lower() in h.name.lower() and h.date >= t.now.date()),
                key=lambda h: h.date,
            )
            if upcoming:
                return word, upcoming[0].date
    return None


def with_holiday_dates(t: Turn, text: str) -> str:
    """ "thanksgiving at 10" -> "nov 26 at 10", so the date parser can read it."""
    found = holiday_date(t, text)
    if found is None:
        return text
    word, day = found
    return re.sub(re.escape(word), f"{day:%b} {day.day}".lower(), text, flags=re.I)


def _asked_day(t: Turn) -> dt.date | None:
    dealer = t.deps.dealer
    found = holiday_date(t, t.parse.norm)
    if found is not None:
        return found[1]
    if not t.ents.has_time:
        return None
    when = parse_when(t.parse.raw, t.deps.now(), dealer.tz)
    return when.start.astimezone(dealer.tz).date() if when else None


def departments_asked(t: Turn) -> list[str]:
    """The departments a question is about: "are you open? service too?" asks about the store
    (sales) and service."""
    dept = department_of(t)
    both = r"\b(?:too|also|as well|both)\b|\bsales\b"
    if dept != "sales" and "sales" in t.deps.dealer.departments and re.search(both, t.parse.norm):
        return ["sales", dept]
    return [dept]


async def handle_hours(t: Turn) -> None:
    for dept in departments_asked(t):
        _hours_of(t, dept)
    t.out.offer("Book a visit", "Directions")


def _hours_of(t: Turn, dept: str) -> None:
    dealer = t.deps.dealer
    label = dealer.department(dept).label or dept.title()
    day = _asked_day(t)
    now = t.now
    if day is not None and day != now.date():
        holiday, hours = day_ranges(t, dept, day)
        when = relative_day(t, day)
        if holiday:
            t.out.say("hours_holiday", 0, dept=label, when=when, day=day_label(day), holiday=holiday)
        elif hours == "closed":
            t.out.say("hours_day_closed", 0, dept=label, when=when, day=day_label(day), dept_lower=label.lower())
        else:
            t.out.say("hours_day", 0, dept=label, when=when, day=day_label(day), hours=hours, dept_lower=label.lower())
    else:
        is_open, status = open_now(dealer, dept, now)
        _, hours = day_ranges(t, dept, now.date())
        if re.search(r"\bclos(?:e|es|ing)\b", t.parse.norm) and is_open:
            t.out.say("hours_closes_today", 0, dept=label, status=status, dept_lower=label.lower())
        elif is_open:
            t.out.say("hours_open_now", 0, dept=label, status=status, hours=hours)
        else:
            t.out.say("hours_closed_now", 0, dept=label, status=status, hours=hours, dept_lower=label.lower())
    if t.channel != "voice":
        t.out.add(_week(t, dept), 2)


def _week(t: Turn, dept: str) -> str:
    """The whole week, grouped ("Mon–Fri 9 AM–8 PM; Sat 9 AM–7 PM; Sun 11 AM–5 PM")."""
    dealer = t.deps.dealer
    d = dealer.department(dept)
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    groups: list[tuple[list[str], str]] = []
    monday = t.now.date() - dt.timedelta(days=t.now.weekday())
    for i, name in enumerate(names):
        ranges = d.open_hours(monday + dt.timedelta(days=i)).ranges
        spec = ", ".join(f"{fmt_time(a)}–{fmt_time(b)}" for a, b in ranges) or "closed"
        if groups and groups[-1][1] == spec:
            groups[-1][0].append(name)
        else:
            groups.append(([name], spec))
    text = "; ".join(f"{g[0]}{'–' + g[-1] if len(g) > 1 else ''} {spec}" for g, spec in groups)
    return t.out.t("hours_week", dept=d.label or dept.title(), week=text)


async def handle_location(t: Turn) -> None:
    dealer = t.deps.dealer
    t.out.say("location", 0, name=dealer.name, address=dealer.address.one_line())
    s = t.parse.norm
    if re.search(
        r"\bfrom\b|airport|downtown|directions?|get there|how (?:do|can|would) i get|i-?275|highway|exit|"
        r"parking|park\b|how far",
        s,
    ):
        topic = "parking" if re.search(r"\bpark", s) else s
        quote = await knowledge_quote(t, f"directions {topic}", _keywords(s) or ["directions"], sentences=2)
        if quote:
            t.out.add(quote, 1)
    t.out.offer("Hours", "Book a visit")


async def handle_contact(t: Turn) -> None:
    dealer = t.deps.dealer
    depts = ", ".join(
        f"{(d.label or n).lower()} {format_phone(d.phone, t.channel)}" for n, d in dealer.departments.items() if d.phone
    )
    t.out.say(
        "contact", 0, name=dealer.name, phone=format_phone(dealer.phone, t.channel), depts=depts, website=dealer.website
    )


_FIN_TOPICS: list[tuple[str, str, list[str]]] = [
    (r"leas", "leasing lease terms", ["lease"]),
    (r"down ?payment|money down|put down|zero down|\b0 down", "down payments and trade-in equity", ["down payment"]),
    (r"document|paperwork|what (?:do i|should i) bring|proof of", "documents to bring", ["bring"]),
    (r"co-?signer|co-?buyer", "co-signers and co-buyers", ["co-signer", "co-buyer"]),
    (r"first[- ]time|no credit", "first-time buyers", ["first-time", "little or no credit"]),
    (r"\bapply|application|pre-?qualif|online", "applying for credit online", ["application", "apply"]),
    (
        r"own (?:bank|lender|financing)|credit union|outside financing|which banks|what banks|lenders?",
        "lenders we work with",
        ["lenders", "own financing"],
    ),
    (r"incentive|rebate|special|promo", "manufacturer incentives", ["incentive"]),
    (r"\bgap\b|service contract|extended warranty", "optional protection products", ["optional"]),
]


_FIN_DEFAULT = ("financing lenders we work with", ["arranges financing", "several lenders", "own financing"])


def pick_topic(
    norm: str, topics: list[tuple[str | re.Pattern[str], str, list[str]]], default: tuple[str, list[str]]
) -> tuple[str, list[str]]:
    """(retrieval question, sentence keywords) of the first topic whose pattern the message matches."""
    for pattern, question, keywords in topics:
        if re.search(pattern, norm):
            return question, keywords
    return default


async def handle_financing(t: Turn, *, credit: bool = False) -> None:
    s = t.parse.norm
    if credit:
        question, keys = "credit challenges approval lenders decide", ["credit histor", "lender decides", "co-signer"]
    else:
        question, keys = pick_topic(s, _FIN_TOPICS, _FIN_DEFAULT)
    quote = await knowledge_quote(t, question, keys, sentences=2)
    if credit:
        t.out.say("credit_intro", 1)
    if quote:
        t.out.add(quote, 1 if credit else 0)
    elif not credit:
        t.out.say("financing_generic", 0, name=t.deps.dealer.name)
    if not credit:
        t.out.say("financing_next", 1)
        t.out.offer("Talk to finance", "Browse inventory")


async def handle_trade_in(t: Turn) -> None:
    e = t.ents
    trade = {**(t.dialogue.get("trade_in") or {}), **e.trade_in}
    if trade:
        t.dialogue["trade_in"] = trade
        t.profile_updates["trade_in"] = {k: v for k, v in trade.items() if k != "description"}
        desc = " ".join(str(trade[k]) for k in ("year", "make", "model") if trade.get(k))
        if desc:
            t.out.say("trade_noted", 0, vehicle=desc)
    owes = "payoff" in e.trade_in  # "I owe 12k on it": the payoff passage, whatever else was asked
    question, keywords = _TRADE_PAYOFF if owes else pick_topic(t.parse.norm, _TRADE_TOPICS, _TRADE_DEFAULT)
    quote = await knowledge_quote(t, question, keywords, sentences=2 if t.channel == "chat" else 1)
    if re.search(r"\bworth\b|\bvalue\b|how much|give me", t.parse.norm):
        t.out.say("trade_no_number", 0)
    if quote:
        t.out.add(quote, 1)
    t.out.say("trade_offer_appraisal", 0)
    t.set_pending("offer_booking", department="sales", kind="trade_appraisal")
    t.out.offer("Book an appraisal", "Not now")


# What part of the dealer's trade-in documents a question is about: (pattern, retrieval question,
# sentence keywords). The first match wins; the last entry is the general case.
_TRADE_PAYOFF = ("still owe money on trade payoff lender", ["payoff", "lender", "owe", "equity"])
_TRADE_TOPICS: list[tuple[str | re.Pattern[str], str, list[str]]] = [
    (
        re.compile(r"\bbring\b|paperwork|documents?\b|need to have|what do i need"),
        "what to bring to a trade-in appraisal title registration keys photo id",
        ["bring", "title", "registration", "keys"],
    ),
    (
        re.compile(
            r"\bbuy (?:my|your|a|the)? ?(?:car|truck|vehicle)s?\b.*\b(?:even|without|if)\b|outright"
            r"|\bsell (?:you|it|my)\b|(?:dont|don't|not) buy (?:one|a car|anything)"
        ),
        "do you buy vehicles outright even if I do not buy one",
        ["outright", "buy", "even if"],
    ),
    (re.compile(r"\bowe\b|payoff|\bloan\b|upside down|negative equity"), *_TRADE_PAYOFF),
    (re.compile(r"lease"), "trade in a leased vehicle lease buyout", ["lease", "leased"]),
]
_TRADE_DEFAULT = ("trade-in appraisal how it works offer", ["apprais", "offer", "payoff", "lender", "free"])


_FAQ_LEAD = re.compile(
    r"^\s*(?:ok|so|also|quick question)?[\s,.:]*(?:\d|two|three|a few|couple) (?:things|questions)\W*", re.I
)


# Words that say little about which policy is meant (a sentence sharing only these is no answer).
_FAQ_GENERIC = set(
    "buy car cars vehicle vehicles get got have there need want like take make much does will would "
    "could should offer back from used new any also things thing know tell guys hate really one still".split()
)
# A customer's word -> the words the dealer's documents use for it.
_FAQ_ALIASES = {
    "return": ("return", "exchange", "refund"),
    "money": ("refund", "money"),
    "refund": ("refund", "exchange"),
    "doc": ("doc", "dealer fee", "documentation"),
    "charging": ("charging", "charger"),
    "charger": ("charging", "charger"),
    "spanish": ("spanish", "español"),
    "espanol": ("spanish", "español"),
    "credit": ("credit card",),
    "far": ("miles", "within"),  # "how far does the shuttle go"
    "long": ("minutes", "hours", "days"),  # "how long does an appraisal take"
}


def _faq_answer(passages: list[str], words: list[str], per: int) -> str:
    """The sentences of the best passage that answer `words`: the best sentence must share at least
    two of them (or the only one), and up to `per` sentences of that passage follow in their order."""
    need = min(2, len(words))

    def score(sentence: str) -> int:
        low = sentence.lower()
        return sum(1 for w in words if any(a in low for a in _FAQ_ALIASES.get(w, (w,))))

    best: tuple[int, int] = (0, -1)
    scored = [[(score(x), x) for x in _split(_body(p))] for p in passages]
    for i, sentences in enumerate(scored):
        top = max((sc for sc, _ in sentences), default=0)
        if top > best[0]:
            best = (top, i)
    if best[0] < need:
        return ""
    sentences = scored[best[1]]
    # best first; among equals the shorter (a text message holds ~320 characters for every answer)
    keep = sorted(range(len(sentences)), key=lambda j: (-sentences[j][0], len(sentences[j][1])))[:per]
    return " ".join(sentences[j][1] for j in sorted(keep) if sentences[j][0] > 0)


def _faq_questions(raw: str) -> list[str]:
    """The separate questions of one message ("ok 3 things. do u have loaners, how far does the
    shuttle go, and is there ev charging there" is three)."""
    text = _FAQ_LEAD.sub("", raw)
    parts = re.split(r"\?|;|,\s*(?:and\s+)?|\s+and\s+(?=(?:is|are|do|does|can|how|what|will|where)\b)", text)
    return [p.strip() for p in parts if len(p.strip()) > 6] or [raw]


async def handle_faq(t: Turn) -> bool:
    """Questions about the store's policies and amenities, answered with the dealer's own sentences:
    each question of the message gets the sentences of the best passage that share its words.
    False when the documents answer none of it (the caller hands it to a person; nothing is guessed)."""
    answers: list[str] = []
    per = {"chat": 2, "sms": 1}.get(t.channel, 1)
    # "the warranty on a new camry" asks about the warranty: the vehicle named is not a policy word
    vehicle = set(re.findall(r"[a-z0-9-]+", " ".join(str(v) for v in t.ents.criteria.values()).lower()))
    for question in _faq_questions(t.parse.raw)[:3]:
        words = [w.rstrip("s") for w in _keywords(normalize(question)) if w not in _FAQ_GENERIC and w not in vehicle]
        if not words:
            continue
        quote = _faq_answer(await _passages(t, question, k=3), words, per)
        if quote and quote not in answers:
            answers.append(quote)
    if answers:
        t.out.add(" ".join(answers), 0)
        t.out.say("anything_else", 2)
    return bool(answers)


_SERVICE_KEYWORDS = {
    "oil_change": ["oil change"],
    "tire_rotation": ["rotation"],
    "brake_inspection": ["brake"],
    "alignment": ["alignment"],
    "battery": ["battery"],
    "diagnostic": ["diagnostic"],
    "state_inspection": ["inspection", "vin verification"],
    "recall": ["recall"],
    "maintenance": ["toyotacare", "maintenance"],
}


async def handle_service_price(t: Turn) -> None:
    kind = t.ents.service_kind
    words = _SERVICE_KEYWORDS.get(kind or "", []) or _keywords(t.parse.norm) or ["service"]
    question = t.parse.raw if kind is None else f"{' '.join(words)} price"
    passages = await _passages(t, question, k=4)
    picked = _sentences(passages, words, sentences={"chat": 3, "sms": 2}.get(t.channel, 1), money=True)
    if picked:
        t.out.say("service_price_intro", 1)
        t.out.add(picked, 0)
        t.out.say("service_price_note", 2)
    else:
        t.out.say("service_price_unknown", 0)
    if kind:
        t.out.say("service_offer_booking", 0)
        t.set_pending("offer_booking", department="service", kind=kind)
        t.out.offer("Book it", "Not now")


# --- knowledge quoting -------------------------------------------------------------------------------


async def _passages(t: Turn, question: str, k: int = 3) -> list[str]:
    try:
        found = await search_knowledge(t.deps, question, k=k)
    except ToolError:
        return []
    return [p.text for p in found]


def _body(passage: str) -> str:
    head, _, body = passage.partition("\n\n")
    return body or head


def _split(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text).strip()
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", text) if s.strip()]


def _sentences(passages: list[str], keywords: list[str], *, sentences: int = 2, money: bool = False) -> str:
    """Whole sentences from the passages that mention the keywords (and a price when `money`)."""
    picked: list[str] = []
    for passage in passages:
        for s in _split(_body(passage)):
            low = s.lower()
            if not any(k in low for k in keywords):
                continue
            if money and "$" not in s and "free" not in low:
                continue
            if s not in picked:
                picked.append(s)
            if len(picked) >= sentences:
                return " ".join(picked)
    return " ".join(picked)


async def knowledge_quote(t: Turn, question: str, keywords: list[str], *, sentences: int = 2) -> str:
    """The best one or two sentences of the dealer's documents for a question, quoted as written."""
    passages = await _passages(t, question, k=3)
    if not passages:
        return ""
    chosen = _sentences(passages[:1], keywords, sentences=sentences) or _sentences(
        passages, keywords, sentences=sentences
    )
    if not chosen:
        chosen = " ".join(_split(_body(passages[0]))[:sentences])
    return chosen


_STOP = set(
    "a an the and or to of in on for with is are do does you your i my me can what how much much "
    "when where there it that this we our us be have has get any about please".split()
)


def _keywords(s: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9-]+", s) if w not in _STOP and len(w) > 2][:6]
