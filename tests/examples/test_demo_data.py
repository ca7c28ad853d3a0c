"""The demo dealership data: config validates, knowledge agrees with it, the feed is sound and reproducible."""

from __future__ import annotations

import csv
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

from tools.dealer import WEEKDAYS, load_dealer_config

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
HEADER = (
    "vin,stock_number,condition,year,make,model,trim,body_style,exterior_color,interior_color,mileage,"
    "price,msrp,drivetrain,transmission,fuel_type,engine,seats,features,photo_urls,vdp_url,date_in_stock,status"
)
DAY_NAMES = dict(
    zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True)
)
STATUSES = {"available", "pending", "sold", "in_transit"}

# ISO 3779 / 49 CFR 565: transliteration and position weights for the check digit (position 9).
_TRANSLIT = {"A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8}
_TRANSLIT |= {"J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9}
_TRANSLIT |= {"S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_MODEL_YEAR = dict(zip("ABCDEFGHJKLMNPRSTVWXY", range(2010, 2031), strict=True))


def vin_is_valid(vin: str) -> bool:
    if not re.fullmatch(r"[A-HJ-NPR-Z0-9]{17}", vin):
        return False
    total = sum((int(ch) if ch.isdigit() else _TRANSLIT[ch]) * w for ch, w in zip(vin, _WEIGHTS, strict=True))
    expected = "X" if total % 11 == 10 else str(total % 11)
    return vin[8] == expected


def test_vin_check_is_real() -> None:
    assert vin_is_valid("1M8GDM9AXKP042788")  # the textbook example from 49 CFR 565
    assert not vin_is_valid("1M8GDM9A1KP042788")
    assert not vin_is_valid("1M8GDM9AXKP04278")
    assert not vin_is_valid("1M8GDM9AXKP04278O")


def _rows() -> list[dict[str, str]]:
    with (DEMO / "inventory.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------------------------- config


def _clock(t: str) -> str:
    hour, minute = (int(x) for x in t.split(":"))
    return f"{(hour - 1) % 12 + 1}:{minute:02d} {'AM' if hour < 12 else 'PM'}"


def _phrases(hours: dict[str, str | None]) -> list[str]:
    """How hours-and-location.md words a department's week: 'Monday through Friday from 9:00 AM to 8:00 PM'."""
    groups: list[tuple[list[str], str]] = []
    for day in WEEKDAYS:
        spec = (hours.get(day) or "closed").strip().lower()
        if groups and groups[-1][1] == spec:
            groups[-1][0].append(day)
        else:
            groups.append(([day], spec))
    phrases = []
    for days, spec in groups:
        span = DAY_NAMES[days[0]] if len(days) == 1 else f"{DAY_NAMES[days[0]]} through {DAY_NAMES[days[-1]]}"
        if spec == "closed":
            phrases.append(f"closed on {span}")
            continue
        ranges = [r.split("-") for r in spec.split(",")]
        times = " and ".join(f"from {_clock(a.strip())} to {_clock(b.strip())}" for a, b in ranges)
        phrases.append(f"{span} {times}")
    return phrases


def _sections(markdown: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in re.split(r"^## ", markdown, flags=re.M)[1:]:
        title, _, body = chunk.partition("\n")
        out[title.strip()] = body
    return out


def test_dealer_config_loads() -> None:
    cfg = load_dealer_config(DEMO / "dealer.yaml")
    assert cfg.id == "demo" and cfg.state == "FL" and cfg.timezone == "America/New_York"
    assert {"sales", "service", "parts"} <= set(cfg.departments)
    assert cfg.department("sales").appointments is not None
    assert cfg.department("service").appointments is not None
    assert cfg.path(cfg.inventory_feed) == (DEMO / "inventory.csv").resolve()
    assert cfg.path(cfg.knowledge_dir).is_dir()
    assert all(h.date.year in (2026, 2027) for h in cfg.holidays)
    assert {m.team for m in cfg.staff} == {"sales", "service", "bdc"}
    # Thanksgiving 2026 (a Thursday) closes everything; Labor Day 2027 closes service only.
    noon = dt.datetime(2026, 11, 26, 12, tzinfo=cfg.tz)
    assert not cfg.is_open("sales", noon) and not cfg.is_open("service", noon)
    labor_day = dt.datetime(2027, 9, 6, 12, tzinfo=cfg.tz)
    assert cfg.is_open("sales", labor_day) and not cfg.is_open("service", labor_day)


def test_hours_document_matches_config() -> None:
    cfg = load_dealer_config(DEMO / "dealer.yaml")
    text = (DEMO / "knowledge" / "hours-and-location.md").read_text(encoding="utf-8")
    sections = _sections(text)
    for name, dept in cfg.departments.items():
        title = next((t for t in sections if t.lower().startswith(dept.label.lower() or name)), None)
        assert title, f"no section for the {name} department"
        body = " ".join(sections[title].split())
        for phrase in _phrases(dept.hours):
            assert phrase in body, f"{name}: {phrase!r} missing from section {title!r}"
    flat = " ".join(text.split())
    for h in cfg.holidays:
        assert f"{h.date:%B} {h.date.day}, {h.date.year}" in flat, f"holiday {h.name} {h.date} not documented"
    assert cfg.address.street in flat


def test_knowledge_documents_are_well_formed() -> None:
    docs = sorted((DEMO / "knowledge").glob("*.md"))
    names = {p.name for p in docs}
    assert {
        "hours-and-location.md",
        "financing.md",
        "trade-in.md",
        "service-menu.md",
        "policies.md",
        "about.md",
        "specials.md",
    } <= names
    for path in docs:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# "), path.name
        sections = _sections(text)
        assert len(sections) >= 3, path.name
        for title, body in sections.items():
            assert body.strip(), f"{path.name}: empty section {title!r}"


def test_extra_config_fields_are_documented() -> None:
    cfg = load_dealer_config(DEMO / "dealer.yaml")
    extra = cfg.model_extra or {}
    financing = (DEMO / "knowledge" / "financing.md").read_text(encoding="utf-8")
    for lender in extra["financing"]["partner_lenders"]:
        assert lender in financing
    assert extra["voice"]["transfer_number"].startswith("+1813555")
    policies = (DEMO / "knowledge" / "policies.md").read_text(encoding="utf-8")
    assert "$999 dealer fee" in policies and "STOP" in policies and "HELP" in policies


# -------------------------------------------------------------------------------------- inventory


def test_inventory_header_and_size() -> None:
    first = (DEMO / "inventory.csv").read_text(encoding="utf-8").splitlines()[0]
    assert first == HEADER
    assert len(_rows()) >= 150


def test_inventory_identifiers_are_unique_and_valid() -> None:
    rows = _rows()
    vins = [r["vin"] for r in rows]
    stocks = [r["stock_number"] for r in rows]
    assert len(set(vins)) == len(vins)
    assert len(set(stocks)) == len(stocks)
    for r in rows:
        assert vin_is_valid(r["vin"]), r["vin"]
        assert _MODEL_YEAR[r["vin"][9]] == int(r["year"]), r["vin"]
        assert re.fullmatch(r"[TUC]\d{5}", r["stock_number"]), r["stock_number"]
        assert r["stock_number"][0] == {"new": "T", "used": "U", "cpo": "C"}[r["condition"]]
        assert r["vdp_url"].endswith(f"-{r['stock_number'].lower()}")
        assert r["vdp_url"].startswith(f"https://www.bayviewtoyota.example/inventory/{r['condition']}/{r['year']}-")


def test_inventory_values_are_plausible() -> None:
    rows = _rows()
    assert {r["condition"] for r in rows} == {"new", "used", "cpo"}
    assert len({r["make"] for r in rows}) >= 3
    feed_date = dt.date(2026, 11, 20)
    for r in rows:
        assert r["status"] in STATUSES, r["status"]
        price = int(r["price"])
        assert price > 0
        if r["condition"] == "new":
            assert r["msrp"], r["stock_number"]
            assert price <= int(r["msrp"]), r["stock_number"]
            assert 0 <= int(r["mileage"]) <= 25
        else:
            assert r["status"] != "in_transit"
        if r["condition"] == "cpo":
            assert r["make"] == "Toyota"
        assert 2 <= int(r["seats"]) <= 8
        assert r["body_style"] in {"sedan", "suv", "truck", "minivan", "hatchback", "coupe", "wagon", "convertible"}
        assert r["drivetrain"] in {"FWD", "AWD", "4WD", "RWD"}
        assert r["transmission"] in {"automatic", "manual", "cvt"}
        assert r["fuel_type"] in {"gasoline", "hybrid", "plug-in hybrid", "electric", "diesel"}
        in_stock = dt.date.fromisoformat(r["date_in_stock"])
        assert dt.timedelta(0) <= feed_date - in_stock <= dt.timedelta(days=120)
        assert all(u.startswith("https://cdn.bayviewtoyota.example/photos/") for u in r["photo_urls"].split("|"))


def test_inventory_covers_demo_scenarios() -> None:
    rows = [r for r in _rows() if r["status"] == "available"]
    used_tacomas = [r for r in rows if r["model"] == "Tacoma" and r["condition"] != "new"]
    assert sum(int(r["price"]) < 35_000 for r in used_tacomas) >= 2
    rav4h = [r for r in rows if r["model"] == "RAV4 Hybrid"]
    assert any("blue" in r["exterior_color"].lower() or r["exterior_color"] == "Blueprint" for r in rav4h)
    assert any("silver" in r["exterior_color"].lower() for r in rav4h)
    assert any(r["make"] == "Chevrolet" and r["model"] == "Tahoe" for r in rows)
    three_row_used = [r for r in rows if r["condition"] != "new" and int(r["seats"]) >= 7]
    assert sum(int(r["price"]) < 40_000 for r in three_row_used) >= 3


def test_generator_is_deterministic(tmp_path: Path) -> None:
    out = tmp_path / "inventory.csv"
    subprocess.run(
        [sys.executable, str(DEMO / "generate_inventory.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == (DEMO / "inventory.csv").read_bytes()
