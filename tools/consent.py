"""Consent: recognising opt-outs, recording them, and the gate every outbound message passes.

Three jobs, one reason to change (messaging law):

* `classify_consent_message` — keywords (STOP, START, HELP…) and plain-language revocation
  ("stop texting me", "take me off your list"), which the FCC treats as a presumption of revocation.
* `record_opt_out` / `record_opt_in` — evidenced entries in the append-only ledger (memory/consent.py).
* `check_send` — may this message go out now? Consent, quiet hours in the recipient's local time,
  state rules and per-24 h caps, all read from `consent_rules.yaml`.

Decisions the gate encodes (see also the ledger's precedence rules):

* Nothing goes to an opted-out channel, ever — replies included. CTIA practice: after STOP nothing is
  sent until START/UNSTOP (or YES); a new inbound message that is not one of those does not
  re-consent, so the agent stays silent on that channel (the turn should hand off to staff).
  HELP after STOP is not answered either. The one exception is a single opt-out confirmation
  (purpose `"opt_out_confirmation"`, within five minutes, no marketing).
* A reply to the customer's own inbound message (`purpose="transactional", proactive=False`) needs no
  recorded consent and ignores quiet hours: the customer started the conversation.
* Everything else — proactive messages and anything marketing — needs consent for its purpose on that
  channel (marketing: opted in, and *written* where a state demands it; proactive transactional such
  as reminders: a transactional opt-in, recorded e.g. when the appointment is booked), and must fall
  inside the strictest applicable window (federal, each candidate state, dealer policy) in every
  time zone the recipient might be in. Proactive marketing also counts against state caps.
* Email has no calling hours and no state caps (CAN-SPAM; the mini-TCPAs cover calls and texts), but
  opt-outs and the marketing opt-in apply to it like any channel.
* Web chat is not gated: it only ever answers a visitor who is on the page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import itertools
import json
import re
import secrets
from collections.abc import Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import phonenumbers
import yaml
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from phonenumbers import timezone as pn_timezone
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from redis.asyncio import Redis

from memory.consent import (
    CHANNELS,
    PURPOSES,
    Channel,
    ConsentEntry,
    ConsentLedger,
    ConsentState,
    Purpose,
    Scope,
    Source,
)
from memory.customers import CustomerStore
from memory.keys import Keys
from tools.context import ToolDeps, ToolError, deps_from_config
from tools.dealer import DealerConfig

RULES_PATH = Path(__file__).with_name("consent_rules.yaml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SendPurpose = Literal["marketing", "transactional", "opt_out_confirmation"]
OUTLOG_RETENTION = dt.timedelta(days=7)

# =============================================================================================
# Rules (consent_rules.yaml)
# =============================================================================================


class Window(BaseModel):
    """Allowed sending hours [start, end) in the recipient's local time."""

    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"window ends before it starts: {self.start}-{self.end}")
        return self

    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class StateRule(BaseModel):
    name: str
    quiet_hours: Window | None = None
    weekday_hours: dict[str, Window] = Field(default_factory=dict)
    max_proactive_per_24h: int | None = Field(default=None, ge=0)
    written_consent_for_automated_marketing: bool = False
    timezones: list[str] = Field(default_factory=list)
    area_codes: list[str] = Field(default_factory=list)
    source: str

    @field_validator("weekday_hours")
    @classmethod
    def _days(cls, v: dict[str, Window]) -> dict[str, Window]:
        bad = set(v) - set(WEEKDAYS)
        if bad:
            raise ValueError(f"unknown weekdays {sorted(bad)}; use {', '.join(WEEKDAYS)}")
        return v

    @field_validator("timezones")
    @classmethod
    def _zones(cls, v: list[str]) -> list[str]:
        for z in v:
            ZoneInfo(z)
        return v

    @field_validator("area_codes")
    @classmethod
    def _npas(cls, v: list[str]) -> list[str]:
        for code in v:
            if not re.fullmatch(r"[2-9]\d\d", code):
                raise ValueError(f"not a NANP area code: {code!r}")
        return v

    def window_on(self, day: dt.date) -> Window | None:
        return self.weekday_hours.get(WEEKDAYS[day.weekday()]) or self.quiet_hours


class ChannelRule(BaseModel):
    quiet_hours: bool = True
    state_rules: bool = True
    marketing_requires_opt_in: bool = True


class FederalRule(BaseModel):
    quiet_hours: Window
    source: str


class RevokeAllRule(BaseModel):
    mode: Literal["auto", "on", "off"] = "auto"
    effective_date: dt.date
    timezone: str = "America/New_York"
    source: str = ""

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_bool(cls, v: Any) -> Any:  # YAML 1.1 reads a bare on/off as a boolean
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v

    def active(self, at: dt.datetime) -> bool:
        if self.mode != "auto":
            return self.mode == "on"
        starts = dt.datetime.combine(self.effective_date, dt.time(0), tzinfo=ZoneInfo(self.timezone))
        return at >= starts


class ConfirmationRule(BaseModel):
    window_minutes: int = Field(default=5, ge=0)
    source: str = ""


class Keywords(BaseModel):
    opt_out: list[str]
    opt_in: list[str]
    opt_in_if_opted_out: list[str] = Field(default_factory=list)
    help: list[str]

    @field_validator("opt_out", "opt_in", "opt_in_if_opted_out", "help", mode="before")
    @classmethod
    def _upper(cls, v: list[Any]) -> list[str]:
        return [_squash(str(k)) for k in v]


class ConsentRules(BaseModel):
    """The whole rule book, validated. Load with `load_consent_rules`."""

    model_config = ConfigDict(frozen=True)

    version: str
    federal: FederalRule
    channels: dict[Channel, ChannelRule]
    cap_window_hours: int = Field(default=24, ge=1)
    states: dict[str, StateRule]
    revoke_all: RevokeAllRule
    opt_out_confirmation: ConfirmationRule = Field(default_factory=ConfirmationRule)
    keywords: Keywords

    @model_validator(mode="after")
    def _unique_area_codes(self) -> ConsentRules:
        seen: dict[str, str] = {}
        for code, rule in self.states.items():
            if not re.fullmatch(r"[A-Z]{2}", code):
                raise ValueError(f"state codes are two capital letters: {code!r}")
            for npa in rule.area_codes:
                if npa in seen:
                    raise ValueError(f"area code {npa} listed under both {seen[npa]} and {code}")
                seen[npa] = code
        return self

    @cached_property
    def area_code_states(self) -> dict[str, str]:
        return {npa: code for code, rule in self.states.items() for npa in rule.area_codes}

    def channel(self, channel: Channel) -> ChannelRule:
        return self.channels.get(channel) or ChannelRule()


