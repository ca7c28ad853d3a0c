"""The inventory vocabulary for entity extraction: makes, models, trims, colors and bodies in stock.

Built from the current snapshot (cached per inventory version) so the offline brain can find
"chevy", "rav 4" or "trucks" in a customer's message and pass the stocked spelling to the search.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tools.context import ToolDeps
from tools.inventory.matching import (
    BODY_FAMILIES,
    COLOR_SYNONYMS,
    MAKE_ALIASES,
    body_family,
    color_families,
    normalize,
    singulars,
    words,
)
from tools.inventory.model import Vehicle
from tools.inventory.store import InventoryStore


@dataclass(frozen=True)
class Vocabulary:
    """What is in stock, keyed by `normalize()`d surface forms, valued by what to pass to search.

    e.g. makes {"chevy": "Chevrolet"}, models {"rav4": "RAV4", "rav4hybrid": "RAV4 Hybrid"},
    colors {"silver": "silver", "celestialsilvermetallic": "Celestial Silver Metallic"},
    body_styles {"trucks": "pickup"}. `extract()` finds them in a customer's message.
    """

    makes: dict[str, str]
    models: dict[str, str]
    trims: dict[str, str]
    colors: dict[str, str]
    body_styles: dict[str, str]
    model_makes: dict[str, str]  # model value -> make as stocked

    def extract(self, text: str) -> dict[str, list[str]]:
        """Longest-first matches of up to 4 words: {"make": [...], "model": [...], ...}."""
        tokens = words(text)
        tables = [
            ("model", self.models),
            ("make", self.makes),
            ("body_style", self.body_styles),
            ("color", self.colors),
            ("trim", self.trims),
        ]
        found: dict[str, list[str]] = {name: [] for name, _ in tables}
        i = 0
        while i < len(tokens):
            hit = None
            for n in range(min(4, len(tokens) - i), 0, -1):
                joined = "".join(tokens[i : i + n])
                for name, table in tables:
                    value = next((table[c] for c in singulars(joined) if c in table), None)
                    if value is not None:
                        hit = (name, value, n)
                        break
                if hit:
                    break
            if hit:
                if hit[1] not in found[hit[0]]:
                    found[hit[0]].append(hit[1])
                i += hit[2]
            else:
                i += 1
        return found


_TRIM_STOPWORDS = {"base", "s", "x", "a", "i", "l"}


def build_vocabulary(vehicles: Iterable[Vehicle]) -> Vocabulary:
    makes: dict[str, str] = {}
    models: dict[str, str] = {}
    trims: dict[str, str] = {}
    colors: dict[str, str] = {}
    bodies: dict[str, str] = {}
    model_makes: dict[str, str] = {}
    for v in vehicles:
        if v.status == "sold":
            continue
        makes.setdefault(normalize(v.make), v.make)
        models.setdefault(normalize(v.model), v.model)
        model_makes.setdefault(v.model, v.make)
        base = " ".join(w for w in v.model.split() if w.lower() != "hybrid")
        if base and base != v.model:
            models.setdefault(normalize(base), base)
            model_makes.setdefault(base, v.make)
        if v.trim and normalize(v.trim) not in _TRIM_STOPWORDS and len(normalize(v.trim)) >= 2:
            trims.setdefault(normalize(v.trim), v.trim)
        if v.exterior_color:
            colors.setdefault(normalize(v.exterior_color), v.exterior_color)
            for shade in color_families(v.exterior_color):
                colors.setdefault(shade, shade)
        body = body_family(v.body_style)
        if body:
            for kw in (body, *BODY_FAMILIES[body]):
                bodies.setdefault(normalize(kw), body)
    for alias, target in MAKE_ALIASES.items():
        if target in makes:
            makes.setdefault(alias, makes[target])
    for alias, fam in COLOR_SYNONYMS.items():
        if fam in colors:
            colors.setdefault(alias, fam)
    if "suv" in bodies.values():
        bodies.setdefault("suvs", "suv")
    return Vocabulary(makes, models, trims, colors, bodies, model_makes)


async def inventory_vocabulary(deps: ToolDeps) -> Vocabulary:
    """Makes, models, trims, colors and body styles currently offered, with aliases (cached per version)."""
    store = InventoryStore(deps.redis, deps.keys)
    snap = await store._snapshot()
    if snap.vocabulary is None:
        snap.vocabulary = build_vocabulary(snap.vehicles)
    return snap.vocabulary
