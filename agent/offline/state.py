"""One turn of the offline brain: the input, the parse, the slots being rewritten, and the reply parts.

Dialogue slots (checkpointed between turns; JSON only):
- `turn`: how many turns this brain has answered;
- `criteria`, `sort`: the last inventory search, so "any cheaper?" refines it;
- `results`: the vehicles last listed (snapshots: vin, stock, title, year, model, trim, color, price, miles);
- `focus`: the vehicle the customer is talking about;
- `pending`: the question we asked and are waiting on (confirm a booking, pick a slot, ...);
- `booked`: appointments made in this conversation; `trade_in`, `budget`: what the customer told us;
- `unknown_streak`: consecutive turns we didn't understand (the second one offers a person);
- `handoff`: the last handoff requested, so we don't open it again every turn;
- `page`, `lead`: the vehicle page last applied and the lead answered (agent/offline/context_flow.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from agent.offline.nlu import Parse
from agent.offline.render import Composer
from agent.offline.vocab import Matcher
from agent.types import BrainInput, HandoffRequest, VehicleCard
from tools.context import ToolDeps


def snapshot(v: Any) -> dict[str, Any]:
    """What the dialogue keeps of a vehicle: enough to resolve "the silver one" next turn.

    Facts for a reply are re-read from the inventory in that turn, never from here.
    """
    return {
        "vin": v.vin,
        "stock": v.stock_number,
        "title": v.title(),
        "year": v.year,
        "make": v.make,
        "model": v.model,
        "trim": v.trim,
        "color": v.exterior_color,
        "price": int(v.price) if v.price is not None else None,
        "miles": v.mileage,
        "condition": v.condition,
        "body": v.body_style,
    }


def card(v: Any) -> VehicleCard:
    return VehicleCard(
        vin=v.vin,
        title=v.title(),
        price=int(v.price) if v.price is not None else None,
        mileage=v.mileage,
        stock_number=v.stock_number,
        photo_url=v.photo_urls[0] if v.photo_urls else None,
        vdp_url=v.vdp_url,
        status=v.status,
    )


@dataclass
class Turn:
    inp: BrainInput
    parse: Parse
    matcher: Matcher
    dialogue: dict[str, Any]
    out: Composer
    cards: list[VehicleCard] = field(default_factory=list)
    handoff: HandoffRequest | None = None
    profile_updates: dict[str, Any] = field(default_factory=dict)
    interests: list[dict[str, Any]] = field(default_factory=list)
    intent: str = ""
    page: Any = None  # the vehicle of the page the visitor is on, when it became the focus this turn

    @property
    def deps(self) -> ToolDeps:
        return self.inp.deps

    @property
    def channel(self) -> str:
        return self.inp.channel

    @property
    def now(self) -> dt.datetime:
        return self.deps.now().astimezone(self.deps.dealer.tz)

    @property
    def ents(self) -> Any:
        return self.parse.entities

    @property
    def pending(self) -> dict[str, Any] | None:
        return self.dialogue.get("pending")

    def set_pending(self, ptype: str | None, /, **data: Any) -> None:
        if ptype is None:
            self.dialogue.pop("pending", None)
        else:
            self.dialogue["pending"] = {**data, "type": ptype}

    @property
    def name(self) -> str | None:
        return self.profile_updates.get("name") or self.inp.customer.name

    @property
    def first_name(self) -> str:
        return (self.name or "").split(" ")[0]

    @property
    def who(self) -> str:
        """ ", Jo" for templates that greet by name ("Thanks{who}!"), or nothing."""
        return f", {self.first_name}" if self.first_name else ""

    def has_contact(self) -> bool:
        c = self.inp.customer
        return bool(c.phones or c.emails or self.profile_updates.get("phone") or self.profile_updates.get("email"))

    def focus(self, v: Any) -> None:
        """The customer is looking at this vehicle: remember it and record the interest."""
        self.dialogue["focus"] = snapshot(v)
        interest = {"description": v.title(), "vin": v.vin, "stock_number": v.stock_number}
        if all(i.get("vin") != v.vin for i in self.interests):
            self.interests.append(interest)

    def show_card(self, v: Any) -> None:
        if self.channel == "chat" and all(c.vin != v.vin for c in self.cards):
            self.cards.append(card(v))

    def request_handoff(self, reason: str, priority: str, summary: str) -> None:
        rank = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
        if self.handoff is None or rank[priority] < rank[self.handoff.priority]:
            self.handoff = HandoffRequest(reason=reason, priority=priority, summary=summary)  # type: ignore[arg-type]
        self.dialogue["handoff"] = {"reason": reason, "priority": priority, "at": self.now.isoformat()}
