"""Passing the conversation to a person — with an honest "when", a summary staff can act on, and
something useful to do meanwhile — plus the polite refusals (binding offers, other customers' data,
off-topic requests, injected instructions)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from agent.offline.info_flow import knowledge_quote, next_opening, relative_day
from agent.offline.state import Turn
from tools.context import ToolError
from tools.dates import clock_label
from tools.inventory import search_inventory, vehicle_details
from tools.knowledge import open_now

_SPANISH = r"\bespa[nñ]ol\b|\bspanish\b|\bhabla\w*\b|\btienen\b|\bquiero\b|\bnecesito\b|\bpor favor\b"

REASON_TEXT = {
    "customer_request": "asked to talk to a person",
    "complaint": "is upset / complaint",
    "legal": "raised a legal matter",
    "credit": "asked about credit approval / rates",
    "hot_lead": "ready to buy / asked for pricing or a hold",
    "cannot_help": "asked for something the assistant could not handle",
    "other": "needs follow-up",
}


def handoff_department(t: Turn, reason: str) -> str:
    if reason != "credit" and t.ents.service_kind:
        return "service" if "service" in t.deps.dealer.departments else "sales"
    return "sales" if "sales" in t.deps.dealer.departments else next(iter(t.deps.dealer.departments))


def sla_sentence(t: Turn, dept: str) -> str:
    """When a person will answer, from the department's hours and the dealer's handoff SLAs."""
    dealer = t.deps.dealer
    now = t.now
    is_open, _ = open_now(dealer, dept, now)
    if is_open:
        return t.out.t("sla_open", minutes=dealer.handoff.sla_minutes)
    opens = next_opening(t, dept, now)
    if opens is None:
        return t.out.t("sla_unknown")
    due = opens + dt.timedelta(minutes=dealer.handoff.after_hours_sla_minutes)
    return t.out.t(
        "sla_closed",
        opens=f"{relative_day(t, opens.date())} at {clock_label(opens)}",
        due=f"{clock_label(due)} {relative_day(t, due.date())}",
    )


def summary(t: Turn, reason: str) -> str:
    """Who, what vehicle, trade-in, budget, what was booked, and the open question — for staff."""
    c = t.inp.customer
    d = t.dialogue
    contacts = ", ".join(
        [*c.phones, *c.emails] + [t.profile_updates[k] for k in ("phone", "email") if t.profile_updates.get(k)]
    )
    lines = [f"{t.name or 'Name unknown'} ({contacts or 'no contact yet'}) via {t.channel}: {REASON_TEXT[reason]}."]
    lines.append(f'Last message: "{t.parse.raw[:240]}"')
    focus = d.get("focus")
    if focus:
        price = f", listed ${focus['price']:,}" if focus.get("price") else ""
        lines.append(f"Vehicle: {focus['title']} (stock {focus.get('stock') or '-'}, VIN {focus['vin']}{price}).")
    elif d.get("results"):
        lines.append("Viewed: " + "; ".join(r["title"] for r in d["results"][:3]) + ".")
    elif c.interests:
        lines.append("Interests: " + "; ".join(i.description for i in c.interests[-3:]) + ".")
    trade = d.get("trade_in") or c.trade_in
    if trade:
        bits = [str(trade[k]) for k in ("year", "make", "model") if trade.get(k)]
        if trade.get("mileage"):
            bits.append(f"{trade['mileage']:,} mi")
        if trade.get("payoff"):
            bits.append(f"owes about {trade['payoff']:,}")
        lines.append("Trade-in: " + " ".join(bits) + ".")
    crit = d.get("criteria") or {}
    budget = d.get("budget") or {}
    if crit.get("price_max") or budget.get("monthly"):
        parts = []
        if crit.get("price_max"):
            parts.append(f"up to {crit['price_max']:,}")
        if budget.get("monthly"):
            parts.append(f"{budget['monthly']:,}/month")
        lines.append("Budget: " + ", ".join(parts) + ".")
    for b in d.get("booked") or []:
        lines.append(f"Booked: {b['kind'].replace('_', ' ')} {b['label']} ({b['id']}).")
    pend = d.get("pending")
    if pend and pend.get("type") in {"confirm", "choose_slot"}:
        lines.append("Open: was choosing an appointment time.")
    return " ".join(lines)


async def handle_handoff(t: Turn, reason: str, priority: str, key: str) -> None:
    """Open a handoff and tell the customer who will answer, when, and what we can do meanwhile."""
    dept = handoff_department(t, reason)
    already = (t.dialogue.get("handoff") or {}).get("reason") == reason and t.dialogue.get("handoff_turn") == (
        t.dialogue.get("turn", 0) - 1
    )
    t.request_handoff(reason, priority, summary(t, reason))
    t.dialogue["handoff_turn"] = t.dialogue.get("turn", 0)
    if key == "handoff_human" and re.search(_SPANISH, t.parse.norm):
        key = "handoff_spanish"
    ack, when = t.out.t(key, who=t.who), sla_sentence(t, dept)
    if t.channel == "voice":  # one spoken sentence: who takes over, and when
        t.out.add(f"{ack.rstrip('.!')}; {when[:1].lower()}{when[1:]}", 0)
    else:
        t.out.add(ack, 0)
        t.out.add(when, 0)
    if not already:
        t.out.say("handoff_meanwhile", 1)
        t.out.offer("Browse inventory", "Hours & directions", "Book a visit")
    if t.channel == "chat" and not t.has_contact():
        t.out.say("handoff_ask_contact", 1)
        t.set_pending("ask_contact", ask="contact")


async def handle_hot_lead(t: Turn) -> None:
    s = t.parse.norm
    v = await _focus_vehicle(t)
    if v is not None:
        t.out.say("hot_vehicle", 1, title=v.title(), price=t.out.money(v.price))
    if re.search(r"out[- ]the[- ]door|\botd\b|best price|total", s):
        quote = await knowledge_quote(
            t, "advertised prices out-the-door dealer fee", ["advertised", "out-the-door", "fee"], sentences=2
        )
        if quote:
            t.out.add(quote, 1)
    elif re.search(r"\bhold\b|deposit|reserve", s):
        quote = await knowledge_quote(t, "deposit holds vehicle", ["deposit"], sentences=2)
        if quote:
            t.out.add(quote, 1)
    await handle_handoff(t, "hot_lead", "high", "handoff_hot_lead")


async def _focus_vehicle(t: Turn) -> Any | None:
    from agent.offline.inventory_flow import target_vehicle

    crit = t.ents.criteria
    focus_title = (t.dialogue.get("focus") or {}).get("title", "")
    if crit.get("model") and crit["model"].lower() not in focus_title.lower():
        try:
            found = await search_inventory(
                t.deps, make=crit.get("make"), model=crit["model"], limit=1, sort="price_asc"
            )
        except ToolError:
            return None
        return found.matches[0] if found.matches else None
    if t.dialogue.get("focus") or t.dialogue.get("results") or t.inp.customer.interests:
        quiet = len(t.out.parts)
        v = await target_vehicle(t)
        del t.out.parts[quiet:]  # a "which one?" question is not wanted here
        return v
    return None


async def handle_negotiation(t: Turn) -> None:
    """No binding offers or negotiated prices; the real price and a person who can talk numbers."""
    e = t.ents
    if e.offer is None and re.search(r"\bbinding\b|\bin writing\b|\bguarantee|\bpromise|\bdeal\?", t.parse.norm):
        t.out.say("binding_question", 0)
        t.out.say("binding_next", 1)
        t.out.offer("Book a test drive", "Talk to a person")
        return
    t.out.say("binding_no", 0)
    v = await _focus_vehicle(t)
    if v is not None and v.price is not None:
        t.out.say("binding_real_price", 0, title=v.title(), price=t.out.money(v.price))
    serious = e.offer is None or (v is not None and v.price is not None and e.offer >= 0.5 * float(v.price))
    if serious and not re.search(r"legally binding|binding|takesies|backsies", t.parse.norm):
        await handle_handoff(t, "hot_lead", "normal", "handoff_pricing")
    else:
        t.out.say("binding_next", 1)
        t.out.offer("Book a test drive", "Talk to a person")


async def handle_other_customer(t: Turn) -> None:
    t.out.say("other_customer", 0)
    t.out.offer("Browse inventory", "My appointments")


async def handle_off_topic(t: Turn) -> None:
    t.out.say("off_topic", 0, name=t.deps.dealer.name)
    t.out.offer("Browse inventory", "Book service", "Hours")


async def handle_injection(t: Turn) -> None:
    t.out.say("injection", 0, name=t.deps.dealer.name)
    t.out.offer("Browse inventory", "Book a test drive", "Hours")


def vehicle_title(t: Turn) -> str | None:
    focus = t.dialogue.get("focus")
    return focus.get("title") if focus else None


async def reload_focus(t: Turn) -> Any | None:
    focus = t.dialogue.get("focus")
    if not focus:
        return None
    try:
        return await vehicle_details(t.deps, focus["vin"])
    except ToolError:
        return None
