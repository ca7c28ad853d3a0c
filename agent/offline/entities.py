"""Entities in a customer's message: what to search for, who they are, what they drive, when.

Everything returned is plain JSON data (it lands in the checkpointed dialogue slots). Vehicle words
come from the inventory vocabulary (`agent.offline.vocab`); money, years, miles, seats, contact details,
trade-ins, service kinds and references to earlier results are read with rules here.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.offline.text import fold, normalize
from agent.offline.vocab import Matcher
from memory.identity import InvalidIdentity, normalize_email, normalize_phone
from tools.inventory import body_family

_AMT = r"\$?\s?(\d+(?:\.\d+)?)\s?(k|grand|thousand)?"
_MONTHLY = r"(?:\s?(?:a|per|/|each|every)\s?(?:month|mo)\b|\s?monthly\b|\s?/mo\b)"
_MILES = r"\s?(?:miles|mi\b|mileage)"


@dataclass
class Entities:
    criteria: dict[str, Any] = field(default_factory=dict)  # search_inventory keyword arguments
    sort: str | None = None  # price_asc | price_desc | newest | miles_asc
    text_hint: str | None = None  # free wish for semantic ranking ("good on gas")
    monthly_budget: int | None = None
    offer: int | None = None  # a price the customer proposes ("for $1")
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    trade_in: dict[str, Any] = field(default_factory=dict)  # year, make, model, mileage, payoff
    service_kind: str | None = None
    ordinal: int | None = None  # 1-based; -1 = last
    superlative: str | None = None  # cheapest | priciest | newest | lowest_miles (picking from results)
    deictic: bool = False  # "that one", "it"
    has_time: bool = False
    stock: str | None = None
    vin: str | None = None
    asked_attrs: list[str] = field(default_factory=list)  # miles, color, price, features... of a unit

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False, [], {})}


# --- money -------------------------------------------------------------------------------


def _dollars(num: str, suffix: str | None, *, dollar_sign: bool, price_context: bool) -> int:
    value = float(num)
    if suffix:
        value *= 1000
    elif not dollar_sign and price_context and 5 <= value < 1000:
        value *= 1000  # "under 40", "around 30" mean thousands when talking car prices
    return round(value)


def _money(s: str, e: Entities) -> str:
    """Read budgets and offers; returns the text with money phrases removed."""
    offer = re.search(
        r"\b(?:for|at|pay|paying|offer|offering|give you|take|accept)\s?(?:you\s)?(?:only\s|just\s)?"
        r"(\$\s?(\d+(?:\.\d+)?)\s?(k|grand|thousand)?|(?:a|one|1) (?:dollar|buck)s?\b|(\d+(?:\.\d+)?)\s?(k|grand))",
        s,
    )
    if offer and re.search(r"\b(sell|take|buy|deal|offer|accept|give|pay|let me have|binding)\b", s):
        if offer.group(2):
            e.offer = _dollars(offer.group(2), offer.group(3), dollar_sign=True, price_context=False)
        elif offer.group(4):
            e.offer = _dollars(offer.group(4), offer.group(5), dollar_sign=False, price_context=True)
        else:
            e.offer = 1
        s = s[: offer.start()] + " " + s[offer.end() :]

    m = re.search(_AMT + r"\s?" + _MONTHLY, s)
    if m is None:
        m = re.search(r"\b(?:payments?|monthly)\D{0,20}?" + _AMT, s)
    if m:
        e.monthly_budget = round(float(m.group(1)) * (1000 if m.group(2) else 1))
        s = s[: m.start()] + " " + s[m.end() :]

    crit = e.criteria
    rng = re.search(
        r"(?:between\s)?(\$)?\s?(\d+(?:\.\d+)?)\s?(k|grand|thousand)?\s?(?:-|to|and)\s?(\$)?\s?(\d+(?:\.\d+)?)\s?"
        r"(k|grand|thousand)?(?!\s?(?:miles|mi\b|am|pm|:))",
        s,
    )
    if rng:
        lo, hi = float(rng.group(2)), float(rng.group(5))
        money_like = rng.group(1) or rng.group(4) or rng.group(3) or rng.group(6) or lo >= 3000
        years = 1980 <= lo <= 2035 and 1980 <= hi <= 2035 and not (rng.group(1) or rng.group(4))
        if money_like and not years:
            suffix = rng.group(6) or rng.group(3)
            a = _dollars(rng.group(2), rng.group(3) or suffix, dollar_sign=bool(rng.group(1)), price_context=True)
            b = _dollars(rng.group(5), suffix, dollar_sign=bool(rng.group(4)), price_context=True)
            if a > b:
                a, b = b, a
            crit["price_min"], crit["price_max"] = a, b
            return s[: rng.start()] + " " + s[rng.end() :]

    patterns = [
        (
            "max",
            r"\b(?:under|below|less than|lower than|cheaper than|no more than|not more than|max(?:imum)?(?: of)?"
            r"|up to|at most|within|budget(?: is| of)?(?: about| around| like)?|spend(?: up to)?|afford|no higher than"
            r"|not over|nothing over|nothing above|less then|under than)\s?(?:like\s|about\s|around\s)?(\$)?"
            + _AMT[3:],
        ),
        (
            "max",
            r"(\$)?\s?(\d+(?:\.\d+)?)\s?(k|grand|thousand)?\s?(?:or less|or under|or below|max\b|tops\b|or cheaper"
            r"|and under|and below|budget)",
        ),
        ("min", r"\b(?:over|above|more than|at least|starting at|minimum(?: of)?)\s?(\$)?" + _AMT[3:]),
        ("around", r"\b(?:around|about|roughly|approximately|approx|close to|near|~)\s?(\$)?" + _AMT[3:]),
        ("around", r"(\$)?\s?(\d+(?:\.\d+)?)\s?(k|grand)?\s?-?ish\b"),
        ("max", r"(\$)\s?(\d+(?:\.\d+)?)\s?(k|grand|thousand)?"),
        ("max", r"()\b(\d+(?:\.\d+)?)\s?(k|grand)\b"),
    ]
    for kind, rx in patterns:
        for m in re.finditer(rx, s):
            if re.match(_MILES + r"|\s?(?:mile )?(?:service|maintenance|check|inspection|interval)", s[m.end() :]):
                continue  # "under 50k miles" is mileage, "30k service" a maintenance visit
            num, suffix, sign = m.group(2), m.group(3), bool(m.group(1))
            if not suffix and not sign and 1980 <= float(num) <= 2035:
                continue  # "after 2018" is a year
            if kind == "around" and not (suffix or sign or float(num) >= 1000 or 10 <= float(num) < 200):
                continue
            if kind == "max" and not (suffix or sign) and float(num) < 5:
                continue
            value = _dollars(num, suffix, dollar_sign=sign, price_context=True)
            if value < 500:
                continue  # "under $5" is not a car budget; offers were handled above
            if kind == "max":
                crit["price_max"] = value
            elif kind == "min":
                crit["price_min"] = value
            else:
                crit["price_min"], crit["price_max"] = round(value * 0.9 / 100) * 100, round(value * 1.1 / 100) * 100
            return s[: m.start()] + " " + s[m.end() :]
    return s


def _mileage(s: str, e: Entities) -> str:
    m = re.search(
        r"\b(?:under|below|less than|fewer than|no more than|max|up to|at most|<)\s?(\d+(?:\.\d+)?)\s?(k|thousand)?"
        + _MILES,
        s,
    )
    if m is None:
        m = re.search(r"\b(\d+(?:\.\d+)?)\s?(k|thousand)?" + _MILES + r"\s?(?:or less|max|or under|or fewer)", s)
    if m:
        e.criteria["mileage_max"] = round(float(m.group(1)) * (1000 if m.group(2) else 1))
        return s[: m.start()] + " " + s[m.end() :]
    if re.search(r"\b(?:low|lowest|least|fewest|fewer|less|lower) (?:miles|mileage)\b", s):
        e.sort = e.sort or "miles_asc"
    return s


# --- years, seats, kind of vehicle ---------------------------------------------------------

_YEAR = r"(19[89]\d|20[0-3]\d)"


def _years(s: str, e: Entities) -> str:
    crit = e.criteria
    s = re.sub(r"(?<![\w$])'(\d\d)\b", lambda m: "20" + m.group(1), s)  # '18 -> 2018
    rules = [
        (rf"\b{_YEAR}\s?(?:-|to|through)\s?{_YEAR}\b", "range"),
        (rf"\b{_YEAR}\s?(?:or|and|&)\s?(?:newer|up|later|above|after)\b|\b{_YEAR}\s?\+", "min"),
        (rf"\b(?:newer than|after|at least a|at least|no older than|from)\s{_YEAR}\b", "min_after"),
        (rf"\b(?:older than|before|pre)\s{_YEAR}\b", "max_before"),
        (rf"\b{_YEAR}\s?(?:or|and)\s?(?:older|earlier|below|before)\b", "max"),
        (rf"\b{_YEAR}\b(?!\s?(?:miles|mi\b|k\b|dollars))", "exact"),
    ]
    for rx, kind in rules:
        m = re.search(rx, s)
        if not m:
            continue
        y = [int(g) for g in m.groups() if g]
        if kind == "range":
            crit["year_min"], crit["year_max"] = min(y), max(y)
        elif kind in {"min", "min_after"}:
            crit["year_min"] = y[0] + (1 if kind == "min_after" and m.group(0).startswith(("newer", "after")) else 0)
        elif kind in {"max", "max_before"}:
            crit["year_max"] = y[0] - (1 if kind == "max_before" else 0)
        else:
            crit["year_min"] = crit["year_max"] = y[0]
        s = s[: m.start()] + " " + s[m.end() :]
        break
    return s


_NUMWORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}


def _seats(s: str, e: Entities) -> None:
    if re.search(r"\b(?:3|three)\s?-?rows?\b|\b(?:third|3rd)\s?-?row\b|\brow of seats\b", s):
        e.criteria["seats_min"] = 7
        return
    m = re.search(
        r"\b(\d|seven|eight|six|five|nine)\s?-?(?:seaters?|seats|passengers?|passanger)\b|\bseats?\s(\d|seven|eight|six)\b"
        r"|\bseating for (\d|seven|eight|six)\b|\bfamily of (\d|seven|eight|six|five)\b"
        r"|\bfit (\d|seven|eight|six) (?:people|kids)",
        s,
    )
    if m:
        raw = next(g for g in m.groups() if g)
        n = int(raw) if raw.isdigit() else _NUMWORDS[raw]
        if 4 <= n <= 9:
            e.criteria["seats_min"] = n


def _condition(s: str, e: Entities) -> None:
    if re.search(r"\b(?:certified|cpo)\b", s):
        e.criteria["condition"] = "cpo"
    elif re.search(r"\b(?:used|pre-? ?owned|second-? ?hand|older)\b", s):
        e.criteria["condition"] = "used"
    elif re.search(
        r"\bbrand new\b|\bnew (?!time|day|date|appointment|customer|phone|number|address|email)\w+", s
    ) and not (re.search(r"\bwhat is new\b|\bwhat's new\b|\banything new\b", s)):
        e.criteria["condition"] = "new"


def _powertrain(s: str, e: Entities) -> None:
    crit = e.criteria
    if re.search(r"\bplug-? ?ins?\b|\bphevs?\b|\bprime\b", s):
        crit["fuel_type"] = "plug-in hybrid"
    elif re.search(r"\bhybrids?\b|\bhybird\b|\bhybid\b", s):
        crit["fuel_type"] = "hybrid"
    elif re.search(r"\b(?:electric|evs?|bevs?|all-electric|battery electric|electrics)\b", s):
        crit["fuel_type"] = "electric"
    elif re.search(r"\bdiesel\b", s):
        crit["fuel_type"] = "diesel"
    if re.search(
        r"good (?:on|with) gas|fuel[- ]?(?:efficient|economy|sipper)|gas mileage|\bmpg\b|economical|save on gas|"
        r"gas saver|cheap to run",
        s,
    ):
        e.text_hint = "good on gas, fuel efficient"
    if re.search(r"\bawd\b|all[- ]wheel", s):
        crit["drivetrain"] = "AWD"
    elif re.search(r"\b4wd\b|\b4x4\b|four[- ]wheel|4 wheel drive", s):
        crit["drivetrain"] = "4WD"
    elif re.search(r"\bfwd\b|front[- ]wheel", s):
        crit["drivetrain"] = "FWD"
    elif re.search(r"\brwd\b|rear[- ]wheel", s):
        crit["drivetrain"] = "RWD"


FEATURES: list[tuple[str, str]] = [
    ("apple carplay", r"car ?play|apple ?car"),
    ("android auto", r"android"),
    ("sunroof", r"sun ?roof|moon ?roof|panoramic"),
    ("leather", r"leather"),
    ("heated seats", r"heated (?:front )?seats?|seat heaters?"),
    ("backup camera", r"back ?up cam|rear ?(?:view )?cam|reverse cam"),
    ("navigation", r"\bnav\b|navigation|\bgps\b"),
    ("tow", r"\btow(?:ing)?\b|hitch"),
    ("remote start", r"remote start"),
    ("blind spot", r"blind ?spot"),
    ("bluetooth", r"bluetooth"),
    ("adaptive cruise", r"adaptive cruise|radar cruise"),
]


def _features(s: str, e: Entities) -> None:
    feats = [name for name, rx in FEATURES if re.search(rx, s)]
    if feats:
        e.criteria["features"] = feats


def _sort(s: str, e: Entities) -> None:
    if re.search(
        r"\b(?:cheapest|cheaper|lowest price[sd]?|least expensive|most affordable|less expensive|"
        r"lower price[sd]?|budget friendly|cheap)\b",
        s,
    ):
        e.sort = "price_asc"
    elif re.search(r"\b(?:most expensive|priciest|top of the line|fanciest|loaded|nicest)\b", s):
        e.sort = "price_desc"
    elif re.search(r"\b(?:newest|latest|newer)\b", s):
        e.sort = "newest"


# --- people -----------------------------------------------------------------------------

NOT_NAMES = frozenset(
    """a an the and or but so just not no yes yeah yep ok okay sure here there back still also very really
    good great fine well alright interested looking trying wondering ready calling texting going planning
    thinking hoping waiting asking checking reaching writing following shopping selling buying trading coming
    driving leaving working available free done out home busy curious after about in on at from with for
    to sorry glad happy excited ridiculous tired frustrated upset angry mad serious confused lost late
    early interested disappointed pissed annoyed furious sick broke over your you me my this that it
    what who when where why how hi hello hey thanks thank please new used certified open closed
    calling calling text call ready able unable gonna going want wanting need needing in-market
    considering comparing kidding joking bored lol haha wow cool nice awesome perfect almost never always
    afraid worried concerned nervous unhappy satisfied pleased thrilled stuck stranded desperate
    pregnant retired married single older younger first second third last one two three four five
    downstairs outside inside nearby near close far away today tomorrow tonight morning evening afternoon
    monday tuesday wednesday thursday friday saturday sunday weekend now currently blah asdf test testing
    idk lol hmm huh what whatever nobody anonymous none nope cancel stop help""".split()
)
_NAME_WORD = r"[A-Za-z][A-Za-z'\-]+"


def _clean_name(raw: str, *, require_caps: bool) -> str | None:
    parts = raw.strip().split()
    kept: list[str] = []
    for p in parts[:3]:
        low = p.lower().strip("'-")
        if low in NOT_NAMES or (low.endswith(("ing", "ed", "ly")) and len(low) > 5):
            break
        if require_caps and not p[:1].isupper():
            break
        kept.append(p)
    if not kept:
        return None
    return " ".join(w[:1].upper() + w[1:] if w.islower() else w for w in kept)


def extract_name(raw: str, *, expecting: bool = False) -> str | None:
    """ "I'm Jo", "this is Maria Lopez", "my name is …" — or a bare name when we just asked for one."""
    text = fold(raw) if False else re.sub(r"\s+", " ", raw.strip())
    short = len(text.split()) <= 5
    rules = [
        (rf"\bmy name(?:'s| is)\s+({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})", False),
        (rf"\b[Nn]ame(?:'s| is|:)\s+({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})", False),
        (rf"\b(?:[Tt]his is|[Ii]t'?s)\s+({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})", not short),
        (rf"\b(?:[Ii]'?m|[Ii] am|I m)\s+({_NAME_WORD}(?:\s+{_NAME_WORD})?)", not short),
        (rf"\b[Cc]all me\s+({_NAME_WORD})", True),
    ]
    for rx, caps in rules:
        m = re.search(rx, text)
        if m:
            name = _clean_name(m.group(1), require_caps=caps)
            if name:
                return name
    if expecting:
        text = re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}", " ", text)
        text = re.sub(r"[,;]", " ", text).strip()
        bare = re.fullmatch(rf"\s*(?:it'?s\s+|its\s+)?({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})\s*[.!]?\s*", text, re.I)
        if bare:
            return _clean_name(bare.group(1), require_caps=False)
    return None


def extract_phone(raw: str) -> str | None:
    m = re.search(r"(?<![\d])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)", raw)
    if not m:
        return None
    try:
        return normalize_phone(m.group(0))
    except InvalidIdentity:
        return None


def extract_email(raw: str) -> str | None:
    m = re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", raw)
    if not m:
        return None
    try:
        return normalize_email(m.group(0))
    except InvalidIdentity:
        return None


# --- trade-in ----------------------------------------------------------------------------

_TRADE_CLAUSE = re.compile(
    r"\b(?:trad(?:e|ing)[- ]?in|trade|trading)\s(?:in\s)?(?:my|our|a|an|the)?\s?(?P<a>[^.?!;]*)"
    r"|\bmy\s(?P<b>(?:(?:19|20)\d\d\s)?[a-z0-9-]+(?:\s[a-z0-9-]+){0,3}?)\s(?:worth|value|for trade|to trade|as a trade)"
    r"|\b(?:worth|value of|appraise|appraisal (?:on|for)|sell you|sell)\s(?:my|our)\s(?P<c>[^.?!;]*)"
    r"|\bi (?:have|got|own|drive) (?:a|an)\s(?P<d>(?:19|20)\d\d\s[^.?!;,]*)"
    r"|\b(?:give|pay|offer) (?:me|us)\s(?:for|on)\s(?:my|our)\s(?P<e>[^.?!;]*)"
    r"|\b(?:get|fetch)\s(?:for|on)\s(?:my|our)\s(?P<f>[^.?!;]*)"
)


def _trade_in(s: str, e: Entities, matcher: Matcher) -> str:
    owe = re.search(
        r"\b(?:owe|payoff(?: is)?|pay ?off(?: is)?|left on (?:it|the loan)|balance(?: is)?)\s"
        r"(?:about |around |like |roughly )?"
        r"(?:is\s)?\$?\s?(\d+(?:\.\d+)?)\s?(k|grand|thousand)?",
        s,
    )
    if owe:
        e.trade_in["payoff"] = _dollars(owe.group(1), owe.group(2), dollar_sign=False, price_context=True)
        s = s[: owe.start()] + " " + s[owe.end() :]
    m = _TRADE_CLAUSE.search(s)
    if not m:
        return s
    group = next(i for i, g in enumerate(m.groups(), 1) if g is not None)
    clause = re.split(
        r"\b(?:for (?:a|an|the|something|one)|and (?:get|buy|looking|want|i|my|our)|towards?|into|because|but"
        r"|(?:my |our |the )?budget)\b",
        m.group(group),
    )[0]
    clause_end = m.start(group) + len(clause)  # what follows the car ("and my budget is 40k") stays in the text
    year = re.search(rf"\b{_YEAR}\b", clause)
    make, model = matcher.any_model(clause)
    miles = re.search(r"\b(\d+(?:\.\d+)?)\s?(k|thousand)?" + _MILES, clause)
    if year:
        e.trade_in["year"] = int(year.group(1))
    if make:
        e.trade_in["make"] = make
    if model:
        e.trade_in["model"] = model
    if miles:
        e.trade_in["mileage"] = round(float(miles.group(1)) * (1000 if miles.group(2) else 1))
    if year or model or miles:
        e.trade_in.setdefault("description", clause.strip())
        s = s[: m.start()] + " " + s[clause_end:]
    return s


# --- service ------------------------------------------------------------------------------

SERVICE_KINDS: list[tuple[str, str]] = [
    ("recall", r"\brecalls?\b"),
    ("oil_change", r"\boil\b|\blube\b"),
    ("tire_rotation", r"\brotat(?:e|ion|ed)\b|tire rotation"),
    ("alignment", r"\balign(?:ment|ed)?\b|pull(?:s|ing)? to the|steering wheel (?:is )?(?:off|crooked)"),
    ("brake_inspection", r"\bbrakes?\b|\bbrake pads?\b|\bsqueak|\bsqueal|\bgrind(?:ing|s)?\b|\brotors?\b"),
    ("battery", r"\bbatter(?:y|ies)\b|won'?t start|doesn'?t start|\bjump start"),
    ("state_inspection", r"\binspection\b|\bemissions?\b|\bsmog\b"),
    (
        "diagnostic",
        r"check engine|engine light|warning light|dash light|\bnoises?\b|\brattl|\bleak|\bdiagnos|overheat|"
        r"\bshak(?:e|ing)\b|vibrat|\bsmell|\ba/?c\b|air condition|not working|stopped working|\bclunk|\bknock",
    ),
    (
        "maintenance",
        r"maintenance|tune[- ]?up|\b\d+k (?:mile )?service|\d+000 mile|scheduled service|"
        r"\bget (?:my|the) (?:car|truck) serviced\b|\btires?\b",
    ),
]


def service_kind_of(s: str, kinds: list[str]) -> str | None:
    """The dealer's own service kind for the customer's words (or None)."""
    for kind, rx in SERVICE_KINDS:
        if re.search(rx, s):
            if kind in kinds:
                return kind
            for fallback in ("diagnostic", "maintenance"):
                if fallback in kinds:
                    return fallback
            return kinds[0] if kinds else kind
    return None


# --- references to earlier results ----------------------------------------------------------

_ORD = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
        "fifth": 5, "5th": 5, "last": -1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}  # fmt: skip


def _ordinal(s: str, e: Entities) -> str:
    m = re.search(
        r"\b(?:the\s)?(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)"
        r"(?:\s(?:one|option|choice|car|truck|suv|vehicle|listing|slot|time|result|pick))?\b(?!\s?-?rows?)",
        s,
    )
    if m and not re.search(
        r"first time|first thing|last time|last year|last week|last month|second hand",
        m.group(0) + s[m.end() : m.end() + 6],
    ):
        e.ordinal = _ORD[m.group(1)]
        return s[: m.start()] + " " + s[m.end() :]
    m = re.fullmatch(r"\s*(?:the\s)?([1-9])(?:st|nd|rd|th)?\s?(?:one|please|pls|works)?\s*[.)!]?\s*", s)
    if m:  # a bare "2" answers a numbered list
        e.ordinal = int(m.group(1))
        return " "
    m = re.search(r"(?:#|\bnumber\s|\bno\.?\s?|\boption\s|\bchoice\s)(\d|one|two|three|four|five)\b(?!\d)", s)
    if m:
        e.ordinal = int(m.group(1)) if m.group(1).isdigit() else _ORD[m.group(1)]
        return s[: m.start()] + " " + s[m.end() :]
    return s


def _references(s: str, e: Entities) -> None:
    if re.search(
        r"\b(?:that|this|the same)\s(?:one|car|truck|suv|van|vehicle|camry|model)\b|\bit\b|\bthat\b|\bthis one\b", s
    ):
        e.deictic = True
    if re.search(
        r"\b(?:cheaper|cheapest|less expensive|lower priced|lowest priced) one\b|\bthe cheap(?:er|est)\s*[?.!]*$", s
    ):
        e.superlative = "cheapest"
    elif re.search(r"\b(?:pricier|more expensive|most expensive) one\b", s):
        e.superlative = "priciest"
    elif re.search(r"\b(?:newer|newest) one\b|\bthe newe(?:r|st)\s*[?.!]*$", s):
        e.superlative = "newest"
    elif re.search(r"\b(?:lower|lowest|less|least|fewer|fewest) (?:miles|mileage)(?: one)?\b", s):
        e.superlative = "lowest_miles"
    attrs = [
        ("miles", r"(?<!gas )\bmileage\b|\bmiles\b(?! per gallon)|\bodometer\b|how many mi\b"),
        ("color", r"\bcolou?rs?\b|what (?:shade|paint)"),
        ("price", r"\bprice\b|how much\b|\bcost\b|\bpriced\b|\basking\b"),
        (
            "availability",
            r"still (?:there|available|for sale|have it|in stock|on the lot)|\bavailable\b|"
            r"\bsold\b|\bin stock\b|still have",
        ),
        (
            "features",
            r"\bdoes (?:it|that one|this one) (?:have|come with)\b|\bfeatures?\b|\bequipped\b|\boptions\b"
            r"|\bcome with\b",
        ),
        ("interior", r"\binterior\b|\binside\b|\bseats? (?:colou?r|material)\b"),
        ("engine", r"\bengine\b|\bhorsepower\b|\bhp\b|\bcylinders?\b|\bv6\b|\bmotor\b"),
        ("drivetrain", r"\bawd\b|\b4wd\b|\b4x4\b|all[- ]wheel|\bdrivetrain\b|four[- ]wheel"),
        ("mpg", r"\bmpg\b|gas mileage|fuel economy|miles per gallon"),
        ("fuel", r"hybrid\?|\bis it (?:a )?hybrid\b|\bis it electric\b|\bwhat fuel\b|\bgas or\b"),
        ("seats", r"how many (?:seats|people|passengers)|\bthird row\?|\bseats? how many\b"),
        ("trim", r"\bwhat trim\b|\bwhich trim\b"),
        ("year", r"\bwhat year\b|\bwhich year\b|\bhow old\b"),
        ("photos", r"\bpics?\b|\bpictures?\b|\bphotos?\b|\blink\b|\bsee it online\b"),
        ("history", r"carfax|accident|history report|autocheck|clean title|one owner|previous owners?"),
    ]
    e.asked_attrs = [name for name, rx in attrs if re.search(rx, s)]


def _stock_vin(raw: str, e: Entities) -> None:
    vin = re.search(r"\b[A-HJ-NPR-Z0-9]{17}\b", raw.upper())
    if vin and re.search(r"\d", vin.group(0)) and re.search(r"[A-Z]", vin.group(0)):
        e.vin = vin.group(0)
    stock = re.search(r"\bstock\s?(?:#|number|no\.?|num)?\s?:?\s?#?\s?([A-Za-z0-9-]*\d[A-Za-z0-9-]*)\b", raw, re.I)
    if stock is None:
        stock = re.search(r"#\s?([A-Za-z]{1,3}-?\d{3,6}[A-Za-z]?)\b", raw)
    if stock:
        e.stock = stock.group(1).upper()


# --- time ------------------------------------------------------------------------------------

_TIME_WORDS = re.compile(
    r"\b(?:today|tomorrow|tonight|tmrw|this (?:week|weekend)|next (?:week|weekend)|weekend|"
    r"mon(?:day)?|tues?(?:day)?|wed(?:nesday)?|weds|thu(?:rs?)?(?:day)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?|"
    r"morning|afternoon|evening|noon|lunch|asap|as soon as possible|earliest|soonest|first available|"
    r"thanksgiving|christmas|new year'?s?|memorial day|labor day|july 4(?:th)?|4th of july|"
    r"jan(?:uary)?|feb(?:ruary)?|march|april|may \d|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|"
    r"nov(?:ember)?|dec(?:ember)?)\b"
    r"|\b\d{1,2}(?::\d\d)?\s?(?:am|pm|a\.m\.|p\.m\.)|\b\d{1,2}:\d\d\b|\b(?:at|after|before|around|by) \d{1,2}\b"
    r"|\b\d{1,2}/\d{1,2}\b|\b(?:the )?\d{1,2}(?:st|nd|rd|th)\b(?! (?:one|option|row|choice|car|slot))"
)


def has_time(s: str) -> bool:
    s = re.sub(r"\b(?:sat|sun) (?:down|up|on|in|there)\b", " ", s)  # "sat down" is not Saturday
    return bool(_TIME_WORDS.search(s))


# --- everything ------------------------------------------------------------------------------


def extract(
    raw: str,
    matcher: Matcher,
    *,
    service_kinds: list[str] | None = None,
    expecting_name: bool = False,
    norm: str | None = None,
) -> Entities:
    """All entities of one message. `raw` keeps case (names); the rules read `normalize(raw)`."""
    e = Entities()
    s = norm if norm is not None else normalize(raw)
    _stock_vin(raw, e)
    e.email = extract_email(raw)
    e.phone = extract_phone(re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", " ", raw))
    e.name = extract_name(raw, expecting=expecting_name)
    if e.email or e.phone:
        s = re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", " ", s)
        s = re.sub(r"(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}", " ", s)
    full = s
    e.has_time = has_time(re.sub(r"\b(?:the )?(?:1st|2nd|3rd|[45]th) (?:one|option|choice|row)\b", " ", s))
    s = _trade_in(s, e, matcher)
    s = _ordinal(s, e)
    s = _mileage(s, e)
    s = _money(s, e)
    s = _years(s, e)
    _seats(s, e)
    _condition(s, e)
    _powertrain(s, e)
    _features(s, e)
    _sort(s, e)
    _references(s, e)
    e.service_kind = service_kind_of(full, service_kinds or [])
    found = matcher.extract(s)
    crit = e.criteria
    if found.models:
        crit["model"] = found.models[0]
        make = matcher.make_of(found.models[0])
        if make:
            crit["make"] = make
        if "hybrid" in s and "hybrid" not in found.models[0].lower():
            crit.setdefault("fuel_type", "hybrid")
    if found.makes and "make" not in crit:
        crit["make"] = found.makes[0]
    if found.trims:
        crit["trim"] = found.trims[0]
    if found.colors:
        crit["color"] = found.colors[0]
    if found.body_styles:
        crit["body_style"] = found.body_styles[0]
    elif re.search(r"\btrucks?\b|\bpick ?ups?\b", s):
        crit["body_style"] = "pickup"
    elif re.search(r"\bsuvs?\b|\bcrossovers?\b", s):
        crit["body_style"] = "suv"
    elif re.search(r"\bminivans?\b|\bvans?\b", s):
        crit["body_style"] = "minivan"
    elif re.search(r"\bsedans?\b", s):
        crit["body_style"] = "sedan"
    if crit.get("body_style"):
        crit["body_style"] = body_family(crit["body_style"]) or crit["body_style"]
    if crit.get("fuel_type") == "hybrid" and crit.get("model", "").lower().endswith("hybrid"):
        del crit["fuel_type"]
    return e
