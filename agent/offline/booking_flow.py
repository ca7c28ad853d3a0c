"""Appointments: offer real open slots for the customer's words, confirm, then book; move and cancel
the customer's own appointments the same way (nothing is written without a "yes").

The pending question lives in `dialogue["pending"]`:
- `{"type": "choose_slot", "ctx": …, "offered": [{"iso", "label"}]}` — real slots offered, pick one;
- `{"type": "confirm", "ctx": …, "iso", "label", "offered"}` — "Want me to book …?";
- `{"type": "ask_time", "ctx": …}` — we need a day/time;
- `{"type": "confirm_cancel", "appointment_id", "label", "what"}`, `{"type": "which_appointment", …}`.
`ctx` = {"action": "book"|"reschedule", "department", "kind", "vin", "title", "notes",
"appointment_id", "current"}.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from agent.offline.info_flow import with_holiday_dates
from agent.offline.state import Turn
from tools.booking import (
    Appointment,
    Slot,
    SlotUnavailable,
    available_slots,
    book,
    cancel,
    list_for_customer,
    nearest_slots,
    reschedule,
)
from tools.context import ToolError
from tools.dates import clock_label, day_label, dealer_hours, parse_when

KIND_LABELS = {
    "test_drive": "test drive",
    "sales_consultation": "visit with a sales consultant",
    "trade_appraisal": "trade-in appraisal",
    "oil_change": "oil change",
    "tire_rotation": "tire rotation",
    "brake_inspection": "brake inspection",
    "state_inspection": "inspection",
    "recall": "recall repair",
    "diagnostic": "diagnostic visit",
    "maintenance": "maintenance visit",
    "battery": "battery check",
    "alignment": "wheel alignment",
}
OFFER_COUNT = {"chat": 4, "sms": 3, "voice": 2}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " "))


def what(ctx: dict[str, Any]) -> str:
    label = kind_label(ctx["kind"])
    if ctx["kind"] == "test_drive" and ctx.get("title"):
        return f"a test drive of the {ctx['title']}"
    article = "an" if label[0] in "aeiou" else "a"
    return f"{article} {label}"


def remember_appointment(t: Turn, appt: Appointment) -> None:
    """What an appointment tool returned is a fact of this turn (the reply may state its time)."""
    t.deps.facts.appointments.add(appt.id)
    t.deps.facts.slots.add(appt.local_start().isoformat())


def _label(t: Turn, when: dt.datetime) -> str:
    local = when.astimezone(t.deps.dealer.tz)
    return f"{day_label(local.date())}, {clock_label(local)}"


def _slot_dict(t: Turn, s: Slot) -> dict[str, str]:
    return {"iso": s.iso, "label": s.label(t.deps.dealer.tz)}


# --- starting a booking --------------------------------------------------------------------------


def sales_context(t: Turn, kind: str | None = None) -> dict[str, Any]:
    focus = t.dialogue.get("focus") or {}
    if not focus and len(t.dialogue.get("results") or []) == 1:
        focus = t.dialogue["results"][0]
    if not focus:
        for interest in reversed(t.inp.customer.interests):
            if interest.vin:
                focus = {"vin": interest.vin, "title": interest.description}
                break
    if kind is None:
        kind = "test_drive" if focus or re.search(r"test ?driv|drive it|spin", t.parse.norm) else "sales_consultation"
        if re.search(r"apprais|trade", t.parse.norm):
            kind = "trade_appraisal"
    sales = t.deps.dealer.departments.get("sales")
    kinds = (sales.appointments.kinds if sales and sales.appointments else []) or [kind]
    if kind not in kinds:
        kind = kinds[0]
    return {
        "action": "book",
        "department": "sales",
        "kind": kind,
        "vin": focus.get("vin") if kind == "test_drive" else None,
        "title": focus.get("title") if kind == "test_drive" else None,
    }


def service_context(t: Turn, kind: str | None) -> dict[str, Any]:
    t.dialogue["flow"] = "service"
    return {"action": "book", "department": "service", "kind": kind, "notes": t.parse.raw[:300]}


async def start(t: Turn, ctx: dict[str, Any]) -> None:
    """Offer times for `ctx`: the customer's window when they gave one, else the next openings."""
    if ctx["department"] == "service" and not ctx.get("kind"):
        t.set_pending("ask_service", ctx=ctx, when=t.parse.raw if t.ents.has_time else None)
        t.out.say("ask_service_kind", 0)
        t.out.offer("Oil change", "Brakes", "Check engine light", "Tire rotation")
        return
    if t.ents.has_time or _clock(t.parse.norm):
        await offer_window(t, ctx, t.parse.raw)
    else:
        await offer_earliest(t, ctx)


