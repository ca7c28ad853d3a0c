"""The dialogue policy: which flow answers this message, given what we asked last turn.

Order of precedence (Rasa-style rules):
0. context the channel handed in (agent/offline/context_flow.py): a lead's first response is answered
   from the lead; the vehicle page the visitor is on becomes the focus;
1. what the customer told us about themselves is captured (name, contact, trade-in, budget);
2. a person is needed (legal, complaint, asked for one, someone else's data) — always honoured;
3. an answer to the question we asked (a slot pick, "yes", a time) — the pending slot;
4. the vehicle the customer talked about before, when they refer back to it ("the truck we talked
   about", or "is it still there?" with no vehicle in the slots);
5. the message's own intents, most important first, plus up to two more questions it also asked.
"""

from __future__ import annotations

import re

from agent.offline import booking_flow as booking
from agent.offline import context_flow as context
from agent.offline import handoff_flow as handoff
from agent.offline import info_flow as info
from agent.offline import inventory_flow as inventory
from agent.offline.nlu import apply_examples
from agent.offline.state import Turn

# Questions that can be answered alongside the main one ("are you open sunday? any tacomas?").
COMBINABLE = ("hours", "location", "contact", "financing", "faq", "inventory_search", "vehicle_question", "hot_lead")
INFO = {"hours", "location", "contact", "financing", "faq", "service_price", "trade_in", "greet", "thanks"}
CHANGES_PENDING = {
    "test_drive", "book_service", "book_appointment", "reschedule", "cancel_appointment", "inventory_search",
    "refine_search", "trade_in", "service_price", "human", "complaint", "legal", "credit", "negotiation",
}  # fmt: skip


def capture_profile(t: Turn) -> None:
    e = t.ents
    c = t.inp.customer
    if e.name and e.name != c.name:
        t.profile_updates["name"] = e.name
    if e.phone and e.phone not in c.phones:
        t.profile_updates["phone"] = e.phone
    if e.email and e.email not in c.emails:
        t.profile_updates["email"] = e.email
    budget = dict(t.dialogue.get("budget") or {})
    if e.criteria.get("price_max"):
        budget["max"] = e.criteria["price_max"]
    if e.criteria.get("price_min"):
        budget["min"] = e.criteria["price_min"]
    if e.monthly_budget:
        budget["monthly"] = e.monthly_budget
    if budget and budget != t.dialogue.get("budget"):
        t.dialogue["budget"] = budget
        t.profile_updates["budget"] = budget
    if e.trade_in and "trade_in" not in t.profile_updates:
        trade = {**(t.dialogue.get("trade_in") or {}), **e.trade_in}
        t.dialogue["trade_in"] = trade
        t.profile_updates["trade_in"] = {k: v for k, v in trade.items() if k != "description"}


async def decide(t: Turn) -> None:
    # 0. context from the channel
    if await context.handle_lead(t):
        return
    capture_profile(t)
    p = t.parse
    intents = list(p.intents)
    for kind in (t.inp.meta or {}).get("redacted") or []:  # removed before anything stored it
        t.out.say(f"sensitive_removed_{kind}", 0)
    if await context.apply_page(t):
        return

    # 2. a person is needed
    for name, reason, priority, key in (
        ("legal", "legal", "high", "handoff_legal"),
        ("complaint", "complaint", "high", "handoff_complaint"),
        ("human", "customer_request", "normal", "handoff_human"),
    ):
        if name in intents:
            t.intent = name
            t.set_pending(None)
            await handoff.handle_handoff(t, reason, priority, key)
            return
    if "opt_out" in intents:  # the inbound guard records it; we only acknowledge, never argue
        t.intent = "opt_out"
        t.set_pending(None)
        t.out.say("opt_out_ack", 0, name=t.deps.dealer.name)
        return
    if "other_customer" in intents:
        t.intent = "other_customer"
        await handoff.handle_other_customer(t)
        return

    # 3. the question we asked
    if t.pending and await _answer_pending(t):
        return
    if t.pending and t.pending.get("type") == "confirm" and set(intents) & CHANGES_PENDING:
        t.set_pending(None)

    # 4. the vehicle discussed before
    if await context.handle_recall(t):
        return

    # 5. the message's own intents
    if set(intents) <= {"affirm", "deny", "provide_info", "thanks", "greet"} and inventory.looks_like_reference(t):
        t.intent = "select_vehicle"
        if "provide_info" in intents:  # "the first one. my number is 813-555-0181"
            t.out.say("contact_thanks", 0, who=t.who)
        await inventory.handle_select(t)
        return
    if not intents:
        intents = list(apply_examples(p).intents)  # embed only a message no rule or slot understood
    if not intents:
        await _unknown(t)
        return
    t.dialogue["unknown_streak"] = 0
    main = intents[0]
    t.intent = main
    await _dispatch(t, main)
    done = {main}
    if main == "credit":
        done.add("financing")
    extra = 0
    for name in intents[1:]:
        if extra >= 2 or name in done:
            continue
        if main == "faq" and name not in {"hours", "contact", "financing"}:
            continue  # "is there ev charging there" is not a question about our address or EVs for sale
        if name in COMBINABLE and (main in INFO or name in INFO or main in {"inventory_search", "vehicle_question"}):
            if name in {"inventory_search", "vehicle_question"} and main in {
                "inventory_search",
                "vehicle_question",
                "refine_search",
            }:
                continue
            await _dispatch(t, name)
            done.add(name)
            extra += 1


