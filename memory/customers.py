"""The unified customer record: one profile per person, found by any phone, email or visitor id.

Identity index: one hash per identifier kind mapping the normalised value to a customer id. When an
identifier that already belongs to customer A shows up on customer B (a web visitor gives a phone we
know), B merges into A: identifiers move to A, empty profile fields are filled from B, and B keeps
`merged_into = A`. Timelines and consent ledgers are not copied — readers take the union of
`sources(A)` — so `unmerge` restores both records exactly. Each merge is recorded with its reason.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from memory.identity import normalize
from memory.keys import Keys

IdentityKind = Literal["phone", "email", "visitor"]
IDENTITY_FIELDS: dict[str, str] = {"phone": "phones", "email": "emails", "visitor": "visitor_ids"}
STAGES = ("new", "engaged", "qualified", "appointment", "visited", "negotiating", "sold", "lost", "service")
# Profile fields a merge may fill on the surviving record when it has none.
FILLABLE = (
    "name",
    "preferred_channel",
    "timezone",
    "state",
    "source",
    "assigned_staff",
    "trade_in",
    "budget",
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Interest(BaseModel):
    description: str
    vin: str | None = None
    stock_number: str | None = None
    at: dt.datetime | None = None
    origin: str | None = None  # customer id the interest was recorded on (for unmerge)


class Note(BaseModel):
    id: str = Field(default_factory=lambda: secrets.token_hex(6))
    at: dt.datetime
    author: str  # ai | staff:<id> | system
    text: str
    origin: str | None = None


class Customer(BaseModel):
    id: str
    dealer: str
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str | None = None
    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    visitor_ids: list[str] = Field(default_factory=list)
    preferred_channel: str | None = None
    timezone: str | None = None
    state: str | None = None  # US state of residence, when known (consent rules)
    stage: str = "new"
    source: dict[str, Any] | None = None  # first touch: channel/provider, utm, gclid, landing page
    assigned_staff: str | None = None
    interests: list[Interest] = Field(default_factory=list)
    trade_in: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    objections: list[str] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    summary: str = ""
    lead_score: int = 0
    merged_into: str | None = None
    merged_from: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)

    def to_api(self, consent: dict[str, Any] | None = None) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["consent"] = consent or {}
        return data


class Merge(BaseModel):
    id: str
    primary: str
    secondary: str
    reason: str
    at: dt.datetime
    moved: list[tuple[str, str]] = Field(default_factory=list)  # (kind, value) re-pointed to primary
    filled: list[str] = Field(default_factory=list)  # profile fields filled on primary
    status: Literal["active", "reversed"] = "active"
    reversed_at: dt.datetime | None = None
    reversed_by: str | None = None


class ResolveResult(BaseModel):
    customer: Customer
    created: bool = False
    merges: list[Merge] = Field(default_factory=list)


def _outranks(a: Customer, b: Customer) -> bool:
    """Which record survives a merge: one with a phone or email beats a visitor-only record, then
    the older record wins (it has the longer history and the earlier consent evidence)."""
    a_durable, b_durable = bool(a.phones or a.emails), bool(b.phones or b.emails)
    if a_durable != b_durable:
        return a_durable
    return a.created_at <= b.created_at


class UnknownCustomer(KeyError):
    pass


class CustomerStore:
    def __init__(self, redis: Redis, keys: Keys, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock

    # --- profile -------------------------------------------------------------------------
    async def get(self, customer_id: str) -> Customer:
        raw = await self.redis.get(self.keys.profile(customer_id))
        if raw is None:
            raise UnknownCustomer(customer_id)
        return Customer.model_validate_json(raw)

    async def find(self, customer_id: str) -> Customer | None:
        try:
            return await self.get(customer_id)
        except UnknownCustomer:
            return None

    async def save(self, customer: Customer) -> Customer:
        customer.updated_at = self.clock()
        await self.redis.set(self.keys.profile(customer.id), customer.model_dump_json())
        return customer

    async def update(self, customer_id: str, **fields: Any) -> Customer:
        customer = await self.get(customer_id)
        for name, value in fields.items():
            if name not in Customer.model_fields or name in {"id", "dealer", "created_at", "merged_into"}:
                raise ValueError(f"cannot set {name!r} on a customer")
            setattr(customer, name, value)
        return await self.save(Customer.model_validate(customer.model_dump()))

    async def primary_of(self, customer_id: str) -> Customer:
        """Follow merges to the record that is live now."""
        customer = await self.get(customer_id)
        seen = {customer.id}
        while customer.merged_into and customer.merged_into not in seen:
            seen.add(customer.merged_into)
            customer = await self.get(customer.merged_into)
        return customer

    async def sources(self, customer_id: str, *, loaded: Customer | None = None) -> list[str]:
        """This record and every record merged into it (recursively): whose events are its journey.
        `loaded` is the record itself when the caller has just read it (saves a round trip)."""
        out: list[str] = []
        stack = [customer_id]
        while stack:
            cid = stack.pop()
            if cid in out:
                continue
            out.append(cid)
            c = loaded if loaded is not None and cid == loaded.id else await self.find(cid)
            if c:
                stack.extend(c.merged_from)
        return out

    async def list_ids(self, *, offset: int = 0, limit: int = 50) -> list[str]:
        return await self.redis.zrevrange(self.keys.customers(), offset, offset + limit - 1)

    # --- identity ------------------------------------------------------------------------
    async def lookup(self, kind: IdentityKind, raw: str) -> Customer | None:
        cid = await self.redis.hget(self.keys.identity_index(kind), normalize(kind, raw))
        return await self.primary_of(cid) if cid else None

    async def create(self, **fields: Any) -> Customer:
        now = self.clock()
        customer = Customer(
            id=f"c{secrets.token_hex(8)}", dealer=self.keys.dealer, created_at=now, updated_at=now, **fields
        )
        await self.redis.set(self.keys.profile(customer.id), customer.model_dump_json())
        await self.redis.zadd(self.keys.customers(), {customer.id: int(now.timestamp() * 1000)})
        return customer

    async def _create_claiming(self, kind: IdentityKind, value: str, **fields: Any) -> tuple[Customer, bool]:
        """Create a customer only if it wins the identifier: the profile is written first but is
        unreachable until the index names it, so of two racing first contacts exactly one record
        exists afterwards (the loser's draft is deleted and the winner returned)."""
        now = self.clock()
        draft = Customer(
            id=f"c{secrets.token_hex(8)}",
            dealer=self.keys.dealer,
            created_at=now,
            updated_at=now,
            **{IDENTITY_FIELDS[kind]: [value]},
            **fields,
        )
        await self.redis.set(self.keys.profile(draft.id), draft.model_dump_json())
        if await self.redis.hsetnx(self.keys.identity_index(kind), value, draft.id):
            await self.redis.zadd(self.keys.customers(), {draft.id: int(now.timestamp() * 1000)})
            return draft, True
        await self.redis.delete(self.keys.profile(draft.id))
        return await self.primary_of(await self.redis.hget(self.keys.identity_index(kind), value)), False

    async def resolve(
        self,
        *,
        phone: str | None = None,
        email: str | None = None,
        visitor_id: str | None = None,
        create: bool = True,
        name: str | None = None,
        source: dict[str, Any] | None = None,
    ) -> ResolveResult | None:
        """Find the one customer these identifiers name; create one when none does; merge records
        when they name several. Raises memory.identity.InvalidIdentity for malformed identifiers."""
        given: list[tuple[IdentityKind, str]] = []
        for kind, raw in (("phone", phone), ("email", email), ("visitor", visitor_id)):
            if raw:
                given.append((kind, normalize(kind, raw)))  # type: ignore[arg-type]
        if not given:
            raise ValueError("resolve needs a phone, an email or a visitor id")

        owners: list[Customer] = []
        all_known = True
        for kind, value in given:
            cid = await self.redis.hget(self.keys.identity_index(kind), value)
            if cid:
                owner = await self.primary_of(cid)
                if owner.id not in {o.id for o in owners}:
                    owners.append(owner)
            else:
                all_known = False
        if (
            all_known
            and len(owners) == 1
            and all(value in getattr(owners[0], IDENTITY_FIELDS[kind]) for kind, value in given)
        ):
            # The common case (a known customer writing again): every identifier already names this
            # record and is on it, so there is nothing to attach or merge.
            customer = owners[0]
            if name and not customer.name:
                customer = await self.update(customer.id, name=name)
            return ResolveResult(customer=customer)
        if not owners:
            if not create:
                return None
            customer, created = await self._create_claiming(*given[0], name=name, source=source)
        else:
            customer, created = owners[0], False
        result = ResolveResult(customer=customer, created=created)
        together = " and ".join(f"{k} {v}" for k, v in given)
        for kind, value in given:
            merge = await self.attach(customer.id, kind, value, reason=f"same person: {together} given together")
            if merge:
                result.merges.append(merge)
        result.customer = await self.primary_of(customer.id)
        if name and not result.customer.name:
            result.customer = await self.update(result.customer.id, name=name)
        if created and result.customer.id != customer.id:
            result.created = False  # lost a race: someone else created this person first
        return result

    async def attach(
        self, customer_id: str, kind: IdentityKind, raw: str, *, reason: str | None = None
    ) -> Merge | None:
        """Give a customer an identifier. If it already names another customer, merge the two —
        the record that owned the identifier first survives. Returns the merge, if any."""
        value = normalize(kind, raw)
        index = self.keys.identity_index(kind)
        if await self.redis.hsetnx(index, value, customer_id):
            customer = await self.get(customer_id)
            field = IDENTITY_FIELDS[kind]
            if value not in getattr(customer, field):
                getattr(customer, field).append(value)
                await self.save(customer)
            return None
        owner = await self.primary_of(await self.redis.hget(index, value))
        me = await self.primary_of(customer_id)
        if owner.id == me.id:
            field = IDENTITY_FIELDS[kind]
            if value not in getattr(me, field):
                getattr(me, field).append(value)
                await self.save(me)
            return None
        survivor, absorbed = (owner, me) if _outranks(owner, me) else (me, owner)
        why = reason or f"{kind} {value} given by {me.id} already belonged to {owner.id}"
        return await self.merge(survivor.id, absorbed.id, reason=why)

    # --- merge ---------------------------------------------------------------------------
    async def merge(self, primary_id: str, secondary_id: str, *, reason: str) -> Merge:
        primary = await self.primary_of(primary_id)
        secondary = await self.primary_of(secondary_id)
        if primary.id == secondary.id:
            raise ValueError("cannot merge a customer into itself")
        merge = Merge(
            id=f"m{secrets.token_hex(6)}",
            primary=primary.id,
            secondary=secondary.id,
            reason=reason,
            at=self.clock(),
        )
        for kind, field in IDENTITY_FIELDS.items():
            for value in getattr(secondary, field):
                await self.redis.hset(self.keys.identity_index(kind), value, primary.id)
                merge.moved.append((kind, value))
                if value not in getattr(primary, field):
                    getattr(primary, field).append(value)
        for field in FILLABLE:
            if getattr(primary, field) in (None, "", {}) and getattr(secondary, field) not in (None, "", {}):
                setattr(primary, field, getattr(secondary, field))
                merge.filled.append(field)
        for interest in secondary.interests:
            primary.interests.append(interest.model_copy(update={"origin": interest.origin or secondary.id}))
        for note in secondary.notes:
            primary.notes.append(note.model_copy(update={"origin": note.origin or secondary.id}))
        primary.merged_from.append(secondary.id)
        secondary.merged_into = primary.id
        await self.redis.hset(self.keys.merges(), merge.id, merge.model_dump_json())
        await self.save(secondary)
        await self.save(primary)
        return merge

    async def get_merge(self, merge_id: str) -> Merge:
        raw = await self.redis.hget(self.keys.merges(), merge_id)
        if raw is None:
            raise KeyError(merge_id)
        return Merge.model_validate_json(raw)

    async def merges_of(self, customer_id: str) -> list[Merge]:
        rows = await self.redis.hvals(self.keys.merges())
        merges = [Merge.model_validate_json(r) for r in rows]
        return sorted((m for m in merges if customer_id in (m.primary, m.secondary)), key=lambda m: m.at)

    async def unmerge(self, merge_id: str, *, by: str = "system") -> Merge:
        """Undo a merge: identifiers go back, filled fields are cleared, the secondary lives again."""
        merge = await self.get_merge(merge_id)
        if merge.status == "reversed":
            return merge
        primary = await self.get(merge.primary)
        secondary = await self.get(merge.secondary)
        for kind, value in merge.moved:
            await self.redis.hset(self.keys.identity_index(kind), value, secondary.id)
            field = IDENTITY_FIELDS[kind]
            if value in getattr(primary, field):
                getattr(primary, field).remove(value)
        for field in merge.filled:
            if getattr(primary, field) == getattr(secondary, field):
                setattr(primary, field, None)
        primary.interests = [i for i in primary.interests if i.origin != secondary.id]
        primary.notes = [n for n in primary.notes if n.origin != secondary.id]
        primary.merged_from = [c for c in primary.merged_from if c != secondary.id]
        secondary.merged_into = None
        merge.status, merge.reversed_at, merge.reversed_by = "reversed", self.clock(), by
        await self.redis.hset(self.keys.merges(), merge.id, merge.model_dump_json())
        await self.save(secondary)
        await self.save(primary)
        return merge

    # --- profile facts -------------------------------------------------------------------
    async def add_interest(self, customer_id: str, interest: Interest) -> Customer:
        customer = await self.primary_of(customer_id)
        key = (interest.vin or interest.stock_number or interest.description).lower()
        if not any((i.vin or i.stock_number or i.description).lower() == key for i in customer.interests):
            interest.at = interest.at or self.clock()
            interest.origin = interest.origin or customer.id
            customer.interests.append(interest)
            await self.save(customer)
        return customer

    async def add_note(self, customer_id: str, text: str, *, author: str) -> Note:
        customer = await self.primary_of(customer_id)
        note = Note(at=self.clock(), author=author, text=text, origin=customer.id)
        customer.notes.append(note)
        await self.save(customer)
        return note

    async def delete(self, customer_id: str) -> list[str]:
        """Erase a customer's profile and identifiers (CCPA). The consent ledger is kept by the
        caller as a do-not-contact record. Returns the identifiers that were removed."""
        customer = await self.get(customer_id)
        removed = []
        for kind, field in IDENTITY_FIELDS.items():
            for value in getattr(customer, field):
                await self.redis.hdel(self.keys.identity_index(kind), value)
                removed.append(f"{kind}:{value}")
        await self.redis.delete(self.keys.profile(customer_id))
        await self.redis.zrem(self.keys.customers(), customer_id)
        return removed