def _rules(t: Turn, dept: str) -> Any:
    return t.deps.dealer.department(dept).appointments


async def offer_earliest(t: Turn, ctx: dict[str, Any], lead: str = "slots_earliest") -> None:
    try:
        slots = await available_slots(t.deps, ctx["department"], limit=OFFER_COUNT.get(t.channel, 3), kind=ctx["kind"])
    except ToolError:
        t.out.say("booking_unavailable", 0)
        return
    if not slots:
        t.out.say("slots_none_at_all", 0)
        return
    offer_list(t, ctx, slots, lead)


async def offer_window(t: Turn, ctx: dict[str, Any], text: str, day_hint: dt.date | None = None) -> None:
    """Read a time from `text` and offer real slots in it (the exact one when it is open)."""
    dept = ctx["department"]
    dealer = t.deps.dealer
    rules = _rules(t, dept)
    text = with_holiday_dates(t, text)
    target = _clock_on_day(t, dept, text, day_hint) if day_hint else None
    when = None
    if target is None:
        when = parse_when(
            text, t.deps.now(), dealer.tz, hours=dealer_hours(dealer, dept),
            slot_minutes=rules.slot_minutes, horizon_days=rules.horizon_days,
        )  # fmt: skip
        if when is None:
            hint = _first_offered_day(t)
            target = _clock_on_day(t, dept, text, hint) if hint else None
        elif when.exact:
            target = when.start
    if target is not None:
        await offer_exact(t, ctx, target)
        return
    try:
        if when is None:
            t.set_pending("ask_time", ctx=ctx)
            t.out.say("ask_time", 0, what=what(ctx))
            return
        count = OFFER_COUNT.get(t.channel, 3)
        slots = await available_slots(
            t.deps, dept, start=when.start, end=when.end, limit=count, kind=ctx["kind"],
            daily=when.daily, spread=False if when.earliest else True, per_day=count if _one_day(t, when) else 2,
        )  # fmt: skip
    except ToolError:
        t.out.say("booking_unavailable", 0)
        return
    asked = next((s for s in slots if when.preferred is not None and s.starts_at == when.preferred), None)
    if len(slots) == 1:
        propose(t, ctx, slots[0])
    elif asked is not None:  # "around 5" and 5:00 is open: that is the one to confirm
        propose(t, ctx, asked, [_slot_dict(t, s) for s in slots])
    elif slots:
        offer_list(t, ctx, slots, "slots_in_window", window=when.description)
    else:
        near = await nearest_slots(t.deps, dept, when.start, limit=OFFER_COUNT.get(t.channel, 3))
        if near:
            holiday = t.deps.dealer.holiday_on(when.start.astimezone(t.deps.dealer.tz).date(), dept)
            why = " " + t.out.t("why_holiday", holiday=holiday.name) if holiday else ""
            offer_list(t, ctx, near, "slots_window_empty", window=when.description, why=why)
        else:
            t.out.say("slots_none_at_all", 0)


async def offer_exact(
    t: Turn, ctx: dict[str, Any], target: dt.datetime, offered: list[dict[str, str]] | None = None
) -> None:
    """Propose `target` when it is really open now, else the nearest real openings."""
    dept = ctx["department"]
    try:
        slots = await available_slots(
            t.deps, dept, start=target, end=target + dt.timedelta(minutes=1), limit=1, kind=ctx["kind"]
        )
        if slots and slots[0].starts_at == target:
            propose(t, ctx, slots[0], offered)
            return
        near = await nearest_slots(t.deps, dept, target, limit=OFFER_COUNT.get(t.channel, 3))
    except ToolError:
        t.out.say("booking_unavailable", 0)
        return
    if near:
        offer_list(t, ctx, near, "slots_exact_taken", asked=_label(t, target), why=_why_not(t, dept, target))
    else:
        t.out.say("slots_none_at_all", 0)


