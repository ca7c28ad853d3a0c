"""InventoryStore: vehicles in Redis, read through an in-process snapshot cached per version.

The feed importer (`integrations/inventory_csv.py`) is the writer; readers reload the snapshot only
when the inventory version key changes, so a turn doesn't re-read thousands of JSON blobs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memory.keys import Keys
from tools.inventory.events import EVENTS_MAXLEN, InventoryEvent, status_event_type
from tools.inventory.model import Status, Vehicle

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

    from tools.inventory.vocabulary import Vocabulary


@dataclass
class _Snapshot:
    version: int
    vehicles: list[Vehicle]
    by_vin: dict[str, Vehicle]
    vocabulary: Vocabulary | None = None


_SNAPSHOTS: dict[tuple[str, str], _Snapshot] = {}


def _server_identity(redis: Any) -> str:
    pool = getattr(redis, "connection_pool", None)
    kw = getattr(pool, "connection_kwargs", None)
    if not kw:
        return f"client-{id(redis)}"
    return repr(tuple(kw.get(k) for k in ("path", "host", "port", "db")))


def clear_inventory_cache() -> None:
    """Forget every in-process snapshot (tests; a server normally never needs it)."""
    _SNAPSHOTS.clear()


class InventoryStore:
    """Vehicles in Redis: one JSON per VIN, the current-feed VIN set, stock number index, a version.

    Writers bump the version key after writing; readers read the version first and reload the
    whole snapshot only when it moved — so a partially written import is at worst cached until the
    importer's final bump.
    """

    CHUNK = 1000

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._cache_key = (_server_identity(redis), keys.dealer)

    @property
    def version_key(self) -> str:
        return self.keys.dealer_key("inv", "version")

    async def version(self) -> int:
        return int(await self.redis.get(self.version_key) or 0)

    async def get(self, vin: str) -> Vehicle | None:
        """Any unit ever imported, including ones that left the feed (status sold)."""
        raw = await self.redis.get(self.keys.vehicle(vin.strip().upper()))
        return Vehicle.model_validate_json(raw) if raw else None

    async def get_many(self, vins: Sequence[str]) -> dict[str, Vehicle]:
        out: dict[str, Vehicle] = {}
        for i in range(0, len(vins), self.CHUNK):
            chunk = vins[i : i + self.CHUNK]
            raws = await self.redis.mget([self.keys.vehicle(v) for v in chunk])
            for vin, raw in zip(chunk, raws, strict=True):
                if raw:
                    out[vin] = Vehicle.model_validate_json(raw)
        return out

    async def by_stock(self, stock_number: str) -> Vehicle | None:
        vin = await self.redis.hget(self.keys.stock_index(), stock_number.strip())
        if vin is None:  # stock numbers are often typed in another case
            vin = await self.redis.hget(self.keys.stock_index(), stock_number.strip().upper())
        return await self.get(str(vin)) if vin else None

    async def find(self, vin_or_stock: str) -> Vehicle | None:
        ref = vin_or_stock.strip().lstrip("#").strip()
        if len(ref) == 17:
            found = await self.get(ref)
            if found:
                return found
        return await self.by_stock(ref)

    async def _snapshot(self) -> _Snapshot:
        version = await self.version()
        snap = _SNAPSHOTS.get(self._cache_key)
        if snap is not None and snap.version == version:
            return snap
        vins = sorted(str(v) for v in await self.redis.smembers(self.keys.vehicles()))
        by_vin = await self.get_many(vins)
        snap = _Snapshot(version=version, vehicles=list(by_vin.values()), by_vin=by_vin)
        _SNAPSHOTS[self._cache_key] = snap
        return snap

    async def all(self, status: str | None = None) -> list[Vehicle]:
        """Units in the current feed (any status unless one is given). Cached per version."""
        vehicles = (await self._snapshot()).vehicles
        return list(vehicles) if status is None else [v for v in vehicles if v.status == status]

    def queue_write(self, pipe: Pipeline, vehicle: Vehicle, *, in_feed: bool = True) -> None:
        """Queue the writes for one unit on a pipeline; the caller bumps the version afterwards."""
        pipe.set(self.keys.vehicle(vehicle.vin), vehicle.model_dump_json())
        if in_feed:
            pipe.sadd(self.keys.vehicles(), vehicle.vin)
            if vehicle.stock_number:
                pipe.hset(self.keys.stock_index(), vehicle.stock_number, vehicle.vin)
        else:  # left the feed: its stock number keeps pointing here unless a new unit takes it
            pipe.srem(self.keys.vehicles(), vehicle.vin)

    def queue_event(self, pipe: Pipeline, event: InventoryEvent) -> None:
        fields: dict[Any, Any] = event.fields()
        pipe.xadd(self.keys.inventory_events(), fields, maxlen=EVENTS_MAXLEN, approximate=True)

    def queue_bump(self, pipe: Pipeline) -> None:
        pipe.incr(self.version_key)

    async def set_status(self, vin: str, status: Status, *, now: dt.datetime) -> Vehicle:
        """Change one unit's status outside a feed import (e.g. a DMS deal marks it sold)."""
        current = await self.get(vin)
        if current is None:
            raise KeyError(vin)
        if current.status == status:
            return current
        updated = current.model_copy(update={"status": status})
        event = InventoryEvent(
            type=status_event_type(current.status, status),
            vin=vin,
            stock=current.stock_number,
            old=current.status,
            new=status,
            at=now,
            title=current.title(),
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            self.queue_write(pipe, updated, in_feed=current.removed_at is None)
            self.queue_event(pipe, event)
            self.queue_bump(pipe)
            await pipe.execute()
        return updated


def inventory_collection_name(dealer: str) -> str:
    """The dealer's vector collection; `VectorStore.collection` maps it onto Chroma's naming rules."""
    return f"inv_{dealer}"