async def _answer_pending(t: Turn) -> bool:
    pend = t.pending or {}
    kind = pend.get("type")
    p = t.parse
    if kind in {"confirm", "choose_slot", "ask_time", "ask_service"}:
        if kind == "confirm" and "cancel_appointment" in p.intents and not p.has("affirm"):
            return False
        handled = await booking.handle_pending(t)
        if handled:
            t.intent = f"booking_{kind}"
        elif kind == "confirm":
            # Something else came up: keep the offer, but a later "yes" must not book without asking again.
            t.set_pending("choose_slot", ctx=pend["ctx"], offered=pend.get("offered") or [])
        return handled
    if kind in {"confirm_cancel", "which_appointment"}:
        handled = await booking.handle_change_pending(t)
        if handled:
            t.intent = f"appointment_{kind}"
        return handled
    if kind == "offer_booking":
        again = re.search(r"\bpick\b|\bnew time\b|\brebook\b|\bbook (?:it|one|again)\b", p.norm)
        if (
            p.has("affirm")
            or again
            or (t.ents.has_time and not set(p.intents) - {"affirm", "book_appointment", "test_drive", "book_service"})
        ):
            t.intent = "book_appointment"
            t.set_pending(None)
            ctx = {"action": "book", "department": pend["department"], "kind": pend["kind"]}
            if pend["department"] == "sales":
                ctx = {**booking.sales_context(t, pend["kind"])}
            await booking.start(t, ctx)
            return True
        if p.has("deny"):
            t.set_pending(None)
            t.intent = "deny"
            t.out.say("no_problem", 0)
            return True
        return False
    if kind == "pick_vehicle":
        if not inventory.looks_like_reference(t):
            return False
        t.set_pending(None)
        await _focus_reference(t)
        if not t.dialogue.get("focus"):
            return False
        t.intent = "test_drive"
        ctx = booking.sales_context(t, "test_drive")
        if pend.get("when") and not t.ents.has_time:
            await booking.offer_window(t, ctx, pend["when"])
        else:
            await booking.start(t, ctx)
        return True
    if kind == "offer_notify":
        if p.has("affirm"):
            t.set_pending(None)
            t.intent = "notify_request"
            t.request_handoff(
                "other", "low", handoff.summary(t, "other") + f" Wants to hear when {pend['desc']} arrive."
            )
            t.out.say("notify_ok", 0, desc=pend["desc"])
            t.out.add(handoff.sla_sentence(t, "sales"), 1)
            return True
        if p.has("deny"):
            t.set_pending(None)
            t.out.say("no_problem", 0)
            return True
        return False
    if kind == "ask_contact":
        t.set_pending(None)
        e = t.ents
        if e.name or e.phone or e.email:
            if e.name and "name" not in t.profile_updates and e.name != t.inp.customer.name:
                t.profile_updates["name"] = e.name
            t.intent = "provide_info"
            if set(p.intents) - {"provide_info", "thanks", "affirm", "greet"}:
                t.out.say("contact_thanks", 0, who=t.who)
                return False  # they also asked something: answer it too
            _thank_for_contact(t)
            return True
        return False
    return False


def _thank_for_contact(t: Turn) -> None:
    t.out.say("contact_thanks", 0, who=t.who)
    if t.channel == "chat" and not t.has_contact():
        t.out.say("ask_contact", 1, who=t.who)
        t.set_pending("ask_contact", ask="contact")
    else:
        t.out.say("anything_else", 1)


