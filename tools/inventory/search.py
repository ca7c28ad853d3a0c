"""Inventory search and vehicle details: the only source of vehicles and prices the agent may mention.

Every vehicle returned is recorded in `deps.facts`. Sold units are never offered; pending ones are
flagged and last; when nothing offerable matches, the closest alternatives come with what was relaxed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.context import ToolDeps, ToolError
from tools.inventory.alternatives import _closest
from tools.inventory.criteria import Criteria, Sort
from tools.inventory.model import Vehicle, format_money
from tools.inventory.ranking import _order, _semantic_scores
from tools.inventory.store import InventoryStore


@dataclass
class SearchResult:
    """Exact matches first; when none is offerable, the closest alternatives and what was relaxed."""

    matches: list[Vehicle]
    alternatives: list[Vehicle] = field(default_factory=list)
    relaxed: list[str] = field(default_factory=list)  # one reason per loosened constraint
    total_matches: int = 0
    ranked_by: str | None = None  # the free-text wish the matches were ranked by

    @property
    def vehicles(self) -> list[Vehicle]:
        return [*self.matches, *self.alternatives]

    def to_text(self) -> str:
        """Compact lines for the model: title | price | miles | color | stock | status | link."""
        lines: list[str] = []
        if self.matches:
            more = f", showing {len(self.matches)}" if self.total_matches > len(self.matches) else ""
            if self.ranked_by:
                lines.append(f"Best fits for {self.ranked_by!r} ({self.total_matches} candidates{more}):")
            else:
                lines.append(f"{self.total_matches} matching vehicle(s){more}:")
            lines += [tool_line(v) for v in self.matches]
        else:
            lines.append("No exact matches in stock.")
        if self.alternatives:
            lines.append("Closest alternatives. What differs from the request:")
            lines += [f"  * {reason}" for reason in self.relaxed]
            lines += [tool_line(v) for v in self.alternatives]
        elif not self.matches:
            lines.append("Nothing close either; offer to have the team search or notify on arrival.")
        return "\n".join(lines)


def tool_line(v: Vehicle) -> str:
    parts = [v.title(), format_money(v.price), v.miles_label(), v.exterior_color or "color n/a"]
    parts.append(f"stock #{v.stock_number}" if v.stock_number else f"VIN {v.vin}")
    parts.append(v.status_label())
    if v.vdp_url:
        parts.append(v.vdp_url)
    return "- " + " | ".join(parts)


async def search_inventory(
    deps: ToolDeps,
    *,
    condition: str | None = None,
    year_min: int | None = None,
    year_max: int | None = None,
    make: str | None = None,
    model: str | None = None,
    trim: str | None = None,
    body_style: str | None = None,
    color: str | None = None,
    price_min: float | None = None,
    price_max: float | None = None,
    mileage_max: int | None = None,
    drivetrain: str | None = None,
    fuel_type: str | None = None,
    seats_min: int | None = None,
    features: list[str] | None = None,
    text: str | None = None,
    sort: Sort = "relevance",
    limit: int = 5,
    include_in_transit: bool = True,
) -> SearchResult:
    """Vehicles matching the shopper's constraints; sold units never, pending ones flagged and last.

    `text` is a free-form wish ranked semantically within the structured matches. When nothing
    offerable matches, `alternatives` holds the closest units and `relaxed` says what was loosened.
    """
    crit = Criteria(
        condition=condition,
        year_min=year_min,
        year_max=year_max,
        make=make,
        model=model,
        trim=trim,
        body_style=body_style,
        color=color,
        price_min=price_min,
        price_max=price_max,
        mileage_max=mileage_max,
        drivetrain=drivetrain,
        fuel_type=fuel_type,
        seats_min=seats_min,
        features=[f for f in features or [] if f.strip()],
    )
    limit = max(1, min(limit, 25))
    store = InventoryStore(deps.redis, deps.keys)
    everything = await store.all()
    pool = [v for v in everything if v.status != "sold" and (include_in_transit or v.status != "in_transit")]
    matched = [v for v in pool if crit.matches(v)]
    scores: dict[str, float] = {}
    wish = (text or "").strip()
    if wish:
        scores = await _semantic_scores(deps, wish, matched or pool)
    result = SearchResult(
        matches=_order(matched, sort, scores, limit)[:limit],
        total_matches=len(matched),
        ranked_by=wish if scores else None,
    )
    if not any(v.status != "pending" for v in matched):
        result.alternatives, result.relaxed = _closest(pool, crit, scores, limit, everything)
    for v in result.vehicles:
        deps.facts.add_vehicle(v)
    return result


async def vehicle_details(deps: ToolDeps, vin_or_stock: str) -> Vehicle:
    """One unit by VIN or stock number; a sold unit is an error that names similar available ones."""
    store = InventoryStore(deps.redis, deps.keys)
    v = await store.find(vin_or_stock)
    if v is None:
        raise ToolError(f"No vehicle with VIN or stock number {vin_or_stock!r} is in inventory.")
    if v.status == "sold":
        similar = await search_inventory(deps, make=v.make, model=v.model, limit=3)
        others = similar.vehicles
        msg = f"{v.title()} (stock #{v.stock_number or v.vin}) has been sold."
        if others:
            msg += " Similar vehicles available:\n" + "\n".join(tool_line(o) for o in others)
        raise ToolError(msg)
    deps.facts.add_vehicle(v)
    return v


def details_text(v: Vehicle) -> str:
    """Everything the model may say about one unit, one fact per line."""
    rows = [
        ("Vehicle", v.title()),
        ("Status", v.status_label()),
        ("Condition", {"new": "new", "used": "used", "cpo": "certified pre-owned"}[v.condition]),
        ("Price", format_money(v.price)),
        ("MSRP", format_money(v.msrp) if v.msrp is not None else None),
        ("Mileage", v.miles_label()),
        ("Exterior", v.exterior_color),
        ("Interior", v.interior_color),
        ("Body", v.body_style),
        ("Drivetrain", v.drivetrain),
        ("Engine", v.engine),
        ("Transmission", v.transmission),
        ("Fuel", v.fuel_type),
        ("Seats", str(v.seats) if v.seats else None),
        ("Features", ", ".join(v.features) if v.features else None),
        ("Stock #", v.stock_number),
        ("VIN", v.vin),
        ("In stock since", v.date_in_stock.isoformat() if v.date_in_stock else None),
        ("Details page", v.vdp_url),
        ("Photo", v.photo_urls[0] if v.photo_urls else None),
    ]
    return "\n".join(f"{k}: {val}" for k, val in rows if val)
