"""Handoffs to BDC staff: reason, priority, the channel to answer on and a summary for staff.

A customer has at most one active handoff. While it is `claimed`, a person owns the conversation
and the AI stays silent on every channel. Changes are published on the dealer's event channel so
the staff console updates live.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import WatchError

from memory.keys import Keys
from tools.context import ToolDeps, ToolError

Status = Literal["open", "claimed", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
REASONS = ("customer_request", "complaint", "legal", "credit", "hot_lead", "cannot_help", "other")
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


class Handoff(BaseModel):
    id: str
    customer_id: str
    status: Status = "open"
    reason: str
    priority: Priority = "normal"
    channel: str
    summary: str = ""
    assignee: str | None = None
    team: str = "sales"
    opened_at: dt.datetime
    claimed_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    escalated_at: dt.datetime | None = None
    history: list[dict[str, Any]] = []

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# Delete the customer's active-handoff pointer only if it still names this handoff.
_CLEAR_ACTIVE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def events_channel(keys: Keys) -> str:
    return keys.dealer_key("events")


def staff_delivery_channel(keys: Keys) -> str:
    """Redis pub/sub channel carrying staff replies to web chat visitors: the console publishes,
    the web chat process holding the visitor's socket forwards (contract in channels/staff/delivery.py)."""
    return keys.dealer_key("staff", "delivery")


def active_key(keys: Keys, customer_id: str) -> str:
    return keys.cust(customer_id, "handoff")


class Conflict(ToolError):
    """The handoff is not in a state that allows this change, or is being changed right now."""


MAX_RETRIES = 20


class HandoffStore:
    """Every write is a compare-and-set on the handoff record (WATCH/MULTI): two staff claiming at
    once, or a customer's refresh racing a claim, can never overwrite each other."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def get(self, handoff_id: str) -> Handoff:
        raw = await self.redis.get(self.keys.handoff(handoff_id))
        if raw is None:
            raise KeyError(handoff_id)
        return Handoff.model_validate_json(raw)

    async def active_for(self, customer_id: str) -> Handoff | None:
        hid = await self.redis.get(active_key(self.keys, customer_id))
        if not hid:
            return None
        h = await self.get(hid)
        return h if h.status != "closed" else None

    async def human_owns(self, customer_ids: list[str], *, active: list[Any] | None = None) -> Handoff | None:
        """The claimed handoff of any of these records (a merged customer), if a person owns it.
        `active`: their active-handoff ids when the caller has just read them (`active_on`)."""
        if active is None:
            pipe = self.redis.pipeline(transaction=False)
            self.active_on(pipe, customer_ids)
            active = await pipe.execute()
        for hid in active:
            if not hid:
                continue
            h = await self.get(hid)
            if h.status == "claimed":
                return h
        return None

    def active_on(self, pipe: Any, customer_ids: list[str]) -> None:
        """Queue the reads of these records' active-handoff ids on `pipe`, for `human_owns`."""
        for cid in customer_ids:
            pipe.get(active_key(self.keys, cid))

    async def open(
        self,
        customer_id: str,
        *,
        reason: str,
        priority: Priority,
        channel: str,
        summary: str,
        at: dt.datetime,
        team: str = "sales",
    ) -> tuple[Handoff, bool]:
        """Open a handoff, or refresh the customer's active one. Returns (handoff, created)."""
        if reason not in REASONS:
            reason = "other"
        current = await self.active_for(customer_id)
        if current:

            def refresh(h: Handoff) -> bool:
                if h.status == "closed":
                    raise Conflict("closed meanwhile")
                if PRIORITY_RANK[priority] < PRIORITY_RANK[h.priority]:
                    h.priority = priority
                h.summary = summary or h.summary
                h.history.append({"at": at.isoformat(), "event": "refreshed", "reason": reason})
                return True

            try:
                return await self.update(current.id, refresh, event="refreshed"), False
            except Conflict:
                pass  # closed between our read and write: open a new one
        h = Handoff(
            id=f"h{secrets.token_hex(6)}",
            customer_id=customer_id,
            reason=reason,
            priority=priority,
            channel=channel,
            summary=summary,
            team=team,
            opened_at=at,
            history=[{"at": at.isoformat(), "event": "opened", "reason": reason}],
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            self._write(pipe, h, "opened")
            await pipe.execute()
        await self.redis.set(active_key(self.keys, customer_id), h.id)
        return h, True

    async def update(self, handoff_id: str, mutate: Callable[[Handoff], bool | None], *, event: str) -> Handoff:
        """Apply `mutate` atomically: it may raise Conflict, or return False for "nothing to do".
        Retries when another writer got there first. Raises KeyError for an unknown handoff."""
        key = self.keys.handoff(handoff_id)
        for _ in range(MAX_RETRIES):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise KeyError(handoff_id)
                    h = Handoff.model_validate_json(raw)
                    if mutate(h) is False:
                        await pipe.unwatch()
                        return h
                    pipe.multi()
                    self._write(pipe, h, event)
                    await pipe.execute()
                    return h
                except WatchError:
                    continue
        raise Conflict("the handoff is being changed by someone else right now; try again")

    async def transition(self, handoff_id: str, status: Status, *, at: dt.datetime, actor: str) -> Handoff:
        def change(h: Handoff) -> bool:
            if status == "claimed":
                if h.status == "closed":
                    raise Conflict("this handoff is closed")
                h.assignee, h.claimed_at = actor, at
            elif status == "closed":
                h.closed_at = at
            h.status = status
            h.history.append({"at": at.isoformat(), "event": status, "actor": actor})
            return True

        h = await self.update(handoff_id, change, event=status)
        if status == "closed":
            await self.clear_active(h)
        return h

    async def clear_active(self, h: Handoff) -> None:
        """Drop the customer's active-handoff pointer, only if it still names this handoff."""
        await self.redis.eval(_CLEAR_ACTIVE, 1, active_key(self.keys, h.customer_id), h.id)

    async def list(self, status: Status | None = None, *, limit: int = 100) -> list[Handoff]:
        statuses = [status] if status else ["open", "claimed", "closed"]
        ids: list[str] = []
        for s in statuses:
            ids += await self.redis.zrange(self.keys.handoffs(s), 0, limit - 1)
        out = [await self.get(i) for i in ids]
        return sorted(out, key=lambda h: (PRIORITY_RANK[h.priority], h.opened_at))[:limit]

    def _write(self, pipe: Any, h: Handoff, event: str) -> None:
        """The record, its status index and one live event (all on the dealer's hash slot)."""
        pipe.set(self.keys.handoff(h.id), h.model_dump_json())
        for s in ("open", "claimed", "closed"):
            if s == h.status:
                pipe.zadd(self.keys.handoffs(s), {h.id: int(h.opened_at.timestamp() * 1000)})
            else:
                pipe.zrem(self.keys.handoffs(s), h.id)
        pipe.publish(events_channel(self.keys), json.dumps({"type": "handoff", "event": event, "handoff": h.to_api()}))


async def open_handoff(deps: ToolDeps, *, reason: str, priority: Priority = "normal", summary: str = "") -> Handoff:
    """Domain operation: hand this customer's conversation to a person."""
    cid = deps.require_customer()
    team = "sales"
    if reason == "credit":
        team = "finance"
    elif deps.services.get("department") == "service":
        team = "service"
    h, _ = await HandoffStore(deps.redis, deps.keys).open(
        cid, reason=reason, priority=priority, channel=deps.channel, summary=summary, at=deps.now(), team=team
    )
    deps.facts.calls.append({"tool": "open_handoff", "args": {"reason": reason}, "ok": True})
    return h
