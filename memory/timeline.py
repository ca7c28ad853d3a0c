"""The customer journey: every inbound, outbound and internal event on any channel, in order.

Each customer has a sorted set (event id scored by epoch milliseconds) and a hash of event JSON.
A merged customer's journey is the union of its own and its merged-in records' timelines, so a
merge moves no data and undoing it is exact.
"""

from __future__ import annotations

import datetime as dt
import heapq
import secrets
from typing import Any, Literal

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from memory.keys import Keys

Direction = Literal["inbound", "outbound", "internal"]


def epoch_ms(at: dt.datetime) -> int:
    """A time as the timeline scores it: epoch milliseconds."""
    return int(at.timestamp() * 1000)


def new_event_id(at: dt.datetime) -> str:
    """Time-sortable and unique across processes: '<epoch ms>-<random>'."""
    return f"{epoch_ms(at):013d}-{secrets.token_hex(4)}"


class TimelineEvent(BaseModel):
    id: str = ""
    at: dt.datetime
    channel: str  # chat | sms | voice | email | lead | staff | system
    direction: Direction
    kind: str = "message"  # message | call | lead | appointment | consent | merge | handoff | note | ...
    text: str = ""
    actor: str = "customer"  # customer | ai | staff:<id> | system
    customer_id: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# An event and its place in the index, written together.
_APPEND = "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) return 1"
# One record's newest events, newest first, in one round trip (both keys share the customer's slot).
_WINDOW = """
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '-inf', 'LIMIT', 0, tonumber(ARGV[1]))
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
"""


class Timeline:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def append(self, customer_id: str, event: TimelineEvent) -> TimelineEvent:
        pipe = self.redis.pipeline(transaction=False)
        ev = self.append_on(pipe, customer_id, event)
        await pipe.execute()
        return ev

    def append_on(self, pipe: Any, customer_id: str, event: TimelineEvent) -> TimelineEvent:
        """Queue the append on `pipe` (a script, so the event and its index entry are written
        together even in a pipeline shared with other work); returns the event as it will be stored."""
        if event.at.tzinfo is None:
            raise ValueError("timeline events need an aware timestamp")
        ev = event.model_copy(update={"id": event.id or new_event_id(event.at), "customer_id": customer_id})
        keys = (self.keys.timeline_events(customer_id), self.keys.timeline(customer_id))
        pipe.eval(_APPEND, 2, *keys, ev.id, ev.model_dump_json(), epoch_ms(ev.at))
        return ev

    def window_on(self, pipe: Any, customer_id: str, limit: int) -> None:
        """Queue a read of one record's newest `limit` events (one command); `parse_window` reads
        the reply. A merged journey (several records) goes through `read`."""
        keys = (self.keys.timeline(customer_id), self.keys.timeline_events(customer_id))
        pipe.eval(_WINDOW, 2, *keys, limit)

    @staticmethod
    def parse_window(raw: list[Any]) -> list[TimelineEvent]:
        """`window_on`'s reply: the events oldest first."""
        return [TimelineEvent.model_validate_json(r) for r in reversed(raw) if r is not None]

    async def update_meta(self, customer_id: str, event_id: str, patch: dict[str, Any]) -> bool:
        """Merge `patch` into an event's metadata (e.g. a delivery status). False if unknown."""
        key = self.keys.timeline_events(customer_id)
        raw = await self.redis.hget(key, event_id)
        if raw is None:
            return False
        ev = TimelineEvent.model_validate_json(raw)
        ev.meta.update(patch)
        await self.redis.hset(key, event_id, ev.model_dump_json())
        return True

    async def read(
        self,
        customer_ids: list[str],
        *,
        limit: int | None = None,
        newest: bool = False,
        after: dt.datetime | None = None,
        before: dt.datetime | None = None,
    ) -> list[TimelineEvent]:
        """Events of these records in time order. With `newest`, the last `limit` events (still
        returned oldest first)."""
        lo = "-inf" if after is None else f"({epoch_ms(after)}"
        hi = "+inf" if before is None else f"({epoch_ms(before)}"
        per_source: list[list[tuple[float, str, str]]] = []
        for cid in dict.fromkeys(customer_ids):
            key = self.keys.timeline(cid)
            if newest and limit is not None:
                rows = await self.redis.zrevrangebyscore(key, hi, lo, start=0, num=limit, withscores=True)
                rows.reverse()
            elif limit is not None:
                rows = await self.redis.zrangebyscore(key, lo, hi, start=0, num=limit, withscores=True)
            else:
                rows = await self.redis.zrangebyscore(key, lo, hi, withscores=True)
            per_source.append([(score, eid, cid) for eid, score in rows])
        merged = list(heapq.merge(*per_source))
        if limit is not None:
            merged = merged[-limit:] if newest else merged[:limit]
        return await self._load(merged)

    async def count(self, customer_ids: list[str]) -> int:
        return sum([await self.redis.zcard(self.keys.timeline(cid)) for cid in dict.fromkeys(customer_ids)])

    async def _load(self, refs: list[tuple[float, str, str]]) -> list[TimelineEvent]:
        by_cid: dict[str, list[str]] = {}
        for _, eid, cid in refs:
            by_cid.setdefault(cid, []).append(eid)
        loaded: dict[str, TimelineEvent] = {}
        for cid, ids in by_cid.items():
            for eid, raw in zip(ids, await self.redis.hmget(self.keys.timeline_events(cid), ids), strict=True):
                if raw is not None:
                    loaded[eid] = TimelineEvent.model_validate_json(raw)
        return [loaded[eid] for _, eid, _ in refs if eid in loaded]

    async def delete_customer(self, customer_id: str) -> None:
        await self.redis.delete(self.keys.timeline(customer_id), self.keys.timeline_events(customer_id))
