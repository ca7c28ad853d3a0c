"""Inventory feed import (CSV): check every row, then sync Redis and the vector index to the feed.

Dealer feeds are exported by many systems, so the reader forgives header spelling ("Stock #",
"Price"), a BOM, `$` and thousands separators; the rows themselves are validated strictly (VIN
check digit, enums, numbers) because a wrong price or a phantom vehicle is worse than a missing one.
Bad rows are reported with the physical line they start on and skipped, never silently dropped.

A re-import is a sync: arrivals, price changes, status changes and units gone from the feed are
written as events to the inventory stream (`keys.inventory_events()`), which arrival alerts and
price-drop follow-ups consume. Units gone from the feed are marked sold, not deleted.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from memory.keys import Keys
from tools.inventory import (
    FEED_FIELDS,
    InventoryEvent,
    InventoryStore,
    Vehicle,
    inventory_collection_name,
    money_str,
    read_inventory_events,
    status_event_type,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from rich.console import Console

    from memory.vectors import VectorIndex, VectorStore

__all__ = [
    "BadRow",
    "FeedError",
    "ImportReport",
    "import_inventory",
    "parse_inventory_csv",
    "read_inventory_events",
    "run_import_cli",
    "vin_problem",
]

REQUIRED_COLUMNS = ("vin", "year", "make", "model")
WRITE_CHUNK = 500
VECTOR_CHUNK = 128
MIN_YEAR = 1981  # the 17-character VIN standard starts with model year 1981

_ALIASES_BY_FIELD: dict[str, tuple[str, ...]] = {
    "vin": ("vin_number", "vin_no", "vehicle_vin", "vin_code"),
    "stock_number": ("stock", "stock_no", "stock_num", "stocknumber", "stock_id", "stk"),
    "condition": ("new_used", "new_used_cpo", "type", "vehicle_condition", "inventory_type"),
    "year": ("model_year", "yr", "vehicle_year"),
    "make": ("brand", "manufacturer"),
    "model": ("model_name",),
    "trim": ("series", "trim_level"),
    "body_style": ("body", "body_type", "bodystyle", "style"),
    "exterior_color": ("color", "colour", "ext_color", "exterior", "exteriorcolor", "exterior_colour"),
    "interior_color": ("int_color", "interior", "interiorcolor", "interior_colour"),
    "mileage": ("miles", "odometer", "odometer_reading"),
    "price": ("internet_price", "selling_price", "sale_price", "asking_price", "our_price", "list_price",
              "special_price", "sell_price"),
    "msrp": ("sticker_price", "retail_price", "original_msrp"),
    "drivetrain": ("drive_train", "drive_type", "drive", "driveline", "drive_line"),
    "transmission": ("trans", "transmission_type"),
    "fuel_type": ("fuel",),
    "engine": ("engine_description", "engine_desc"),
    "seats": ("seating", "seating_capacity", "passenger_capacity", "passengers"),
    "features": ("options", "equipment", "option_list"),
    "photo_urls": ("photos", "images", "image_urls", "photo_url", "image_list", "imagelist", "photo_list"),
    "vdp_url": ("vdp", "url", "vehicle_url", "link", "detail_url", "vdp_link"),
    "date_in_stock": ("in_stock_date", "stock_date", "received_date", "date_received", "inventory_date",
                      "date_added"),
    "status": ("vehicle_status", "availability"),
}  # fmt: skip
HEADER_ALIASES = {alias: name for name, aliases in _ALIASES_BY_FIELD.items() for alias in aliases}
CONDITION_VALUES = {
    "new": "new", "n": "new",
    "used": "used", "u": "used", "preowned": "used", "pre-owned": "used",
    "cpo": "cpo", "certified": "cpo", "certified pre-owned": "cpo", "certified preowned": "cpo",
    "certified used": "cpo",
}  # fmt: skip
STATUS_VALUES = {
    "available": "available", "in stock": "available", "instock": "available", "active": "available",
    "pending": "pending", "sale pending": "pending", "on hold": "pending", "hold": "pending",
    "deposit": "pending",
    "sold": "sold",
    "in_transit": "in_transit", "in transit": "in_transit", "intransit": "in_transit",
    "transit": "in_transit", "incoming": "in_transit", "arriving": "in_transit", "on order": "in_transit",
}  # fmt: skip
PRICELESS_STATUSES = {"pending", "sold", "in_transit"}  # may be listed without a price


class FeedError(Exception):
    """The file as a whole can't be imported (missing, unreadable, no header, required column absent)."""