async def _dispatch(t: Turn, name: str) -> None:
    e = t.ents
    if name == "credit":
        await info.handle_financing(t, credit=True)
        await handoff.handle_handoff(t, "credit", "normal", "handoff_credit")
    elif name == "negotiation":
        await handoff.handle_negotiation(t)
    elif name == "hot_lead":
        await handoff.handle_hot_lead(t)
    elif name == "cancel_appointment":
        await booking.handle_change(t, "cancel")
    elif name == "reschedule":
        await booking.handle_change(t, "reschedule")
    elif name == "my_appointments":
        await booking.handle_my_appointments(t)
    elif name == "book_service":
        await booking.start(t, booking.service_context(t, e.service_kind))
    elif name == "test_drive":
        if inventory.looks_like_reference(t):
            await _focus_reference(t)
        elif e.criteria.get("model") and not _focus_matches(t):
            await inventory.run_search(t, e.criteria, "price_asc")
            if len(t.dialogue.get("results") or []) != 1:
                if t.dialogue.get("results"):
                    t.set_pending("pick_vehicle", when=t.parse.raw if e.has_time else None)
                    t.out.parts = [x for x in t.out.parts if x.priority == 0]
                    t.out.say("test_drive_which", 1)
                return
            t.out.parts.clear()
        await booking.start(t, booking.sales_context(t, "test_drive"))
    elif name == "book_appointment":
        if t.dialogue.get("flow") == "service" or e.service_kind:
            await booking.start(t, booking.service_context(t, e.service_kind))
        else:
            await booking.start(t, booking.sales_context(t))
    elif name == "trade_in":
        await info.handle_trade_in(t)
    elif name == "service_price":
        t.dialogue["flow"] = "service"
        await info.handle_service_price(t)
    elif name == "financing":
        await info.handle_financing(t)
    elif name == "faq":
        if not await info.handle_faq(t):
            t.out.say("faq_unknown", 0)
            await handoff.handle_handoff(t, "cannot_help", "low", "handoff_cannot_help")
    elif name == "hours":
        await info.handle_hours(t)
    elif name == "location":
        await info.handle_location(t)
    elif name == "contact":
        await info.handle_contact(t)
    elif name == "vehicle_question":
        t.dialogue["flow"] = "sales"
        await inventory.handle_vehicle_question(t)
    elif name in {"refine_search", "inventory_search"}:
        t.dialogue["flow"] = "sales"
        if inventory.looks_like_reference(t):
            t.intent = "select_vehicle"
            await inventory.handle_select(t)
        elif name == "refine_search" and (t.dialogue.get("criteria") is not None or t.dialogue.get("focus")):
            await inventory.handle_refine(t)
        elif _searchable(t):
            await inventory.handle_search(t)
        else:
            t.out.say("search_ask", 0)
            t.out.offer("SUVs", "Trucks", "Sedans", "Hybrids")
    elif name == "opt_in":
        t.out.say("opt_in_ack", 0, name=t.deps.dealer.name)
    elif name == "help":
        t.out.say("help", 0, name=t.deps.dealer.name)
        _menu(t)
    elif name == "smalltalk":
        if re.search(r"\b(?:bot|robot|ai|real|human|person|computer|machine|automated)\b", t.parse.norm):
            t.out.say("bot_disclosure", 0, name=t.deps.dealer.name)
        else:
            t.out.say("smalltalk", 0)
        _menu(t)
    elif name == "off_topic":
        await handoff.handle_off_topic(t)
    elif name == "injection":
        await handoff.handle_injection(t)
    elif name == "greet":
        _greet(t)
    elif name == "thanks":
        t.out.say("thanks", 0, who=t.who)
    elif name == "bye":
        t.out.say("bye", 0, name=t.deps.dealer.name)
    elif name == "affirm":
        t.out.say("affirm_nothing_pending", 0)
        _menu(t)
    elif name == "deny":
        t.out.say("no_problem", 0)
    elif name == "provide_info":
        _thank_for_contact(t)
    else:
        await _unknown(t)


def _searchable(t: Turn) -> bool:
    e = t.ents
    return bool(e.criteria or e.text_hint or e.sort or (t.dialogue.get("criteria") is not None and e.sort))


def _focus_matches(t: Turn) -> bool:
    focus = t.dialogue.get("focus") or {}
    model = (t.ents.criteria.get("model") or "").lower()
    return bool(focus) and model in (focus.get("title") or "").lower()


async def _focus_reference(t: Turn) -> None:
    cands = inventory.resolve(t, list(t.dialogue.get("results") or []))
    if len(cands) == 1:
        v = await inventory.load_vehicle(t, cands[0])
        if v is not None:
            t.focus(v)


def _greet(t: Turn) -> None:
    if t.page is not None:  # on a vehicle page: greet with the unit they are looking at
        context.greet_page(t, t.page)
        return
    interest = next((i for i in reversed(t.inp.customer.interests) if i.description), None)
    if interest and t.dialogue.get("turn", 0) <= 1:
        t.out.say("greet_back", 0, who=t.who, vehicle=interest.description, dealer=t.deps.dealer.name)
        t.out.offer("Is it still available?", "Book a test drive", "Something else")
        return
    t.out.say("greet", 0, who=t.who, dealer=t.deps.dealer.name)
    _menu(t)


def _menu(t: Turn) -> None:
    t.out.offer("Browse inventory", "Book a test drive", "Book service", "Hours & directions")


async def _unknown(t: Turn) -> None:
    t.intent = "unknown"
    streak = int(t.dialogue.get("unknown_streak", 0)) + 1
    t.dialogue["unknown_streak"] = streak
    if streak >= 2:
        t.dialogue["unknown_streak"] = 0
        t.out.say("cannot_help", 0)
        await handoff.handle_handoff(t, "cannot_help", "normal", "handoff_cannot_help")
        t.intent = "cannot_help"
        return
    t.out.say("clarify", 0, name=t.deps.dealer.name)
    _menu(t)
