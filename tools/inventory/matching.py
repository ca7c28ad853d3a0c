"""Tolerant matching of a shopper's words to a vehicle: aliases, color and body families, normalisation.

"chevy" is Chevrolet, "rav 4" is the RAV4, "silver" matches every silver paint, "trucks" are
pickups. Pure functions; the search and the vocabulary build on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.inventory.model import Vehicle


def normalize(text: str | None) -> str:
    """Lowercase letters and digits only: "RAV-4", "Rav 4" and "rav4" are all "rav4"."""
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def words(text: str | None) -> list[str]:
    return re.findall(r"[a-z0-9]+", (text or "").lower())


def singulars(word: str) -> list[str]:
    """The word and its plausible singulars ("tacomas" -> "tacoma", "rav4s" -> "rav4")."""
    out = [word]
    if len(word) > 3 and word.endswith("es"):
        out.append(word[:-2])
    if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
        out.append(word[:-1])
    return out


MAKE_ALIASES: dict[str, str] = {
    "chevy": "chevrolet", "chev": "chevrolet", "vw": "volkswagen", "volkswagon": "volkswagen",
    "mercedes": "mercedesbenz", "benz": "mercedesbenz", "merc": "mercedesbenz", "mb": "mercedesbenz",
    "bimmer": "bmw", "beemer": "bmw", "caddy": "cadillac", "caddie": "cadillac", "alfa": "alfaromeo",
    "landy": "landrover", "rangerover": "landrover", "infinity": "infiniti", "hyundia": "hyundai",
    "mitsu": "mitsubishi", "vette": "chevrolet", "lambo": "lamborghini", "chrystler": "chrysler",
}  # fmt: skip


def make_matches(query: str, make: str) -> bool:
    target = normalize(make)
    return any(MAKE_ALIASES.get(q, q) == target for q in singulars(normalize(query)))


def _strip_hybrid(ws: Iterable[str]) -> list[str]:
    return [w for w in ws if w != "hybrid"]


def model_matches(query: str, v: Vehicle) -> bool:
    """Model match that forgives spacing, hyphens, plurals, a leading make and a trailing trim."""
    q = ["hybrid" if w == "hybrids" else w for w in words(query)]
    q = [w for w in q if not make_matches(w, v.make)] or q
    if "hybrid" in q and not v.is_hybrid:
        return False
    q_norm = "".join(_strip_hybrid(q))
    if not q_norm:
        return True  # the query was only "hybrid"
    model = "".join(_strip_hybrid(words(v.model)))
    full = "".join(_strip_hybrid(words(f"{v.model} {v.trim or ''}")))
    for cand in singulars(q_norm):
        if cand == model or (len(cand) >= 3 and (model.startswith(cand) or full.startswith(cand))):
            return True
    return False


def trim_matches(query: str, trim: str | None) -> bool:
    if not trim:
        return False
    q = {s for w in words(query) for s in singulars(w)[-1:]}
    t = {s for w in words(trim) for s in singulars(w)[-1:]}
    nq, nt = normalize(query), normalize(trim)
    return (bool(q) and q <= t) or nq == nt or (len(nq) >= 4 and nq in nt)


COLOR_FAMILIES: dict[str, tuple[str, ...]] = {
    "black": ("black", "midnight", "ebony", "onyx", "obsidian", "jet", "raven", "panther", "night"),
    "white": ("white", "wind chill", "blizzard", "ice", "snow", "halo", "cloud", "glacier", "alabaster", "ivory",
              "frost", "pearl white", "arctic", "polar", "chalk"),
    "silver": ("silver", "quicksilver", "sterling", "billet", "ingot", "platinum silver"),
    "gray": ("gray", "grey", "magnetic", "gunmetal", "graphite", "charcoal", "steel", "cement",
             "lunar", "underground", "heavy metal", "slate", "titanium", "granite", "smoke", "ash"),
    "red": ("red", "ruby", "crimson", "scarlet", "cherry", "burgundy", "maroon", "garnet", "wine",
            "cayenne", "rosso", "radiant red"),
    "blue": ("blue", "navy", "cobalt", "sapphire", "azure", "indigo", "aqua", "teal", "blueprint",
             "lapis", "ocean", "cerulean"),
    "green": ("green", "emerald", "olive", "jade", "sage", "moss", "forest", "cypress", "lime",
              "army", "mineral"),
    "brown": ("brown", "bronze", "mocha", "espresso", "chestnut", "caramel", "mesquite", "umber",
              "cocoa", "coffee"),
    "beige": ("beige", "tan", "sand", "khaki", "cream", "champagne", "desert", "taupe", "almond"),
    "orange": ("orange", "inferno", "tangerine", "octane", "copper", "sunset", "amber"),
    "yellow": ("yellow", "lemon", "solar", "canary", "acidic"),
    "gold": ("gold",),
    "purple": ("purple", "violet", "plum", "amethyst", "lavender"),
}  # fmt: skip
COLOR_SYNONYMS: dict[str, str] = {"grey": "gray", "navy": "blue", "maroon": "red", "burgundy": "red",
                                  "tan": "beige", "teal": "blue", "charcoal": "gray"}  # fmt: skip
_COLOR_RES = {
    fam: re.compile(r"\b(?:" + "|".join(re.escape(k) for k in kws) + ")") for fam, kws in COLOR_FAMILIES.items()
}


_BASIC_COLOR = re.compile(
    r"\b(black|white|silver|gr[ae]y|red|blue\w*|green|brown|beige|tan|orange|yellow|gold|purple)\b"
)
_BASIC_FAMILY = {"grey": "gray", "tan": "beige"}


def color_families(color: str | None) -> set[str]:
    """Families a paint name belongs to: "Celestial Silver Metallic" -> {"silver"}.

    A plain color word in the name decides alone ("Black Sand Pearl" is black, not beige); only
    names without one ("Cement", "Ice Cap", "Ruby Flare") fall back to the evocative keywords.
    """
    name = (color or "").lower()
    basic = {_BASIC_FAMILY.get(m, m[:4] if m.startswith("blue") else m) for m in _BASIC_COLOR.findall(name)}
    if basic:
        return basic
    return {fam for fam, rx in _COLOR_RES.items() if rx.search(name)}


def color_family_of_query(query: str) -> str | None:
    q = normalize(query)
    q = COLOR_SYNONYMS.get(q, q)
    for cand in singulars(q):
        if cand in COLOR_FAMILIES:
            return cand
    return None


def color_matches(query: str, color: str | None) -> bool:
    """A family word matches every shade of it; a paint name matches itself, word by word
    ("celestial silver"); "dark gray" falls back to its family word. "silver or gray" is either."""
    if not color:
        return False
    paint = color.lower()
    for part in re.split(r"\bor\b|,|/|\band\b", query.lower()):
        q = words(part)
        if not q:
            continue
        fam = color_family_of_query(part)
        if fam is not None:
            if fam in color_families(color):
                return True
            continue
        if re.search(r"\b" + r"[^a-z0-9]*".join(map(re.escape, q)), paint):
            return True
        if {f for w in q if (f := color_family_of_query(w))} & color_families(color):
            return True
    return False


BODY_FAMILIES: dict[str, tuple[str, ...]] = {
    "minivan": ("minivan", "mini van"),
    "pickup": ("pickup", "pick up", "truck", "crew cab", "double cab", "access cab", "extended cab",
               "regular cab", "quad cab", "supercrew", "supercab", "king cab"),
    "suv": ("suv", "sport utility", "crossover", "cuv"),
    "sedan": ("sedan", "saloon"),
    "coupe": ("coupe",),
    "hatchback": ("hatchback", "hatch", "liftback"),
    "wagon": ("wagon", "estate"),
    "convertible": ("convertible", "cabriolet", "roadster", "spider"),
    "van": ("van",),
}  # fmt: skip
_BODY_RES = {
    fam: re.compile(r"\b(?:" + "|".join(re.escape(k) for k in kws) + r")(?:e?s)?\b")
    for fam, kws in BODY_FAMILIES.items()
}


# How shoppers describe each body family; embedded with the vehicle so their words find it.
BODY_PHRASES = {
    "suv": "SUV / crossover.",
    "pickup": "Pickup truck for towing and hauling.",
    "minivan": "Minivan, family hauler with sliding doors.",
    "sedan": "Sedan, comfortable commuter car.",
    "coupe": "Sporty two-door coupe, fun to drive.",
    "convertible": "Convertible, open-top two-seater fun.",
    "hatchback": "Practical hatchback, easy to park.",
    "wagon": "Wagon with extra cargo room.",
    "van": "Van for cargo or passengers.",
}


def body_family(body: str | None) -> str | None:
    """The body family of a feed body style or a shopper's word ("Crew Cab Pickup", "trucks")."""
    text = (body or "").lower()
    return next((fam for fam, rx in _BODY_RES.items() if rx.search(text)), None)