def _one_day(t: Turn, when: Any) -> bool:
    tz = t.deps.dealer.tz
    return when.start.astimezone(tz).date() == (when.end - dt.timedelta(seconds=1)).astimezone(tz).date()


_DAY_WORDS = re.compile(
    r"\b(?:today|tomorrow|tonight|weekend|week|mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|"
    r"nov|dec)[a-z]*\b|\d{1,2}/\d{1,2}|\b\d{1,2}(?:st|nd|rd|th)\b|\basap\b|\bearliest\b|\bsoonest\b"
)


def names_day(text: str) -> bool:
    return bool(_DAY_WORDS.search(text.lower()))


def _why_not(t: Turn, dept: str, when: dt.datetime) -> str:
    dealer = t.deps.dealer
    local = when.astimezone(dealer.tz)
    holiday = dealer.holiday_on(local.date(), dept)
    if holiday:
        return " " + t.out.t("why_holiday", holiday=holiday.name)
    if not dealer.is_open(dept, when):
        return " " + t.out.t("why_closed")
    return " " + t.out.t("why_taken")


def offer_list(t: Turn, ctx: dict[str, Any], slots: list[Slot], lead: str, **values: Any) -> None:
    offered = [_slot_dict(t, s) for s in slots]
    t.set_pending("choose_slot", ctx=ctx, offered=offered)
    intro = t.out.t(lead, what=what(ctx), **values)
    if t.channel == "voice":
        t.out.add(f"{intro} {_slot_list(t, offered)}", 0)
    else:
        t.out.add(intro, 0)
        t.out.add(_slot_list(t, offered), 0)
    t.out.say("slots_pick", 1)
    if t.channel == "chat":
        t.out.offer(*[o["label"] for o in offered])


def _slot_list(t: Turn, offered: list[dict[str, str]]) -> str:
    if t.channel in {"chat", "email"}:
        return "\n".join(f"{i + 1}. {o['label']}" for i, o in enumerate(offered))
    if t.channel == "sms":
        return "; ".join(f"{i + 1}) {o['label']}" for i, o in enumerate(offered))
    # voice: "Thursday at 9:00 AM or 10:30 AM, or Friday at 2:00 PM"
    by_day: dict[str, list[str]] = {}
    for o in offered:
        when = dt.datetime.fromisoformat(o["iso"]).astimezone(t.deps.dealer.tz)
        by_day.setdefault(f"{when:%A}", []).append(clock_label(when))
    phrases = [f"{day} at {' or '.join(times)}" for day, times in by_day.items()]
    return "I have " + ", or ".join(phrases) + "."


def propose(t: Turn, ctx: dict[str, Any], slot: Slot, offered: list[dict[str, str]] | None = None) -> None:
    d = _slot_dict(t, slot)
    keep = offered or (t.pending or {}).get("offered") or [d]
    t.set_pending("confirm", ctx=ctx, iso=d["iso"], label=d["label"], offered=keep)
    if ctx["action"] == "reschedule":
        t.out.say(
            "confirm_reschedule", 0, what=kind_label(ctx["kind"]), current=ctx.get("current", ""), label=d["label"]
        )
    else:
        t.out.say("confirm_booking", 0, what=what(ctx), label=d["label"])
    t.out.offer("Yes, book it" if ctx["action"] == "book" else "Yes, move it", "Different time")


# --- answering a pending question -------------------------------------------------------------------

_CLOCK = re.compile(
    r"(?<![\d/:$])\b(1[0-2]|0?[1-9]|1[3-9]|2[0-3])(?::([0-5]\d))?\s?(am|pm|a\.m\.|p\.m\.)?(?![\d/:%k])"
    r"(?!\s?(?:miles|mi\b|k\b|grand|dollars|seats?|rows?|people))|\b(noon)\b"
)


def _clock(s: str) -> tuple[int, int, str | None] | None:
    m = _CLOCK.search(s)
    if not m:
        return None
    if m.group(4):
        return 12, 0, "pm"
    mer = m.group(3)
    return int(m.group(1)), int(m.group(2) or 0), (mer[0] + "m") if mer else None


