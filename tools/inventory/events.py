"""Inventory events: changes worth reacting to (arrivals, price drops, sales) in a Redis stream.

The importer and `InventoryStore.set_status` append them; follow-up jobs read them with
`read_inventory_events`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from memory.keys import Keys
from tools.inventory.model import _money_json

if TYPE_CHECKING:
    from redis.asyncio import Redis


EventType = Literal["arrived", "price_changed", "arrived_on_lot", "sold", "status_changed", "removed"]
EVENTS_MAXLEN = 100_000


@dataclass
class InventoryEvent:
    """A change worth reacting to (arrival alerts, price-drop follow-ups), as stored in the stream."""

    type: str
    vin: str
    stock: str | None
    old: str | None
    new: str | None
    at: dt.datetime
    title: str = ""
    id: str | None = None  # stream id once written

    def fields(self) -> dict[str, str]:
        return {
            "type": self.type,
            "vin": self.vin,
            "stock": self.stock or "",
            "old": self.old or "",
            "new": self.new or "",
            "at": self.at.isoformat(),
            "title": self.title,
        }

    @classmethod
    def from_stream(cls, entry_id: str, f: dict[str, str]) -> InventoryEvent:
        return cls(
            type=f["type"],
            vin=f["vin"],
            stock=f.get("stock") or None,
            old=f.get("old") or None,
            new=f.get("new") or None,
            at=dt.datetime.fromisoformat(f["at"]),
            title=f.get("title", ""),
            id=entry_id,
        )


def status_event_type(old: str, new: str) -> str:
    if old == "in_transit" and new == "available":
        return "arrived_on_lot"
    if new == "sold":
        return "sold"
    return "status_changed"


def money_str(value: Decimal | None) -> str | None:
    return None if value is None else str(_money_json(value))


async def read_inventory_events(
    redis: Redis, keys: Keys, since_id: str = "0", count: int = 100
) -> list[InventoryEvent]:
    """Events after `since_id` (exclusive), oldest first; pass the last id back to continue."""
    start = "-" if since_id in {"0", "0-0", "-"} else f"({since_id}"  # "(" = exclusive (Redis >= 6.2)
    entries = await redis.xrange(keys.inventory_events(), min=start, count=count)
    return [
        InventoryEvent.from_stream(str(eid), {str(k): str(x) for k, x in (f or {}).items()}) for eid, f in entries or []
    ]
