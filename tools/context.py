"""What a tool needs to run, passed in by the turn — never chosen by the model.

Identity (dealer, customer, channel) travels here. LangChain tools receive it through
`config["configurable"]["deps"]` (see `deps_from_config`), so it never appears in a tool's schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import ToolException

from memory.keys import Keys
from tools.dealer import DealerConfig

if TYPE_CHECKING:
    from redis.asyncio import Redis


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ToolError(ToolException):
    """A failure the model (or the offline policy) can recover from; becomes a tool message."""


@dataclass
class TurnFacts:
    """What tools disclosed in this turn. The outbound guard lets a reply state a price, a vehicle,
    a slot or a policy only when it is recorded here."""

    prices: set[int] = field(default_factory=set)  # whole dollars
    vins: set[str] = field(default_factory=set)
    stock_numbers: set[str] = field(default_factory=set)
    slots: set[str] = field(default_factory=set)  # ISO start times offered or booked
    appointments: set[str] = field(default_factory=set)
    knowledge: list[str] = field(default_factory=list)  # passages retrieved
    calls: list[dict[str, Any]] = field(default_factory=list)  # {"tool", "args", "ok"}

    def add_vehicle(self, vehicle: Any) -> None:
        """Record a vehicle's identity and every money figure shown for it."""
        self.vins.add(vehicle.vin)
        if getattr(vehicle, "stock_number", None):
            self.stock_numbers.add(vehicle.stock_number)
        for attr in ("price", "msrp"):
            value = getattr(vehicle, attr, None)
            if value:
                self.prices.add(round(value))


@dataclass
class ToolDeps:
    """Plain values a domain operation runs against. Built by the turn handler."""

    dealer: DealerConfig
    redis: Redis
    keys: Keys
    customer_id: str | None = None
    channel: str = "chat"  # chat | sms | voice | email | lead | staff
    clock: Callable[[], dt.datetime] = utcnow
    services: dict[str, Any] = field(default_factory=dict)  # e.g. "vectors", "inventory_index"
    facts: TurnFacts = field(default_factory=TurnFacts)

    def now(self) -> dt.datetime:
        return self.clock()

    def require_customer(self) -> str:
        if not self.customer_id:
            raise ToolError("no customer is attached to this conversation")
        return self.customer_id


def deps_from_config(config: RunnableConfig) -> ToolDeps:
    try:
        deps = config["configurable"]["deps"]
    except (KeyError, TypeError):
        raise ToolError("tool called outside a DealerOS turn") from None
    if not isinstance(deps, ToolDeps):
        raise ToolError("tool called outside a DealerOS turn")
    return deps
