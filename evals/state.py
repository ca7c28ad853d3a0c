"""The end state of the stores after a run: what scoring looks at (never the brain's words alone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memory.consent import ConsentEntry, ConsentLedger, ConsentState
from memory.customers import Customer, CustomerStore
from memory.timeline import Timeline, TimelineEvent
from tools import booking
from tools.booking import Appointment
from tools.context import ToolDeps
from tools.handoff import Handoff, HandoffStore
from tools.inventory import InventoryStore, Vehicle


@dataclass
class EndState:
    customer: Customer | None
    sources: list[str] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    consent: ConsentState = field(default_factory=ConsentState)
    consent_entries: list[ConsentEntry] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)  # of every record the conversation touched
    ledgers: dict[str, list[ConsentEntry]] = field(default_factory=dict)  # record id -> its journey's entries
    others: list[Customer] = field(default_factory=list)
    vehicles: dict[str, Vehicle] = field(default_factory=dict)  # VIN -> unit, for the VINs involved

    def summary(self) -> dict[str, Any]:
        """A compact, JSON-friendly view for results and the report."""
        c = self.customer
        return {
            "customer": None
            if c is None
            else {
                "id": c.id,
                "name": c.name,
                "phones": c.phones,
                "emails": c.emails,
                "stage": c.stage,
                "budget": c.budget,
                "trade_in": c.trade_in,
                "interests": [i.model_dump(mode="json", exclude={"origin", "at"}) for i in c.interests],
                "merged_from": c.merged_from,
            },
            "appointments": [a.to_api() for a in self.appointments],
            "consent": {
                ch: {p: self.consent.status(ch, p) for p in ("marketing", "transactional")}  # type: ignore[arg-type]
                for ch in ("sms", "voice", "email")
            },
            "handoffs": [
                {
                    "id": h.id,
                    "status": h.status,
                    "reason": h.reason,
                    "priority": h.priority,
                    "team": h.team,
                    "summary": h.summary,
                }
                for h in self.handoffs
            ],
            "outbound_messages": sum(1 for e in self.timeline if e.direction == "outbound" and e.kind == "message"),
        }


async def snapshot(
    redis: Any,
    keys: Any,
    dealer: Any,
    customer_id: str | None,
    other_ids: list[str],
    clock: Any,
    involved: list[str] | None = None,
) -> EndState:
    """The state of `customer_id` (the conversation's customer), plus the timeline and consent of
    every record in `involved` (a conversation may have touched several before they merged)."""
    customers = CustomerStore(redis, keys)
    if customer_id is None:
        return EndState(customer=None, others=[await customers.primary_of(o) for o in other_ids])
    customer = await customers.primary_of(customer_id)
    sources = await customers.sources(customer.id)
    staff = ToolDeps(dealer=dealer, redis=redis, keys=keys, customer_id=None, channel="staff", clock=clock)
    appts: list[Appointment] = []
    for cid in sources:
        appts += await booking.list_for_customer(staff, cid, include_past=True)
    ledger = ConsentLedger(redis, keys)
    entries = await ledger.entries(sources)
    state = await ledger.state(sources)
    handoffs = [h for h in await HandoffStore(redis, keys).list(limit=10_000) if h.customer_id in sources]
    timeline_store = Timeline(redis, keys)
    ledgers: dict[str, list[ConsentEntry]] = {}
    events: dict[str, TimelineEvent] = {}
    primaries = dict.fromkeys([customer.id, *[(await customers.primary_of(i)).id for i in involved or []]])
    for pid in primaries:
        journey = await customers.sources(pid)
        journey_entries = entries if pid == customer.id else await ledger.entries(journey)
        for cid in journey:
            ledgers[cid] = journey_entries
        for e in await timeline_store.read(journey):
            events[e.id] = e
    timeline = sorted(events.values(), key=lambda e: (e.at, e.id))
    others = [await customers.primary_of(o) for o in other_ids]
    vins = {a.vin for a in appts if a.vin} | {i.vin for i in customer.interests if i.vin}
    inventory = InventoryStore(redis, keys)
    vehicles = {vin: v for vin, v in (await inventory.get_many(sorted(vins))).items()} if vins else {}
    return EndState(
        customer=customer,
        sources=sources,
        appointments=sorted(appts, key=lambda a: a.starts_at),
        consent=state,
        consent_entries=entries,
        handoffs=handoffs,
        timeline=timeline,
        ledgers=ledgers,
        others=[o for o in others if o.id not in sources],
        vehicles=vehicles,
    )