def body_matches(query: str, body: str | None) -> bool:
    qf, bf = body_family(query), body_family(body)
    if qf is not None:
        return qf == bf
    return bool(body) and normalize(query) in normalize(body)


def drive_family(drive: str | None) -> str | None:
    d = (drive or "").lower().replace("-", " ")
    n = normalize(drive)
    if "4x4" in d or "4wd" in n or "fourwheel" in n or "4wheel" in n:
        return "4wd"
    if "awd" in n or "allwheel" in n or n in {"4matic", "xdrive", "quattro"}:
        return "awd"
    if "fwd" in n or "frontwheel" in n:
        return "fwd"
    if "rwd" in n or "rearwheel" in n:
        return "rwd"
    if "2wd" in n or "4x2" in d:
        return "2wd"
    return None


def drivetrain_matches(query: str, drive: str | None) -> bool:
    qf, df = drive_family(query), drive_family(drive)
    if qf == "2wd":
        return df in {"fwd", "rwd", "2wd"}
    if qf is not None:
        return qf == df
    return bool(drive) and normalize(query) == normalize(drive)


def fuel_family(fuel: str | None, hybrid: bool = False) -> str | None:
    f = (fuel or "").lower()
    if "plug" in f or "phev" in f:
        return "phev"
    if "hybrid" in f or hybrid:
        return "hybrid"
    if "electric" in f or re.search(r"\b(ev|bev|battery)\b", f):
        return "electric"
    if "diesel" in f:
        return "diesel"
    if "gas" in f or "petrol" in f or "unleaded" in f or "flex" in f:
        return "gas"
    return None


