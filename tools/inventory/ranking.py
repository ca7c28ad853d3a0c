"""Ordering search results: status first, then the shopper's sort or semantic relevance.

Relevance for a free-text wish comes from the vector index when one is configured (word overlap
otherwise), lifted by soft preferences read from the text ("third row", "good on gas").
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from tools.context import ToolDeps
from tools.inventory.criteria import _miles
from tools.inventory.matching import body_family, drive_family, fuel_family, singulars, words
from tools.inventory.model import Vehicle
from tools.inventory.store import inventory_collection_name

log = logging.getLogger(__name__)


_STATUS_RANK = {"available": 0, "in_transit": 1, "pending": 2, "sold": 3}
_BIG = Decimal(10**12)


def _sort_key(sort: str, scores: dict[str, float]) -> Callable[[Vehicle], tuple[Any, ...]]:
    def price(v: Vehicle) -> Decimal:
        return v.price if v.price is not None else _BIG

    def key(v: Vehicle) -> tuple[Any, ...]:
        rank = _STATUS_RANK[v.status]
        if sort == "price_asc":
            return (rank, price(v))
        if sort == "price_desc":
            return (rank, -price(v) if v.price is not None else _BIG)
        if sort == "newest":
            return (rank, -v.year, -(v.date_in_stock or dt.date.min).toordinal())
        if sort == "miles_asc":
            miles = _miles(v)
            return (rank, miles if miles is not None else 10**9)
        return (rank, -scores.get(v.vin, 0.0), price(v))

    return key


def _order(vehicles: list[Vehicle], sort: str, scores: dict[str, float], limit: int) -> list[Vehicle]:
    if scores and sort != "relevance":  # text narrows to the most relevant, then the shopper's order
        vehicles = sorted(vehicles, key=_sort_key("relevance", scores))[: max(limit * 3, limit)]
    return sorted(vehicles, key=_sort_key(sort, scores))


# Soft preferences read from free text; each satisfied one lifts a vehicle's relevance.
_HINTS: list[tuple[re.Pattern[str], Callable[[Vehicle], bool]]] = [
    (
        re.compile(
            r"third[- ]?row|3rd[- ]?row|three[- ]?rows?|3[- ]rows?|\b[78][- ]?(seat|passenger)|\bseven\b|\beight\b"
        ),
        lambda v: (v.seats or 0) >= 7,
    ),
    (
        re.compile(r"good on gas|fuel[- ]?(efficien|economy|sipper)|gas mileage|\bmpg\b|economical|hybrid|save on gas"),
        lambda v: v.is_hybrid or fuel_family(v.fuel_type) in {"electric", "phev"},
    ),
    (re.compile(r"\bsuvs?\b|crossover"), lambda v: body_family(v.body_style) == "suv"),
    (re.compile(r"\btrucks?\b|pickup"), lambda v: body_family(v.body_style) == "pickup"),
    (re.compile(r"minivan"), lambda v: body_family(v.body_style) == "minivan"),
    (re.compile(r"\bsedans?\b"), lambda v: body_family(v.body_style) == "sedan"),
    (re.compile(r"\bawd\b|all[- ]wheel|snow"), lambda v: drive_family(v.drivetrain) in {"awd", "4wd"}),
    (re.compile(r"4x4|4wd|off[- ]?road"), lambda v: drive_family(v.drivetrain) == "4wd"),
    (re.compile(r"\belectric\b|\bevs?\b"), lambda v: fuel_family(v.fuel_type) == "electric"),
]
HINT_WEIGHT = 0.25
SEMANTIC_CANDIDATES = 300
_STOP = set("a an the and or with for to of in on my our i we need want looking good car vehicle".split())


def _lexical_scores(text: str, vehicles: Iterable[Vehicle]) -> dict[str, float]:
    """Fallback when no vector index is available: share of the query's words in the description."""
    q = {singulars(w)[-1] for w in words(text)} - _STOP
    if not q:
        return {}
    out = {}
    for v in vehicles:
        d = {singulars(w)[-1] for w in words(v.description_for_search())}
        out[v.vin] = len(q & d) / len(q)
    return out


async def _semantic_scores(deps: ToolDeps, text: str, pool: list[Vehicle]) -> dict[str, float]:
    """Similarity of `text` to each vehicle (vector index when configured, words otherwise) + hints."""
    scores: dict[str, float] = {}
    store = deps.services.get("vectors")
    if store is not None and pool:
        try:
            index = store.collection(inventory_collection_name(deps.keys.dealer))
            if len(pool) <= SEMANTIC_CANDIDATES:
                where: dict[str, Any] = {"vin": {"$in": [v.vin for v in pool]}}
                k = len(pool)
            else:
                where, k = {"status": {"$ne": "sold"}}, SEMANTIC_CANDIDATES
            for hit in await index.query(text, k=k, where=where):
                scores[hit.id] = float(hit.score)
        except Exception:  # semantic search is an enhancement: never lose the turn to it
            log.warning("inventory semantic search failed; using word overlap", exc_info=True)
            scores = {}
    if not scores:
        scores = _lexical_scores(text, pool)
    hints = [pred for rx, pred in _HINTS if rx.search(text.lower())]
    for v in pool:
        bonus = HINT_WEIGHT * sum(1 for pred in hints if pred(v))
        if bonus or v.vin in scores:
            scores[v.vin] = scores.get(v.vin, 0.0) + bonus
    return scores
