"""The vehicle model: one unit as the dealer's feed describes it, and how money is shown.

`Vehicle` is what the importer writes and every reader gets back; its `summary`,
`description_for_search` and `search_metadata` are the views replies and the vector index use.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from tools.inventory.matching import BODY_PHRASES, body_family, drive_family, fuel_family

Condition = Literal["new", "used", "cpo"]
Status = Literal["available", "pending", "sold", "in_transit"]
STATUSES: tuple[str, ...] = ("available", "pending", "sold", "in_transit")
CONDITIONS: tuple[str, ...] = ("new", "used", "cpo")


def _money_json(value: Decimal | None) -> int | float | None:
    """Whole dollars stay integers in JSON; cents survive as a float with two places."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


Money = Annotated[Decimal, PlainSerializer(_money_json, when_used="json")]

# The feed's own columns (DESIGN.md "Data formats"), in feed order.
FEED_FIELDS: tuple[str, ...] = (
    "vin", "stock_number", "condition", "year", "make", "model", "trim", "body_style",
    "exterior_color", "interior_color", "mileage", "price", "msrp", "drivetrain", "transmission",
    "fuel_type", "engine", "seats", "features", "photo_urls", "vdp_url", "date_in_stock", "status",
)  # fmt: skip


# Equipment nearly every modern unit has: it only dilutes a vehicle's embedding (and costs time).
COMMON_FEATURES = frozenset(
    {"backup camera", "bluetooth", "keyless entry", "apple carplay", "android auto", "blind spot monitor",
     "adaptive cruise control", "alloy wheels", "push button start", "power windows", "power locks",
     "cruise control", "air conditioning", "usb ports", "rearview camera"}
)  # fmt: skip


def format_money(value: Decimal | int | None) -> str:
    if value is None:
        return "call for price"
    d = Decimal(value)
    return f"${d:,.0f}" if d == d.to_integral_value() else f"${d:,.2f}"


class Vehicle(BaseModel):
    """One unit as the feed describes it, plus when we first and last saw it."""

    model_config = ConfigDict(extra="ignore")

    vin: str = Field(min_length=17, max_length=17)
    stock_number: str | None = None
    condition: Condition
    year: int
    make: str
    model: str
    trim: str | None = None
    body_style: str | None = None
    exterior_color: str | None = None
    interior_color: str | None = None
    mileage: int | None = None  # None: the feed didn't say (new units default to 0 on import)
    price: Money | None = None  # None: no advertised price ("call for price")
    msrp: Money | None = None
    drivetrain: str | None = None
    transmission: str | None = None
    fuel_type: str | None = None
    engine: str | None = None
    seats: int | None = None
    features: list[str] = Field(default_factory=list)
    photo_urls: list[str] = Field(default_factory=list)
    vdp_url: str | None = None
    date_in_stock: dt.date | None = None
    status: Status = "available"
    attributes: dict[str, str] = Field(default_factory=dict)  # feed columns we don't model
    listed_at: dt.datetime | None = None  # first seen in a feed
    removed_at: dt.datetime | None = None  # dropped out of the feed (kept for history/attribution)

    def title(self) -> str:
        return " ".join(str(p) for p in (self.year, self.make, self.model, self.trim) if p)

    @property
    def is_hybrid(self) -> bool:
        return "hybrid" in " ".join(filter(None, (self.model, self.trim, self.fuel_type))).lower()

    def status_label(self) -> str:
        return {
            "available": "available",
            "pending": "sale pending (not available)",
            "sold": "sold",
            "in_transit": "arriving soon (in transit)",
        }[self.status]

    def miles_label(self) -> str:
        return "mileage n/a" if self.mileage is None else f"{self.mileage:,} mi"

    def summary(self) -> str:
        """One line for a reply or a staff note: title, price, miles, color, stock, status."""
        parts = [self.title(), format_money(self.price), self.miles_label()]
        if self.exterior_color:
            parts.append(self.exterior_color)
        if self.stock_number:
            parts.append(f"stock #{self.stock_number}")
        if self.status != "available":
            parts.append(self.status_label())
        return " · ".join(parts)

    def description_for_search(self) -> str:
        """The text embedded for semantic search: plain words a shopper would use, not feed codes."""
        cond = {"new": "New", "used": "Used", "cpo": "Certified pre-owned"}[self.condition]
        body = body_family(self.body_style)
        lines = [f"{self.title()}. {cond} {self.body_style or 'vehicle'}."]
        if body in BODY_PHRASES:
            lines.append(BODY_PHRASES[body])
        if self.seats:
            lines.append(f"Seats {self.seats}.")
            if self.seats >= 7:
                lines.append("Third-row seating, three rows, room for a big family.")
        fuel = fuel_family(self.fuel_type, self.is_hybrid)
        if fuel == "phev":
            lines.append("Plug-in hybrid: drives on battery power, then excellent fuel economy, high MPG.")
        elif fuel == "hybrid":
            lines.append("Hybrid, excellent fuel economy, good on gas, high MPG.")
        elif fuel == "electric":
            lines.append("All-electric EV, battery powered, zero emissions, charge at home, never buy gas.")
        elif self.fuel_type:
            lines.append(f"{self.fuel_type} engine.")
        drive = drive_family(self.drivetrain)
        if drive == "awd":
            lines.append("All-wheel drive.")
        elif drive == "4wd":
            lines.append("Four-wheel drive 4x4, off-road capable.")
        if self.exterior_color:
            lines.append(f"{self.exterior_color} exterior.")
        notable = [f for f in self.features if f.lower() not in COMMON_FEATURES]
        if notable:
            lines.append("Features: " + ", ".join(notable) + ".")
        return " ".join(lines)

    def feed_view(self) -> dict[str, Any]:
        """The fields a feed controls: two units with equal views need no write."""
        return self.model_dump(mode="json", include={*FEED_FIELDS, "attributes"})

    def search_metadata(self) -> dict[str, str | int | float | bool]:
        """Flat metadata for the vector index (no None values)."""
        meta: dict[str, Any] = {
            "vin": self.vin,
            "stock_number": self.stock_number,
            "condition": self.condition,
            "year": self.year,
            "make": self.make,
            "model": self.model,
            "body_style": self.body_style,
            "status": self.status,
            "price": float(self.price) if self.price is not None else None,
            "seats": self.seats,
            "hybrid": self.is_hybrid,
        }
        return {k: v for k, v in meta.items() if v is not None}
