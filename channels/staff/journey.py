"""One customer's whole journey for the console: timeline events (chat, SMS, calls, leads, staff
actions, merges), consent ledger entries and appointment records, merged in time order."""

from __future__ import annotations

import datetime as dt
from typing import Any

from memory.timeline import TimelineEvent
from tools.dates import clock_label

CHANNEL_LABELS = {
    "chat": "Chat",
    "sms": "SMS",
    "voice": "Call",
    "email": "Email",
    "lead": "Lead",
    "staff": "Staff",
    "system": "System",
    "consent": "Consent",
    "appointment": "Appointment",
}
JOURNEY_LIMIT = 300


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel.replace("_", " ").title())


def actor_label(actor: str, customer_name: str | None, staff_names: dict[str, str]) -> str:
    if actor == "customer":
        return customer_name or "Customer"
    if actor == "ai":
        return "AI assistant"
    if actor.startswith("staff:"):
        sid = actor.split(":", 1)[1]
        return staff_names.get(sid, sid)
    return actor.replace("_", " ").title()


def _when(at: dt.datetime, tz: Any) -> str:
    local = at.astimezone(tz)
    return f"{local:%a %b} {local.day}, {clock_label(local)}"


def _event_details(ev: TimelineEvent) -> list[str]:
    m = ev.meta or {}
    out: list[str] = []
    delivery = m.get("delivery") or {}
    if delivery.get("status"):
        bit = f"{delivery['status']}"
        if delivery.get("sender"):
            bit += f" via {delivery['sender']}"
        if delivery.get("reason"):
            bit += f" ({delivery['reason']})"
        out.append(bit)
    if ev.kind == "handoff" and m.get("summary"):
        out.append(str(m["summary"]))
    if ev.kind == "call":
        if m.get("duration_s") is not None:
            out.append(f"{m['duration_s']} s")
        if m.get("call_sid"):
            out.append(str(m["call_sid"]))
    if ev.kind == "lead":
        for key in ("provider", "vehicle", "lead_id"):
            if m.get(key):
                out.append(f"{key.replace('_', ' ')}: {m[key]}")
    if m.get("media"):
        out.append(f"{len(m['media'])} attachment(s)")
    return out


def event_item(ev: TimelineEvent, tz: Any, customer_name: str | None, staff_names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": ev.id,
        "at": ev.at.astimezone(tz).isoformat(),
        "when": _when(ev.at, tz),
        "channel": ev.channel,
        "channel_label": "Call" if ev.kind == "call" else channel_label(ev.channel),
        "kind": ev.kind,
        "direction": ev.direction,
        "actor": ev.actor,
        "actor_label": actor_label(ev.actor, customer_name, staff_names),
        "text": ev.text,
        "details": _event_details(ev),
    }


def consent_item(entry: Any, tz: Any, staff_names: dict[str, str]) -> dict[str, Any]:
    verb = "opted in to" if entry.action == "opt_in" else "opted out of"
    scope = f" ({entry.scope})" if entry.scope else ""
    text = f"{verb} {entry.channel} {entry.purpose}{scope}"
    details = [f"source: {entry.source.replace('_', ' ')}"]
    if entry.evidence.get("text"):
        details.append(f'"{str(entry.evidence["text"])[:200]}"')
    if entry.written:
        details.append("written consent")
    return {
        "id": f"consent-{entry.id}",
        "at": entry.at.astimezone(tz).isoformat(),
        "when": _when(entry.at, tz),
        "channel": "consent",
        "channel_label": "Consent",
        "kind": "consent",
        "direction": "internal",
        "actor": entry.actor,
        "actor_label": actor_label(entry.actor, None, staff_names),
        "text": text[0].upper() + text[1:],
        "details": details,
    }


def appointment_items(appt: Any, tz: Any, skip: set[tuple[str, str]]) -> list[dict[str, Any]]:
    items = []
    what = f"{appt.department} {appt.kind.replace('_', ' ')}"
    vin = [f"VIN {appt.vin}"] if appt.vin else []
    if (appt.id, "booked") not in skip:
        items.append((appt.created_at, "booked", f"Booked {what} for {appt.label()}", vin))
    for h in appt.history:
        if (appt.id, h.action) in skip:
            continue
        if h.action == "rescheduled":
            text = f"Moved {what} to {appt.label()}" if h is appt.history[-1] else f"Moved {what}"
        else:
            text = f"{what.capitalize()} {h.action.replace('_', ' ')}"
        items.append((h.at, h.action, text, [f"by {h.by}"] if h.by else []))
    return [
        {
            "id": f"appt-{appt.id}-{i}",
            "at": at.astimezone(tz).isoformat(),
            "when": _when(at, tz),
            "channel": "appointment",
            "channel_label": "Appointment",
            "kind": "appointment",
            "direction": "internal",
            "actor": "system",
            "actor_label": "Calendar",
            "text": text,
            "details": details,
        }
        for i, (at, _action, text, details) in enumerate(items)
    ]


def merge_reversal_item(merge: Any, tz: Any) -> dict[str, Any]:
    return {
        "id": f"unmerge-{merge.id}",
        "at": merge.reversed_at.astimezone(tz).isoformat(),
        "when": _when(merge.reversed_at, tz),
        "channel": "system",
        "channel_label": "System",
        "kind": "merge",
        "direction": "internal",
        "actor": merge.reversed_by or "system",
        "actor_label": merge.reversed_by or "System",
        "text": f"Merge of {merge.secondary} into {merge.primary} reversed",
        "details": [merge.reason],
    }


async def build_journey(svc: Any, customer: Any) -> list[dict[str, Any]]:
    """Everything that happened with this customer, oldest first."""
    from tools import booking

    tz = svc.tz
    ids = await svc.customers.sources(customer.id)
    staff_names = {m.id: m.name for m in svc.dealer.staff}
    staff_names.update({a.id: a.name for a in await svc.staff.list()})
    events = await svc.timeline.read(ids, limit=JOURNEY_LIMIT, newest=True)
    items = [(e.at, event_item(e, tz, customer.name, staff_names)) for e in events]
    skip = {
        (str(e.meta.get("appointment_id")), str(e.meta.get("action")))
        for e in events
        if e.kind == "appointment" and e.meta.get("appointment_id")
    }
    for entry in await svc.ledger.entries(ids):
        items.append((entry.at, consent_item(entry, tz, staff_names)))
    deps = svc.deps()
    for cid in ids:
        for appt in await booking.list_for_customer(deps, cid, include_past=True):
            for item in appointment_items(appt, tz, skip):
                items.append((dt.datetime.fromisoformat(item["at"]), item))
    for merge in await svc.customers.merges_of(customer.id):
        if merge.status == "reversed" and merge.reversed_at:
            items.append((merge.reversed_at, merge_reversal_item(merge, tz)))
    items.sort(key=lambda pair: (pair[0], pair[1]["id"]))
    return [item for _, item in items]