def load_consent_rules(path: Path | None = None) -> ConsentRules:
    """Read and validate a rules file (default: the one shipped beside this module)."""
    if path is None:
        return _default_rules()
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return ConsentRules.model_validate(data)


@lru_cache(maxsize=1)
def _default_rules() -> ConsentRules:
    return ConsentRules.model_validate(yaml.safe_load(RULES_PATH.read_text(encoding="utf-8")))


# =============================================================================================
# Classifier: keywords and plain-language revocation
# =============================================================================================


@dataclasses.dataclass(frozen=True)
class ConsentIntent:
    """What an inbound message says about consent, and where it applies.

    `only_if_opted_out`: the message (YES) re-subscribes a customer who is opted out, and is an
    ordinary answer otherwise — the inbound guard checks the state before acting on it.
    """

    kind: Literal["opt_out", "opt_in", "help"]
    source: Literal["keyword", "natural_language"]
    channels: tuple[Channel, ...]
    purposes: tuple[Purpose, ...] = PURPOSES
    keyword: str | None = None
    matched: str = ""
    text: str = ""
    only_if_opted_out: bool = False

    def evidence(self) -> dict[str, Any]:
        return {"text": self.text, "matched": self.matched, "keyword": self.keyword}


def _squash(text: str) -> str:
    """'  Stop. ' -> 'STOP', 'opt-out' -> 'OPTOUT', 'Stop all!' -> 'STOPALL'."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _table(spec: str) -> dict[str, str]:
    """'stop: stp sotp' lines -> {'stp': 'stop', 'sotp': 'stop'} (compact, diff-friendly tables)."""
    out: dict[str, str] = {}
    for line in spec.strip().splitlines():
        target, _, variants = line.partition(":")
        out.update(dict.fromkeys(variants.split(), target.strip()))
    return out


# Misspellings and shorthand seen in real opt-out texts, mapped to one spelling.
_TYPOS = _table("""
    stop: stp sotp stpo stopp stahp stawp
    text: txt tx tex
    texts: txts texs
    texting: txting texing textin textn txtin texring textimg textting txtng texteing
    message: msg massage mesage
    messages: msgs massages
    messaging: msging msgn
    calling: callin caling
    emailing: emailin
    sending: sendin sendng sneding snding
    please: pls plz plez pleas plse pleae pleace
    you: u ya yall
    your: ur
    dont: dnt
    do not: donot
    no more: nomore
    unsubscribe: unsub unsubs
    remove: remvoe remov rmv romove
    contact: contat
    contacting: contactin
    harass: harrass
    harassing: harrassing harasing
    alone: alon
    list: lst
    number: numbr num #