def _clock_on_day(t: Turn, dept: str, text: str, day: dt.date) -> dt.datetime | None:
    """A bare time ("11", "10:30", "2pm") on a known day; am/pm from the department's hours."""
    c = _clock(text.lower())
    if c is None:
        return None
    hour, minute, mer = c
    tz = t.deps.dealer.tz
    if mer:
        hour = hour % 12 + (12 if mer == "pm" else 0)
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)
    options = [hour] if hour >= 12 else [hour, hour + 12]
    for h in options:
        when = dt.datetime.combine(day, dt.time(h % 24, minute), tzinfo=tz)
        if t.deps.dealer.is_open(dept, when):
            return when
    return dt.datetime.combine(day, dt.time(options[-1] % 24, minute), tzinfo=tz)


def _first_offered_day(t: Turn) -> dt.date | None:
    pend = t.pending or {}
    iso = pend.get("iso") or next((o["iso"] for o in pend.get("offered") or []), None)
    if not iso:
        return None
    return dt.datetime.fromisoformat(iso).astimezone(t.deps.dealer.tz).date()


def _pick_offered(t: Turn, offered: list[dict[str, str]]) -> dict[str, str] | None:
    e = t.ents
    if e.ordinal is not None:
        i = len(offered) - 1 if e.ordinal == -1 else e.ordinal - 1
        return offered[i] if 0 <= i < len(offered) else None
    c = _clock(t.parse.norm)
    if c is None:
        return None
    hour, minute, mer = c
    day_named = re.search(r"\b(mon|tue|wed|thu|fri|sat|sun)[a-z]*\b", t.parse.norm)
    for o in offered:
        when = dt.datetime.fromisoformat(o["iso"]).astimezone(t.deps.dealer.tz)
        if day_named and not f"{when:%A}".lower().startswith(day_named.group(1)):
            continue
        same_hour = when.hour == hour % 12 + (12 if mer == "pm" else 0) if mer else when.hour % 12 == hour % 12
        if same_hour and when.minute == minute:
            return o
    return None


async def handle_pending(t: Turn) -> bool:
    """Answer the slot question we asked; False when the message is about something else."""
    pend = t.pending or {}
    kind = pend.get("type")
    p = t.parse
    ctx = pend.get("ctx") or {}
    if kind == "confirm":
        if p.has("affirm") and not t.ents.has_time:
            await commit(t, pend)
            return True
        if p.has("deny") and not t.ents.has_time and _clock(p.norm) is None:
            t.set_pending("choose_slot", ctx=ctx, offered=pend.get("offered") or [])
            t.out.say("confirm_declined", 0)
            return True
    other_time = re.search(r"\b(?:different|another|other|later|earlier) (?:time|day|date)\b", p.norm)
    if kind in {"confirm", "choose_slot"} and other_time and not t.ents.has_time and _clock(p.norm) is None:
        t.set_pending("ask_time", ctx=ctx)
        t.out.say("ask_time_other", 0)
        return True
    if kind in {"confirm", "choose_slot"}:
        offered = pend.get("offered") or []
        picked = _pick_offered(t, offered)
        if picked is not None:
            await offer_exact(t, ctx, dt.datetime.fromisoformat(picked["iso"]), offered)
            return True
        if kind == "choose_slot" and p.has("affirm") and offered and not t.ents.has_time:
            await offer_exact(t, ctx, dt.datetime.fromisoformat(offered[0]["iso"]), offered)
            return True
        if kind == "choose_slot" and p.has("deny") and not t.ents.has_time:
            t.set_pending("ask_time", ctx=ctx)
            t.out.say("ask_time_other", 0)
            return True
        if names_day(p.norm) and (t.ents.has_time or _booking_words(t)):
            await offer_window(t, ctx, p.raw)
            return True
        if _clock(p.norm) and (_booking_words(t) or t.ents.has_time):
            await offer_window(t, ctx, p.raw, _first_offered_day(t))
            return True
        return False
    if kind == "ask_time":
        if t.ents.has_time or _clock(p.norm):
            await offer_window(t, ctx, p.raw)
            return True
        if p.has("affirm"):
            await offer_earliest(t, ctx)
            return True
        return False
    if kind == "ask_service":
        if t.ents.service_kind:
            ctx = {**ctx, "kind": t.ents.service_kind, "notes": p.raw[:300]}
        elif p.has("deny") or not p.raw.strip():
            return False
        elif not p.intents or p.has("affirm", "provide_info"):
            kinds = _rules(t, "service").kinds
            ctx = {
                **ctx,
                "kind": next((k for k in ("maintenance", "diagnostic") if k in kinds), kinds[0]),
                "notes": p.raw[:300],
            }
        else:
            return False
        if pend.get("when") and not t.ents.has_time:
            await offer_window(t, ctx, pend["when"])
        else:
            await start(t, ctx)
        return True
    return False