class BadRow(NamedTuple):
    line: int  # physical line the record starts on (1 = the header)
    vin: str | None
    reason: str


# --- VIN -------------------------------------------------------------------------------------

_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_problem(vin: str) -> str | None:
    """Why `vin` is not a valid ISO 3779 VIN (North American check digit), or None."""
    if len(vin) != 17:
        return f"VIN {vin!r} must be 17 characters (has {len(vin)})"
    bad = sorted({c for c in vin if c not in _VIN_VALUES})
    if bad:
        return f"VIN {vin!r} has invalid characters {''.join(bad)!r} (I, O, Q are never used)"
    rem = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True)) % 11
    expected = "X" if rem == 10 else str(rem)
    if vin[8] != expected:
        return f"VIN {vin!r} fails the check digit (position 9 is {vin[8]!r}, expected {expected!r})"
    return None


# --- parsing ---------------------------------------------------------------------------------


def header_key(name: str) -> str:
    """Canonical feed field for a header cell ("Stock #" -> stock_number), else its cleaned name."""
    key = re.sub(r"[^a-z0-9]+", "_", name.strip().lower().replace("#", " number ")).strip("_")
    return HEADER_ALIASES.get(key, key)


def _number(raw: str, what: str) -> Decimal:
    cleaned = re.sub(r"[\s$,]|usd", "", raw.strip().lower())
    cleaned = re.sub(r"(mi|miles)$", "", cleaned) if what == "mileage" else cleaned
    if not re.fullmatch(r"-?\d+(\.\d+)?", cleaned):
        raise ValueError(f"{what} {raw!r} is not a number")
    try:
        return Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the regex already guarantees it
        raise ValueError(f"{what} {raw!r} is not a number") from None


def _integer(raw: str, what: str) -> int:
    value = _number(raw, what)
    if value != value.to_integral_value():
        raise ValueError(f"{what} {raw!r} is not a whole number")
    return int(value)


def _date(raw: str) -> dt.date:
    text = raw.strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError(f"date_in_stock {raw!r} is not a date (use YYYY-MM-DD)") from None


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split("|") if part.strip()]


def parse_row(cells: dict[str, str], extra: dict[str, str], today: dt.date) -> tuple[Vehicle | None, list[str]]:
    """One record -> a Vehicle, or the list of everything wrong with it."""
    problems: list[str] = []
    values: dict[str, Any] = {"attributes": extra}

    def text(name: str) -> str | None:
        return (cells.get(name) or "").strip() or None

    vin = (text("vin") or "").upper()
    if not vin:
        problems.append("vin is missing")
    elif problem := vin_problem(vin):
        problems.append(problem)
    values["vin"] = vin
    for name in ("make", "model"):
        if text(name) is None:
            problems.append(f"{name} is missing")
    for name in (
        "stock_number",
        "make",
        "model",
        "trim",
        "body_style",
        "exterior_color",
        "interior_color",
        "drivetrain",
        "transmission",
        "fuel_type",
        "engine",
        "vdp_url",
    ):
        values[name] = text(name)

    raw_year = text("year")
    if raw_year is None:
        problems.append("year is missing")
    else:
        try:
            year = _integer(raw_year, "year")
            if not MIN_YEAR <= year <= today.year + 2:
                problems.append(f"year {year} is outside {MIN_YEAR}-{today.year + 2}")
            values["year"] = year
        except ValueError as exc:
            problems.append(str(exc))

    raw_cond = text("condition")
    condition = CONDITION_VALUES.get((raw_cond or "").lower())
    if condition is None:
        problems.append(
            "condition is missing" if raw_cond is None else f"condition {raw_cond!r} is not new, used or cpo"
        )
    values["condition"] = condition

    raw_status = text("status")
    status = "available" if raw_status is None else STATUS_VALUES.get(raw_status.lower().replace("-", " "))
    if status is None:
        problems.append(f"status {raw_status!r} is not available, pending, sold or in_transit")
    values["status"] = status

    for name in ("price", "msrp"):
        raw = text(name)
        values[name] = None
        if raw is None:
            continue
        try:
            amount = _number(raw, name)
        except ValueError as exc:
            problems.append(str(exc))
            values[name] = "bad"
            continue
        if amount < 0:
            problems.append(f"{name} {raw!r} is negative")
        values[name] = amount if amount > 0 else None  # 0 is how many exports say "no price"
    if values["price"] is None and status == "available":
        problems.append("price is missing (required unless status is pending, sold or in_transit)")

    raw_miles = text("mileage")
    if raw_miles is None:
        values["mileage"] = 0 if condition == "new" else None
    else:
        try:
            miles = _integer(raw_miles, "mileage")
            if miles < 0:
                problems.append(f"mileage {raw_miles!r} is negative")
            values["mileage"] = miles
        except ValueError as exc:
            problems.append(str(exc))

    raw_seats = text("seats")
    if raw_seats is not None:
        try:
            seats = _integer(raw_seats, "seats")
            if not 1 <= seats <= 20:
                problems.append(f"seats {seats} is not plausible")
            values["seats"] = seats
        except ValueError as exc:
            problems.append(str(exc))

    if (raw_date := text("date_in_stock")) is not None:
        try:
            values["date_in_stock"] = _date(raw_date)
        except ValueError as exc:
            problems.append(str(exc))
    values["features"] = _split(cells.get("features") or "")
    values["photo_urls"] = _split(cells.get("photo_urls") or "")

    if problems:
        return None, problems
    return Vehicle.model_validate(values), []


