"""Closest alternatives when nothing offerable matches: loosen the search step by step, say why.

The order is a salesperson's: a little more money or miles, then any color/trim/features, then the
same kind of vehicle, then the requested model at any price, then everything else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from tools.inventory.criteria import Criteria, Sort
from tools.inventory.matching import body_family, feature_matches, make_matches, model_matches
from tools.inventory.model import Vehicle, format_money
from tools.inventory.ranking import _order

PRICE_SLACK = 0.15  # "a little over budget" that a salesperson would still show
_LABELS = {
    "year_min": "year",
    "year_max": "year",
    "seats_min": "seats",
    "fuel_type": "fuel",
    "body_style": "body style",
}


def _relaxation_plan(crit: Criteria, known: list[Vehicle]) -> list[tuple[Criteria, Sort]]:
    """Progressively looser versions of `crit`, in the order a salesperson would try them:
    a little more money/miles, then any color/trim/features, then the same kind of vehicle (same
    make first), then the requested model at any price, then everything else."""
    steps: list[tuple[Criteria, Sort]] = []
    priced = crit.price_max is not None or crit.price_min is not None or crit.mileage_max is not None
    sort: Sort = "price_asc" if priced else "relevance"
    c = replace(
        crit,
        price_max=None if crit.price_max is None else round(crit.price_max * (1 + PRICE_SLACK)),
        price_min=None if crit.price_min is None else round(crit.price_min * (1 - PRICE_SLACK)),
        mileage_max=None if crit.mileage_max is None else round(crit.mileage_max * (1 + PRICE_SLACK)),
    )
    steps.append((c, sort))
    details_free = c = replace(c, color=None, trim=None, features=[])
    steps.append((c, sort))
    if c.model or c.make:  # same kind of vehicle; sold units still tell us what body a model has
        bodies = Counter(
            v.body_style
            for v in known
            if v.body_style
            and (not c.model or model_matches(c.model, v))
            and (not c.make or make_matches(c.make, v.make))
        )
        body = c.body_style or (bodies.most_common(1)[0][0] if bodies else None)
        if body:
            if c.model and c.make:
                steps.append((replace(c, model=None, body_style=body), sort))
            steps.append((replace(c, model=None, make=None, body_style=body), sort))
    c = replace(details_free, price_max=None, price_min=None, mileage_max=None)
    steps.append((c, "price_asc" if priced else "relevance"))
    steps.append(
        (
            replace(c, condition=None, year_min=None, year_max=None, drivetrain=None, fuel_type=None, seats_min=None),
            "relevance",
        )
    )
    return steps


def _explain(crit: Criteria, found: list[Vehicle]) -> list[str]:
    """One plain reason per original constraint that some shown alternative does not meet."""
    reasons: list[str] = []
    for name in (
        "make",
        "model",
        "body_style",
        "trim",
        "color",
        "price_max",
        "price_min",
        "mileage_max",
        "condition",
        "year_min",
        "year_max",
        "drivetrain",
        "fuel_type",
        "seats_min",
    ):
        wanted = getattr(crit, name)
        if wanted is None:
            continue
        misses = [v for v in found if not Criteria(**{name: wanted}).matches(v)]
        if not misses:
            continue
        if name == "price_max":
            top = max(v.price for v in misses if v.price is not None)
            reasons.append(
                f"price: nothing that fits at or under {format_money(round(wanted))} "
                f"(these go up to {format_money(top)})"
            )
        elif name == "price_min":
            reasons.append(f"price: some are under {format_money(round(wanted))}")
        elif name == "mileage_max":
            reasons.append(f"mileage: some have more than {wanted:,} mi")
        elif name == "color":
            reasons.append(f"color: no {wanted} one that fits, other colors shown")
        elif name == "model":
            kind = body_family(misses[0].body_style) or "vehicle"
            reasons.append(f"model: no {wanted} that fits, other {kind}s shown")
        elif name == "make":
            reasons.append(f"make: no {wanted} that fits, other makes shown")
        elif name == "trim":
            reasons.append(f"trim: not every one is a {wanted}")
        else:
            reasons.append(f"{_LABELS.get(name, name)}: not every one matches {wanted}")
    for feat in crit.features:
        if any(not feature_matches(feat, v) for v in found):
            reasons.append(f"features: not every one has {feat}")
    return reasons


def _closest(
    pool: list[Vehicle], crit: Criteria, scores: dict[str, float], limit: int, known: list[Vehicle]
) -> tuple[list[Vehicle], list[str]]:
    """The first loosening of `crit` that finds offerable units (never pending), and why each differs."""
    offerable = [v for v in pool if v.status != "pending"]
    previous: Criteria | None = crit
    for relaxed, sort in _relaxation_plan(crit, known):
        if relaxed == previous:
            continue
        previous = relaxed
        found = [v for v in offerable if relaxed.matches(v)]
        if found:
            shown = _order(found, sort, scores, limit)[:limit]
            return shown, _explain(crit, shown)
    return [], []