def _booking_words(t: Turn) -> bool:
    return (
        bool(
            re.search(
                r"\b(?:works?|how about|what about|instead|at|can we do|could we do|let's do|ok|"
                r"prefer|better|maybe|try)\b",
                t.parse.norm,
            )
        )
        or len(t.parse.norm.split()) <= 2
    )


async def commit(t: Turn, pend: dict[str, Any]) -> None:
    ctx = pend["ctx"]
    try:
        if ctx["action"] == "reschedule":
            appt = await reschedule(t.deps, ctx["appointment_id"], pend["iso"])
        else:
            appt = await book(
                t.deps, department=ctx["department"], kind=ctx["kind"], starts_at=pend["iso"], vin=ctx.get("vin"),
                notes=ctx.get("notes"),
                idempotency_key=f"offline:{ctx['department']}:{ctx['kind']}:{pend['iso']}",
            )  # fmt: skip
    except SlotUnavailable as exc:
        if exc.alternatives:
            offer_list(t, ctx, exc.alternatives, "slot_just_taken", label=pend["label"])
        else:
            t.set_pending("ask_time", ctx=ctx)
            t.out.say("slot_gone_no_alternatives", 0, label=pend["label"])
        return
    except ToolError as exc:
        t.set_pending(None)
        if "already has" in str(exc):
            t.out.say("booking_overlap", 0)
            t.out.offer("My appointments", "Reschedule")
        else:
            t.out.say("booking_failed", 0)
        return
    t.set_pending(None)
    remember_appointment(t, appt)
    label = appt.label()
    booked = [b for b in t.dialogue.get("booked") or [] if b["id"] != appt.id]
    booked.append(
        {
            "id": appt.id,
            "kind": appt.kind,
            "department": appt.department,
            "label": label,
            "vin": appt.vin,
            "title": ctx.get("title"),
        }
    )
    t.dialogue["booked"] = booked[-5:]
    dealer = t.deps.dealer
    if ctx["action"] == "reschedule":
        t.out.say("rescheduled", 0, what=kind_label(appt.kind), label=label)
    else:
        t.out.say("booked", 0, what=what(ctx), label=label, dealer=dealer.name, address=dealer.address.one_line())
    _ask_contact_after_booking(t)


def _ask_contact_after_booking(t: Turn) -> None:
    need_name = not t.name
    need_contact = t.channel == "chat" and not t.has_contact()
    if need_name and need_contact:
        t.out.say("ask_name_contact", 1)
        ask = "both"
    elif need_name:
        t.out.say("ask_name", 1)
        ask = "name"
    elif need_contact:
        t.out.say("ask_contact", 1, who=t.who)
        ask = "contact"
    else:
        t.out.say("booked_next", 2)
        return
    t.set_pending("ask_contact", ask=ask)


# --- the customer's own appointments ----------------------------------------------------------------


async def _mine(t: Turn) -> list[Appointment]:
    try:
        appts = await list_for_customer(t.deps)
    except ToolError:
        return []
    for a in appts:
        remember_appointment(t, a)
    return appts


def _describe_appt(a: Appointment) -> str:
    return f"{kind_label(a.kind)} on {a.label()}"


