"""Staff actions on handoffs, each an atomic compare-and-set on the handoff record.

Every change goes through `HandoffStore.update`, a compare-and-set: two staff clicking "claim" at
once get exactly one win and one conflict (HTTP 409).

Routing suggestions are kept beside the handoff (`dos:{d}:staff:route`, handoff id -> JSON), set
once when the handoff is first seen (HSETNX: the first process to route it wins).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from channels.staff.routing import Suggestion, suggest
from tools.dealer import DealerConfig
from tools.handoff import Conflict, Handoff, HandoffStore, events_channel


class StaffHandoffs:
    def __init__(self, store: HandoffStore) -> None:
        self.store = store
        self.redis = store.redis
        self.keys = store.keys

    async def update(self, handoff_id: str, mutate: Callable[[Handoff], bool | None], *, event: str) -> Handoff:
        return await self.store.update(handoff_id, mutate, event=event)

    # --- actions -----------------------------------------------------------------------------------
    async def claim(self, handoff_id: str, staff_id: str, *, at: dt.datetime, by: str, force: bool = False) -> Handoff:
        """Give the conversation to `staff_id`. Someone else's claim is a Conflict unless `force`
        (a manager reassigning); claiming one's own again changes nothing."""

        def mutate(h: Handoff) -> bool:
            if h.status == "closed":
                raise Conflict("this handoff is closed")
            if h.status == "claimed" and h.assignee == staff_id:
                return False
            if h.status == "claimed" and not force:
                raise Conflict(f"already claimed by {h.assignee}")
            event = "reassigned" if h.status == "claimed" else "claimed"
            h.history.append(
                {"at": at.isoformat(), "event": event, "actor": by, "assignee": staff_id, "previous": h.assignee}
            )
            h.status, h.assignee, h.claimed_at = "claimed", staff_id, at
            return True

        return await self.update(handoff_id, mutate, event="claimed")

    async def close(self, handoff_id: str, *, at: dt.datetime, by: str, event: str, note: str | None = None) -> Handoff:
        """Close it (`released`: handed back to the AI; `closed`: resolved by staff)."""

        def mutate(h: Handoff) -> bool:
            if h.status == "closed":
                return False
            entry = {"at": at.isoformat(), "event": event, "actor": by}
            if note:
                entry["note"] = note
            h.history.append(entry)
            h.status, h.closed_at = "closed", at
            return True

        h = await self.update(handoff_id, mutate, event=event)
        await self.store.clear_active(h)
        await self.redis.hdel(self._route_key(), h.id)
        return h

    async def note(self, handoff_id: str, text: str, *, at: dt.datetime, by: str, event: str = "note") -> Handoff:
        def mutate(h: Handoff) -> bool:
            h.history.append({"at": at.isoformat(), "event": event, "actor": by, "text": text})
            return True

        return await self.update(handoff_id, mutate, event=event)

    async def escalate(
        self, handoff_id: str, *, now: dt.datetime, due: Callable[[Handoff], dt.datetime]
    ) -> Handoff | None:
        """Bump an unclaimed, overdue handoff one priority step (checked again inside the CAS)."""
        from channels.staff.sla import BUMP

        done: list[bool] = []

        def mutate(h: Handoff) -> bool:
            if h.status != "open" or now < due(h) or (h.priority == "urgent" and h.escalated_at is not None):
                return False
            before = h.priority
            h.priority = BUMP[h.priority]  # type: ignore[assignment]
            h.escalated_at = now
            h.history.append(
                {"at": now.isoformat(), "event": "escalated", "actor": "system", "from": before, "to": h.priority}
            )
            done.append(True)
            return True

        try:
            h = await self.update(handoff_id, mutate, event="escalated")
        except KeyError:
            return None
        return h if done else None

    # --- routing -----------------------------------------------------------------------------------
    def _route_key(self) -> str:
        return self.keys.dealer_key("staff", "route")

    def _routed_at_key(self) -> str:
        return self.keys.dealer_key("staff", "routed-at")

    async def suggestions(self, handoff_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not handoff_ids:
            return {}
        rows = await self.redis.hmget(self._route_key(), handoff_ids)
        return {hid: json.loads(r) for hid, r in zip(handoff_ids, rows, strict=True) if r}

    async def load(self) -> dict[str, int]:
        """Active handoffs per staff id: claimed by them, or open and suggested to them."""
        counts: dict[str, int] = {}
        claimed = await self.store.list("claimed", limit=1000)
        for h in claimed:
            if h.assignee:
                counts[h.assignee] = counts.get(h.assignee, 0) + 1
        open_ids = [h.id for h in await self.store.list("open", limit=1000)]
        for s in (await self.suggestions(open_ids)).values():
            if s.get("assignee"):
                counts[s["assignee"]] = counts.get(s["assignee"], 0) + 1
        return counts

    async def ensure_routed(self, h: Handoff, dealer: DealerConfig, now: dt.datetime) -> dict[str, Any] | None:
        """The handoff's routing suggestion, computed and stored the first time it is seen open."""
        existing = (await self.suggestions([h.id])).get(h.id)
        if existing is not None or h.status != "open":
            return existing
        routed_at = {str(k): float(v) for k, v in (await self.redis.hgetall(self._routed_at_key())).items()}
        s: Suggestion = suggest(h, dealer, now, load=await self.load(), last_routed=routed_at)
        record = {**s.to_api(), "at": now.isoformat()}
        if await self.redis.hsetnx(self._route_key(), h.id, json.dumps(record)):
            if s.assignee:
                await self.redis.hset(self._routed_at_key(), s.assignee, now.timestamp())
            await self.redis.publish(
                events_channel(self.keys), json.dumps({"type": "handoff_routed", "handoff_id": h.id, "route": record})
            )
            return record
        return (await self.suggestions([h.id])).get(h.id)