""")
_FUZZY_VOCAB = tuple(
    "texting messaging messages calling emailing contacting unsubscribe subscription bothering harassing "
    "spamming notifications promotions please".split()
)
# Real words within fuzzy distance of the vocabulary that must stay themselves.
_NO_FUZZ = frozenset("contracting spending massaging resending pleased pleasure unsubscribed subscriptions".split())


@lru_cache(maxsize=4096)
def _canon(token: str) -> str:
    token = re.sub(r"(.)\1{2,}", r"\1", token)  # stooop -> stop, pleeease -> please
    if token in _TYPOS:
        return _TYPOS[token]
    if len(token) >= 6 and token not in _NO_FUZZ and token not in _FUZZY_VOCAB:
        close = difflib.get_close_matches(token, _FUZZY_VOCAB, n=1, cutoff=0.88)
        if close:
            return close[0]
    return token


_QUOTES = str.maketrans(dict[str, str | int | None]({"’": "'", "‘": "'", "`": "'", "´": "'", "&": " and "}))


def _normalise(text: str) -> str:
    """Lower-case canonical tokens separated by spaces; `|` marks a clause boundary."""
    t = text.lower().translate(_QUOTES)
    t = re.sub(r"\be-mail", "email", t)
    t = re.sub(r"(\w)[*#@$%]+(\w)", r"\1\2", t)  # f*cking -> fcking
    t = re.sub(r"(\w)'(\w)", r"\1\2", t)  # don't -> dont
    t = re.sub(r"\bopt-?out\b", "opt out", t)
    t = re.sub(r"[.,!?;:\n\r()\[\]\"/]+", " | ", t)
    out: list[str] = []
    for tok in re.findall(r"\||[a-z0-9#]+", t):
        if tok == "|":
            if out and out[-1] != "|":
                out.append("|")
            continue
        out.extend(_canon(tok).split())
    while out and out[-1] == "|":
        out.pop()
    return " ".join(out)


def _alt(*words: str) -> str:
    return "(?:" + "|".join(words) + ")"


_SMS = _alt(r"text messages?", r"texts?", "texting", "texted", "sms")
_MSG = _alt(r"messages?", "messaging")
_VOICE = _alt(r"phone calls?", r"calls?", "calling", "phoning", r"voicemails?", r"robocalls?", "ringing")
_EMAIL = _alt(r"emails?", "emailing", r"newsletters?", "mailing list", "email list")
_ALL = _alt("contact", "contacting", "reaching out", "reach out", "leave me alone", "do not contact")
_ARRIVAL = _alt(
    *"bother bothering harass harassing spam spamming bug bugging pester pestering hassle hassling".split(),
    *"notifications alerts reminders updates".split(),
    "hitting me up",
    "blowing up my phone",
)
_PROMO = _alt(*r"promotions? promos? offers deals ads advertisements? advertising marketing specials coupons".split())
_CONTACT = _alt(_SMS, _MSG, _VOICE, _EMAIL, _ALL, _ARRIVAL, _PROMO, "text", "call", "message", "email")
_SEND_OBJ = _alt(_CONTACT, "these", "this", "that", "those", "stuff", "crap", "junk", "things", "shit", "them")
# Words that may sit between "stop" and what is stopped ("stop sending me all these damn texts").
_FILL = (
    r"(?:(?:please|all|the|these|those|this|that|your|my|with|just|already|now|ever|it|them|any|more|"
    r"anymore|fucking|fuckin|fcking|fking|fkn|freaking|freakin|frigging|friggin|frickin|effing|effin|"
    r"damn|damned|goddamn|bloody|stupid|annoying|constant|so|many|automated|auto|spammy|random|"
    r"unwanted|sending|send|me|to|receive|receiving|get|getting|you|guys)\s+){0,5}"
)
_STOPV = _alt("stop", "quit", "cease", "halt", "discontinue")  # not "end": "end the call" is a hang-up
_LIST = _alt(
    r"(?:mailing|email|text|texting|sms|contact|call|calling|marketing|distribution) list",
    *r"lists? database system contacts records texts? messages? notifications alerts emails? calls?".split(),
)
_CLAUSE = r"(?:^|\| |\b(?:please|just|so|and|then|ok|okay|now|seriously|said|again|but|also)\s+)"
# After "don't text me": only these endings make it a revocation ("don't text me the price" is not).
_DONT_TAIL = re.compile(
    r"^\s*(?:$|\||(?:anymore|again|ever|please|at all|no more|thanks|thank you|or|and|nor|ok|okay|"
    r"period|seriously|unless)\b)"
)

# (pattern, name). Order matters only for the name reported in `matched`.
_REVOCATIONS: list[tuple[re.Pattern[str], str]] = [
    # stop texting me / quit sending me these / stop all the calls / stop texting and calling
    (
        re.compile(
            rf"\b{_STOPV}\s+{_FILL}(?:sending\s+(?:me\s+)?{_FILL}{_SEND_OBJ}|{_CONTACT})\b"
            rf"(?:\s+(?:me\s+)?(?:\|\s+)?(?:and|or|nor|n)\s+{_FILL}{_CONTACT}\b)*"
        ),
        "stop_contact",
    ),
    # don't text me / do not call me / never email me again
    (
        re.compile(
            rf"{_CLAUSE}(?:dont|do not|never|no longer)\s+(?:ever\s+)?"
            rf"(?:text|message|call|phone|ring|email|contact|bother|harass|spam|hit me up)"
            rf"\s+(?:me|this number|my number|my phone|my cell|us|here)\b"
        ),
        "dont_contact",
    ),
    # no more texts / I don't want any more messages / don't send me these
    (
        re.compile(
            rf"(?:{_CLAUSE}no more|\b(?:dont|do not|no longer|never)\s+(?:want|need|send|wish)|"
            rf"\b(?:dont|do not)\s+want\s+to\s+(?:get|receive))\s+{_FILL}{_CONTACT}\b"
        ),
        "no_more",
    ),
    # these texts need to stop / I want the calls to stop
    (re.compile(rf"\b{_CONTACT}\s+(?:need to|needs to|have to|has to|must|gotta|got to|to)\s+stop\b"), "must_stop"),
    # take me off your list / take my number off
    (
        re.compile(
            r"\btake\s+(?:me|my\s+(?:number|name|info|information|phone(?: number)?|cell(?: number)?|"
            rf"email))\s+(?:off|of|out of|outta)\b(?:\s+(?:of\s+)?(?:your|the|this|that|all|these)?\s*"
            rf"{_LIST}\b|\s*(?:\||$)|\s+(?:please|now|thanks|thank you)\b)"
        ),
        "take_me_off",
    ),
    # remove me (from your list) / remove my number / delete my info / lose my number
    (
        re.compile(
            rf"\bremove\s+me\b(?:\s*(?:\||$)|\s+(?:please|now|thanks)\b|\s+from\s+(?:your|the|this|that|"
            rf"all|these)?\s*{_LIST}\b)|"
            r"\b(?:remove|delete|erase|lose|forget)\s+my\s+(?:phone number|number|phone|cell number|cell|"
            r"info|information|contact info|contact|email|data|details)\b"
        ),
        "remove_me",
    ),
    (re.compile(r"\bunsubscribe\b|\b(?:already|i|i have|ive)\s+unsubscribed\b"), "unsubscribe"),
    # opt me out / I want to opt out / opt out of texts (not "opt out of the warranty")
    (
        re.compile(
            rf"\bopt\s+me\s+out\b|\boptout\b|\bopt\s+out\b(?:\s*(?:\||$)|\s+(?:please|now)\b|"
            rf"\s+of\s+(?:your|the|these|this|all)?\s*(?:{_LIST}|{_PROMO}|{_SMS}|this|everything)\b)"
        ),
        "opt_out",
    ),
    # cancel my subscription / cancel these texts (not "cancel my appointment")
    (
        re.compile(
            r"\bcancel\s+(?:(?:my|the|all|these|your|this|those)\s+)*(?:subscriptions?|text messages|texts|"
            r"messages|(?:text |sms |email )?(?:alerts|notifications|reminders)|calls|emails|"
            r"membership)\b"
        ),
        "cancel_subscription",
    ),
    (re.compile(r"\bleave\s+me\s+(?:the fuck\s+|tf\s+)?alone\b"), "leave_me_alone"),
    (re.compile(r"\bdo\s*not\s+(?:call|contact|text|email)\s+list\b|\bdnc\b"), "do_not_call_list"),
    # Spanish, the common forms
    (
        re.compile(
            r"(?:^|\| )no mas\b(?:\s+(?:mensajes|textos|llamadas|correos|por favor))*\s*(?:\||$)|"
            r"\bno\s+me\s+(?:escribas|escriban|llames|llamen|mandes|manden|envies|envien|contacten)\b|"
            r"\b(?:deja|dejen|dejar)\s+de\s+(?:escribir|escribirme|llamar|llamarme|mandar|mandarme|"
            r"enviar|enviarme|molestar|molestarme)\b"
        ),
        "spanish",
    ),
]

# A message that says nothing but "stop" (with politeness or exasperation around it).
_STOPISH = frozenset(
    {"stop", "quit", "end", "cancel", "unsubscribe", "halt", "cease", "optout", "stopall", "revoke", "enough"}
)
_STOP_FILLERS = frozenset(
    "please it now already just ok okay thanks thank you all seriously omg damn leave me alone no not "
    "interested i said asked told again for real the fuck fucking wtf this guys man dude bro lol srsly "
    "right asap immediately with texting texts text messages messaging calls calling emails sir maam".split()
)
_WRONG_NUMBER = re.compile(r"\bwrong (?:number|person)\b|\bnot (?:the right|the correct) (?:number|person)\b")
_WRONG_FILLERS = frozenset(
    "wrong number person you have got the this is its it im sorry not right correct who are a "
    "texting calling messaging".split()
)
_NEGATORS = frozenset({"did", "didnt", "dont", "never", "not", "doesnt", "cant", "couldnt", "shouldnt", "wouldnt"})


def _only_stop(words: list[str]) -> bool:
    """A sentence that says nothing but stop, politely or not ("stop please", "I said STOP")."""
    if not any(w in _STOPISH for w in words):
        return False
    if not all(w in _STOPISH or w in _STOP_FILLERS for w in words):
        return False
    return not any(a in _NEGATORS and b in _STOPISH for a, b in itertools.pairwise(words))


def _negated(norm: str, start: int) -> bool:
    """'don't stop texting me', 'why did you stop calling' — not a revocation ('if you don't stop' is)."""
    before = norm[:start].split()
    window = before[-2:]
    if not any(w in _NEGATORS for w in window):
        return False
    return "if" not in before[-4:]


def _here(arrival: str | None) -> tuple[Channel, ...]:
    """The arrival channel, or every channel when it arrived elsewhere (web chat, a lead form)."""
    return (cast(Channel, arrival),) if arrival in CHANNELS else CHANNELS


def _channels_for(span: str, arrival: str | None) -> tuple[Channel, ...]:
    """Which channels a revocation names; none named -> the channel it arrived on."""
    s = re.sub(r"\btext messages?\b", "texts", span)
    if re.search(rf"\b{_ALL}\b", s):
        return CHANNELS
    found: set[str] = set()
    if re.search(r"\bmy (?:phone number|number|phone|cell number|cell)\b", s):
        found |= {"sms", "voice"}
    if re.search(rf"\b{_SMS}\b|\btext\b|\b(?:textos|mensajes|escribir|escribas|escriban)", s):
        found.add("sms")
    if re.search(rf"\b{_MSG}\b", s):
        found.add(arrival if arrival in ("sms", "email") else "sms")
    if re.search(rf"\b{_VOICE}\b|\b(?:call|phone|ring)\b|\bllam", s):
        found.add("voice")
    if re.search(rf"\b{_EMAIL}\b|\bemail\b|\bcorreos\b", s):
        found.add("email")
    if not found:
        return _here(arrival)
    return tuple(c for c in CHANNELS if c in found)


def _intent(name: str, span: str, text: str, arrival: str | None) -> ConsentIntent:
    marketing_only = bool(re.search(rf"\b{_PROMO}\b", span))
    return ConsentIntent(
        kind="opt_out",
        source="natural_language",
        channels=_channels_for(span, arrival),
        purposes=("marketing",) if marketing_only else PURPOSES,
        matched=f"{name}: {span}",
        text=text,
    )


def classify_consent_message(
    text: str, *, channel: str | None = "sms", rules: ConsentRules | None = None
) -> ConsentIntent | None:
    """Does this inbound message opt out, opt in, or ask for help? None for everything else.

    Keywords count only as the whole message (case, spaces and punctuation ignored). Plain-language
    revocations are recognised anywhere in the message, but only in the shapes that name contact
    ("stop texting", "take me off your list"), so "stop by tomorrow" or "cancel my appointment" pass.
    `channel` is where the message arrived; it is the revocation's channel unless the words name
    others ("stop calling me" -> voice). From web chat, an unnamed channel means all of them.
    """
    rules = rules or _default_rules()
    here = _here(channel)
    squashed = _squash(text)
    if not squashed:
        return None
    kw = rules.keywords
    if squashed in kw.opt_out:
        return ConsentIntent("opt_out", "keyword", here, keyword=squashed, matched=squashed, text=text)
    if squashed in kw.opt_in or squashed in kw.opt_in_if_opted_out:
        return ConsentIntent(
            "opt_in",
            "keyword",
            here,
            purposes=("transactional",),
            keyword=squashed,
            matched=squashed,
            text=text,
            only_if_opted_out=squashed not in kw.opt_in,
        )
    if squashed in kw.help:
        return ConsentIntent("help", "keyword", here, keyword=squashed, matched=squashed, text=text)

    for sentence in re.split(r"[.!?\n]+", text):  # "STOP. I bought elsewhere" (not "stop, I meant…")
        words = _normalise(sentence).replace("|", " ").split()
        if _only_stop(words):
            return _intent("only_stop", " ".join(words), text, channel)
    norm = _normalise(text)
    words = [w for w in norm.split() if w != "|"]
    if _WRONG_NUMBER.search(norm) and all(w in _WRONG_FILLERS for w in words):
        return _intent("wrong_number", " ".join(words), text, channel)
    for pattern, name in _REVOCATIONS:
        for m in pattern.finditer(norm):
            if name == "stop_contact" and _negated(norm, m.start()):
                continue
            if name == "dont_contact" and not _DONT_TAIL.match(norm[m.end() :]):
                continue  # "don't call me before noon" is a preference, not a revocation
            return _intent(name, m.group(0).strip("| "), text, channel)
    return None


# =============================================================================================
# Where the recipient is: time zones and states
# =============================================================================================


@dataclasses.dataclass(frozen=True)
class Recipient:
    """Every zone the recipient may be in and every state whose rules apply (the strict reading)."""

    zones: tuple[str, ...]
    states: tuple[str, ...]  # codes from the rules table only
    basis: str  # phone | address | dealer


@lru_cache(maxsize=1024)
def _npa_zones(npa: str) -> frozenset[str]:
    """Every zone phonenumbers knows for any exchange of a NANP area code (850 -> CT and ET)."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    prefix = "1" + npa
    return frozenset(z for key, zones in TIMEZONE_DATA.items() if key.startswith(prefix) for z in zones)


