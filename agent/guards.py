"""Guards around both brains: what comes in before a brain sees it, what goes out before a customer does.

Pure and fast (regular expressions over one message, no I/O at check time), so they run on every turn
and on every streamed sentence. Reply templates come from `prompts/guard_replies.yaml`.

- `inbound_check(text, channel)`: clean, bound and classify a customer message (consent keywords and
  plain-language revocation via `tools.consent`, prompt-injection markers, empty or oversized input).
- `OutboundGuard.check(text, facts=..., ...)`: a reply may state only the prices, vehicles, slots and
  incentives that tools disclosed this turn (`TurnFacts`), never a binding offer or a credit decision,
  never anyone's contact details but the customer's own and the dealer's, and fits its channel.
- `StreamGuard`: the same rules, sentence by sentence, between a streaming brain and the customer.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import prompts
from agent.types import SMS_MAX_CHARS, VOICE_MAX_SENTENCES
from tools.consent import classify_consent_message
from tools.context import TurnFacts

# Longest customer message a brain processes; the caller stores the original untouched.
MAX_INBOUND_CHARS: dict[str, int] = {"chat": 2000, "sms": 2000, "voice": 2000, "email": 8000, "lead": 8000}


# --- templates --------------------------------------------------------------------------------------
def _templates() -> dict[str, Any]:
    return prompts.load("guard_replies.yaml").data


def format_phone(phone: str, channel: str = "chat") -> str:
    """'+18135550142' -> '(813) 555-0142' ('813-555-0142' on voice, which text-to-speech reads well)."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return phone
    if channel == "voice":
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def guard_reply(name: str, channel: str, dealer: Any = None) -> str:
    """A guard reply template for the channel, with the dealer's name and phone filled in."""
    variants = _templates()[name]
    template = variants.get(channel) or variants["default"]
    values = {
        "dealer": getattr(dealer, "name", None) or "our dealership",
        "phone": format_phone(dealer.phone, channel) if getattr(dealer, "phone", None) else "our main line",
    }
    return " ".join(template.format_map(values).split())


def template_version() -> str:
    return prompts.load("guard_replies.yaml").ref


# --- inbound ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InboundVerdict:
    """What the graph needs before a brain runs. `text` is for processing; `original` is stored."""

    text: str
    original: str
    flags: tuple[str, ...] = ()  # empty | truncated | control_chars | prompt_injection | consent
    consent: Any = None  # tools.consent intent (opt-out / opt-in / help): record in the ledger first
    reply: str | None = None  # answer without a brain (empty input)
    injection: tuple[str, ...] = ()  # which prompt-injection markers matched


_KEEP_CONTROL = {"\n", "\t"}

_INJECTION: list[tuple[str, re.Pattern[str]]] = [
    (
        "ignore_instructions",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass|skip)\b[\w\s,']{0,40}?"
            r"\b(?:instructions?|rules|prompts?|directions|guidelines|polic(?:y|ies)|constraints|programming)\b"
        ),
    ),
    (
        "role_change",
        re.compile(
            r"\byou are now\b|\bfrom now on,? you\b|\bact as (?:an? |the )?(?:ai|assistant|dan|developer|admin)"
            r"|\bpretend (?:to be|you are|you're)\b|\broleplay as\b|\bdeveloper mode\b|\bjailbreak|\bdo anything now\b"
        ),
    ),
    (
        "prompt_leak",
        re.compile(
            r"\b(?:reveal|show|print|repeat|output|tell me|what(?:'s| is| are))\b[\w\s]{0,20}?"
            r"\b(?:system prompt|your (?:system |initial |hidden )?(?:prompt|instructions|rules))\b"
            r"|\bsystem prompt\b"
        ),
    ),
    (
        "fake_markup",
        re.compile(r"<\|?/?(?:system|im_start|im_end|assistant)\|?>|\[/?inst\]|#{2,}\s*(?:system|instruction)"),
    ),
    ("new_instructions", re.compile(r"\b(?:new|updated|admin|system) (?:instructions?|rules|directive)\s*:")),
    (
        "binding_bait",
        re.compile(
            r"\bno takesies,? backsies\b|\blegally binding\b|\bend (?:each|every|your) (?:response|reply|answer) with\b"
            r"|\b(?:agree|say yes) to (?:anything|everything)\b"
        ),
    ),
]