def fuel_matches(query: str, v: Vehicle) -> bool:
    """ "hybrid" matches plug-ins and models named hybrid; other words match the fuel family."""
    qf = fuel_family(query)
    vf = fuel_family(v.fuel_type, v.is_hybrid)
    if qf == "hybrid":
        return v.is_hybrid or vf == "phev"
    if qf is not None:
        return qf == vf
    return bool(v.fuel_type) and normalize(query) in normalize(v.fuel_type)


FEATURE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "sunroof": ("sunroof", "moonroof", "panoramic roof", "sun roof", "moon roof"),
    "carplay": ("apple carplay", "carplay"),
    "leather": ("leather", "leatherette", "softex", "sofTex"),
    "third row": ("third row", "3rd row", "third-row", "3rd-row"),
    "tow": ("tow", "towing", "trailer hitch", "hitch"),
    "navigation": ("navigation", "nav"),
    "backup camera": ("backup camera", "rear camera", "rearview camera", "back up camera"),
    "remote start": ("remote start", "remote engine start"),
}


def feature_matches(query: str, v: Vehicle) -> bool:
    def stem(ws: Iterable[str]) -> set[str]:
        return {singulars(w)[-1] for w in ws}

    key = " ".join(words(query))
    phrases = next((syn for k, syn in FEATURE_SYNONYMS.items() if key in {k, *syn}), (query,))
    if key in {"third row", "3rd row"} and (v.seats or 0) >= 7:
        return True
    have = [stem(words(f)) for f in v.features]
    return any(stem(words(p)) <= f for p in phrases for f in have if words(p))