def _choose_appt(t: Turn, appts: list[Appointment]) -> Appointment | None:
    if len(appts) == 1:
        return appts[0]
    s = t.parse.norm
    if t.ents.ordinal is not None:
        i = len(appts) - 1 if t.ents.ordinal == -1 else t.ents.ordinal - 1
        return appts[i] if 0 <= i < len(appts) else None
    if re.search(r"test ?drive", s):
        hits = [a for a in appts if a.kind == "test_drive"]
    elif t.ents.service_kind or re.search(r"\bservice\b", s):
        hits = [a for a in appts if a.department == "service"]
        if t.ents.service_kind:
            hits = [a for a in hits if a.kind == t.ents.service_kind] or hits
    elif re.search(r"apprais", s):
        hits = [a for a in appts if a.kind == "trade_appraisal"]
    else:
        hits = []
    return hits[0] if len(hits) == 1 else None


async def handle_my_appointments(t: Turn) -> None:
    appts = await _mine(t)
    if not appts:
        t.out.say("no_appointments", 0)
        t.out.offer("Book a test drive", "Book service")
        return
    lines = [_describe_appt(a) for a in appts[:3]]
    t.out.say("your_appointments", 0, list="; ".join(lines), count=len(appts))
    t.out.offer("Reschedule", "Cancel")


async def handle_change(t: Turn, action: str) -> None:
    """Reschedule or cancel: find which appointment, then ask for a time or for a confirmation."""
    appts = await _mine(t)
    if not appts:
        t.out.say("no_appointments", 0)
        t.out.offer("Book a test drive", "Book service")
        return
    target = _choose_appt(t, appts)
    if target is None:
        t.set_pending(
            "which_appointment",
            action=action,
            ids=[a.id for a in appts[:4]],
            when=t.parse.raw if t.ents.has_time else None,
        )
        t.out.say("which_appointment", 0, action="move" if action == "reschedule" else "cancel")
        t.out.add(_numbered(t, [_describe_appt(a) for a in appts[:4]]), 0)
        return
    await _change(t, action, target, t.parse.raw if (t.ents.has_time or _clock(t.parse.norm)) else None)


async def _change(t: Turn, action: str, appt: Appointment, when_text: str | None) -> None:
    if action == "cancel":
        t.set_pending("confirm_cancel", appointment_id=appt.id, label=appt.label(), what=kind_label(appt.kind))
        t.out.say("confirm_cancel", 0, what=kind_label(appt.kind), label=appt.label())
        t.out.offer("Yes, cancel it", "No, keep it")
        return
    ctx = {
        "action": "reschedule",
        "department": appt.department,
        "kind": appt.kind,
        "vin": appt.vin,
        "appointment_id": appt.id,
        "current": appt.label(),
    }
    if when_text:
        await offer_window(t, ctx, when_text)
    else:
        t.set_pending("ask_time", ctx=ctx)
        t.out.say("ask_reschedule_time", 0, what=kind_label(appt.kind), current=appt.label())


def _numbered(t: Turn, items: list[str]) -> str:
    sep = "\n" if t.channel == "chat" else "; "
    return sep.join(f"{i + 1}) {x}" for i, x in enumerate(items))


async def handle_change_pending(t: Turn) -> bool:
    pend = t.pending or {}
    kind = pend.get("type")
    if kind == "confirm_cancel":
        if t.parse.has("affirm") or (re.search(r"\bcancel\b", t.parse.norm) and not t.parse.has("deny")):
            try:
                appt = await cancel(t.deps, pend["appointment_id"], reason="customer asked (offline assistant)")
            except ToolError:
                t.set_pending(None)
                t.out.say("cancel_failed", 0)
                return True
            remember_appointment(t, appt)
            t.set_pending("offer_booking", department=appt.department, kind=appt.kind, vin=appt.vin)
            t.dialogue["booked"] = [b for b in t.dialogue.get("booked") or [] if b["id"] != appt.id]
            t.out.say("cancelled", 0, what=pend["what"], label=appt.label())
            t.out.offer("Pick a new time", "No thanks")
            return True
        if t.parse.has("deny"):
            t.set_pending(None)
            t.out.say("cancel_kept", 0, what=pend["what"], label=pend["label"])
            return True
        return False
    if kind == "which_appointment":
        appts = [a for a in await _mine(t) if a.id in pend.get("ids", [])]
        target = _choose_appt(t, appts) if appts else None
        if target is None:
            return False
        await _change(t, pend["action"], target, pend.get("when") or (t.parse.raw if t.ents.has_time else None))
        return True
    return False
