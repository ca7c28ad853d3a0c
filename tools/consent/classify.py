"""Classifier: does an inbound message opt out, opt in, or ask for help?

Keywords (STOP, START, HELP…) count only as the whole message; plain-language revocation ("stop
texting me", "take me off your list"), which the FCC treats as a presumption of revocation, is
recognised in the shapes that name contact, and mapped to the channels it names.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any, Literal, cast

from memory.consent import CHANNELS, PURPOSES, Channel, Purpose
from tools.consent.normalise import _normalise, _squash
from tools.consent.rules import ConsentRules, _default_rules


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
