"""Context beyond the customer's words: the vehicle page they are on, the lead a first response
answers, and the vehicle they talked about before.

1. The vehicle page (web chat on a VDP: `meta["vdp_vin"]` / `meta["vdp_stock"]`). When a message
   arrives from a vehicle page the dialogue has not seen yet, and the message is not about something
   else (another model, "the 2nd one" of a list, a stock number), the page's unit becomes the focus:
   "is this one still available?", "can I test drive this", "does it have awd" then answer about it
   through the ordinary flows, and a first "hi" greets with it ("Looking at the 2019 Toyota Tacoma
   TRD Off-Road? It's $32,995 …"). On the same page later, "this one" / "this truck" brings the focus
   back to it. A page whose unit has sold says so and lists similar available ones.
2. A lead's first response (`meta["synthetic_from_lead"]`, built by channels/leads.py from a
   third-party lead: `lead_vehicle`, `lead_provider`; the text is the lead's comments followed by
   "Vehicle: …"): thanks for the inquiry via the provider, the unit's availability and listed price
   from inventory, an answer to the question in the comments when the inventory or the dealer's
   information has it, and a test drive with real open slots (in the window the comments name, else
   the next openings), picked with a plain "2" next turn. On SMS the whole answer fits one text.
3. What the customer discussed before: "what was that truck we talked about?", "the car I asked about
   last week", or "is it still there?" with no vehicle in the dialogue. The candidates, in order: the
   dialogue's focus (only for an explicit "we talked about"), the customer's recorded interests with a
   VIN or stock number (the newest that fits the words: "that truck" skips a Camry), then the
   recollections the turn already retrieved (`BrainInput.memories`, no extra embedding) and the
   rolling summary — a VIN, a stock number, a full vehicle title, or a model with its details. The
   unit is re-read from inventory, so its availability and price are today's.

Every vehicle and price said comes from `vehicle_details` / `search_inventory` in this turn (they
record what they return in `deps.facts`); a sold unit is named by its title only.

Dialogue slots: `page` = {"ref", "vin", "sold"?}: the vehicle page last applied (applied once, so
the conversation's own focus stands afterwards); `lead` = {"id"}: the lead answered.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from agent.offline import booking_flow as booking
from agent.offline import handoff_flow as handoff
from agent.offline import info_flow as info
from agent.offline import inventory_flow as inventory
from agent.offline.entities import extract
from agent.offline.nlu import classify
from agent.offline.render import Part, _flat
from agent.offline.state import Turn, snapshot
from tools.booking import available_slots, nearest_slots
from tools.context import ToolError
from tools.dates import dealer_hours, parse_when
from tools.inventory import (
    Criteria,
    InventoryStore,
    Vehicle,
    drivetrain_matches,
    feature_matches,
    vehicle_details,
)

# Intents that are about "the vehicle" (the page's unit, or the one discussed before).
VEHICLE_INTENTS = {"vehicle_question", "test_drive", "hot_lead", "negotiation", "book_appointment"}
PERSON = {"legal", "complaint", "human", "opt_out", "other_customer"}  # the policy answers these first
_IDENTITY = ("condition", "year_min", "year_max", "make", "model", "trim", "body_style", "color")
_THIS = re.compile(r"\bthis (?:one|car|truck|suv|van|vehicle|unit|model)\b|\bthis\s*[?.!]*$|\bthis (?:one )?here\b")


def _ref(meta: dict[str, Any]) -> str | None:
    for key in ("vdp_vin", "vdp_stock"):
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().upper()
    return None


async def _record(t: Turn, ref: str) -> Vehicle | None:
    """The unit as the feed has it, any status (a sold one too): for its title, never its price."""
    try:
        return await InventoryStore(t.deps.redis, t.deps.keys).find(ref)
    except Exception:
        return None


async def _details(t: Turn, v: Vehicle) -> Vehicle | None:
    """Fresh details through the tool (records the unit's facts for the outbound guard)."""
    try:
        return await vehicle_details(t.deps, v.vin)
    except ToolError:
        return None


def _identity(crit: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in crit.items() if k in _IDENTITY and v not in (None, "", [])}


def _fits(crit: dict[str, Any], v: Vehicle) -> bool:
    """Does this unit fit the vehicle words of the message ("that truck", "the silver one")?"""
    ident = _identity(crit)
    ident.pop("condition", None)
    try:
        return Criteria(**ident).matches(v)
    except Exception:
        return False


def _similar_criteria(v: Any) -> dict[str, Any]:
    model = getattr(v, "model", None) or (v.get("model") if isinstance(v, dict) else None)
    body = getattr(v, "body_style", None) or (v.get("body") if isinstance(v, dict) else None)
    return {"model": model} if model else {"body_style": body} if body else {}


async def _similar(t: Turn, v: Any, intro: str = "similar_intro") -> None:
    """Available units like `v` (same model, else same body style), listed and remembered as results."""
    like = _similar_criteria(v)
    if not like:
        t.out.say("search_ask", 1)
        return
    result = await inventory.search(t, like, "relevance")
    if result is not None and not result.matches and like.get("model") and getattr(v, "body_style", None):
        like = {"body_style": v.body_style}
        result = await inventory.search(t, like, "relevance")
    if result is not None:
        result.matches = [u for u in result.matches if u.vin != getattr(v, "vin", None)]
        result.total_matches = len(result.matches)
    await inventory.run_search(t, like, "relevance", intro=intro, result=result)


# --- 1. the vehicle page ----------------------------------------------------------------------------


def _points_elsewhere(t: Turn, v: Vehicle) -> bool:
    """The message is about another vehicle than the page's: a stock number / VIN, another model, or a
    pick from the list shown ("the 2nd one", "the silver one")."""
    e = t.ents
    if (e.stock and e.stock.upper() not in {(v.stock_number or "").upper(), v.vin}) or (e.vin and e.vin != v.vin):
        return True
    if (t.dialogue.get("results") or []) and inventory.looks_like_reference(t):
        return True
    ident = _identity(e.criteria)
    ident.pop("condition", None)
    if not ident:
        return False
    if t.dialogue.get("results") and not _THIS.search(t.parse.norm) and set(ident) - {"make", "model"}:
        return True  # "the blue one" picks from a list just shown
    return not _fits(ident, v)


def _about_page(t: Turn) -> bool:
    """ "is this one still available?" on the page again (not a pick from a list, not a person)."""
    intents = set(t.parse.intents)
    e = t.ents
    if intents & PERSON or e.stock or e.vin or e.ordinal is not None or e.superlative:
        return False
    if _THIS.search(t.parse.norm):
        return True
    return e.deictic and bool(intents) and intents <= VEHICLE_INTENTS | {"greet"} and not _identity(e.criteria)


async def apply_page(t: Turn) -> bool:
    """Focus the unit of the vehicle page the visitor is on. True when the turn has been answered
    (a greeting on the page, or the page's unit has sold)."""
    meta = t.inp.meta or {}
    if meta.get("synthetic_from_lead"):
        return False
    ref = _ref(meta)
    if ref is None:
        return False
    seen = t.dialogue.get("page") or {}
    focus = t.dialogue.get("focus") or {}
    if seen.get("ref") == ref:
        # The same page as before: the conversation's focus stands unless they say "this one" again.
        if seen.get("sold") and _about_page(t):
            t.intent = "page_vehicle_sold"
            t.out.say("page_sold_again", 0, title=seen.get("title") or "vehicle")
            t.out.offer("Show similar ones", "Browse inventory")
            return True
        if seen.get("sold") or not seen.get("vin") or focus.get("vin") == seen["vin"]:
            return False
        if not _THIS.search(t.parse.norm):
            return False
    record = await _record(t, ref)
    if record is None:
        t.dialogue["page"] = {"ref": ref}
        return False
    if _points_elsewhere(t, record):
        t.dialogue["page"] = {"ref": ref, "vin": record.vin}
        return False
    if record.status == "sold":
        t.dialogue["page"] = {"ref": ref, "vin": record.vin, "sold": True, "title": record.title()}
        if focus.get("vin") == record.vin:
            t.dialogue.pop("focus", None)
        intents = set(t.parse.intents)
        if intents & PERSON or not (intents & (VEHICLE_INTENTS | {"greet"}) or t.ents.deictic or not intents):
            return False
        t.intent = "page_vehicle_sold"
        t.set_pending(None)
        t.out.say("page_sold", 0, title=record.title(), who=t.who)
        await _similar(t, record)
        return True
    v = await _details(t, record)
    if v is None:
        return False
    t.dialogue["page"] = {"ref": ref, "vin": v.vin}
    t.focus(v)
    t.page = v
    return False


def greet_page(t: Turn, v: Vehicle) -> None:
    """A first "hi" on a vehicle page: the unit, its price and miles, and what we can do about it."""
    o = t.out
    color = f", {inventory.short_color(v.exterior_color)}" if v.exterior_color and t.channel != "voice" else ""
    key = "greet_vdp" if v.status == "available" else "greet_vdp_plain"
    o.say(key, 0, who=t.who, title=v.title(), price=_money(t, v), miles=_miles(v), color=color,
          dealer=t.deps.dealer.name)  # fmt: skip
    if v.status != "available":
        flag = {"pending": "attr_pending", "in_transit": "attr_in_transit"}.get(v.status, "attr_pending")
        o.say(flag, 0, title=v.title())
    t.show_card(v)
    o.say("greet_vdp_next", 1)
    o.offer("Book a test drive", "Is it available?", "Similar ones")


def _money(t: Turn, v: Vehicle) -> str:
    return t.out.money(float(v.price) if v.price is not None else None)


def _miles(v: Vehicle) -> str:
    if v.mileage is None:
        return "mileage not listed"
    return f"{v.mileage:,} miles"


# --- 2. a lead's first response ---------------------------------------------------------------------

_LEAD_SUFFIX = re.compile(r"\n\s*\n\s*Vehicle: [^\n]*\s*\Z")
_LEAD_DEFAULTS = re.compile(r"^(?:I'm interested in the .*\.|I'd like more information, please\.)$", re.S)


def lead_comments(text: str) -> str:
    """The customer's own words in a lead's synthetic inbound (channels/leads.py `synthetic_text`)."""
    text = _LEAD_SUFFIX.sub("", text or "").strip()
    return "" if _LEAD_DEFAULTS.match(text) else text


async def handle_lead(t: Turn) -> bool:
    """The first response to a third-party lead. True when answered here; False leaves the comments
    (now the turn's parse) to the ordinary flows, after a thank-you (no vehicle on the lead)."""
    meta = t.inp.meta or {}
    if not meta.get("synthetic_from_lead"):
        return False
    comments = lead_comments(t.inp.text)
    service = t.deps.dealer.departments.get("service")
    kinds = list(service.appointments.kinds) if service and service.appointments else []
    t.parse = classify(comments, t.matcher, service_kinds=kinds, use_embeddings=False)
    t.dialogue["lead"] = {"id": meta.get("lead_id")}
    provider = str(meta.get("lead_provider") or "").strip()
    via = f" through {provider}" if provider else ""
    hi = f"Hi {t.first_name}" if t.first_name else "Hi"
    lv: dict[str, Any] = meta["lead_vehicle"] if isinstance(meta.get("lead_vehicle"), dict) else {}
    ref = lv.get("vin") or lv.get("stock_number") or _ref(meta)
    record = await _record(t, str(ref)) if ref else None
    t.intent = "lead_response"
    if record is None and not lv:
        t.out.say("lead_thanks_general", 0, hi=hi, via=via, dealer=t.deps.dealer.name)
        if not comments:
            t.out.say("lead_how_help", 0)
            return True
        return False  # a general inquiry: the comments go through the ordinary flows
    p = t.parse
    if set(p.intents) & {"legal", "complaint"}:
        t.out.say("lead_thanks_general", 0, hi=hi, via=via, dealer=t.deps.dealer.name)
        return False  # a person answers those; the policy opens the handoff
    title = record.title() if record is not None else (lv.get("title") or "vehicle")
    thanks = Part(t.out.t("lead_thanks", hi=hi, title=title, via=via), 0)
    short_thanks = Part(t.out.t("lead_thanks", hi=hi, title=title, via=""), 0)
    t.out.parts.append(thanks)
    v = await _details(t, record) if record is not None and record.status != "sold" else None
    if v is None:
        key = "lead_sold" if record is not None else "lead_not_found"
        t.out.say(key, 0, title=title)
        await _lead_similar(t, record, lv)
        _fit_sms(t, thanks, short_thanks, [])
        return True
    t.focus(v)
    t.show_card(v)
    status = {"available": "lead_available", "pending": "lead_pending", "in_transit": "lead_in_transit"}
    t.out.say(status.get(v.status, "lead_pending"), 0, price=_money(t, v), title=v.title())
    before = len(t.out.parts)
    _answer_comment(t, v)
    answers = [p for p in t.out.parts[before:] if p.priority == 0]
    await _lead_info(t)
    if v.status != "pending":
        await _lead_slots(t)
    _fit_sms(t, thanks, short_thanks, answers)
    return True


async def _lead_similar(t: Turn, record: Vehicle | None, lv: dict[str, Any]) -> None:
    like: Any = record
    if like is None:
        found = t.matcher.extract(str(lv.get("title") or ""))
        like = {"model": found.models[0]} if found.models else {}
    result = None
    crit = _similar_criteria(like) if like else {}
    if crit:
        result = await inventory.search(t, crit, "relevance")
    if result is None or not result.matches:
        t.out.say("search_ask", 1)
        return
    shown = result.matches[:2] if t.channel == "sms" else result.matches
    t.dialogue["results"] = [snapshot(u) for u in shown]
    t.dialogue["criteria"], t.dialogue["sort"] = crit, "relevance"
    inventory.lead(t, t.out.t("similar_intro"), inventory.listing(t, shown))
    for u in shown:
        t.show_card(u)
    t.out.say("lead_similar_next", 1)


def _answer_comment(t: Turn, v: Vehicle) -> None:
    """The vehicle question in the comments ("does it have AWD?", "tow package?", "how many miles?")."""
    e = t.ents
    attrs = [a for a in e.asked_attrs if a not in {"availability", "price", "summary"}]
    o = t.out
    wanted = e.criteria.get("features") or []
    drive = e.criteria.get("drivetrain")
    if drive or "drivetrain" in attrs:
        if drive and v.drivetrain:
            key = "lead_drive_yes" if drivetrain_matches(drive, v.drivetrain) else "lead_drive_no"
            o.say(key, 0, drivetrain=v.drivetrain, asked=drive)
        else:
            o.say("lead_drive", 0, drivetrain=v.drivetrain or "not listed")
        attrs = [a for a in attrs if a != "drivetrain"]
        if not wanted:
            attrs = [a for a in attrs if a != "features"]
    for f in wanted:
        label = next((x for x in v.features if f in x.lower()), None)
        if feature_matches(f, v):
            o.say("lead_feature_yes", 0, feature=label or inventory._feature_label(f))
        else:
            o.say("lead_feature_no", 0, feature=_FEATURE_NAMES.get(f, inventory._feature_label(f)))
    attrs = [a for a in attrs if a != "features" or not wanted]
    if "miles" in attrs:
        o.say("lead_miles", 0, miles=_miles(v))
        attrs.remove("miles")
    if "color" in attrs:
        o.say("lead_color", 0, color=v.exterior_color or "not listed")
        attrs.remove("color")
    rest = [a for a in attrs if a not in {"history", "trim", "year"}]
    if rest:
        before = len(o.parts)
        inventory.answer_attrs(t, v, rest)
        for part in o.parts[before:]:
            part.priority = max(part.priority, 1)


_FEATURE_NAMES = {"tow": "a tow package", "leather": "leather seats", "navigation": "navigation",
                  "sunroof": "a sunroof", "remote start": "remote start"}  # fmt: skip


async def _lead_info(t: Turn) -> None:
    """The dealership questions a lead's comments may carry, and a person for pricing."""
    p = t.parse
    before = len(t.out.parts)
    if set(p.intents) & {"hot_lead", "negotiation"}:
        t.request_handoff("hot_lead", "high", handoff.summary(t, "hot_lead"))
        t.out.say("lead_pricing", 1)
    if "human" in p.intents:
        t.request_handoff("customer_request", "normal", handoff.summary(t, "customer_request"))
        t.out.add(handoff.sla_sentence(t, "sales"), 1)
    if "credit" in p.intents:
        t.request_handoff("credit", "normal", handoff.summary(t, "credit"))
        t.out.say("handoff_credit", 1)
    elif "financing" in p.intents:
        await info.handle_financing(t)
    if "hours" in p.intents:
        await info.handle_hours(t)
    if "location" in p.intents:
        await info.handle_location(t)
    if "trade_in" in p.intents:
        t.out.say("trade_no_number", 1)
    for part in t.out.parts[before:]:
        part.priority = max(part.priority, 1)


async def _lead_slots(t: Turn) -> None:
    """A test drive: real open slots in the window the comments name, else the next openings."""
    ctx = booking.sales_context(t, "test_drive")
    count = booking.OFFER_COUNT.get(t.channel, 3)
    dealer = t.deps.dealer
    rules = dealer.department("sales").appointments
    when = None
    if t.ents.has_time and rules is not None:
        when = parse_when(
            info.with_holiday_dates(t, t.parse.raw), t.deps.now(), dealer.tz, hours=dealer_hours(dealer, "sales"),
            slot_minutes=rules.slot_minutes, horizon_days=rules.horizon_days,
        )  # fmt: skip
    try:
        slots = []
        if when is not None and when.exact:
            slots = await nearest_slots(t.deps, "sales", when.start, limit=count)
        elif when is not None:
            one_day = (
                when.start.astimezone(dealer.tz).date()
                == (when.end - dt.timedelta(seconds=1)).astimezone(dealer.tz).date()
            )
            slots = await available_slots(
                t.deps, "sales", start=when.start, end=when.end, limit=count, kind=ctx["kind"], daily=when.daily,
                spread=True, per_day=count if one_day else 2,
            )  # fmt: skip
            if len(slots) < 2:
                slots = await nearest_slots(t.deps, "sales", when.start, limit=count)
        if len(slots) < 2:
            when = None
            slots = await available_slots(t.deps, "sales", limit=count, kind=ctx["kind"])
    except ToolError:
        t.out.say("lead_call_us", 1, phone=dealer.phone)
        return
    if not slots:
        t.out.say("lead_call_us", 1, phone=dealer.phone)
        return
    window = ""
    if when is not None:
        first, last = when.start.astimezone(dealer.tz), (when.end - dt.timedelta(seconds=1)).astimezone(dealer.tz)
        window = f"on {first:%A}" if first.date() == last.date() and not when.exact else when.description
    key = "lead_slots_window" if when is not None else "lead_slots"
    booking.offer_list(t, ctx, slots, key, window=window)


def _fit_sms(t: Turn, thanks: Part, short_thanks: Part, answers: list[Part]) -> None:
    """One text: what must be said (thanks via the provider, availability and price, the answer, the
    slots) fits the SMS limit. In turn: two slots instead of three, the answers after the first left
    to the renderer's trimming, a thank-you without the provider, then the first answer too."""
    if t.channel != "sms":
        return
    limit = t.deps.dealer.messaging.sms_max_chars or 320

    def essential() -> int:
        return len(_flat([p for p in t.out.parts if p.priority == 0]))

    pend = t.dialogue.get("pending") or {}
    offered = list(pend.get("offered") or [])
    if essential() > limit and len(offered) > 2:
        old = booking._slot_list(t, offered)
        offered = offered[:2]
        t.dialogue["pending"]["offered"] = offered
        new = booking._slot_list(t, offered)
        for part in t.out.parts:
            if part.text == old:
                part.text = new
    for part in reversed(answers[1:]):  # the comments' first question keeps its answer longest
        if essential() <= limit:
            break
        part.priority = 1
    if essential() > limit and thanks in t.out.parts:
        t.out.parts[t.out.parts.index(thanks)] = short_thanks
    if essential() > limit and answers:
        answers[0].priority = 1


# --- 3. the vehicle discussed before -----------------------------------------------------------------

_RECALL = re.compile(
    r"\b(?:we|i|you)(?: guys| all)? (?:talked|spoke|chatted|texted|discussed|asked|inquired|emailed|messaged|"
    r"looked|saw|was looking|were looking|had looked|test drove|drove|liked|wanted|mentioned|sent|showed)\b"
    r"|\b(?:last time|the other day|a while back|a few days ago|last week|last month|yesterday|earlier)\b"
    r"|\bremember\b|\bany (?:update|news)\b|\bupdate on\b|\bfrom before\b|\bbefore\s*[?.!]*$"
)
_VEHICLE_NOUN = re.compile(r"\b(?:car|truck|suv|van|vehicle|one|ride|pickup|sedan|model|unit)s?\b")
_NOT_ABOUT_A_VEHICLE = {
    "financing", "credit", "hours", "location", "contact", "service_price", "book_service", "trade_in",
    "cancel_appointment", "reschedule", "my_appointments", "opt_in", "smalltalk", "off_topic", "injection",
}  # fmt: skip
_COME_IN = re.compile(r"\b(?:come|stop|swing|drop) (?:in|by|over|see|look)\b|\bcome\b|\bsee it\b|\bdrive\b|\bvisit\b")
_MEMORY_PREFIX = re.compile(r"^\[[^\]]*\]\s*")
_SUMMARY_ROLE = re.compile(r"^(?:customer|assistant|staff) \([^)]*\):\s*")


def _recall_wanted(t: Turn) -> tuple[bool, bool]:
    """(look up the vehicle discussed before?, was it asked for explicitly?)"""
    p = t.parse
    e = t.ents
    intents = set(p.intents)
    if intents & _NOT_ABOUT_A_VEHICLE or e.stock or e.vin or e.ordinal is not None or e.superlative:
        return False, False
    empty = not t.dialogue.get("focus") and not t.dialogue.get("results")
    explicit = bool(_RECALL.search(p.norm)) and bool(
        e.deictic or _identity(e.criteria) or _VEHICLE_NOUN.search(p.norm) or re.search(r"\bstill\b", p.norm)
    )
    if explicit and (not intents or intents & (VEHICLE_INTENTS | {"inventory_search", "refine_search", "greet"})):
        return True, True
    if not empty or not intents & VEHICLE_INTENTS:
        return False, False
    ident = _identity(e.criteria)
    return bool(e.deictic or ident), False


async def _candidates_from_interests(t: Turn, crit: dict[str, Any]) -> Vehicle | None:
    for interest in reversed(t.inp.customer.interests):
        ref = interest.vin or interest.stock_number
        if not ref:
            continue
        v = await _record(t, ref)
        if v is not None and _fits(crit, v):
            return v
    return None


def _texts(t: Turn) -> list[str]:
    """Recollections (most relevant first), then the rolling summary (newest line first)."""
    out = [_MEMORY_PREFIX.sub("", m) for m in t.inp.memories if isinstance(m, str)]
    lines = [ln.strip() for ln in (t.inp.summary or "").splitlines() if ln.strip()]
    out += [_SUMMARY_ROLE.sub("", ln.lstrip("…")) for ln in reversed(lines)]
    return [x for x in out if x.strip()]


async def _from_texts(t: Turn, crit: dict[str, Any]) -> tuple[Vehicle | None, dict[str, Any] | None]:
    """A unit named in what was said before: a VIN, a stock number, a full title; else a model with
    details ("used tacomas under 35k") as search criteria."""
    texts = _texts(t)
    if not texts:
        return None, None
    store = InventoryStore(t.deps.redis, t.deps.keys)
    everything = await store.all()
    by_title: dict[str, list[Vehicle]] = {}
    for v in everything:
        by_title.setdefault(v.title().lower(), []).append(v)
    fallback: dict[str, Any] | None = None
    for text in texts:
        e = extract(text, t.matcher)
        for ref in (e.vin, e.stock):
            if ref:
                hit = await _record(t, ref)
                if hit is not None and _fits(crit, hit):
                    return hit, None
        low = text.lower()
        named = [v for title, units in by_title.items() if title in low for v in units if _fits(crit, v)]
        if len({v.vin for v in named}) == 1:
            return named[0], None
        ident = _identity(e.criteria)
        if fallback is None and ident.get("model") and _fits(crit, _probe(ident, everything)):
            fallback = ident  # the kind of vehicle; a budget said back then is not repeated as a bound
    if fallback is not None:
        matches = [v for v in everything if v.status != "sold" and Criteria(**_crit_args(fallback)).matches(v)]
        if len(matches) == 1:
            return matches[0], None
    return None, fallback


def _crit_args(crit: dict[str, Any]) -> dict[str, Any]:
    keys = set(_IDENTITY) | {"price_max", "mileage_max"}
    return {k: v for k, v in crit.items() if k in keys}


def _probe(ident: dict[str, Any], everything: list[Vehicle]) -> Any:
    """Any unit with these identity words, so the message's words ("that truck") can be checked."""
    crit = Criteria(**_crit_args(ident))
    return next((v for v in everything if crit.matches(v)), everything[0] if everything else None)


async def handle_recall(t: Turn) -> bool:
    """The vehicle the customer talked about before. True when the turn has been answered; False with
    the focus set lets the ordinary flow answer ("can I test drive it?")."""
    wanted, explicit = _recall_wanted(t)
    if not wanted:
        return False
    crit = _identity(t.ents.criteria)
    crit.pop("condition", None)
    v: Vehicle | None = None
    search: dict[str, Any] | None = None
    focus = t.dialogue.get("focus") or {}
    if explicit and focus.get("vin"):
        rec = await _record(t, focus["vin"])
        v = rec if rec is not None and _fits(crit, rec) else None
    if v is None:
        v = await _candidates_from_interests(t, crit)
    if v is None and (explicit or not crit):
        v, search = await _from_texts(t, crit)
    if v is None and search is None:
        if not explicit:
            return False
        if crit:  # "that truck we talked about": say so, then show what there is
            t.out.say("recall_none_search", 0)
            return False
        t.intent = "recall_none"
        t.out.say("recall_none", 0)
        t.out.offer("Browse inventory", "Book a test drive")
        return True
    t.intent = "recall_vehicle"
    if v is None:
        assert search is not None
        await inventory.run_search(t, search, "relevance", intro="recall_search")
        return True
    if v.status == "sold":
        t.dialogue.pop("focus", None)
        t.out.say("recall_sold", 0, title=v.title(), who=t.who)
        await _similar(t, v)
        return True
    fresh = await _details(t, v)
    if fresh is None:
        return False
    t.focus(fresh)
    main = t.parse.intents[0] if t.parse.intents else ""
    if main in {"test_drive", "hot_lead", "negotiation", "book_appointment"}:
        return False  # the ordinary flow answers it about the focus
    t.show_card(fresh)
    o = t.out
    stock = f" (stock #{fresh.stock_number})" if fresh.stock_number and t.channel != "voice" else ""
    o.say("recall_intro", 0, title=fresh.title(), stock=stock)
    key = {"available": "recall_available", "pending": "recall_pending", "in_transit": "recall_in_transit"}
    o.say(key.get(fresh.status, "recall_pending"), 0, price=_money(t, fresh), miles=_miles(fresh))
    extra = [a for a in t.ents.asked_attrs if a not in {"availability", "price", "summary", "photos"}]
    if extra:
        inventory.answer_attrs(t, fresh, extra)
    if fresh.status != "pending" and t.ents.has_time and _COME_IN.search(t.parse.norm):
        await booking.start(t, booking.sales_context(t, "test_drive"))  # "... and can I come sat morning?"
    if not t.pending:
        o.say("vehicle_next", 1)
        o.offer("Book a test drive", "Similar ones", "Something else")
    return True
