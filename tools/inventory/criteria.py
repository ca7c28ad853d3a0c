"""The structured part of an inventory search: `Criteria`, one field per constraint.

Each constraint is matched tolerantly (tools/inventory/matching.py) and is what a relaxation can
loosen when nothing offerable matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from tools.inventory.matching import (
    body_matches,
    color_matches,
    drivetrain_matches,
    feature_matches,
    fuel_matches,
    make_matches,
    model_matches,
    normalize,
    trim_matches,
)
from tools.inventory.model import Vehicle

Sort = Literal["relevance", "price_asc", "price_desc", "newest", "miles_asc"]

# "used" includes certified units (they are used cars); "cpo"/"certified" means certified only.
CONDITION_QUERY: dict[str, set[str]] = {
    "new": {"new"}, "used": {"used", "cpo"}, "preowned": {"used", "cpo"}, "cpo": {"cpo"},
    "certified": {"cpo"}, "certifiedpreowned": {"cpo"},
}  # fmt: skip


@dataclass
class Criteria:
    """The structured part of a search; each field is one constraint a relaxation can loosen."""

    condition: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    make: str | None = None
    model: str | None = None
    trim: str | None = None
    body_style: str | None = None
    color: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    mileage_max: int | None = None
    drivetrain: str | None = None
    fuel_type: str | None = None
    seats_min: int | None = None
    features: list[str] = field(default_factory=list)

    def matches(self, v: Vehicle) -> bool:
        if self.condition and v.condition not in CONDITION_QUERY.get(
            normalize(self.condition), {normalize(self.condition)}
        ):
            return False
        if self.year_min is not None and v.year < self.year_min:
            return False
        if self.year_max is not None and v.year > self.year_max:
            return False
        if self.make and not make_matches(self.make, v.make):
            return False
        if self.model and not model_matches(self.model, v):
            return False
        if self.trim and not trim_matches(self.trim, v.trim):
            return False
        if self.body_style and not body_matches(self.body_style, v.body_style):
            return False
        if self.color and not color_matches(self.color, v.exterior_color):
            return False
        if self.price_min is not None and (v.price is None or v.price < Decimal(str(self.price_min))):
            return False
        if self.price_max is not None and (v.price is None or v.price > Decimal(str(self.price_max))):
            return False
        miles = _miles(v)
        if self.mileage_max is not None and (miles is None or miles > self.mileage_max):
            return False
        if self.drivetrain and not drivetrain_matches(self.drivetrain, v.drivetrain):
            return False
        if self.fuel_type and not fuel_matches(self.fuel_type, v):
            return False
        if self.seats_min is not None and (v.seats or 0) < self.seats_min:
            return False
        return all(feature_matches(feat, v) for feat in self.features)


def _miles(v: Vehicle) -> int | None:
    return 0 if v.mileage is None and v.condition == "new" else v.mileage
