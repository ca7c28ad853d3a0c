"""Prior state a scenario starts from: who the customer is, what they said before, what they
consented to, notes staff left, appointments already booked — written through the stores' own APIs,
exactly as the product would have written them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from evals.env import RunStores
from evals.scenario import CustomerSeed, When, parse_duration
from memory.consent import ConsentEntry, ConsentLedger
from memory.customers import CustomerStore, Interest
from memory.timeline import Timeline, TimelineEvent
from memory.vectors import CustomerMemory
from tools import booking
from tools.context import ToolDeps
from tools.handoff import HandoffStore
from tools.inventory import InventoryStore


def localize(value: dt.datetime, tz: Any) -> dt.datetime:
    """A scenario time: dealer-local wall clock when naive."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def when(spec: When, now: dt.datetime, tz: Any, default_ago: dt.timedelta) -> dt.datetime:
    if spec.at is not None:
        return localize(spec.at, tz)
    return now - (parse_duration(spec.ago) if spec.ago is not None else default_ago)


@dataclass
class Seeded:
    customer_id: str
    handoff_ids: list[str] = field(default_factory=list)
    appointment_ids: list[str] = field(default_factory=list)


async def seed_customer(run: RunStores, redis: Any, seed: CustomerSeed, *, memory: CustomerMemory | None) -> Seeded:
    """Create the record (resolved by its identifiers) and everything the seed says about it."""
    tz = run.dealer.tz
    now = run.clock.now
    moment = [now]
    store = CustomerStore(redis, run.keys, clock=lambda: moment[0])
    moment[0] = now - dt.timedelta(days=30)  # the record predates what is seeded on it
    result = await store.resolve(phone=seed.phone, email=seed.email, visitor_id=seed.visitor_id, name=seed.name)
    assert result is not None
    cid = result.customer.id
    run.customers.add(cid)
    seeded = Seeded(cid)

    fields = {k: getattr(seed, k) for k in ("state", "timezone", "stage", "budget", "trade_in") if getattr(seed, k)}
    if fields:
        await store.update(cid, **fields)
    inventory = InventoryStore(redis, run.keys)
    for interest in seed.interests:
        vehicle = (
            await inventory.find(interest.vin or interest.stock_number or "")
            if (interest.vin or interest.stock_number)
            else None
        )
        await store.add_interest(
            cid,
            Interest(
                description=interest.description or (vehicle.title() if vehicle else "vehicle"),
                vin=interest.vin or (vehicle.vin if vehicle else None),
                stock_number=interest.stock_number or (vehicle.stock_number if vehicle else None),
            ),
        )
    for note in seed.notes:
        moment[0] = when(note, now, tz, dt.timedelta(days=2))
        await store.add_note(cid, note.text, author=note.author)

    ledger = ConsentLedger(redis, run.keys)
    for c in seed.consent:
        await ledger.append(
            cid,
            ConsentEntry(
                channel=c.channel,
                purpose=c.purpose,
                action=c.action,
                source=c.source,
                evidence=c.evidence,
                actor="customer" if c.source not in {"staff", "import", "carrier_error"} else "system",
                at=when(c, now, tz, dt.timedelta(days=7)),
                scope=c.scope,
                written=c.written,
            ),
        )

    timeline = Timeline(redis, run.keys)
    for i, h in enumerate(seed.history):
        at = when(h, now, tz, dt.timedelta(days=1)) + dt.timedelta(milliseconds=i)
        actor = h.actor or ("customer" if h.direction == "inbound" else "ai")
        event = await timeline.append(
            cid,
            TimelineEvent(at=at, channel=h.channel, direction=h.direction, kind="message", text=h.text, actor=actor),
        )
        if memory is not None and h.direction == "inbound":
            await memory.remember(cid, h.text, channel=h.channel, at=at, kind="customer", event_id=event.id)

    staff = ToolDeps(
        dealer=run.dealer, redis=redis, keys=run.keys, customer_id=cid, channel="staff", clock=lambda: run.clock.now
    )
    for a in seed.appointments:
        vin = a.vin
        if vin is None and a.stock_number:
            vehicle = await inventory.find(a.stock_number)
            vin = vehicle.vin if vehicle else None
        appt = await booking.book(
            staff,
            department=a.department,
            kind=a.kind,
            starts_at=localize(a.starts_at, tz),
            vin=vin,
            notes=a.notes,
        )
        seeded.appointment_ids.append(appt.id)

    if seed.handoff is not None:
        handoffs = HandoffStore(redis, run.keys)
        h_at = now - dt.timedelta(hours=1)
        handoff, _ = await handoffs.open(
            cid,
            reason=seed.handoff.reason,
            priority=seed.handoff.priority,
            channel=seed.channel,
            summary=seed.handoff.summary,
            at=h_at,
        )
        if seed.handoff.status == "claimed":
            await handoffs.transition(handoff.id, "claimed", at=h_at, actor=seed.handoff.assignee)
        seeded.handoff_ids.append(handoff.id)
    return seeded