@lru_cache(maxsize=1)
def _nanp_wide() -> frozenset[str]:
    """What phonenumbers answers for a NANP number it cannot place (toll-free, non-geographic)."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    return frozenset(TIMEZONE_DATA.get("1", ()))


def _phone_geography(to_phone: str | None) -> tuple[set[str], str | None]:
    """(zones, NANP area code) for a phone; no zones when the number says nothing about place."""
    if not to_phone:
        return set(), None
    try:
        num = phonenumbers.parse(to_phone, "US")
    except phonenumbers.NumberParseException:
        return set(), None
    if not phonenumbers.is_valid_number(num):
        return set(), None
    zones = set(pn_timezone.time_zones_for_number(num)) - {"Etc/Unknown"}
    if num.country_code != 1:
        return (zones if len(zones) <= 4 else set()), None
    npa = str(num.national_number)[:3]
    if not zones or zones >= _nanp_wide():
        return set(), npa
    return zones | _npa_zones(npa), npa


def locate_recipient(
    rules: ConsentRules,
    dealer: DealerConfig,
    *,
    to_phone: str | None,
    recipient_state: str | None = None,
    recipient_timezone: str | None = None,
) -> Recipient:
    """Zones from the phone (every zone of its area code), the customer's known zone, and the
    address state's zones when the phone doesn't already place them there; states from the area
    code table and the address. Nothing known: the dealer's own zone and state."""
    zones, npa = _phone_geography(to_phone)
    states: list[str] = []
    phone_state = rules.area_code_states.get(npa) if npa else None
    if phone_state:
        states.append(phone_state)
    address_state = (recipient_state or "").upper() or None
    if address_state and address_state not in states:
        states.append(address_state)
        rule = rules.states.get(address_state)
        if rule:
            zones |= set(rule.timezones)
    if recipient_timezone:
        try:
            ZoneInfo(recipient_timezone)
            zones.add(recipient_timezone)
        except (KeyError, ValueError):
            pass
    basis = "phone" if to_phone and zones else ("address" if zones else "dealer")
    if not zones:
        zones = {dealer.timezone}
    if not states and basis == "dealer":
        states.append(dealer.state.upper())
    return Recipient(zones=tuple(sorted(zones)), states=tuple(s for s in states if s in rules.states), basis=basis)


