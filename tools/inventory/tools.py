"""The inventory LangChain tools (READ): search and vehicle details, as text for the model."""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from tools.context import deps_from_config
from tools.inventory.criteria import Sort
from tools.inventory.model import Condition
from tools.inventory.search import details_text, search_inventory, vehicle_details


@tool("search_inventory", parse_docstring=True)
async def search_inventory_tool(
    config: RunnableConfig,
    condition: Condition | None = None,
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
) -> str:
    """Search the dealership's real inventory. Only mention vehicles and prices this returns.

    Fill only what the customer actually asked for. Matching is forgiving (e.g. "chevy", "rav 4",
    "silver" for any silver shade). Pending units are flagged and must not be offered as available;
    in-transit units are "arriving soon". If nothing matches, closest alternatives are listed with
    what was relaxed — say so plainly.

    Args:
        condition: new, used (includes certified) or cpo (certified pre-owned only).
        year_min: Oldest model year wanted.
        year_max: Newest model year wanted.
        make: Brand, e.g. Toyota, Chevy.
        model: Model, e.g. Tacoma, RAV4 Hybrid.
        trim: Trim level, e.g. XLE, TRD Off-Road.
        body_style: SUV, truck, sedan, minivan, coupe, hatchback, van, wagon, convertible.
        color: Exterior color or shade family, e.g. blue, silver, Blueprint.
        price_min: Lowest price in dollars.
        price_max: Highest price (budget) in dollars, e.g. 35000 for "under 35k".
        mileage_max: Most miles acceptable.
        drivetrain: AWD, 4WD/4x4, FWD, RWD.
        fuel_type: gas, hybrid, plug-in hybrid, electric, diesel.
        seats_min: Minimum seats (7+ means a third row).
        features: Must-have features, e.g. ["sunroof", "apple carplay"].
        text: The wish in the customer's words for semantic ranking, e.g. "family SUV good on gas".
        sort: relevance, price_asc, price_desc, newest or miles_asc.
        limit: How many to show (1-10).
        include_in_transit: Include units not yet on the lot.
    """
    deps = deps_from_config(config)
    result = await search_inventory(
        deps,
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
        features=features,
        text=text,
        sort=sort,
        limit=min(limit, 10),
        include_in_transit=include_in_transit,
    )
    return result.to_text()


@tool("get_vehicle_details", parse_docstring=True)
async def get_vehicle_details_tool(vin_or_stock: str, config: RunnableConfig) -> str:
    """Full details of one vehicle: price, miles, colors, equipment, status, link.

    Args:
        vin_or_stock: The VIN (17 characters) or the dealer stock number.
    """
    return details_text(await vehicle_details(deps_from_config(config), vin_or_stock))


for _t in (search_inventory_tool, get_vehicle_details_tool):
    _t.handle_tool_error = True  # a ToolError becomes the tool message, not a crashed turn
    _t.metadata = {"access": "read"}
    _t.tags = ["read"]

INVENTORY_TOOLS = [search_inventory_tool, get_vehicle_details_tool]
