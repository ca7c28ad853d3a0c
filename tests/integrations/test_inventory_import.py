"""The inventory feed importer against a real Redis: the demo feed imports cleanly, a re-import is a
sync with exact events, bad rows are reported by physical line and skipped, and the vector index
follows the store (embedded only for what changed)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from integrations.inventory_csv import (
    FeedError,
    import_inventory,
    parse_inventory_csv,
    read_inventory_events,
    run_import_cli,
    vin_problem,
)
from memory.keys import Keys
from memory.redis import RedisHandle
from tools.inventory import InventoryStore, inventory_collection_name

DEMO_FEED = Path(__file__).resolve().parents[2] / "examples" / "demo" / "inventory.csv"  # conftest.DEMO_DIR
NOW = dt.datetime(2026, 11, 21, 14, 0, tzinfo=dt.UTC)
HEADER = (
    "vin,stock_number,condition,year,make,model,trim,body_style,exterior_color,interior_color,mileage,price,msrp,"
    "drivetrain,transmission,fuel_type,engine,seats,features,photo_urls,vdp_url,date_in_stock,status"
).split(",")

_VALUES = {str(d): d for d in range(10)} | dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", [
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9], strict=True))  # fmt: skip
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def make_vin(serial: int, wmi: str = "1FTFW1E5") -> str:
    """A VIN with a correct ISO 3779 check digit (computed here, independently of the importer)."""
    body = f"{wmi}0PK{serial:06d}"
    total = sum(_VALUES[c] * w for c, w in zip(body, _WEIGHTS, strict=True))
    check = "X" if total % 11 == 10 else str(total % 11)
    return body[:8] + check + body[9:]


def with_bad_check_digit(vin: str) -> str:
    return vin[:8] + ("1" if vin[8] != "1" else "2") + vin[9:]


def row(serial: int, **kw: str) -> dict[str, str]:
    base = {
        "vin": make_vin(serial), "stock_number": f"S{serial}", "condition": "used", "year": "2021",
        "make": "Ford", "model": "F-150", "trim": "XLT", "body_style": "truck", "exterior_color": "Oxford White",
        "mileage": "30000", "price": "31995", "seats": "5", "fuel_type": "gasoline", "status": "available",
    }  # fmt: skip
    return {**base, **kw}


def write_feed(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def demo_rows() -> list[dict[str, str]]:
    with DEMO_FEED.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


needs_demo = pytest.mark.skipif(not DEMO_FEED.exists(), reason="demo inventory feed not generated yet")


# --- the demo feed ---------------------------------------------------------------------------


@needs_demo
async def test_demo_feed_imports_every_row(redis, keys: Keys) -> None:
    rows = demo_rows()
    assert len(rows) >= 150
    progress: list[tuple[int, int]] = []
    report = await import_inventory(redis, keys, DEMO_FEED, now=NOW, on_progress=lambda d, t: progress.append((d, t)))
    assert report.bad_rows == [] and report.warnings == []
    assert (report.rows, report.imported, report.added) == (len(rows), len(rows), len(rows))
    assert (report.updated, report.removed, report.unchanged, report.price_changes) == (0, 0, 0, 0)
    assert [e.type for e in report.events] == ["arrived"] * len(rows)
    assert progress[0] == (0, len(rows)) and progress[-1] == (len(rows), len(rows))

    store = InventoryStore(redis, keys)
    assert await redis.scard(keys.vehicles()) == len(rows)
    assert await redis.hlen(keys.stock_index()) == len(rows)
    first = rows[0]
    v = await store.by_stock(first["stock_number"])
    assert v is not None and v.vin == first["vin"] and v.price == Decimal(first["price"])
    assert v.features == first["features"].split("|") and v.date_in_stock == dt.date.fromisoformat(
        first["date_in_stock"]
    )
    assert v.listed_at == NOW
    assert len(await store.all(status="sold")) == sum(r["status"] == "sold" for r in rows)

    again = await import_inventory(redis, keys, DEMO_FEED, now=NOW)
    assert (again.unchanged, again.added, again.updated, again.events) == (len(rows), 0, 0, [])


@needs_demo
async def test_reimport_is_a_sync_with_exact_events(redis, keys: Keys, tmp_path: Path) -> None:
    rows = demo_rows()
    first = await import_inventory(redis, keys, DEMO_FEED, now=NOW)
    last_id = first.events[-1].id
    assert last_id is not None

    available = [r for r in rows if r["status"] == "available"]
    cheaper, gone = available[0], available[1]
    arriving = next(r for r in rows if r["status"] == "in_transit")
    new_vin = make_vin(424242, wmi="5TDAAAB5")
    changed = []
    for r in rows:
        if r is gone:
            continue
        r = dict(r)
        if r["vin"] == cheaper["vin"]:
            r["price"] = str(int(r["price"]) - 1000)
        if r["vin"] == arriving["vin"]:
            r["status"] = "available"
        changed.append(r)
    changed.append({**cheaper, "vin": new_vin, "stock_number": "NEW424242", "price": "27995"})
    report = await import_inventory(redis, keys, write_feed(tmp_path / "feed.csv", changed), now=NOW)

    later = NOW
    assert report.bad_rows == []
    assert sorted((e.type, e.vin, e.old, e.new, e.at) for e in report.events) == sorted(
        [
            ("price_changed", cheaper["vin"], cheaper["price"], str(int(cheaper["price"]) - 1000), later),
            ("arrived_on_lot", arriving["vin"], "in_transit", "available", later),
            ("arrived", new_vin, None, "available", later),
            ("removed", gone["vin"], "available", "sold", later),
        ]
    )
    assert (report.added, report.updated, report.price_changes, report.removed) == (1, 2, 1, 1)
    assert report.unchanged == len(rows) - 3 and report.imported == len(rows)

    streamed = await read_inventory_events(redis, keys, since_id=last_id)
    assert [(e.type, e.vin, e.stock, e.id) for e in streamed] == [(e.type, e.vin, e.stock, e.id) for e in report.events]
    assert len(await read_inventory_events(redis, keys, count=1000)) == len(rows) + 4

    store = InventoryStore(redis, keys)
    kept = await store.get(gone["vin"])  # kept for history and attribution, not deleted
    assert kept is not None and kept.status == "sold" and kept.removed_at == later
    assert not await redis.sismember(keys.vehicles(), gone["vin"])
    assert (await store.by_stock(gone["stock_number"])).vin == gone["vin"]  # type: ignore[union-attr]
    assert gone["vin"] not in {v.vin for v in await store.all()}
    assert (await store.get(arriving["vin"])).status == "available"  # type: ignore[union-attr]

    back = await import_inventory(redis, keys, DEMO_FEED, now=NOW)  # the unit returns to the feed
    relisted = [e for e in back.events if e.vin == gone["vin"]]
    assert [(e.type, e.old, e.new) for e in relisted] == [("arrived", "sold", "available")]
    assert (await store.get(gone["vin"])).removed_at is None  # type: ignore[union-attr]


# --- bad rows --------------------------------------------------------------------------------

BAD_FEED = """\
Stock #, VIN ,Year,Make,Model,Trim,Condition,Price,Mileage,Exterior Color,Features,Warranty Code
A1,{v1},2021,Toyota,Camry,SE,used,"$21,995","12,000",Celestial Silver,"Backup Camera|
Heated Seats",W1
A2,{bad_check},2021,Toyota,Camry,SE,used,20995,1000,Black,,
A3,{v3},,Toyota,Camry,SE,used,20995,1000,Black,,
A4,{v4},2020,Toyota,Camry,SE,used,call for price,1000,Black,,
A5,{v5},2020,Toyota,Camry,SE,demo,20995,1000,Black,,
A6,{v1},2020,Toyota,Corolla,LE,used,18995,1000,Black,,