@dataclass
class ParsedFeed:
    vehicles: list[Vehicle]
    bad_rows: list[BadRow]
    rows: int  # data records read (blank lines not counted)
    unknown_columns: list[str]
    complete: bool = True  # False when the CSV broke off mid-file: removals would be guesses
    warnings: list[str] = field(default_factory=list)


def _read_text(path: Path) -> tuple[str, list[str]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FeedError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:  # Windows exports are often cp1252; say so rather than fail
        return data.decode("cp1252", errors="replace"), ["file is not UTF-8; read it as Windows-1252"]


def parse_inventory_csv(path: Path, *, today: dt.date | None = None) -> ParsedFeed:
    """Read and validate a feed without touching any store. Raises FeedError for an unusable file."""
    today = today or dt.date.today()
    text, warnings = _read_text(Path(path))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise FeedError(f"{path} is empty") from None
    except csv.Error as exc:
        raise FeedError(f"{path}: unreadable header: {exc}") from None
    columns = [header_key(h) for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise FeedError(f"{path}: required column(s) missing: {', '.join(missing)} (header: {', '.join(header)})")
    # The first column claiming a field wins; any later duplicate is kept as an attribute.
    known: dict[int, str] = {}
    extra_cols: dict[int, str] = {}
    for i, (raw, key) in enumerate(zip(header, columns, strict=True)):
        if key in FEED_FIELDS and key not in known.values():
            known[i] = key
        elif raw.strip():
            extra_cols[i] = raw.strip()

    feed = ParsedFeed([], [], 0, list(extra_cols.values()), warnings=warnings)
    vin_col = columns.index("vin")
    seen_vins: dict[str, int] = {}
    seen_stock: dict[str, int] = {}
    end = reader.line_num
    while True:
        start = end + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            feed.bad_rows.append(BadRow(start, None, f"unreadable CSV from here on: {exc}"))
            feed.complete = False
            break
        end = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        feed.rows += 1
        vin_guess = record[vin_col].strip().upper() or None if vin_col < len(record) else None
        if len(record) > len(header):
            feed.bad_rows.append(
                BadRow(start, vin_guess, f"{len(record)} values but the header has {len(header)} (an unquoted comma?)")
            )
            continue
        cells = {key: record[i] for i, key in known.items() if i < len(record)}
        extra = {name: record[i].strip() for i, name in extra_cols.items() if i < len(record) and record[i].strip()}
        vehicle, problems = parse_row(cells, extra, today)
        if vehicle is None:
            feed.bad_rows.append(BadRow(start, vin_guess, "; ".join(problems)))
            continue
        if vehicle.vin in seen_vins:
            feed.bad_rows.append(BadRow(start, vehicle.vin, f"duplicate VIN (first on line {seen_vins[vehicle.vin]})"))
            continue
        if vehicle.stock_number and vehicle.stock_number in seen_stock:
            line = seen_stock[vehicle.stock_number]
            feed.bad_rows.append(
                BadRow(start, vehicle.vin, f"duplicate stock number {vehicle.stock_number} (first on line {line})")
            )
            continue
        seen_vins[vehicle.vin] = start
        if vehicle.stock_number:
            seen_stock[vehicle.stock_number] = start
        feed.vehicles.append(vehicle)
    return feed


# --- sync ------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did; `events` are the ones written to the inventory stream, in order."""

    path: str
    rows: int = 0
    imported: int = 0  # valid rows now in the store (added + updated + unchanged)
    added: int = 0
    updated: int = 0
    price_changes: int = 0
    status_changes: int = 0
    removed: int = 0
    unchanged: int = 0
    vectors_upserted: int = 0
    vectors_retagged: int = 0
    vectors_deleted: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    events: list[InventoryEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.bad_rows)

    @property
    def ok(self) -> bool:
        return not self.bad_rows


def _event(kind: str, v: Vehicle, old: str | None, new: str | None, at: dt.datetime) -> InventoryEvent:
    return InventoryEvent(type=kind, vin=v.vin, stock=v.stock_number, old=old, new=new, at=at, title=v.title())


@dataclass
class _SyncPlan:
    writes: list[tuple[Vehicle, bool]] = field(default_factory=list)  # (unit, still in the feed)
    embed: list[Vehicle] = field(default_factory=list)  # new or re-described: (re)compute the vector
    retag: list[Vehicle] = field(default_factory=list)  # same text, new metadata (price, status)
    gone: list[str] = field(default_factory=list)  # VINs leaving the feed


def _plan(
    feed: ParsedFeed, current: set[str], existing: dict[str, Vehicle], now: dt.datetime, report: ImportReport
) -> _SyncPlan:
    """Compare the feed with the store: decide every write, fill counts and events on `report`."""
    plan = _SyncPlan()
    for v in feed.vehicles:
        old = existing.get(v.vin)
        if old is None or v.vin not in current:  # new, or back in the feed after leaving it
            new = v.model_copy(update={"listed_at": (old.listed_at if old else None) or now, "removed_at": None})
            report.added += 1
            report.events.append(_event("arrived", new, old.status if old else None, new.status, now))
            plan.writes.append((new, True))
            plan.embed.append(new)
            continue
        if old.feed_view() == v.feed_view():
            report.unchanged += 1
            continue
        new = v.model_copy(update={"listed_at": old.listed_at or now, "removed_at": None})
        report.updated += 1
        if old.price != new.price:
            report.price_changes += 1
            report.events.append(_event("price_changed", new, money_str(old.price), money_str(new.price), now))
        if old.status != new.status:
            report.status_changes += 1
            report.events.append(_event(status_event_type(old.status, new.status), new, old.status, new.status, now))
        plan.writes.append((new, True))
        if old.description_for_search() != new.description_for_search():
            plan.embed.append(new)
        elif old.search_metadata() != new.search_metadata():
            plan.retag.append(new)

    protected = {b.vin for b in feed.bad_rows if b.vin}  # a bad row is not evidence the unit left
    leaving = sorted(current - {v.vin for v in feed.vehicles} - protected)
    if leaving and (not feed.complete or not feed.vehicles):
        reason = "the file broke off early" if not feed.complete else "the feed has no valid rows"
        report.warnings.append(f"{len(leaving)} unit(s) missing from this feed were NOT marked sold: {reason}")
        leaving = []
    for vin in leaving:
        plan.gone.append(vin)
        old = existing.get(vin)
        if old is None:  # a dangling set member: drop it, nothing to record
            continue
        new = old.model_copy(update={"status": "sold", "removed_at": now})
        report.removed += 1
        report.events.append(_event("removed", new, old.status, "sold", now))
        plan.writes.append((new, False))
    return plan


async def import_inventory(
    redis: Redis,
    keys: Keys,
    path: Path | str,
    *,
    vectors: VectorStore | None = None,
    now: dt.datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate `path` and make the dealer's inventory match it. Raises FeedError for an unusable file.

    Writes go in pipelines (one round trip per 500 units); events and the inventory version bump
    go last in one transaction, so readers reload their snapshot once per import and an event is
    never visible before the unit it talks about.
    """
    now = now or dt.datetime.now(dt.UTC)
    feed = parse_inventory_csv(Path(path), today=now.date())
    if feed.rows == 0:  # an empty export must never read as "every unit was sold"
        raise FeedError(f"{path} has a header but no vehicle rows")
    report = ImportReport(
        path=str(path),
        rows=feed.rows,
        bad_rows=feed.bad_rows,
        warnings=list(feed.warnings),
        unknown_columns=feed.unknown_columns,
    )
    store = InventoryStore(redis, keys)
    current = {str(vin) for vin in await redis.smembers(keys.vehicles())}
    existing = await store.get_many(sorted(current | {v.vin for v in feed.vehicles}))
    plan = _plan(feed, current, existing, now, report)
    report.imported = report.added + report.updated + report.unchanged

    index = None
    if vectors is not None:
        try:
            index = vectors.collection(inventory_collection_name(keys.dealer))
            if await index.count() != len(current):  # out of step with the store: re-embed the feed
                final = {v.vin: v for v, in_feed in plan.writes if in_feed}
                plan.embed = [final.get(v.vin) or existing[v.vin] for v in feed.vehicles]
                plan.retag = []
        except Exception as exc:
            report.warnings.append(f"vector index unavailable ({exc}); semantic search not updated")
            index = None

    progress = _Progress(len(plan.writes) + (len(plan.embed) if index is not None else 0), on_progress)
    for i in range(0, len(plan.writes), WRITE_CHUNK):
        chunk = plan.writes[i : i + WRITE_CHUNK]
        async with redis.pipeline(transaction=False) as pipe:
            for v, in_feed in chunk:
                store.queue_write(pipe, v, in_feed=in_feed)
            await pipe.execute()
        progress.advance(len(chunk))
    async with redis.pipeline(transaction=True) as pipe:
        if plan.gone:
            pipe.srem(keys.vehicles(), *plan.gone)
        for event in report.events:
            store.queue_event(pipe, event)
        store.queue_bump(pipe)
        results = await pipe.execute()
    ids = results[1 if plan.gone else 0 : -1]
    for event, entry_id in zip(report.events, ids, strict=True):
        event.id = entry_id

    if index is not None:
        try:
            await _sync_vectors(index, plan, report, progress)
        except Exception as exc:  # the store is already in sync; semantic search degrades, not the import
            report.warnings.append(f"vector index update failed ({exc}); the next import rebuilds it")
    return report


class _Progress:
    def __init__(self, total: int, callback: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.callback = total, 0, callback
        self.advance(0)

    def advance(self, n: int) -> None:
        self.done += n
        if self.callback:
            self.callback(self.done, self.total)


async def _sync_vectors(index: VectorIndex, plan: _SyncPlan, report: ImportReport, progress: _Progress) -> None:
    for i in range(0, len(plan.embed), VECTOR_CHUNK):
        chunk = plan.embed[i : i + VECTOR_CHUNK]
        await index.upsert(
            [v.vin for v in chunk], [v.description_for_search() for v in chunk], [v.search_metadata() for v in chunk]
        )
        report.vectors_upserted += len(chunk)
        progress.advance(len(chunk))
    if plan.retag:
        await index.update_metadata([v.vin for v in plan.retag], [v.search_metadata() for v in plan.retag])
        report.vectors_retagged = len(plan.retag)
    if plan.gone:
        await index.delete(ids=plan.gone)
        report.vectors_deleted = len(plan.gone)


# --- CLI -------------------------------------------------------------------------------------


def print_report(report: ImportReport, console: Console) -> None:
    from rich.table import Table

    summary = Table(title=f"Inventory import: {report.path}", show_header=False)
    for label, value in (
        ("rows read", report.rows),
        ("imported", report.imported),
        ("added", report.added),
        ("updated", report.updated),
        ("price changes", report.price_changes),
        ("status changes", report.status_changes),
        ("removed (marked sold)", report.removed),
        ("unchanged", report.unchanged),
        ("skipped (bad rows)", report.skipped),
        (
            "vectors embedded / retagged / deleted",
            f"{report.vectors_upserted} / {report.vectors_retagged} / {report.vectors_deleted}",
        ),
    ):
        summary.add_row(label, str(value))
    console.print(summary)
    if report.unknown_columns:
        console.print(f"Extra columns kept as attributes: {', '.join(report.unknown_columns)}")
    if report.bad_rows:
        bad = Table(title="Skipped rows", title_style="bold red")
        bad.add_column("line", justify="right")
        bad.add_column("VIN")
        bad.add_column("reason")
        for row in report.bad_rows:
            bad.add_row(str(row.line), row.vin or "", row.reason)
        console.print(bad)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


def run_import_cli(
    redis: Redis, keys: Keys, path: Path | str, vectors: VectorStore | None, *, console: Console | None = None
) -> int:
    """`dealeros import inventory FILE`: progress bar, summary, bad rows. Exit 0 all rows imported,
    2 some rows skipped, 1 the file can't be read. Call outside a running event loop, with an
    asyncio Redis client not yet used on another loop."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = console or Console()
    try:
        with Progress(
            TextColumn("importing {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(Path(path).name, total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            async def run() -> ImportReport:
                try:
                    return await import_inventory(redis, keys, path, vectors=vectors, on_progress=on_progress)
                finally:  # connections belong to this loop: close them here, the client stays usable
                    pool = getattr(redis, "connection_pool", None)
                    if pool is not None:
                        await pool.disconnect()

            report = asyncio.run(run())
    except FeedError as exc:
        console.print(f"[red]cannot import:[/red] {exc}")
        return 1
    print_report(report, console)
    return 2 if report.bad_rows else 0