# --- sensitive numbers a customer types: never stored, never shown to a brain --------------------------
_SSN_DASHED = re.compile(r"\b\d{3}[- ]\d{2}[- ]\d{4}\b")
_SSN_NAMED = re.compile(r"\b(?:ssn|ss#|ss no|social(?: security)?(?: number| no| #)?)\D{0,20}(\d{9})\b", re.I)
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
SSN_MARK = "[SSN removed]"
CARD_MARK = "[card number removed]"


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact_sensitive(text: str) -> tuple[str, list[str]]:
    """Remove Social Security and payment card numbers from a customer's message before it is
    stored or read by a brain: (text, kinds removed). A dashed 3-2-4 number is an SSN; nine bare
    digits only when the message calls them one; a 13-19 digit number only when its Luhn check
    passes (phone numbers, VINs and stock numbers are left alone)."""
    kinds: list[str] = []

    def card(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and _luhn(digits):
            kinds.append("card")
            return CARD_MARK
        return m.group(0)

    out = _CARD.sub(card, text)
    out, n = _SSN_DASHED.subn(SSN_MARK, out)
    out, m = _SSN_NAMED.subn(lambda x: x.group(0)[: x.start(1) - x.start(0)] + SSN_MARK, out)
    if n or m:
        kinds.append("ssn")
    return out, sorted(set(kinds))


def clean_text(text: str) -> str:
    """Drop control and invisible formatting characters (zero-width, bidi overrides); keep newlines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.replace("\n", "").replace("\t", "").isprintable():  # the usual case: nothing to drop (fast path)
        return text
    return "".join(ch for ch in text if ch in _KEEP_CONTROL or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co"})


def injection_markers(text: str) -> list[str]:
    """Names of the prompt-injection patterns in `text` (customer message, CRM note, document).

    A hit never blocks anything: the text is still answered, as data. It is flagged so the brain can
    be reminded and the turn's record shows it.
    """
    norm = " ".join(unicodedata.normalize("NFKC", text).lower().replace("’", "'").split())
    return [name for name, pattern in _INJECTION if pattern.search(norm)]


def truncate_words(text: str, limit: int) -> str:
    """At most `limit` characters, cut at whitespace (never mid-word unless one word is longer)."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    nl = text.rfind("\n", 0, limit + 1)
    cut = max(cut, nl)
    return text[: cut if cut > limit // 2 else limit].rstrip()


def _bounded(text: str, limit: int = 20_000) -> str:
    """Head and tail of a huge message: enough to find a revocation without scanning megabytes."""
    return text if len(text) <= limit else f"{text[: limit // 2]}\n{text[-limit // 2 :]}"


def inbound_check(text: str, channel: str) -> InboundVerdict:
    """Classify one inbound customer message. Never raises; the caller keeps the original."""
    original = text if isinstance(text, str) else ""
    flags: list[str] = []
    cleaned = clean_text(original)
    if cleaned != original.replace("\r\n", "\n").replace("\r", "\n"):
        flags.append("control_chars")
    cleaned = cleaned.strip()
    if not cleaned:
        flags.append("empty")
        return InboundVerdict(text="", original=original, flags=tuple(flags), reply=guard_reply("ask_again", channel))
    # Consent is read on the whole message: "stop texting me" at the end of a long rant still counts.
    consent = classify_consent_message(_bounded(cleaned), channel=channel)
    limit = MAX_INBOUND_CHARS.get(channel, 2000)
    if len(cleaned) > limit:
        cleaned = truncate_words(cleaned, limit)
        flags.append("truncated")
    if consent is not None:
        flags.append("consent")
    markers = injection_markers(cleaned)
    if markers:
        flags.append("prompt_injection")
    return InboundVerdict(
        text=cleaned, original=original, flags=tuple(flags), consent=consent, injection=tuple(markers)
    )


# --- sentences ----------------------------------------------------------------------------------------
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "ave", "blvd", "hwy", "rd", "jr", "sr", "vs", "etc", "e.g", "i.e",
    "approx", "no", "inc", "co", "ft", "mt", "ste", "apt", "u.s",
}  # fmt: skip
_CLOSERS = "\"')]”’"


def split_sentences(text: str, final: bool = True) -> list[tuple[str, str]]:
    """Split into (sentence, following whitespace) pairs; joined back they give `text` exactly.

    A boundary is whitespace after ! or ?, after a period that ends neither an abbreviation nor a
    decimal and is followed by a non-lowercase character, or a line break. With `final=False`
    (streaming) whitespace at the very end is not yet a boundary: the next character decides.
    """
    pieces: list[tuple[str, str]] = []
    start = 0
    for m in re.finditer(r"\s+", text):
        ws, before = m.group(), text[start : m.start()].rstrip(_CLOSERS + "*_`")
        at_end = m.end() == len(text)
        if at_end and not final:
            break
        boundary = "\n" in ws
        if not boundary and before and before[-1] in "!?":
            boundary = True
        elif not boundary and before.endswith("."):
            word = before.rsplit(None, 1)[-1].rstrip(".").lower() if before.strip() else ""
            nxt = text[m.end() : m.end() + 1]
            boundary = word not in _ABBREVIATIONS and not (nxt and nxt.islower())
        if boundary or at_end:
            pieces.append((text[start : m.start()], ws))
            start = m.end()
    if start < len(text):
        pieces.append((text[start:], ""))
    return [(s, sep) for s, sep in pieces if s or sep]


# --- formatting per channel ---------------------------------------------------------------------------
_URL = re.compile(r"\bhttps?://[^\s<>()\"']+|\bwww\.[^\s<>()\"']+", re.I)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|`+)(\S(?:.*?\S)?)\1")
_MD_HEADING = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|>[ \t]*)", re.M)
_MD_LIST = re.compile(r"^[ \t]*(?:[-*•+][ \t]+|\d{1,2}[.)][ \t]+)", re.M)


def strip_markdown(text: str, *, keep_link_urls: bool, keep_lists: bool = False) -> str:
    """Plain text: emphasis, headings and quotes go; links become their text (plus the URL when kept);
    list markers go unless `keep_lists` ("1) ..." reads fine in a text message)."""
    text = _MD_LINK.sub(lambda m: f"{m.group(1)} {m.group(2)}" if keep_link_urls else m.group(1), text)
    text = _MD_HEADING.sub("", text)
    if not keep_lists:
        text = _MD_LIST.sub("", text)
    return _MD_EMPHASIS.sub(r"\2", text)


def for_voice(text: str) -> str:
    """Spoken text: no markdown, no URLs (\"our website\"), no emoji; list lines become sentences."""
    text = strip_markdown(text, keep_link_urls=False)
    text = _URL.sub("our website", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "So")
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    lines = [ln[0].upper() + ln[1:] for ln in lines]  # each list line becomes a spoken sentence
    lines = [ln if ln[-1] in ".!?:;," + _CLOSERS else ln + "." for ln in lines]
    text = " ".join(lines).replace(":.", ".")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def fit_sms(text: str, limit: int) -> str:
    """At most `limit` chars, whole sentences first; else cut at a word boundary, never inside a URL."""
    if len(text) <= limit:
        return text
    out = ""
    for sentence, sep in split_sentences(text):
        candidate = f"{out}{sentence}"
        if len(candidate) > limit:
            break
        out = candidate + sep
    out = out.strip()
    if out:
        return out
    cut = truncate_words(text, limit - 3)
    return cut.rstrip(",;:-") + "..."


# --- outbound rules -------------------------------------------------------------------------------------
@dataclass
class GuardResult:
    text: str
    violations: list[str] = field(default_factory=list)
    replaced: bool = False  # the reply was replaced by a template
    trimmed: bool = False  # shortened for the channel (not a violation)


_NEGATION = re.compile(r"\b(?:not|never|no|cannot|can't|won't|isn't|aren't|don't|doesn't|unable|nothing)\b", re.I)

# Commitments a dealership's assistant must never make; template named after each group.
_COMMITMENTS: list[tuple[str, re.Pattern[str], bool]] = [
    # (template, pattern, a negation just before the phrase makes it harmless)
    (
        "binding_no",
        re.compile(
            r"\blegally binding\b|\bbinding (?:offer|agreement|contract|deal|price|quote)\b"
            r"|\bno takesies,? backsies\b|\b(?:it|that)'?s a deal\b|^\W*deal\s*!|\bgot yourself a deal\b"
            r"|\bwe have a deal\b|\byou(?:'ve| have) got a deal\b"
            r"|\b(?:is|are) yours for\b|\bwe(?:'ll| will) sell (?:it|them|this|that|the [\w\s-]{1,30}?) to you for\b"
            r"|\blocked[- ]in (?:price|rate|deal|payment)\b"
            r"|\block (?:in|you in)(?: at)? (?:the|that|this|a)? ?(?:price|rate|deal)\b"
            r"|\b(?:price|rate|deal) is (?:locked|guaranteed|final)\b"
            r"|\bi (?:accept|agree to) (?:your|the|that) (?:offer|price)\b"
            r"|\bi (?:promise|guarantee) (?:you )?(?:the|this|that|a|your) (?:price|rate|payment|deal)\b",
            re.I,
        ),
        True,
    ),
    (
        "credit_no",
        re.compile(
            r"\bguaranteed (?:approval|financing|credit)\b|\bapproval is guaranteed\b"
            r"|\byou(?:'re| are)(?: not)? (?:pre-?)?(?:approved|denied|declined)\b"
            r"|\byour (?:loan|credit|application|financing) (?:is|was|has been) (?:approved|denied|declined)\b"
            r"|\beveryone (?:gets|is) approved\b|\byou(?:'ll| will) (?:definitely |certainly )?(?:be|get) approved\b",
            re.I,
        ),
        False,
    ),
]

_NUM = r"\d{1,3}(?:,\d{3})+|\d+"
_MONEY = re.compile(
    rf"(?P<dollar>\$\s?(?P<a>{_NUM})(?P<ac>\.\d{{1,2}})?(?:\s?(?P<am>k|thousand|million|m)\b)?)"
    rf"|(?P<worded>\b(?P<b>{_NUM})(?P<bc>\.\d{{1,2}})?\s?(?P<bm>k|thousand|grand)?\s?(?:dollars|bucks|usd)\b)"
    rf"|(?P<kay>(?<![\w.$])(?P<c>\d{{1,3}}(?:\.\d)?)\s?(?P<cm>k|grand)\b"
    r"(?![\s-]*(?:miles?|mi\b|kms?\b|kilomet|service|maintenance|check|inspection|interval|warranty|tires?)))",
    re.I,
)
_MULT = {"k": 1000, "thousand": 1000, "grand": 1000, "m": 1_000_000, "million": 1_000_000}
_BOUND = re.compile(
    r"(?:\b(?:under|below|less than|up to|at most|max(?:imum)?|within|budget(?: of)?|no more than|over|above"
    r"|more than|at least|between)|\bbetween\s+\S+\s+(?:and|to))\s*$",
    re.I,
)

_RANGE_WORD = re.compile(r"\b(?:between|range|budget)\b", re.I)
_RANGE_BEFORE = re.compile(r"[\dk]\s*(?:-|–|to)\s*$", re.I)
_RANGE_AFTER = re.compile(r"\s*(?:-|–|to)\s*\$?\d", re.I)
_PERCENT = re.compile(r"(?<![\w.])(\d{1,2}(?:\.\d{1,2})?)\s?(?:%|percent\b)", re.I)
_FINANCE = re.compile(
    r"\b(?:apr|rates?|financ\w*|interest|leas\w*|money factor|down|off|discount\w*|rebates?|incentives?"
    r"|cash ?back|bonus|loyalty|conquest|special\w*|promo\w*|offers?|savings?|save)\b",
    re.I,
)
_INCENTIVE = re.compile(
    r"\b(rebates?|incentives?|cash ?back|bonus cash|loyalty (?:cash|bonus|offer|rebate|discount)"
    r"|conquest (?:cash|bonus|offer)|(?:special|promotional|subvented) (?:financing|apr|rate|lease|offer)s?"
    r"|apr|zero percent|military (?:discount|rebate)|college grad(?:uate)? (?:program|rebate))\b",
    re.I,
)
_ASSERTS = re.compile(
    r"\b(?:there(?:'s| is| are)|we(?:'ve| have|'re| are) (?:got|offering|running)|currently|right now|this month"
    r"|you (?:can |could |would |will )?(?:get|qualify|receive|save)|comes with|includes?|available)\b",
    re.I,
)

_VIN = re.compile(r"\b(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}\b", re.I)
_STOCK = re.compile(r"\bstock\s*(?:number|no\.?|num|#)?\s*[:#]?\s*(?=[A-Z0-9-]*\d)([A-Z0-9][A-Z0-9-]{2,})\b", re.I)

_CLOCK = re.compile(
    r"\b(?:(1[0-2]|0?[1-9])(?::([0-5]\d))?\s*([ap])\.?\s?m\b\.?|([01]?\d|2[0-3]):([0-5]\d)\b|(noon)|(midnight))",
    re.I,
)
_CLOCK_RANGE = re.compile(rf"(?:{_CLOCK.pattern})\s*(?:–|—|-|to|until|till|and)\s*(?:{_CLOCK.pattern})", re.I)
_DAY = re.compile(
    r"\b(?:today|tonight|tomorrow|this (?:morning|afternoon|evening)|(?:mon|tues|wednes|thurs|fri|satur|sun)day"
    r"|\d{1,2}/\d{1,2}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?)\b",
    re.I,
)
_BOOKED = re.compile(
    r"\bi(?:'ve| have)? (?:booked|scheduled|reserved|set you up|put you down|got you down)\b"
    r"|\byou(?:'re| are) (?:all )?(?:booked|scheduled|confirmed|set for|on the schedule)\b"
    r"|\b(?:is|are|has been|have been|was) (?:booked|scheduled|confirmed|reserved)\b"
    r"|\b(?:confirmed|booked|scheduled|reserved) for\b|\bsee you (?:on|at|then|tomorrow|today)\b"
    r"|\byour (?:appointment|test drive|visit|service|appraisal)(?: appointment)? (?:is|for|on|at)\b",
    re.I,
)
_SLOT_AVAILABLE = re.compile(
    r"\b(?:have|has|got|there(?:'s| is| are)) (?:an? |some )?(?:opening|openings|availability|slot|slots|spot|spots)\b"
    r"|\b(?:is|are|'s) (?:still )?(?:available|free|open)\b(?!\s+(?:until|till|til|from|daily|every|on sundays))"
    r"|\bavailable (?:at|on|for)\b|\b(?:openings?|slots?) (?:at|on)\b|\bi can (?:get|fit|squeeze) you in\b",
    re.I,
)
_UNAVAILABLE = re.compile(
    r"\b(?:isn't|is not|aren't|are not|not|no longer)\s+(?:available|open|free)\b|\bunavailable\b"
    r"|\b(?:already taken|taken|fully booked|booked up|full)\b",
    re.I,
)
_IN_STOCK = re.compile(
    r"\b(?:in stock|on (?:the|our) lot|still available|available (?:now|today|right now)"
    r"|ready for (?:a )?test drive)\b",
    re.I,
)

_PHONE = re.compile(r"(?<![\w$.,])(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?![\w,])")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")


def _phone_key(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return digits[-10:] if len(digits) >= 10 else digits


def _money_values(text: str) -> list[tuple[str, int, int, int, int]]:
    """(as written, value in cents, tolerance in cents, start, end) for each dollar amount in `text`.

    Shorthand ("$32k") tolerates rounding of a real price; everything else must match to the dollar.
    """
    found = []
    for m in _MONEY.finditer(text):
        num, cents, mult = (
            (m["a"], m["ac"], m["am"])
            if m["dollar"]
            else (m["b"], m["bc"], m["bm"])
            if m["worded"]
            else (m["c"], None, m["cm"])
        )
        value = float(num.replace(",", "") + (cents or ""))
        factor = _MULT.get((mult or "").lower(), 1)
        tolerance = 0
        if factor > 1:
            step = 0.1 if "." in num else 1
            tolerance = int(step * factor * 100 / 2)
        found.append((m.group().strip(), round(value * factor * 100), tolerance, m.start(), m.end()))
    return found


def _whole_dollars(cents: int) -> set[int]:
    return {cents // 100, round(cents / 100)}


class OutboundGuard:
    """Checks a brain's reply against what tools disclosed this turn, and fits it to the channel."""

    def __init__(self, templates: dict[str, Any] | None = None) -> None:
        self._templates = templates

    def _render(self, name: str, channel: str, dealer: Any) -> str:
        if self._templates is None:
            return guard_reply(name, channel, dealer)
        variants = self._templates[name]
        values = {"dealer": getattr(dealer, "name", "our dealership"), "phone": getattr(dealer, "phone", "")}
        return (variants.get(channel) or variants["default"]).format_map(values)

    # -- whole reply -----------------------------------------------------------------------------
    def check(
        self,
        text: str,
        *,
        facts: TurnFacts,
        channel: str,
        customer_contacts: set[str] | frozenset[str] = frozenset(),
        dealer: Any = None,
    ) -> GuardResult:
        violations: list[str] = []
        text = self.format(text, channel)
        kept: list[tuple[str, str]] = []
        for sentence, sep in split_sentences(text):
            r = self.check_sentence(
                sentence, facts=facts, channel=channel, customer_contacts=customer_contacts, dealer=dealer
            )
            violations += r.violations
            if r.replaced:
                return GuardResult(r.text, violations, replaced=True)
            if r.text:
                kept.append((r.text, " " if channel == "voice" else sep))
        out = "".join(s + sep for s, sep in kept).strip()
        trimmed = False
        if channel == "voice" and len(kept) > VOICE_MAX_SENTENCES:
            out, trimmed = " ".join(s for s, _ in kept[:VOICE_MAX_SENTENCES]), True
        elif channel == "sms":
            limit = self.sms_limit(dealer)
            if len(out) > limit:
                out, trimmed = fit_sms(out, limit), True
        if not out:
            return GuardResult(self._render("safe_reply", channel, dealer), violations, replaced=True)
        return GuardResult(out, violations, replaced=False, trimmed=trimmed)

    @staticmethod
    def sms_limit(dealer: Any) -> int:
        configured = getattr(getattr(dealer, "messaging", None), "sms_max_chars", None)
        return min(configured, SMS_MAX_CHARS) if configured else SMS_MAX_CHARS

    @staticmethod
    def format(text: str, channel: str) -> str:
        """Channel formatting that is not a violation: markdown and URLs on voice, markdown on SMS."""
        if channel == "voice":
            return for_voice(text)
        if channel == "sms":
            return strip_markdown(text, keep_link_urls=True, keep_lists=True)
        return text

    # -- one sentence ------------------------------------------------------------------------------
    def check_sentence(
        self,
        sentence: str,
        *,
        facts: TurnFacts,
        channel: str,
        customer_contacts: set[str] | frozenset[str] = frozenset(),
        dealer: Any = None,
    ) -> GuardResult:
        """One sentence: `text` is the sentence (possibly reformatted), "" when it must go, or the
        template that replaces the whole reply when `replaced` (a binding offer, a credit decision)."""
        text = self.format(sentence, channel).strip() if channel in {"voice", "sms"} else sentence
        if not text.strip():
            return GuardResult("")
        for template, pattern, negatable in _COMMITMENTS:
            m = pattern.search(text)
            if m is None:
                continue
            harmless = (
                negatable
                and (
                    text.rstrip(_CLOSERS + " ").endswith("?")  # repeating the customer's question
                    or _NEGATION.search(text[max(0, m.start() - 25) : m.start()]) is not None
                )
            )
            if not harmless:
                return GuardResult(
                    self._render(template, channel, dealer), [f"commitment:{m.group().strip()}"], replaced=True
                )
        violations = (
            self._money(text, facts)
            + self._incentives(text, facts)
            + self._identifiers(text, facts)
            + self._slots(text, facts, dealer)
            + self._contacts(text, customer_contacts, dealer)
        )
        if violations:
            return GuardResult("", violations)
        return GuardResult(text)

    def _money(self, text: str, facts: TurnFacts) -> list[str]:
        allowed_cents = {p * 100 for p in facts.prices}
        prices = sorted(facts.prices)
        # a saving stated as the difference of two disclosed figures (MSRP - price) is disclosed too
        allowed_cents |= {abs(a - b) * 100 for i, a in enumerate(prices) for b in prices[i + 1 :]}
        for passage in facts.knowledge:
            allowed_cents |= {value[1] for value in _money_values(passage)}
        ranged = _RANGE_WORD.search(text) is not None
        bad = []
        for written, cents, tolerance, start, end in _money_values(text):
            if cents in allowed_cents or _whole_dollars(cents) & facts.prices:
                continue
            if tolerance and any(abs(c - cents) <= tolerance for c in allowed_cents):
                continue
            # "under $35k", "between $30k and $35k": the customer's own budget echoed back, not a price
            if _BOUND.search(text[:start]):
                continue
            if ranged and (_RANGE_BEFORE.search(text[:start]) or _RANGE_AFTER.match(text[end:])):
                continue
            bad.append(f"price:{written}")
        return bad

    def _incentives(self, text: str, facts: TurnFacts) -> list[str]:
        knowledge = " ".join(facts.knowledge).lower()
        bad = []
        if _FINANCE.search(text):
            for m in _PERCENT.finditer(text):
                figure = m.group(1).rstrip("0").rstrip(".") if "." in m.group(1) else m.group(1)
                known = re.search(rf"(?<![\d.]){re.escape(figure)}(?:\.0+)?\s?(?:%|percent)", knowledge)
                if not known:
                    bad.append(f"incentive:{m.group().strip()}")
        claim = _INCENTIVE.search(text)
        if claim and not bad:
            has_figure = bool(_PERCENT.search(text) or _money_values(text))
            negated = bool(_NEGATION.search(text))
            stem = claim.group(1).lower().split()[0].rstrip("s")
            if (has_figure or (_ASSERTS.search(text) and not negated)) and stem not in knowledge:
                bad.append(f"incentive:{claim.group().strip()}")
        return bad

    def _identifiers(self, text: str, facts: TurnFacts) -> list[str]:
        vins = {v.upper() for v in facts.vins}
        stocks = {s.upper() for s in facts.stock_numbers}
        bad = [f"vin:{v}" for v in _VIN.findall(text) if v.upper() not in vins]
        bad += [f"stock:{s}" for s in _STOCK.findall(text) if s.upper() not in stocks]
        if not (vins or stocks) and _IN_STOCK.search(text) and not _NEGATION.search(text):
            bad.append(f"availability:{_IN_STOCK.search(text).group()}")  # type: ignore[union-attr]
        return bad

    def _slots(self, text: str, facts: TurnFacts, dealer: Any) -> list[str]:
        """Booked/available times must be slots a tool returned this turn. Saying a time is taken
        promises nothing; the dealer's opening hours and times in retrieved knowledge are not slots."""
        windows = [m.span() for m in _CLOCK_RANGE.finditer(text)]  # "7 AM–12 PM" is a window, not a slot
        clocks = [m for m in _CLOCK.finditer(text) if not any(a <= m.start() < b for a, b in windows)]
        booked = _BOOKED.search(text)
        day = _DAY.search(text)
        if not ((booked and (clocks or day)) or (_SLOT_AVAILABLE.search(text) and clocks)):
            return []
        if not booked and _UNAVAILABLE.search(text):
            return []
        recorded = facts.slots | facts.appointments
        slot_times = _slot_times(recorded, dealer)
        if booked:
            if not recorded:
                label = clocks[0].group() if clocks else (day or booked).group()
                return [f"slot:{label.strip().rstrip('.')}"]
            if slot_times is None:  # recorded, but not as times (appointment ids): the tool ran
                return []
            allowed = slot_times
        else:
            allowed = (slot_times or set()) | _hours_times(dealer)
            allowed |= {_clock_value(m) for passage in facts.knowledge for m in _CLOCK.finditer(passage)}
        for m in clocks:
            if _clock_value(m) not in allowed:
                return [f"slot:{m.group().strip().rstrip('.')}"]
        return []

    def _contacts(self, text: str, customer_contacts: set[str] | frozenset[str], dealer: Any) -> list[str]:
        phones, emails, domains = _allowed_contacts(customer_contacts, dealer)
        bad = [f"contact:{p.strip()}" for p in _PHONE.findall(text) if _phone_key(p) not in phones]
        for e in _EMAIL.findall(text):
            low = e.lower()
            if low not in emails and low.rsplit("@", 1)[-1] not in domains:
                bad.append(f"contact:{e}")
        return bad


def _clock_value(m: re.Match[str]) -> tuple[int, int]:
    if m.group(6):
        return (12, 0)
    if m.group(7):
        return (0, 0)
    if m.group(1):
        hour, minute = int(m.group(1)) % 12, int(m.group(2) or 0)
        return (hour + (12 if m.group(3).lower() == "p" else 0), minute)
    return (int(m.group(4)), int(m.group(5)))


def _slot_times(values: set[str], dealer: Any) -> set[tuple[int, int]] | None:
    """Local (hour, minute) of recorded slots/appointments; None when none of them is a time."""
    tz = getattr(dealer, "tz", None)
    times = set()
    for value in values:
        try:
            when = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            continue
        if tz is not None and when.tzinfo is not None:
            when = when.astimezone(tz)
        times.add((when.hour, when.minute))
    return times or None


def _hours_times(dealer: Any) -> set[tuple[int, int]]:
    """Opening and closing times of every department ("we open at 9 am" is not a slot claim)."""
    times: set[tuple[int, int]] = set()
    for dept in getattr(dealer, "departments", {}).values():
        for spec in dept.hours.values():
            for part in str(spec or "").split(","):
                for bound in re.findall(r"(\d{1,2}):(\d{2})", part):
                    times.add((int(bound[0]) % 24, int(bound[1])))
    return times


def _allowed_contacts(customer_contacts: set[str] | frozenset[str], dealer: Any) -> tuple[set, set, set]:
    phones = {_phone_key(c) for c in customer_contacts if "@" not in c}
    emails = {c.lower() for c in customer_contacts if "@" in c}
    domains: set[str] = set()
    if dealer is not None:
        d_phones, d_emails, d_domains = _dealer_contacts(dealer)
        phones |= d_phones
        emails |= d_emails
        domains |= d_domains
    return phones, emails, domains


_DEALER_CONTACTS: dict[int, tuple[Any, tuple[frozenset, frozenset, frozenset]]] = {}


def _dealer_contacts(dealer: Any) -> tuple[frozenset, frozenset, frozenset]:
    """The dealer's own phones, emails and web domain: worked out once per dealer config object
    (every sentence of every reply is checked against them)."""
    kept = _DEALER_CONTACTS.get(id(dealer))
    if kept is not None and kept[0] is dealer:
        return kept[1]
    phones = {_phone_key(dealer.phone)}
    emails: set[str] = set()
    domains: set[str] = set()
    for dept in getattr(dealer, "departments", {}).values():
        if getattr(dept, "phone", None):
            phones.add(_phone_key(dept.phone))
    for member in getattr(dealer, "staff", []):
        if getattr(member, "email", None):
            emails.add(member.email.lower())
    for extra in ("email", "sales_email", "service_email"):
        if isinstance(getattr(dealer, extra, None), str):
            emails.add(getattr(dealer, extra).lower())
    site = re.sub(r"^https?://", "", getattr(dealer, "website", "") or "").split("/")[0].lower()
    if site:
        domains.add(site.removeprefix("www."))
    found = (frozenset(phones), frozenset(emails), frozenset(domains))
    if len(_DEALER_CONTACTS) > 64:
        _DEALER_CONTACTS.clear()
    _DEALER_CONTACTS[id(dealer)] = (dealer, found)
    return found


# --- streaming ------------------------------------------------------------------------------------------
class StreamGuard:
    """Sits between a streaming brain and the customer: buffers deltas to sentence boundaries, checks
    each sentence, forwards what passes. `emitted_text` is exactly what the customer got."""

    # Without sentence punctuation, forward at a word boundary once this much is buffered.
    SOFT_LIMIT = 280

    def __init__(
        self,
        emit: Callable[[str], Awaitable[None]],
        *,
        guard: OutboundGuard | None = None,
        facts: TurnFacts,
        channel: str,
        customer_contacts: set[str] | frozenset[str] = frozenset(),
        dealer: Any = None,
    ) -> None:
        self._emit = emit
        self.guard = guard or OutboundGuard()
        self.facts = facts
        self.channel = channel
        self.customer_contacts = customer_contacts
        self.dealer = dealer
        self._buffer = ""
        self.emitted_sentences: list[str] = []
        self._parts: list[str] = []
        self.violations: list[str] = []
        self.replaced = False  # a template replaced the rest of the reply
        self.closed = False  # nothing more will be forwarded (replaced, or the channel limit reached)
        self.dropped: list[str] = []  # sentences withheld (violations or channel limits)
        self._received = False
        self._pending_sep = " "

    @property
    def emitted_text(self) -> str:
        return "".join(self._parts)

    async def emit(self, delta: str) -> None:
        """Feed one text delta from the brain."""
        if not delta:
            return
        self._received = True
        self._buffer += delta
        pieces = split_sentences(self._buffer, final=False)
        if len(pieces) > 1:
            for sentence, sep in pieces[:-1]:
                await self._forward(sentence, sep)
            self._buffer = pieces[-1][0] + pieces[-1][1]
        if len(self._buffer) > self.SOFT_LIMIT:
            cut = self._buffer.rfind(" ", 0, self.SOFT_LIMIT)
            if cut > 0:
                head, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
                await self._forward(head, " ")

    __call__ = emit

    async def flush(self) -> None:
        """End of the reply: check and forward what is left; never leave a customer with silence."""
        rest, self._buffer = self._buffer, ""
        for sentence, sep in split_sentences(rest):
            await self._forward(sentence, sep)
        if self._received and not self._parts and not self.closed:
            await self._send(self.guard._render("safe_reply", self.channel, self.dealer), "")
            self.replaced = True
            self.closed = True

    async def _forward(self, sentence: str, sep: str) -> None:
        if not sentence.strip():
            return
        if self.closed:
            self.dropped.append(sentence)
            return
        r = self.guard.check_sentence(
            sentence,
            facts=self.facts,
            channel=self.channel,
            customer_contacts=self.customer_contacts,
            dealer=self.dealer,
        )
        self.violations += r.violations
        if r.replaced:
            self.replaced = self.closed = True
            self.dropped.append(sentence)
            await self._send(r.text, "")
            return
        if not r.text:
            self.dropped.append(sentence)
            return
        text = r.text
        if self.channel == "voice":
            room = VOICE_MAX_SENTENCES - len(self.emitted_sentences)
            spoken = [s for s, _ in split_sentences(text)]
            if room <= 0:
                self.closed = True
                self.dropped.append(sentence)
                return
            if len(spoken) > room:
                text, self.closed = " ".join(spoken[:room]), True
        if self.channel == "sms":
            limit = OutboundGuard.sms_limit(self.dealer)
            if len(self.emitted_text) + 1 + len(text) > limit:
                self.closed = True
                self.dropped.append(sentence)
                return
        await self._send(text, sep)

    async def _send(self, text: str, sep_after: str) -> None:
        """Forward one sentence, preceded by the whitespace that followed the previous one."""
        text = text.strip()
        self.emitted_sentences += [s for s, _ in split_sentences(text)] or [text]
        if self._parts:
            text = self._pending_sep + text
        self._pending_sep = sep_after if sep_after and self.channel != "voice" else " "
        self._parts.append(text)
        await self._emit(text)