A7,{v7},2019,Toyota,Corolla,LE,CPO,"17,500.50",,Black,,W2
"""


def bad_feed(tmp_path: Path) -> Path:
    path = tmp_path / "bad.csv"
    text = BAD_FEED.format(
        v1=make_vin(1), bad_check=with_bad_check_digit(make_vin(2)), v3=make_vin(3), v4=make_vin(4),
        v5=make_vin(5), v7=make_vin(7),
    )  # fmt: skip
    path.write_text("\ufeff" + text, encoding="utf-8")  # with a BOM, as Excel writes it
    return path


def test_bad_rows_are_reported_by_physical_line(tmp_path: Path) -> None:
    feed = parse_inventory_csv(bad_feed(tmp_path), today=NOW.date())
    assert [(b.line, b.vin) for b in feed.bad_rows] == [
        (4, with_bad_check_digit(make_vin(2))),
        (5, make_vin(3)),
        (6, make_vin(4)),
        (7, make_vin(5)),
        (8, make_vin(1)),
    ]
    reasons = [b.reason for b in feed.bad_rows]
    assert "check digit" in reasons[0]
    assert "year is missing" in reasons[1]
    assert "price 'call for price' is not a number" in reasons[2]
    assert "condition 'demo'" in reasons[3]
    assert "duplicate VIN (first on line 2)" in reasons[4]
    assert feed.rows == 7  # the blank line is not a row

    good = {v.stock_number: v for v in feed.vehicles}
    assert set(good) == {"A1", "A7"}
    a1, a7 = good["A1"], good["A7"]
    assert a1.features == ["Backup Camera", "Heated Seats"] and a1.price == Decimal(21995) and a1.mileage == 12000
    assert a1.exterior_color == "Celestial Silver" and a1.attributes == {"Warranty Code": "W1"}
    assert a7.condition == "cpo" and a7.price == Decimal("17500.50") and a7.mileage is None


def test_vin_rules() -> None:
    assert vin_problem(make_vin(9)) is None
    assert vin_problem("1HGCM82633A004352") is None  # the textbook example
    assert "17 characters" in (vin_problem("1HGCM82633A00435") or "")
    assert "invalid characters" in (vin_problem("1HGCM82633A00435O") or "")
    assert "check digit" in (vin_problem(with_bad_check_digit(make_vin(9))) or "")


@pytest.fixture
def cli_redis(redis_handle: RedisHandle, keys: Keys) -> Iterator[RedisHandle]:
    """For the CLI, which runs its own event loop: fresh clients per call, sync cleanup after."""
    yield redis_handle
    sync = redis_handle.sync_client()
    for key in sync.scan_iter(match=keys.scan_pattern(), count=500):
        sync.delete(key)
    sync.close()


def run_cli(handle: RedisHandle, keys: Keys, path: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = run_import_cli(handle.client(), keys, path, None, console=Console(file=out, width=200))
    return code, out.getvalue()


def test_cli_skips_bad_rows_with_exit_code_2(cli_redis: RedisHandle, keys: Keys, tmp_path: Path) -> None:
    code, out = run_cli(cli_redis, keys, bad_feed(tmp_path))
    assert code == 2
    assert "Skipped rows" in out and "duplicate VIN" in out and "check digit" in out
    sync = cli_redis.sync_client()
    assert sync.smembers(keys.vehicles()) == {make_vin(1), make_vin(7)}
    sync.close()


def test_cli_exit_codes(cli_redis: RedisHandle, keys: Keys, tmp_path: Path) -> None:
    good = write_feed(tmp_path / "good.csv", [row(1), row(2)])
    code, out = run_cli(cli_redis, keys, good)
    assert code == 0 and "added" in out

    assert run_cli(cli_redis, keys, tmp_path / "missing.csv")[0] == 1
    no_vin = tmp_path / "no_vin.csv"
    no_vin.write_text("stock,year,make,model\nS1,2020,Ford,F-150\n")
    code, out = run_cli(cli_redis, keys, no_vin)
    assert code == 1 and "vin" in out
    header_only = write_feed(tmp_path / "empty.csv", [])
    assert run_cli(cli_redis, keys, header_only)[0] == 1
    sync = cli_redis.sync_client()
    assert sync.scard(keys.vehicles()) == 2  # an empty export removed nothing
    sync.close()


async def test_a_bad_row_is_not_a_removal(redis, keys: Keys, tmp_path: Path) -> None:
    await import_inventory(redis, keys, write_feed(tmp_path / "a.csv", [row(1), row(2)]), now=NOW)
    report = await import_inventory(redis, keys, write_feed(tmp_path / "b.csv", [row(1), row(2, price="TBD")]), now=NOW)
    assert [b.line for b in report.bad_rows] == [3]
    assert report.removed == 0 and report.events == []
    assert (await InventoryStore(redis, keys).get(make_vin(2))).status == "available"  # type: ignore[union-attr]


async def test_unusable_files_raise_and_change_nothing(redis, keys: Keys, tmp_path: Path) -> None:
    await import_inventory(redis, keys, write_feed(tmp_path / "a.csv", [row(1)]), now=NOW)
    for path in (tmp_path / "nope.csv", write_feed(tmp_path / "empty.csv", [])):
        with pytest.raises(FeedError):
            await import_inventory(redis, keys, path, now=NOW)
    assert await redis.smembers(keys.vehicles()) == {make_vin(1)}


async def test_header_aliases_money_and_priceless_statuses(redis, keys: Keys, tmp_path: Path) -> None:
    header = ["VIN #", "Stock No", "New/Used", "Model Year", "Make", "Model", "Internet Price", "Odometer", "Status"]
    path = tmp_path / "aliases.csv"
    path.write_text(
        "\n".join(
            [
                ",".join(header),
                f'{make_vin(1)},X1,New,2026,Toyota,Tundra,"$58,120",,In Transit',
                f"{make_vin(2)},X2,Used,2020,Toyota,Tundra,,41000,Available",
                f"{make_vin(3)},X3,Used,2020,Toyota,Tundra,0,41000,Sold",
            ]
        )
        + "\n"
    )
    report = await import_inventory(redis, keys, path, now=NOW)
    assert [(b.line, b.reason) for b in report.bad_rows] == [
        (3, "price is missing (required unless status is pending, sold or in_transit)")
    ]
    store = InventoryStore(redis, keys)
    x1 = await store.by_stock("x1")
    assert x1 is not None and x1.status == "in_transit" and x1.price == Decimal(58120) and x1.mileage == 0
    x3 = await store.by_stock("X3")
    assert x3 is not None and x3.status == "sold" and x3.price is None


# --- vectors ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def vector_store(tmp_path_factory: pytest.TempPathFactory):
    """One embedder per test session (loading it costs seconds); embedded Chroma in a temp dir."""
    from memory.embeddings import get_embedder
    from memory.vectors import open_vector_store

    return open_vector_store(None, tmp_path_factory.mktemp("chroma"), get_embedder())


async def test_vectors_follow_the_store(redis, keys: Keys, tmp_path: Path, vector_store) -> None:
    rows = [row(1), row(2, model="Tacoma", make="Toyota"), row(3, model="Sienna", body_style="minivan", seats="8")]
    first = await import_inventory(redis, keys, write_feed(tmp_path / "a.csv", rows), vectors=vector_store, now=NOW)
    index = vector_store.collection(inventory_collection_name(keys.dealer))
    assert first.vectors_upserted == 3 and await index.count() == 3

    rows = [row(1, price="29995"), row(2, model="Tacoma", make="Toyota", exterior_color="Blueprint")]
    second = await import_inventory(redis, keys, write_feed(tmp_path / "b.csv", rows), vectors=vector_store, now=NOW)
    assert (second.vectors_upserted, second.vectors_retagged, second.vectors_deleted) == (1, 1, 1)
    assert await index.count() == 2
    [hit] = await index.get(ids=[make_vin(1)])
    assert hit.metadata["price"] == 29995
    [hit] = await index.get(ids=[make_vin(2)], texts=True)
    assert "Blueprint" in hit.text
    hits = await index.query("minivan for the family", k=2)
    assert make_vin(3) not in {h.id for h in hits}

    await index.delete(ids=[make_vin(1)])  # the index lost an entry: the next import repairs it
    third = await import_inventory(redis, keys, write_feed(tmp_path / "b.csv", rows), vectors=vector_store, now=NOW)
    assert third.vectors_upserted == 2 and await index.count() == 2