# =============================================================================================
# The gate
# =============================================================================================


@dataclasses.dataclass(frozen=True)
class Decision:
    """May this message go out? `next_allowed_at` says when to retry (quiet hours, caps)."""

    allowed: bool
    reason: str  # ok | opted_out | no_marketing_consent | no_transactional_consent |
    # written_consent_required | quiet_hours | daily_cap | not_opted_out |
    # confirmation_already_sent | confirmation_window_passed
    message: str
    next_allowed_at: dt.datetime | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "message": self.message,
            "next_allowed_at": self.next_allowed_at.isoformat() if self.next_allowed_at else None,
            "details": self.details,
        }


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("pass an aware datetime (with a UTC offset)")
    return at


def _ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


class ConsentGate:
    """Consent recording and the send gate for one dealer. Build per use; it holds no state."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        dealer: DealerConfig,
        *,
        rules: ConsentRules | None = None,
        revoke_all: bool | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.dealer = dealer
        self.rules = rules or _default_rules()
        self.ledger = ConsentLedger(redis, keys)
        self._force_revoke_all = revoke_all

    @classmethod
    def from_deps(cls, deps: ToolDeps) -> ConsentGate:
        """Rules may be swapped per deployment via `deps.services["consent_rules"]`."""
        return cls(deps.redis, deps.keys, deps.dealer, rules=deps.services.get("consent_rules"))

    # --- switches ------------------------------------------------------------------------
    def revoke_all_active(self, at: dt.datetime) -> bool:
        """Off until the FCC date unless forced; a dealer may switch it on early, never off."""
        if self._force_revoke_all is not None:
            return self._force_revoke_all
        extra = self.dealer.messaging.model_extra or {}
        if extra.get("revoke_all") is True:
            return True
        return self.rules.revoke_all.active(_aware(at))

    async def state(self, customer_ids: Sequence[str], *, at: dt.datetime) -> ConsentState:
        return await self.ledger.state(customer_ids, revoke_all=self.revoke_all_active(at))

    # --- recording -----------------------------------------------------------------------
    async def record_opt_out(
        self,
        customer_id: str,
        *,
        channels: Channel | Sequence[Channel],
        purposes: Sequence[Purpose] = PURPOSES,
        source: Source,
        evidence: dict[str, Any],
        actor: str,
        at: dt.datetime,
        scope: Scope | None = None,
    ) -> list[str]:
        """One ledger entry per channel. Both purposes -> channel-wide; marketing only -> just that."""
        purposes = tuple(dict.fromkeys(purposes))
        if scope is None:
            scope = "channel" if set(purposes) >= set(PURPOSES) else "purpose"
        purpose: Purpose = "transactional" if "transactional" in purposes else "marketing"
        return await self._append(customer_id, channels, purpose, "opt_out", source, evidence, actor, at, scope)

    async def record_opt_in(
        self,
        customer_id: str,
        *,
        channels: Channel | Sequence[Channel],
        purposes: Sequence[Purpose] = ("transactional",),
        source: Source,
        evidence: dict[str, Any],
        actor: str,
        at: dt.datetime,
        written: bool = False,
        scope: Scope | None = None,
    ) -> list[str]:
        """A marketing opt-in implies transactional on the same channel; `written` = prior express
        written consent (evidence must carry the form text and URL)."""
        purpose: Purpose = "marketing" if "marketing" in purposes else "transactional"
        return await self._append(
            customer_id, channels, purpose, "opt_in", source, evidence, actor, at, scope, written=written
        )

    async def record_intent(
        self, customer_id: str, intent: ConsentIntent, *, at: dt.datetime, actor: str = "customer"
    ) -> list[str]:
        """Record what `classify_consent_message` found. Returns the entry ids; empty when nothing
        was recorded (HELP, or a YES from a customer who is not opted out)."""
        if intent.kind == "help":
            return []
        if intent.kind == "opt_out":
            return await self.record_opt_out(
                customer_id,
                channels=intent.channels,
                purposes=intent.purposes,
                source=intent.source,
                evidence=intent.evidence(),
                actor=actor,
                at=at,
            )
        channels = intent.channels
        if intent.only_if_opted_out:
            state = await self.state([customer_id], at=at)
            channels = tuple(c for c in channels if state.latest_opt_out(c) is not None)
            if not channels:
                return []
        return await self.record_opt_in(
            customer_id,
            channels=channels,
            purposes=intent.purposes,
            source=intent.source,
            evidence=intent.evidence(),
            actor=actor,
            at=at,
        )

    async def _append(
        self,
        customer_id: str,
        channels: Channel | Sequence[Channel],
        purpose: Purpose,
        action: Literal["opt_in", "opt_out"],
        source: Source,
        evidence: dict[str, Any],
        actor: str,
        at: dt.datetime,
        scope: Scope | None,
        *,
        written: bool = False,
    ) -> list[str]:
        chans = (channels,) if isinstance(channels, str) else tuple(dict.fromkeys(channels))
        if not chans:
            raise ValueError("name at least one channel")
        ids = []
        for ch in chans:
            entry = ConsentEntry(
                channel=ch,
                purpose=purpose,
                action=action,
                source=source,
                evidence=evidence,
                actor=actor,
                at=_aware(at),
                scope=scope,
                written=written,
            )
            ids.append(await self.ledger.append(customer_id, entry))
        return ids

    # --- the gate ------------------------------------------------------------------------
    async def check_send(
        self,
        customer_ids: Sequence[str],
        *,
        channel: Channel,
        purpose: SendPurpose,
        to_phone: str | None,
        at: dt.datetime,
        proactive: bool,
        recipient_state: str | None = None,
        recipient_timezone: str | None = None,
    ) -> Decision:
        """Decide one outbound message. Read-only: call `record_send` after actually sending."""
        at = _aware(at)
        if channel not in CHANNELS:
            raise ValueError(f"the consent gate covers {CHANNELS}, not {channel!r}")
        if not customer_ids:
            raise ValueError("name the customer (all ids of a merged journey)")
        state = await self.state(customer_ids, at=at)
        if purpose == "opt_out_confirmation":
            return await self._confirmation(state, channel, at, claim=False)

        if state.blocked(channel, purpose):
            item = state.latest_opt_out(channel)
            when = item.at.isoformat() if item and item.at else "earlier"
            return Decision(
                False,
                "opted_out",
                f"The customer opted out of {channel} ({when}); nothing may be sent on it until they "
                "opt back in (START).",
                details={"opt_out": item.model_dump(mode="json") if item else None},
            )
        reply = purpose == "transactional" and not proactive
        if reply:
            return Decision(True, "ok", "A reply to the customer's own message.")
        if purpose == "marketing" and self.rules.channel(channel).marketing_requires_opt_in:
            if state.status(channel, "marketing") != "opted_in":
                return Decision(
                    False,
                    "no_marketing_consent",
                    f"No marketing consent on {channel}: proactive marketing needs the customer's opt-in.",
                )
        if purpose == "transactional" and state.status(channel, "transactional") != "opted_in":
            return Decision(
                False,
                "no_transactional_consent",
                f"No consent for proactive {channel} messages; only replies to the customer's own "
                "messages are allowed. Record the consent given when booking (record_opt_in).",
            )

        recipient = locate_recipient(
            self.rules,
            self.dealer,
            to_phone=to_phone,
            recipient_state=recipient_state,
            recipient_timezone=recipient_timezone,
        )
        chan_rule = self.rules.channel(channel)
        states = [self.rules.states[s] for s in recipient.states] if chan_rule.state_rules else []
        details: dict[str, Any] = {"zones": list(recipient.zones), "states": list(recipient.states)}
        details["basis"] = recipient.basis
        if purpose == "marketing":
            needs_written = [s.name for s in states if s.written_consent_for_automated_marketing]
            if needs_written and not state.item(channel, "marketing").written:
                return Decision(
                    False,
                    "written_consent_required",
                    f"Automated marketing to a recipient in {', '.join(needs_written)} needs prior "
                    "express written consent; the consent on record is not written.",
                    details=details,
                )
        return await self._timing(customer_ids, channel, purpose, at, recipient, states, details)

    async def _timing(
        self,
        customer_ids: Sequence[str],
        channel: Channel,
        purpose: SendPurpose,
        at: dt.datetime,
        recipient: Recipient,
        states: list[StateRule],
        details: dict[str, Any],
    ) -> Decision:
        chan_rule = self.rules.channel(channel)
        zones = [ZoneInfo(z) for z in recipient.zones]
        hours = chan_rule.quiet_hours
        caps = await self._caps(customer_ids, channel, purpose, at, states) if chan_rule.state_rules else []

        def local(t: dt.datetime | None) -> dt.datetime | None:  # next_allowed_at in the recipient's zone
            return t.astimezone(zones[0]) if t else None

        if hours and not self._in_window(at, zones, states):
            window = self._window(at.astimezone(zones[0]).date(), states)
            details["window"] = window.label() if window else None
            return Decision(
                False,
                "quiet_hours",
                f"Outside sending hours ({details['window']}) in the recipient's time ({', '.join(recipient.zones)}).",
                next_allowed_at=local(self._next_allowed(at, zones, states, caps)),
                details=details,
            )
        for limit, sends, label in caps:
            if len([s for s in sends if at - self._cap_window < s <= at]) >= limit:
                nxt = self._next_allowed(at, zones, states, caps) if hours else self._cap_clear(at, caps)
                details["cap"] = {"limit": limit, "rule": label}
                return Decision(
                    False,
                    "daily_cap",
                    f"{limit} proactive messages per {self.rules.cap_window_hours} h reached ({label}).",
                    next_allowed_at=local(nxt),
                    details=details,
                )
        return Decision(True, "ok", "Allowed.", details=details)

    # --- quiet hours ---------------------------------------------------------------------
    @property
    def _cap_window(self) -> dt.timedelta:
        return dt.timedelta(hours=self.rules.cap_window_hours)

    def _window(self, day: dt.date, states: list[StateRule]) -> Window | None:
        """The strictest window for a local date: federal ∩ each state ∩ dealer policy."""
        fed = self.rules.federal.quiet_hours
        start, end = fed.start, fed.end
        for s in states:
            w = s.window_on(day)
            if w:
                start, end = max(start, w.start), min(end, w.end)
        policy = self.dealer.messaging
        if policy.quiet_hours_start:
            start = max(start, policy.quiet_hours_start)
        if policy.quiet_hours_end:
            end = min(end, policy.quiet_hours_end)
        return Window.model_construct(start=start, end=end) if start < end else None

    def _in_window(self, at: dt.datetime, zones: list[ZoneInfo], states: list[StateRule]) -> bool:
        for z in zones:
            local = at.astimezone(z)
            w = self._window(local.date(), states)
            if w is None or not (w.start <= local.time() < w.end):
                return False
        return True

    def _next_open(self, at: dt.datetime, zones: list[ZoneInfo], states: list[StateRule]) -> dt.datetime | None:
        """The first instant >= at inside the window in every zone (some zone's opening, or `at`)."""
        candidates = [at]
        for z in zones:
            first = at.astimezone(z).date()
            for d in range(-1, 9):
                day = first + dt.timedelta(days=d)
                w = self._window(day, states)
                if w:
                    c = dt.datetime.combine(day, w.start, tzinfo=z)
                    if c >= at:
                        candidates.append(c)
        for c in sorted(candidates, key=lambda x: x.timestamp()):
            if self._in_window(c, zones, states):
                return c
        return None

    # --- caps ----------------------------------------------------------------------------
    async def _caps(
        self,
        customer_ids: Sequence[str],
        channel: Channel,
        purpose: SendPurpose,
        at: dt.datetime,
        states: list[StateRule],
    ) -> list[tuple[int, list[dt.datetime], str]]:
        """(limit, send times, rule) for each cap this message counts against."""
        limits: list[tuple[int, bool, str]] = []  # (limit, marketing only, label)
        if purpose == "marketing":
            limits += [(s.max_proactive_per_24h, True, s.name) for s in states if s.max_proactive_per_24h]
        policy_cap = self.dealer.messaging.max_proactive_per_24h
        if policy_cap is not None:
            limits.append((policy_cap, False, "dealer policy"))
        if not limits:
            return []
        sends = await self._proactive_sends(customer_ids, at - self._cap_window)
        capped = {c for c, rule in self.rules.channels.items() if rule.state_rules} | {channel}
        out = []
        for limit, marketing_only, label in limits:
            times = sorted(
                s["at"] for s in sends if s["channel"] in capped and (s["purpose"] == "marketing" or not marketing_only)
            )
            out.append((limit, times, label))
        return out

    def _cap_clear(self, at: dt.datetime, caps: list[tuple[int, list[dt.datetime], str]]) -> dt.datetime:
        """The first instant >= at when every cap has room again."""
        t = at
        for limit, times, _ in caps:
            live = [s for s in times if t - self._cap_window < s <= t]
            if len(live) >= limit:
                t = max(t, live[len(live) - limit] + self._cap_window)
        return t

    def _next_allowed(
        self,
        at: dt.datetime,
        zones: list[ZoneInfo],
        states: list[StateRule],
        caps: list[tuple[int, list[dt.datetime], str]],
    ) -> dt.datetime | None:
        t: dt.datetime | None = at
        for _ in range(16):
            assert t is not None
            opened = self._next_open(t, zones, states)
            if opened is None:
                return None
            cleared = self._cap_clear(opened, caps)
            if cleared == opened:
                return opened
            t = cleared
        return None

    async def _proactive_sends(self, customer_ids: Sequence[str], since: dt.datetime) -> list[dict[str, Any]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in dict.fromkeys(customer_ids):
                pipe.zrangebyscore(self.keys.outbound_log(cid), f"({_ms(since)}", "+inf")
            results = await pipe.execute()
        out = []
        for rows in results:
            for raw in rows:
                item = json.loads(raw)
                item["at"] = dt.datetime.fromisoformat(item["at"])
                out.append(item)
        return out

    async def record_send(
        self,
        customer_id: str,
        *,
        channel: Channel,
        purpose: SendPurpose,
        at: dt.datetime,
        proactive: bool,
        message_id: str | None = None,
    ) -> bool:
        """Note a message that went out: proactive sends count against caps; an opt-out
        confirmation is claimed so there is only one. Returns False when that claim was taken.
        (For a merged journey, claim with `claim_confirmation(all ids)` before sending instead.)"""
        at = _aware(at)
        if purpose == "opt_out_confirmation":
            decision = await self._confirmation(await self.state([customer_id], at=at), channel, at, claim=True)
            return decision.allowed
        if not proactive:
            return True
        member = json.dumps(
            {"id": message_id or secrets.token_hex(8), "channel": channel, "purpose": purpose, "at": at.isoformat()},
            sort_keys=True,
        )
        key = self.keys.outbound_log(customer_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {member: _ms(at)})
            pipe.zremrangebyscore(key, "-inf", f"({_ms(at - OUTLOG_RETENTION)}")
            await pipe.execute()
        return True

    # --- the one confirmation ------------------------------------------------------------
    async def confirmation_allowed(self, customer_ids: Sequence[str], *, channel: Channel, at: dt.datetime) -> Decision:
        """May the single opt-out confirmation go out now? (Read-only; `claim_confirmation` claims.)"""
        return await self._confirmation(await self.state(customer_ids, at=_aware(at)), channel, at, claim=False)

    async def claim_confirmation(self, customer_ids: Sequence[str], *, channel: Channel, at: dt.datetime) -> Decision:
        """Check and atomically claim the confirmation: of two racing senders only one is allowed."""
        return await self._confirmation(await self.state(customer_ids, at=_aware(at)), channel, at, claim=True)

    async def _confirmation(self, state: ConsentState, channel: Channel, at: dt.datetime, *, claim: bool) -> Decision:
        item = state.latest_opt_out(channel)
        if item is None or item.at is None or not item.entry_id or not item.customer_id:
            return Decision(False, "not_opted_out", f"There is no opt-out on {channel} to confirm.")
        window = dt.timedelta(minutes=self.rules.opt_out_confirmation.window_minutes)
        if at - item.at > window:
            return Decision(
                False,
                "confirmation_window_passed",
                f"The opt-out confirmation must go within {window} of the request.",
            )
        key = self.keys.cust(item.customer_id, "consent_confirmed")
        field = f"{channel}:{item.entry_id}"
        if claim:
            taken = not await self.redis.hsetnx(key, field, at.isoformat())
        else:
            taken = bool(await self.redis.hexists(key, field))
        if taken:
            return Decision(False, "confirmation_already_sent", "The opt-out was already confirmed once.")
        return Decision(True, "ok", "One confirmation of the opt-out, with no marketing, may be sent.")


# =============================================================================================
# Entry points for code holding ToolDeps (the turn, jobs, the API)
# =============================================================================================


async def record_opt_out(
    deps: ToolDeps,
    *,
    channels: Channel | Sequence[Channel],
    purposes: Sequence[Purpose] = PURPOSES,
    source: Source,
    evidence: dict[str, Any],
    actor: str,
    at: dt.datetime | None = None,
    scope: Scope | None = None,
    customer_id: str | None = None,
) -> list[str]:
    return await ConsentGate.from_deps(deps).record_opt_out(
        customer_id or deps.require_customer(),
        channels=channels,
        purposes=purposes,
        source=source,
        evidence=evidence,
        actor=actor,
        at=at or deps.now(),
        scope=scope,
    )


async def record_opt_in(
    deps: ToolDeps,
    *,
    channels: Channel | Sequence[Channel],
    purposes: Sequence[Purpose] = ("transactional",),
    source: Source,
    evidence: dict[str, Any],
    actor: str,
    at: dt.datetime | None = None,
    written: bool = False,
    scope: Scope | None = None,
    customer_id: str | None = None,
) -> list[str]:
    return await ConsentGate.from_deps(deps).record_opt_in(
        customer_id or deps.require_customer(),
        channels=channels,
        purposes=purposes,
        source=source,
        evidence=evidence,
        actor=actor,
        at=at or deps.now(),
        written=written,
        scope=scope,
    )


async def check_send(
    deps: ToolDeps,
    customer_ids: Sequence[str],
    *,
    channel: Channel,
    purpose: SendPurpose,
    to_phone: str | None,
    at: dt.datetime,
    proactive: bool,
    recipient_state: str | None = None,
    recipient_timezone: str | None = None,
) -> Decision:
    return await ConsentGate.from_deps(deps).check_send(
        customer_ids,
        channel=channel,
        purpose=purpose,
        to_phone=to_phone,
        at=at,
        proactive=proactive,
        recipient_state=recipient_state,
        recipient_timezone=recipient_timezone,
    )


async def record_send(
    deps: ToolDeps,
    customer_id: str,
    *,
    channel: Channel,
    purpose: SendPurpose,
    at: dt.datetime,
    proactive: bool,
    message_id: str | None = None,
) -> bool:
    return await ConsentGate.from_deps(deps).record_send(
        customer_id, channel=channel, purpose=purpose, at=at, proactive=proactive, message_id=message_id
    )


async def confirmation_allowed(
    deps: ToolDeps, customer_ids: Sequence[str], *, channel: Channel, at: dt.datetime
) -> Decision:
    return await ConsentGate.from_deps(deps).confirmation_allowed(customer_ids, channel=channel, at=at)


# =============================================================================================
# LangChain tools (identity comes from the run config, never from the model)
# =============================================================================================


async def _journey(deps: ToolDeps) -> tuple[list[str], dict[str, Any]]:
    """All customer ids of this conversation's journey, and what we know of where they live."""
    cid = deps.require_customer()
    store = CustomerStore(deps.redis, deps.keys)
    customer = await store.find(cid)
    if customer is None:
        return [cid], {"to_phone": None}
    where = {
        "to_phone": customer.phones[0] if customer.phones else None,
        "recipient_state": customer.state,
        "recipient_timezone": customer.timezone,
    }
    return await store.sources(cid), where


@tool("record_opt_out")
async def record_opt_out_tool(
    channel: Literal["sms", "voice", "email", "all"], reason: str, config: RunnableConfig
) -> str:
    """Stop contacting the customer on a channel, because they asked.

    Use this whenever the customer says in their own words that they do not want to be contacted
    ("stop texting me", "take me off your list", "don't call me anymore", "unsubscribe me").
    channel: "sms" for text messages, "voice" for phone calls, "email", or "all" when they want no
    contact at all. reason: the customer's own words, quoted exactly.
    Afterwards reply with one short confirmation only — no offers, no questions, no marketing.
    """
    deps = deps_from_config(config)
    if not reason.strip():
        raise ToolError("quote the customer's words in `reason`")
    chans: tuple[Channel, ...] = CHANNELS if channel == "all" else (channel,)
    gate = ConsentGate.from_deps(deps)
    ids, _ = await _journey(deps)
    at = deps.now()
    state = await gate.state(ids, at=at)
    todo = tuple(c for c in chans if state.status(c, "transactional") != "opted_out")
    if todo:
        await gate.record_opt_out(
            deps.require_customer(),
            channels=todo,
            source="natural_language",
            evidence={"text": reason, "conversation_channel": deps.channel, "via": "agent_tool"},
            actor="agent",
            at=at,
        )
    names = ", ".join({"sms": "texts", "voice": "calls", "email": "emails"}[c] for c in chans)
    if not todo:
        return f"Already recorded: the customer receives no {names}. Do not contact them there."
    return f"Recorded: no more {names} to this customer. Confirm in one short sentence, without marketing."


record_opt_out_tool.metadata = {"access": "write"}  # WRITE: idempotent, appends to the ledger
record_opt_out_tool.handle_tool_error = True  # a ToolError becomes a message the model can read


@tool("check_contact_permission")
async def check_contact_permission_tool(
    channel: Literal["sms", "voice", "email"],
    purpose: Literal["marketing", "transactional"],
    config: RunnableConfig,
) -> str:
    """Check whether we may contact this customer on a channel, e.g. before promising a follow-up
    text or call ("I'll text you when it arrives"). purpose: "marketing" for offers, alerts and
    follow-ups; "transactional" for appointment reminders and answers to their own requests.
    Returns the consent on record and whether a message we start could be sent now.
    """
    deps = deps_from_config(config)
    gate = ConsentGate.from_deps(deps)
    ids, where = await _journey(deps)
    at = deps.now()
    state = await gate.state(ids, at=at)
    decision = await gate.check_send(ids, channel=channel, purpose=purpose, at=at, proactive=True, **where)
    return json.dumps(
        {
            "channel": channel,
            "purpose": purpose,
            "consent": state.status(channel, purpose),
            "opted_out": state.blocked(channel, purpose),
            "proactive_allowed_now": decision.allowed,
            "reason": decision.reason,
            "explanation": decision.message,
            "next_allowed_at": decision.next_allowed_at.isoformat() if decision.next_allowed_at else None,
        }
    )


check_contact_permission_tool.metadata = {"access": "read"}
check_contact_permission_tool.handle_tool_error = True

CONSENT_TOOLS = [record_opt_out_tool, check_contact_permission_tool]

__all__ = [
    "CONSENT_TOOLS",
    "ConsentGate",
    "ConsentIntent",
    "ConsentRules",
    "Decision",
    "Recipient",
    "check_contact_permission_tool",
    "check_send",
    "classify_consent_message",
    "confirmation_allowed",
    "load_consent_rules",
    "locate_recipient",
    "record_opt_in",
    "record_opt_out",
    "record_opt_out_tool",
    "record_send",
]
