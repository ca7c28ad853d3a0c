"""Inventory: the vehicles a dealer has, how customers' words match them, and the tools that show them.

The agent may only mention a vehicle or a price that came out of here (every vehicle returned is
recorded in `deps.facts`). The feed importer (`integrations/inventory_csv.py`) is the writer; this
module reads through an in-process snapshot that is reloaded only when the inventory version key
changes, so a turn doesn't re-read thousands of JSON blobs.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from memory.keys import Keys
from tools.context import ToolDeps, ToolError, deps_from_config

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

log = logging.getLogger(__name__)

Condition = Literal["new", "used", "cpo"]
Status = Literal["available", "pending", "sold", "in_transit"]
Sort = Literal["relevance", "price_asc", "price_desc", "newest", "miles_asc"]
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


# --- inventory events ------------------------------------------------------------------------

EventType = Literal["arrived", "price_changed", "arrived_on_lot", "sold", "status_changed", "removed"]
EVENTS_MAXLEN = 100_000


@dataclass
class InventoryEvent:
    """A change worth reacting to (arrival alerts, price-drop follow-ups), as stored in the stream."""

    type: str
    vin: str
    stock: str | None
    old: str | None
    new: str | None
    at: dt.datetime
    title: str = ""
    id: str | None = None  # stream id once written

    def fields(self) -> dict[str, str]:
        return {
            "type": self.type,
            "vin": self.vin,
            "stock": self.stock or "",
            "old": self.old or "",
            "new": self.new or "",
            "at": self.at.isoformat(),
            "title": self.title,
        }

    @classmethod
    def from_stream(cls, entry_id: str, f: dict[str, str]) -> InventoryEvent:
        return cls(
            type=f["type"],
            vin=f["vin"],
            stock=f.get("stock") or None,
            old=f.get("old") or None,
            new=f.get("new") or None,
            at=dt.datetime.fromisoformat(f["at"]),
            title=f.get("title", ""),
            id=entry_id,
        )


def status_event_type(old: str, new: str) -> str:
    if old == "in_transit" and new == "available":
        return "arrived_on_lot"
    if new == "sold":
        return "sold"
    return "status_changed"


def money_str(value: Decimal | None) -> str | None:
    return None if value is None else str(_money_json(value))


async def read_inventory_events(
    redis: Redis, keys: Keys, since_id: str = "0", count: int = 100
) -> list[InventoryEvent]:
    """Events after `since_id` (exclusive), oldest first; pass the last id back to continue."""
    start = "-" if since_id in {"0", "0-0", "-"} else f"({since_id}"  # "(" = exclusive (Redis >= 6.2)
    entries = await redis.xrange(keys.inventory_events(), min=start, count=count)
    return [
        InventoryEvent.from_stream(str(eid), {str(k): str(x) for k, x in (f or {}).items()}) for eid, f in entries or []
    ]


# --- the store -------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    version: int
    vehicles: list[Vehicle]
    by_vin: dict[str, Vehicle]
    vocabulary: Vocabulary | None = None


_SNAPSHOTS: dict[tuple[str, str], _Snapshot] = {}


def _server_identity(redis: Any) -> str:
    pool = getattr(redis, "connection_pool", None)
    kw = getattr(pool, "connection_kwargs", None)
    if not kw:
        return f"client-{id(redis)}"
    return repr(tuple(kw.get(k) for k in ("path", "host", "port", "db")))


def clear_inventory_cache() -> None:
    """Forget every in-process snapshot (tests; a server normally never needs it)."""
    _SNAPSHOTS.clear()


class InventoryStore:
    """Vehicles in Redis: one JSON per VIN, the current-feed VIN set, stock number index, a version.

    Writers bump the version key after writing; readers read the version first and reload the
    whole snapshot only when it moved — so a partially written import is at worst cached until the
    importer's final bump.
    """

    CHUNK = 1000

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._cache_key = (_server_identity(redis), keys.dealer)

    @property
    def version_key(self) -> str:
        return self.keys.dealer_key("inv", "version")

    async def version(self) -> int:
        return int(await self.redis.get(self.version_key) or 0)

    async def get(self, vin: str) -> Vehicle | None:
        """Any unit ever imported, including ones that left the feed (status sold)."""
        raw = await self.redis.get(self.keys.vehicle(vin.strip().upper()))
        return Vehicle.model_validate_json(raw) if raw else None

    async def get_many(self, vins: Sequence[str]) -> dict[str, Vehicle]:
        out: dict[str, Vehicle] = {}
        for i in range(0, len(vins), self.CHUNK):
            chunk = vins[i : i + self.CHUNK]
            raws = await self.redis.mget([self.keys.vehicle(v) for v in chunk])
            for vin, raw in zip(chunk, raws, strict=True):
                if raw:
                    out[vin] = Vehicle.model_validate_json(raw)
        return out

    async def by_stock(self, stock_number: str) -> Vehicle | None:
        vin = await self.redis.hget(self.keys.stock_index(), stock_number.strip())
        if vin is None:  # stock numbers are often typed in another case
            vin = await self.redis.hget(self.keys.stock_index(), stock_number.strip().upper())
        return await self.get(str(vin)) if vin else None

    async def find(self, vin_or_stock: str) -> Vehicle | None:
        ref = vin_or_stock.strip().lstrip("#").strip()
        if len(ref) == 17:
            found = await self.get(ref)
            if found:
                return found
        return await self.by_stock(ref)

    async def _snapshot(self) -> _Snapshot:
        version = await self.version()
        snap = _SNAPSHOTS.get(self._cache_key)
        if snap is not None and snap.version == version:
            return snap
        vins = sorted(str(v) for v in await self.redis.smembers(self.keys.vehicles()))
        by_vin = await self.get_many(vins)
        snap = _Snapshot(version=version, vehicles=list(by_vin.values()), by_vin=by_vin)
        _SNAPSHOTS[self._cache_key] = snap
        return snap

    async def all(self, status: str | None = None) -> list[Vehicle]:
        """Units in the current feed (any status unless one is given). Cached per version."""
        vehicles = (await self._snapshot()).vehicles
        return list(vehicles) if status is None else [v for v in vehicles if v.status == status]

    def queue_write(self, pipe: Pipeline, vehicle: Vehicle, *, in_feed: bool = True) -> None:
        """Queue the writes for one unit on a pipeline; the caller bumps the version afterwards."""
        pipe.set(self.keys.vehicle(vehicle.vin), vehicle.model_dump_json())
        if in_feed:
            pipe.sadd(self.keys.vehicles(), vehicle.vin)
            if vehicle.stock_number:
                pipe.hset(self.keys.stock_index(), vehicle.stock_number, vehicle.vin)
        else:  # left the feed: its stock number keeps pointing here unless a new unit takes it
            pipe.srem(self.keys.vehicles(), vehicle.vin)

    def queue_event(self, pipe: Pipeline, event: InventoryEvent) -> None:
        fields: dict[Any, Any] = event.fields()
        pipe.xadd(self.keys.inventory_events(), fields, maxlen=EVENTS_MAXLEN, approximate=True)

    def queue_bump(self, pipe: Pipeline) -> None:
        pipe.incr(self.version_key)

    async def set_status(self, vin: str, status: Status, *, now: dt.datetime) -> Vehicle:
        """Change one unit's status outside a feed import (e.g. a DMS deal marks it sold)."""
        current = await self.get(vin)
        if current is None:
            raise KeyError(vin)
        if current.status == status:
            return current
        updated = current.model_copy(update={"status": status})
        event = InventoryEvent(
            type=status_event_type(current.status, status),
            vin=vin,
            stock=current.stock_number,
            old=current.status,
            new=status,
            at=now,
            title=current.title(),
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            self.queue_write(pipe, updated, in_feed=current.removed_at is None)
            self.queue_event(pipe, event)
            self.queue_bump(pipe)
            await pipe.execute()
        return updated


def inventory_collection_name(dealer: str) -> str:
    """The dealer's vector collection; `VectorStore.collection` maps it onto Chroma's naming rules."""
    return f"inv_{dealer}"


# --- tolerant matching -----------------------------------------------------------------------


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


# --- search ----------------------------------------------------------------------------------


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


# --- closest alternatives ------------------------------------------------------------------

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


# --- vocabulary for entity extraction --------------------------------------------------------


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


# --- LangChain tools (READ) ------------------------------------------------------------------


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
