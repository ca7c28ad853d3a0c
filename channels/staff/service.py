"""What the staff API and the console share: stores, and the API shapes (DESIGN.md) built from them.

Times leave here as ISO 8601 in the dealer's timezone, with its offset.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import phonenumbers

from channels.staff.audit import AuditLog
from channels.staff.auth import StaffAuth, StaffStore
from channels.staff.delivery import StaffDelivery
from channels.staff.handoffs import StaffHandoffs
from channels.staff.routing import on_shift
from channels.staff.search import CustomerSearch
from channels.staff.sla import due_at
from memory.consent import ConsentLedger
from memory.customers import Customer, CustomerStore, UnknownCustomer
from memory.timeline import Timeline, TimelineEvent
from tools.context import ToolDeps
from tools.dates import clock_label, day_label
from tools.dealer import DealerConfig
from tools.handoff import PRIORITY_RANK, Handoff, HandoffStore


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def format_phone(e164: str) -> str:
    """'+18135550199' -> '(813) 555-0199' (national format for the dealer's country, E.164 otherwise)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code == 1:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def display_name(c: Customer) -> str:
    """How staff see a customer in lists: the name, else a phone, else an email."""
    if c.name:
        return c.name
    if c.phones:
        return format_phone(c.phones[0])
    return c.emails[0] if c.emails else c.id


class StaffService:
    def __init__(
        self,
        *,
        redis: Any,
        keys: Any,
        dealer: DealerConfig,
        admin_token: str | None,
        sender: Any,
        clock: Any = _utcnow,
        agent: Any = None,
        services: Any = None,
        session_ttl_s: int | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.dealer = dealer
        self.clock = clock
        self.agent = agent
        self.services = services
        self.customers = CustomerStore(redis, keys, clock)
        self.timeline = Timeline(redis, keys)
        self.ledger = ConsentLedger(redis, keys)
        self.handoffs = HandoffStore(redis, keys)
        self.writer = StaffHandoffs(self.handoffs)
        store_kw = {"session_ttl_s": session_ttl_s} if session_ttl_s else {}
        self.staff = StaffStore(redis, keys, clock=clock, **store_kw)
        self.auth = StaffAuth(self.staff, admin_token)
        self.audit = AuditLog(redis, keys, clock=clock)
        self.delivery = StaffDelivery(redis, keys, dealer, sender=sender, clock=clock)
        self.search = CustomerSearch(redis, keys, self.customers)
        self.sender = sender

    @property
    def tz(self) -> Any:
        return self.dealer.tz

    def iso(self, value: dt.datetime | None) -> str | None:
        return value.astimezone(self.tz).isoformat() if value else None

    def when_label(self, value: dt.datetime, now: dt.datetime) -> str:
        """'12:21 PM' today, 'Wed Nov 25, 10:00 AM' another day (the dealership's local time)."""
        local, today = value.astimezone(self.tz), now.astimezone(self.tz).date()
        return clock_label(local) if local.date() == today else f"{day_label(local.date())}, {clock_label(local)}"

    def deps(self, customer_id: str | None = None) -> ToolDeps:
        """Tool dependencies for a staff action (booking tools treat channel "staff" as staff)."""
        return ToolDeps(
            dealer=self.dealer,
            redis=self.redis,
            keys=self.keys,
            customer_id=customer_id,
            channel="staff",
            clock=self.clock,
        )

    # --- customers ---------------------------------------------------------------------------------
    async def primary(self, customer_id: str) -> Customer | None:
        try:
            return await self.customers.primary_of(customer_id)
        except UnknownCustomer:
            return None

    async def consent(self, customer: Customer) -> dict[str, Any]:
        return (await self.ledger.state(await self.customers.sources(customer.id))).to_dict()

    def customer_api(self, c: Customer, consent: dict[str, Any] | None) -> dict[str, Any]:
        data = c.to_api(consent)
        for name in ("created_at", "updated_at"):
            data[name] = self.iso(getattr(c, name))
        for item, interest in zip(data.get("interests", []), c.interests, strict=False):
            item["at"] = self.iso(interest.at)
        for item, note in zip(data.get("notes", []), c.notes, strict=False):
            item["at"] = self.iso(note.at)
        data["lead_score"] = c.lead_score
        return data

    def event_api(self, ev: TimelineEvent) -> dict[str, Any]:
        out = ev.to_api()
        out["at"] = self.iso(ev.at)
        return out

    # --- handoffs ----------------------------------------------------------------------------------
    async def handoff_views(self, items: list[Handoff]) -> list[dict[str, Any]]:
        now = self.clock()
        routes = await self.writer.suggestions([h.id for h in items])
        for h in items:
            if h.status == "open" and h.id not in routes:
                found = await self.writer.ensure_routed(h, self.dealer, now)
                if found:
                    routes[h.id] = found
        names: dict[str, Customer | None] = {}
        out = []
        for h in items:
            if h.customer_id not in names:
                names[h.customer_id] = await self.primary(h.customer_id)
            c = names[h.customer_id]
            data = h.to_api()
            for name in ("opened_at", "claimed_at", "closed_at", "escalated_at"):
                data[name] = self.iso(getattr(h, name))
            due = due_at(h, self.dealer)
            data.update(
                customer={
                    "id": c.id,
                    "name": c.name,
                    "phones": c.phones,
                    "emails": c.emails,
                    "stage": c.stage,
                    "display": display_name(c),
                }
                if c
                else {
                    "id": h.customer_id,
                    "name": None,
                    "phones": [],
                    "emails": [],
                    "stage": None,
                    "display": h.customer_id,
                },
                customer_id=c.id if c else h.customer_id,
                due_at=self.iso(due),
                due_label=self.when_label(due, now),
                overdue=h.status == "open" and now >= due,
                waiting_s=int(((h.closed_at or now) - h.opened_at).total_seconds()),
                priority_rank=PRIORITY_RANK[h.priority],
                route=routes.get(h.id),
                suggested_assignee=(routes.get(h.id) or {}).get("assignee"),
                suggested_name=self.staff_name((routes.get(h.id) or {}).get("assignee")),
                assignee_name=self.staff_name(h.assignee),
            )
            out.append(data)
        return out

    async def handoff_view(self, h: Handoff) -> dict[str, Any]:
        return (await self.handoff_views([h]))[0]

    async def queue(self, status: str | None = None, limit: int = 200) -> list[Handoff]:
        """Active handoffs (open and claimed) by priority, then longest waiting — or one status."""
        if status:
            return await self.handoffs.list(status, limit=limit)  # type: ignore[arg-type]
        items = await self.handoffs.list("open", limit=limit) + await self.handoffs.list("claimed", limit=limit)
        return sorted(items, key=lambda h: (PRIORITY_RANK[h.priority], h.opened_at))[:limit]

    # --- staff directory ---------------------------------------------------------------------------
    async def directory(self) -> list[dict[str, Any]]:
        """Config staff (shifts, teams) joined with login accounts; who is on shift now; load."""
        now = self.clock()
        accounts = {a.id: a for a in await self.staff.list()}
        load = await self.writer.load()
        out = []
        for m in self.dealer.staff:
            a = accounts.pop(m.id, None)
            out.append(
                {
                    "id": m.id,
                    "name": m.name,
                    "team": m.team,
                    "role": a.role if a else m.role,
                    "on_shift": on_shift(m, now, self.dealer),
                    "has_login": a is not None,
                    "load": load.get(m.id, 0),
                }
            )
        for a in accounts.values():
            out.append(
                {
                    "id": a.id,
                    "name": a.name,
                    "team": a.team,
                    "role": a.role,
                    "on_shift": None,
                    "has_login": True,
                    "load": load.get(a.id, 0),
                }
            )
        return out

    def staff_name(self, staff_id: str | None) -> str | None:
        if not staff_id:
            return None
        for m in self.dealer.staff:
            if m.id == staff_id:
                return m.name
        return staff_id
