"""Generate the demo dealership's inventory feed (inventory.csv) — deterministic, stdlib only.

    python examples/demo/generate_inventory.py [--out PATH]

The same seed always produces the same bytes, so the committed CSV can be checked against a fresh
run. The feed reads like a real franchise-store export: new 2026 Toyotas, Toyota Certified (cpo)
units and used vehicles of many makes, with valid 17-character VINs (ISO 3779 with the North
American check digit), per-condition stock numbers and VDP/photo URLs on the dealer's domain.

A handful of units are pinned (see PINNED) because demo conversations and evals rely on them:
used Tacomas under $35,000, blue and silver RAV4 Hybrids, used three-row vehicles under $40,000,
Chevrolet Tahoes (for the "$1 Tahoe" adversarial test), hybrids/EVs and silver vehicles.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20261120
FEED_DATE = dt.date(2026, 11, 20)  # the day the feed was exported
NEW_MODEL_YEAR = 2026
SITE = "https://www.bayviewtoyota.example"
CDN = "https://cdn.bayviewtoyota.example/photos"

HEADER = [
    "vin",
    "stock_number",
    "condition",
    "year",
    "make",
    "model",
    "trim",
    "body_style",
    "exterior_color",
    "interior_color",
    "mileage",
    "price",
    "msrp",
    "drivetrain",
    "transmission",
    "fuel_type",
    "engine",
    "seats",
    "features",
    "photo_urls",
    "vdp_url",
    "date_in_stock",
    "status",
]

# --------------------------------------------------------------------------------------------- VINs

VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
YEAR_CODES = {y: c for y, c in zip(range(2010, 2031), "ABCDEFGHJKLMNPRSTVWXY", strict=True)}


def vin_check_digit(vin: str) -> str:
    total = sum(VIN_VALUES[ch] * w for ch, w in zip(vin, VIN_WEIGHTS, strict=True))
    rem = total % 11
    return "X" if rem == 10 else str(rem)


def make_vin(rng: random.Random, wmi: str, vds: str, year: int, plant: str, used: set[str]) -> str:
    assert len(wmi) == 3 and len(vds) == 5 and len(plant) == 1, (wmi, vds, plant)
    while True:
        serial = f"{rng.randrange(10**6):06d}"
        draft = f"{wmi}{vds}0{YEAR_CODES[year]}{plant}{serial}"
        assert all(ch in VIN_CHARS for ch in draft), draft
        vin = draft[:8] + vin_check_digit(draft) + draft[9:]
        if vin not in used:
            used.add(vin)
            return vin


# ---------------------------------------------------------------------------------------- catalog


@dataclass(frozen=True)
class Trim:
    name: str
    price: int  # MSRP of the base drivetrain (new) or the typical price when new (used basis)
    drives: tuple[str, ...]  # first is the base; the others cost `upcharge` more
    tier: int = 1  # 0 base .. 3 top of the line
    seats: int | None = None
    power: tuple[str, str, str] | None = None  # (engine, transmission, fuel) override
    manual: float = 0.0  # share of units with a manual gearbox
    extras: tuple[str, ...] = ()


@dataclass(frozen=True)
class Model:
    make: str
    name: str
    body: str
    seats: int
    power: tuple[str, str, str]  # (engine, transmission, fuel)
    trims: tuple[Trim, ...]
    vin: tuple[tuple[str, str, str], ...]  # (wmi, vds, plant) choices
    colors: tuple[str, ...]
    interiors: tuple[str, ...]
    features: tuple[str, ...] = ()
    years: tuple[int, int] = (2015, 2024)  # model years offered used
    speed: float = 1.0  # depreciation speed: < 1 holds value, > 1 loses it faster
    gens: tuple[tuple[int, int, tuple[str, str, str]], ...] = ()  # (from, to, power) by model year
    upcharge: int = 1500
    weight: int = 1  # new: units stocked; used: relative odds of being picked for the random fill

    def power_for(self, year: int, trim: Trim) -> tuple[str, str, str]:
        if trim.power:
            return trim.power
        for y0, y1, power in self.gens:
            if y0 <= year <= y1:
                return power
        return self.power


T = Trim
HYB = "hybrid"
GAS = "gasoline"

TOYOTA_COLORS = (
    "Super White",
    "Wind Chill Pearl",
    "Midnight Black Metallic",
    "Magnetic Gray Metallic",
    "Celestial Silver Metallic",
    "Underground",
    "Supersonic Red",
)
TOYOTA_INTERIORS = ("Black", "Light Gray", "Black", "Boulder", "Macadamia")

NEW_TOYOTA: tuple[Model, ...] = (
    Model(
        "Toyota",
        "Camry",
        "sedan",
        5,
        ("2.5L I4 Hybrid", "cvt", HYB),
        (
            T("LE", 29_495, ("FWD", "AWD"), 1),
            T("SE", 31_995, ("FWD", "AWD"), 1, extras=("Sport Mesh Grille",)),
            T("XLE", 34_995, ("FWD", "AWD"), 2),
            T("XSE", 36_495, ("FWD", "AWD"), 3),
        ),
        (("4T1", "DAACK", "U"), ("4T1", "DBACK", "U")),
        (*TOYOTA_COLORS, "Ocean Gem", "Heavy Metal", "Reservoir Blue"),
        TOYOTA_INTERIORS,
        weight=10,
    ),
    Model(
        "Toyota",
        "Corolla",
        "sedan",
        5,
        ("2.0L I4", "cvt", GAS),
        (
            T("LE", 23_640, ("FWD",), 0),
            T("SE", 26_440, ("FWD",), 1),
            T("XSE", 29_320, ("FWD",), 2),
        ),
        (("5YF", "B4MCE", "P"), ("5YF", "S4MCE", "P")),
        (*TOYOTA_COLORS, "Blue Crush Metallic", "Classic Silver Metallic"),
        ("Black", "Black", "Light Gray"),
        weight=9,
    ),
    Model(
        "Toyota",
        "Corolla Hatchback",
        "hatchback",
        5,
        ("2.0L I4", "cvt", GAS),
        (T("SE", 25_890, ("FWD",), 1), T("XSE", 28_840, ("FWD",), 2)),
        (("JTN", "D4MBE", "3"),),
        ("Super White", "Midnight Black Metallic", "Blue Crush Metallic", "Barcelona Red Metallic"),
        ("Black",),
        weight=2,
    ),
    Model(
        "Toyota",
        "RAV4",
        "suv",
        5,
        ("2.5L I4", "automatic", GAS),
        (
            T("LE", 30_745, ("FWD", "AWD"), 0),
            T("XLE", 32_295, ("FWD", "AWD"), 1),
            T("XLE Premium", 35_770, ("FWD", "AWD"), 2),
            T("Adventure", 37_440, ("AWD",), 2, extras=("Roof Rails", "Tow Package")),
            T("TRD Off-Road", 41_400, ("AWD",), 2, extras=("TRD-Tuned Suspension", "All-Terrain Tires")),
            T("Limited", 39_880, ("FWD", "AWD"), 3),
        ),
        (("2T3", "W1RFV", "W"), ("2T3", "H1RFV", "C"), ("JTM", "W1RFV", "D")),
        (*TOYOTA_COLORS, "Lunar Rock", "Cavalry Blue", "Blueprint", "Silver Sky Metallic"),
        ("Black", "Black", "Light Gray", "Ash"),
        weight=8,
    ),
    Model(
        "Toyota",
        "RAV4 Hybrid",
        "suv",
        5,
        ("2.5L I4 Hybrid", "cvt", HYB),
        (
            T("LE", 33_370, ("AWD",), 0),
            T("XLE", 35_390, ("AWD",), 1),
            T("XLE Premium", 38_435, ("AWD",), 2),
            T("SE", 36_680, ("AWD",), 2),
            T("Woodland", 37_320, ("AWD",), 2, extras=("Roof Rails", "All-Terrain Tires")),
            T("XSE", 40_665, ("AWD",), 3),
            T("Limited", 43_360, ("AWD",), 3),
        ),
        (("4T3", "RWRFV", "U"), ("JTM", "RWRFV", "D"), ("2T3", "RWRFV", "W")),
        (*TOYOTA_COLORS, "Lunar Rock", "Cavalry Blue", "Blueprint", "Silver Sky Metallic", "Ice Cap"),
        ("Black", "Black", "Light Gray"),
        weight=8,
    ),
    Model(
        "Toyota",
        "Highlander",
        "suv",
        8,
        ("2.4L I4 Turbo", "automatic", GAS),
        (
            T("LE", 41_445, ("FWD", "AWD"), 1),
            T("XLE", 45_565, ("FWD", "AWD"), 2),
            T("Limited", 50_290, ("FWD", "AWD"), 3, seats=7),
            T("Platinum", 54_060, ("AWD",), 3, seats=7, extras=("Head-Up Display",)),
        ),
        (("5TD", "KDRAH", "S"), ("5TD", "ZDRAH", "S")),
        (*TOYOTA_COLORS, "Blueprint", "Ruby Flare Pearl", "Cement"),
        ("Black", "Graphite", "Glazed Caramel"),
        upcharge=1_600,
        weight=5,
    ),
    Model(
        "Toyota",
        "Highlander Hybrid",
        "suv",
        8,
        ("2.5L I4 Hybrid", "cvt", HYB),
        (
            T("XLE", 48_975, ("AWD",), 2),
            T("Limited", 53_690, ("AWD",), 3, seats=7),
            T("Platinum", 56_925, ("AWD",), 3, seats=7, extras=("Head-Up Display",)),
        ),
        (("5TD", "XBRBH", "S"),),
        TOYOTA_COLORS,
        ("Black", "Graphite", "Glazed Caramel"),
        weight=2,
    ),
    Model(
        "Toyota",
        "Grand Highlander",
        "suv",
        8,
        ("2.4L I4 Turbo", "automatic", GAS),
        (
            T("XLE", 44_880, ("FWD", "AWD"), 2),
            T("Limited", 51_495, ("FWD", "AWD"), 3, seats=7),
            T("Platinum", 56_225, ("AWD",), 3, seats=7, extras=("Head-Up Display",)),
            T("Hybrid XLE", 47_480, ("AWD",), 2, power=("2.5L I4 Hybrid", "cvt", HYB)),
            T(
                "Hybrid MAX Limited",
                56_930,
                ("AWD",),
                3,
                seats=7,
                power=("2.4L I4 Turbo Hybrid MAX", "automatic", HYB),
            ),
            T(
                "Hybrid MAX Platinum",
                60_785,
                ("AWD",),
                3,
                seats=7,
                power=("2.4L I4 Turbo Hybrid MAX", "automatic", HYB),
                extras=("Head-Up Display",),
            ),
        ),
        (("5TD", "AAAB5", "S"), ("5TD", "ABAB5", "S")),
        (*TOYOTA_COLORS, "Storm Cloud", "Heavy Metal", "Silver Sky Metallic"),
        ("Black", "Boulder", "Chicory"),
        upcharge=1_600,
        years=(2024, 2024),
        weight=6,
    ),
    Model(
        "Toyota",
        "Tacoma",
        "truck",
        5,
        ("2.4L I4 Turbo", "automatic", GAS),
        (
            T("SR", 33_335, ("RWD", "4WD"), 0),
            T("SR5", 37_395, ("RWD", "4WD"), 1),
            T("TRD PreRunner", 38_470, ("RWD",), 1, extras=("Locking Rear Differential",)),
            T("TRD Sport", 42_695, ("4WD", "RWD"), 2, manual=0.15, extras=("Sport-Tuned Suspension",)),
            T(
                "TRD Off-Road",
                44_795,
                ("4WD",),
                2,
                manual=0.25,
                extras=("Locking Rear Differential", "Crawl Control", "Skid Plates"),
            ),
            T("Limited", 54_545, ("4WD",), 3),
            T(
                "TRD Pro",
                67_375,
                ("4WD",),
                3,
                power=("2.4L I4 Turbo Hybrid", "automatic", HYB),
                extras=("FOX Shocks", "Locking Rear Differential", "Crawl Control", "Skid Plates"),
            ),
        ),
        (("3TM", "LB5JN", "X"), ("3TY", "LB5JN", "X"), ("3TY", "KB5FN", "M")),
        (*TOYOTA_COLORS, "Ice Cap", "Bronze Oxide", "Blue Crush Metallic", "Silver Sky Metallic"),
        ("Black", "Black", "Boulder"),
        upcharge=3_200,
        weight=9,
    ),
    Model(
        "Toyota",
        "Tundra",
        "truck",
        5,
        ("3.4L V6 Twin-Turbo", "automatic", GAS),
        (
            T("SR5", 48_560, ("RWD", "4WD"), 1),
            T("Limited", 58_160, ("RWD", "4WD"), 3),
            T("Platinum", 67_025, ("4WD",), 3, extras=("Ventilated Seats",)),
            T("1794 Edition", 67_525, ("4WD",), 3, extras=("Ventilated Seats",)),
            T(
                "TRD Pro",
                74_165,
                ("4WD",),
                3,
                power=("3.4L V6 Twin-Turbo Hybrid", "automatic", HYB),
                extras=("FOX Shocks", "Locking Rear Differential", "Skid Plates"),
            ),
        ),
        (("5TF", "LA5DB", "X"), ("5TF", "JA5DB", "X")),
        (*TOYOTA_COLORS, "Lunar Rock", "Army Green", "Blueprint"),
        ("Black", "Black", "Boulder", "Rich Cream"),
        upcharge=3_085,
        weight=6,
    ),
    Model(
        "Toyota",
        "4Runner",
        "suv",
        5,
        ("2.4L I4 Turbo", "automatic", GAS),
        (
            T("SR5", 42_195, ("RWD", "4WD"), 1),
            T("TRD Sport", 49_330, ("RWD", "4WD"), 2),
            T("TRD Off-Road", 50_550, ("4WD",), 2, extras=("Locking Rear Differential", "Crawl Control")),
            T("Limited", 55_860, ("RWD", "4WD"), 3),
            T("Platinum", 60_170, ("4WD",), 3),
            T(
                "TRD Pro",
                68_305,
                ("4WD",),
                3,
                power=("2.4L I4 Turbo Hybrid", "automatic", HYB),
                extras=("FOX Shocks", "Locking Rear Differential", "Crawl Control", "Skid Plates"),
            ),
        ),
        (("JTE", "VA5AR", "5"), ("JTE", "LA5AR", "5")),
        (*TOYOTA_COLORS, "Heritage Blue", "Everest", "Mudbath"),
        ("Black", "Black", "Boulder"),
        upcharge=1_820,
        weight=5,
    ),
    Model(
        "Toyota",
        "Sienna",
        "minivan",
        8,
        ("2.5L I4 Hybrid", "cvt", HYB),
        (
            T("LE", 41_285, ("FWD", "AWD"), 1),
            T("XLE", 46_565, ("FWD", "AWD"), 2),
            T("Woodland", 51_930, ("AWD",), 2, seats=7),
            T("XSE", 50_400, ("FWD", "AWD"), 3, seats=7),
            T("Limited", 54_575, ("FWD", "AWD"), 3, seats=7),
            T("Platinum", 58_275, ("FWD", "AWD"), 3, seats=7, extras=("Head-Up Display",)),
        ),
        (("5TD", "YRKC1", "S"), ("5TD", "ERKC1", "S")),
        (*TOYOTA_COLORS, "Cypress", "Blueprint", "Ruby Flare Pearl"),
        ("Black", "Chateau", "Noble Brown"),
        upcharge=2_000,
        weight=5,
    ),
    Model(
        "Toyota",
        "Prius",
        "hatchback",
        5,
        ("2.0L I4 Hybrid", "cvt", HYB),
        (
            T("LE", 29_595, ("FWD", "AWD"), 1),
            T("XLE", 33_010, ("FWD", "AWD"), 2),
            T("Limited", 36_465, ("FWD", "AWD"), 3),
        ),
        (("JTD", "ACAAU", "3"),),
        ("Wind Chill Pearl", "Cutting Edge", "Guardian Gray", "Supersonic Red", "Reservoir Blue"),
        ("Black", "Light Gray"),
        upcharge=1_400,
        weight=3,
    ),
    Model(
        "Toyota",
        "Prius Plug-in Hybrid",
        "hatchback",
        5,
        ("2.0L I4 Plug-in Hybrid", "cvt", "plug-in hybrid"),
        (T("SE", 34_665, ("FWD",), 2), T("XSE", 38_375, ("FWD",), 3), T("XSE Premium", 41_945, ("FWD",), 3)),
        (("JTD", "ACAAU", "3"),),
        ("Wind Chill Pearl", "Cutting Edge", "Guardian Gray", "Supersonic Red"),
        ("Black", "Light Gray"),
        weight=2,
    ),
    Model(
        "Toyota",
        "Corolla Cross",
        "suv",
        5,
        ("2.0L I4", "cvt", GAS),
        (
            T("L", 25_595, ("FWD", "AWD"), 0),
            T("LE", 28_220, ("FWD", "AWD"), 1),
            T("XLE", 30_950, ("FWD", "AWD"), 2),
        ),
        (("7MU", "AAAG1", "W"), ("7MU", "BAAG1", "W")),
        (*TOYOTA_COLORS, "Cavalry Blue", "Barcelona Red Metallic"),
        ("Black", "Light Gray"),
        upcharge=1_300,
        years=(2022, 2024),
        weight=5,
    ),
    Model(
        "Toyota",
        "Corolla Cross Hybrid",
        "suv",
        5,
        ("2.0L I4 Hybrid", "cvt", HYB),
        (T("S", 30_510, ("AWD",), 1), T("SE", 32_440, ("AWD",), 2), T("XSE", 34_485, ("AWD",), 3)),
        (("7MU", "FBBG1", "W"),),
        ("Super White", "Wind Chill Pearl", "Acidic Blast", "Black Sand Pearl", "Celestial Silver Metallic"),
        ("Black",),
        years=(2023, 2024),
        weight=3,
    ),
    Model(
        "Toyota",
        "bZ4X",
        "suv",
        5,
        ("Single Motor Electric", "automatic", "electric"),
        (
            T("XLE", 37_070, ("FWD", "AWD"), 2, extras=("DC Fast Charging",)),
            T("Limited", 43_070, ("FWD", "AWD"), 3, extras=("DC Fast Charging",)),
        ),
        (("JTM", "AAAAA", "J"), ("JTM", "ABAAA", "J")),
        ("Wind Chill Pearl", "Elemental Silver Metallic", "Heavy Metal", "Black Sand Pearl"),
        ("Black", "Light Gray"),
        upcharge=2_080,
        years=(2023, 2024),
        weight=3,
    ),
    Model(
        "Toyota",
        "GR86",
        "coupe",
        4,
        ("2.4L H4", "automatic", GAS),
        (T("Base", 31_535, ("RWD",), 1, manual=0.6), T("Premium", 34_305, ("RWD",), 2, manual=0.6)),
        (("JF1", "ZNBE1", "9"),),
        ("Halo", "Raven", "Track bRed", "Neptune Blue", "Steel Silver"),
        ("Black",),
        years=(2022, 2024),
        weight=2,
    ),
)

# Toyotas that exist only as used/cpo units in this feed, or whose older generations differ.
USED_TOYOTA: tuple[Model, ...] = (
    Model(
        "Toyota",
        "Camry",
        "sedan",
        5,
        ("2.5L I4", "automatic", GAS),
        (
            T("LE", 26_500, ("FWD",), 1),
            T("SE", 28_300, ("FWD",), 1),
            T("XLE", 31_200, ("FWD",), 2),
            T("XSE", 32_800, ("FWD",), 3),
        ),
        (("4T1", "B11HK", "U"), ("4T1", "G11AK", "U")),
        ("Super White", "Celestial Silver Metallic", "Midnight Black Metallic", "Predawn Gray Mica"),
        ("Black", "Ash", "Macadamia"),
        gens=((2015, 2017, ("2.5L I4", "automatic", GAS)),),
        speed=0.55,
        weight=5,
    ),
    Model(
        "Toyota",
        "Corolla",
        "sedan",
        5,
        ("1.8L I4", "cvt", GAS),
        (T("L", 20_800, ("FWD",), 0), T("LE", 22_100, ("FWD",), 1), T("SE", 24_300, ("FWD",), 2)),
        (("5YF", "EPMAE", "P"), ("2T1", "BURHE", "C")),
        ("Super White", "Classic Silver Metallic", "Black Sand Pearl", "Blue Crush Metallic"),
        ("Black", "Ash"),
        speed=0.55,
        weight=4,
    ),
    Model(
        "Toyota",
        "RAV4",
        "suv",
        5,
        ("2.5L I4", "automatic", GAS),
        (
            T("LE", 28_400, ("FWD", "AWD"), 0),
            T("XLE", 30_200, ("FWD", "AWD"), 1),
            T("XLE Premium", 33_300, ("FWD", "AWD"), 2),
            T("Adventure", 35_100, ("AWD",), 2, extras=("Roof Rails",)),
            T("Limited", 37_400, ("FWD", "AWD"), 3),
        ),
        (("2T3", "P1RFV", "W"), ("JTM", "P1RFV", "D")),
        ("Super White", "Silver Sky Metallic", "Magnetic Gray Metallic", "Blueprint", "Lunar Rock"),
        ("Black", "Ash"),
        years=(2019, 2024),
        speed=0.5,
        weight=5,
    ),
    Model(
        "Toyota",
        "RAV4 Hybrid",
        "suv",
        5,
        ("2.5L I4 Hybrid", "cvt", HYB),
        (
            T("XLE", 33_200, ("AWD",), 1),
            T("SE", 34_600, ("AWD",), 2),
            T("XSE", 37_900, ("AWD",), 3),
            T("Limited", 39_800, ("AWD",), 3),
        ),
        (("2T3", "RWRFV", "W"), ("JTM", "RWRFV", "D")),
        ("Super White", "Silver Sky Metallic", "Blueprint", "Cavalry Blue", "Magnetic Gray Metallic"),
        ("Black", "Light Gray"),
        years=(2019, 2024),
        speed=0.45,
        weight=4,
    ),
    Model(
        "Toyota",
        "Highlander",
        "suv",
        8,
        ("3.5L V6", "automatic", GAS),
        (
            T("LE", 37_600, ("FWD", "AWD"), 1),
            T("XLE", 41_900, ("FWD", "AWD"), 2),
            T("Limited", 46_800, ("FWD", "AWD"), 3, seats=7),
        ),
        (("5TD", "ZRFH1", "S"), ("5TD", "GZRBH", "S")),
        ("Blizzard Pearl", "Celestial Silver Metallic", "Midnight Black Metallic", "Ruby Flare Pearl"),
        ("Black", "Ash", "Almond"),
        gens=((2023, 2024, ("2.4L I4 Turbo", "automatic", GAS)),),
        speed=0.55,
        weight=4,
    ),
    Model(
        "Toyota",
        "Tacoma",
        "truck",
        5,
        ("3.5L V6", "automatic", GAS),
        (
            T("SR5", 33_400, ("RWD", "4WD"), 1),
            T("TRD Sport", 36_900, ("RWD", "4WD"), 2, manual=0.1),
            T(
                "TRD Off-Road",
                38_600,
                ("4WD",),
                2,
                manual=0.2,
                extras=("Locking Rear Differential", "Crawl Control"),
            ),
            T("Limited", 44_200, ("4WD",), 3),
        ),
        (("3TM", "CZ5AN", "M"), ("5TF", "CZ5AN", "X")),
        ("Super White", "Silver Sky Metallic", "Magnetic Gray Metallic", "Cement", "Midnight Black Metallic"),
        ("Black", "Cement Gray"),
        gens=(
            (2015, 2015, ("4.0L V6", "automatic", GAS)),
            (2024, 2024, ("2.4L I4 Turbo", "automatic", GAS)),
        ),
        upcharge=3_000,
        speed=0.25,
        weight=3,
    ),
    Model(
        "Toyota",
        "Tundra",
        "truck",
        5,
        ("3.4L V6 Twin-Turbo", "automatic", GAS),
        (
            T("SR5", 44_500, ("RWD", "4WD"), 1),
            T("Limited", 51_800, ("4WD",), 3),
            T("1794 Edition", 58_900, ("4WD",), 3),
        ),
        (("5TF", "DW5F1", "X"), ("5TF", "LA5DB", "X")),
        ("Super White", "Celestial Silver Metallic", "Magnetic Gray Metallic", "Midnight Black Metallic"),
        ("Black", "Sand Beige"),
        gens=((2015, 2021, ("5.7L V8", "automatic", GAS)),),
        upcharge=3_000,
        speed=0.4,
        weight=2,
    ),
    Model(
        "Toyota",
        "4Runner",
        "suv",
        5,
        ("4.0L V6", "automatic", GAS),
        (
            T("SR5", 38_900, ("RWD", "4WD"), 1),
            T("TRD Off-Road", 42_800, ("4WD",), 2, extras=("Locking Rear Differential", "Crawl Control")),
            T("Limited", 48_200, ("RWD", "4WD"), 3),
        ),
        (("JTE", "BU5JR", "5"), ("JTE", "ZU5JR", "5")),
        ("Super White", "Classic Silver Metallic", "Magnetic Gray Metallic", "Army Green", "Lunar Rock"),
        ("Black", "Sand Beige"),
        upcharge=1_900,
        speed=0.3,
        weight=3,
    ),
    Model(
        "Toyota",
        "Sienna",
        "minivan",
        8,
        ("2.5L I4 Hybrid", "cvt", HYB),
        (
            T("LE", 36_800, ("FWD", "AWD"), 1),
            T("XLE", 41_300, ("FWD", "AWD"), 2),
            T("Limited", 48_200, ("FWD", "AWD"), 3, seats=7),
        ),
        (("5TD", "KZ3DC", "S"), ("5TD", "YRKC1", "S")),
        ("Super White", "Celestial Silver Metallic", "Predawn Gray Mica", "Midnight Black Metallic"),
        ("Black", "Ash"),
        gens=((2015, 2020, ("3.5L V6", "automatic", GAS)),),
        upcharge=2_000,
        speed=0.55,
        weight=2,
    ),
    Model(
        "Toyota",
        "Prius",
        "hatchback",
        5,
        ("1.8L I4 Hybrid", "cvt", HYB),
        (T("LE", 26_200, ("FWD", "AWD"), 1), T("XLE", 29_100, ("FWD", "AWD"), 2)),
        (("JTD", "KARFU", "3"),),
        ("Super White", "Classic Silver Metallic", "Sea Glass Pearl", "Magnetic Gray Metallic"),
        ("Black", "Moonstone"),
        gens=((2023, 2024, ("2.0L I4 Hybrid", "cvt", HYB)),),
        years=(2019, 2024),
        speed=0.55,
        weight=2,
    ),
    *(m for m in NEW_TOYOTA if m.name in {"Corolla Cross", "Grand Highlander", "bZ4X", "GR86"}),
)

USED_OTHER: tuple[Model, ...] = (
    Model(
        "Honda",
        "Civic",
        "sedan",
        5,
        ("2.0L I4", "cvt", GAS),
        (
            T("LX", 23_500, ("FWD",), 0),
            T("Sport", 25_300, ("FWD",), 1),
            T("EX", 26_200, ("FWD",), 2, power=("1.5L I4 Turbo", "cvt", GAS)),
            T("Touring", 30_100, ("FWD",), 3, power=("1.5L I4 Turbo", "cvt", GAS)),
        ),
        (("2HG", "FE2F5", "H"), ("19X", "FC2F6", "H"), ("2HG", "FC2F5", "H")),
        ("Lunar Silver Metallic", "Platinum White Pearl", "Crystal Black Pearl", "Sonic Gray Pearl", "Aegean Blue"),
        ("Black", "Gray"),
        years=(2016, 2024),
        speed=0.5,
        weight=4,
    ),
    Model(
        "Honda",
        "Accord",
        "sedan",
        5,
        ("1.5L I4 Turbo", "cvt", GAS),
        (T("LX", 27_400, ("FWD",), 0), T("Sport", 30_200, ("FWD",), 2), T("EX-L", 33_300, ("FWD",), 3)),
        (("1HG", "CV1F1", "A"), ("1HG", "CV1F3", "A")),
        ("Lunar Silver Metallic", "Platinum White Pearl", "Modern Steel Metallic", "Still Night Pearl"),
        ("Black", "Ivory"),
        gens=((2015, 2017, ("2.4L I4", "cvt", GAS)),),
        speed=0.6,
        weight=3,
    ),
    Model(
        "Honda",
        "CR-V",
        "suv",
        5,
        ("1.5L I4 Turbo", "cvt", GAS),
        (T("LX", 28_400, ("FWD", "AWD"), 0), T("EX", 31_300, ("FWD", "AWD"), 2), T("EX-L", 34_200, ("FWD", "AWD"), 3)),
        (("5J6", "RW2H5", "L"), ("2HK", "RW2H8", "H")),
        ("Lunar Silver Metallic", "Platinum White Pearl", "Obsidian Blue Pearl", "Modern Steel Metallic"),
        ("Black", "Gray", "Ivory"),
        gens=((2015, 2016, ("2.4L I4", "cvt", GAS)),),
        speed=0.55,
        weight=4,
    ),
    Model(
        "Honda",
        "Pilot",
        "suv",
        8,
        ("3.5L V6", "automatic", GAS),
        (
            T("EX-L", 42_300, ("FWD", "AWD"), 2),
            T("Touring", 46_100, ("AWD",), 3, seats=7),
            T("Elite", 50_200, ("AWD",), 3, seats=7),
        ),
        (("5FN", "YF6H5", "B"), ("5FN", "YF6H9", "B")),
        ("Lunar Silver Metallic", "Platinum White Pearl", "Crystal Black Pearl", "Obsidian Blue Pearl"),
        ("Black", "Gray", "Beige"),
        speed=0.65,
        weight=3,
    ),
    Model(
        "Honda",
        "Odyssey",
        "minivan",
        8,
        ("3.5L V6", "automatic", GAS),
        (T("EX", 38_300, ("FWD",), 2), T("EX-L", 41_400, ("FWD",), 3), T("Touring", 46_600, ("FWD",), 3, seats=7)),
        (("5FN", "RL6H7", "B"),),
        ("Lunar Silver Metallic", "Platinum White Pearl", "Modern Steel Metallic", "Obsidian Blue Pearl"),
        ("Gray", "Beige", "Mocha"),
        speed=0.7,
        weight=2,
    ),
    Model(
        "Ford",
        "F-150",
        "truck",
        5,
        ("3.5L V6 EcoBoost", "automatic", GAS),
        (
            T("XL", 38_200, ("RWD", "4WD"), 0, seats=6, power=("3.3L V6", "automatic", GAS)),
            T("XLT", 47_500, ("RWD", "4WD"), 2, power=("2.7L V6 EcoBoost", "automatic", GAS)),
            T("Lariat", 57_800, ("4WD",), 3),
        ),
        (("1FT", "EW1EP", "F"), ("1FT", "FW1E5", "K")),
        ("Oxford White", "Iconic Silver Metallic", "Agate Black", "Carbonized Gray Metallic", "Antimatter Blue"),
        ("Medium Earth Gray", "Black"),
        upcharge=3_500,
        speed=0.7,
        weight=4,
    ),
    Model(
        "Ford",
        "F-250 Super Duty",
        "truck",
        6,
        ("6.7L V8 Turbo Diesel", "automatic", "diesel"),
        (T("XLT", 58_500, ("4WD",), 2), T("Lariat", 68_900, ("4WD",), 3, seats=5)),
        (("1FT", "7W2BT", "E"),),
        ("Oxford White", "Iconic Silver Metallic", "Agate Black"),
        ("Medium Earth Gray", "Black"),
        years=(2017, 2022),
        speed=0.6,
        weight=1,
    ),
    Model(
        "Ford",
        "Explorer",
        "suv",
        7,
        ("2.3L I4 EcoBoost", "automatic", GAS),
        (
            T("XLT", 40_200, ("RWD", "AWD"), 2),
            T("Limited", 48_400, ("RWD", "AWD"), 3, seats=6),
            T("ST", 55_300, ("AWD",), 3, seats=6, power=("3.0L V6 EcoBoost", "automatic", GAS)),
        ),
        (("1FM", "SK8DH", "G"), ("1FM", "5K8GC", "G")),
        ("Oxford White", "Iconic Silver Metallic", "Agate Black", "Atlas Blue Metallic", "Rapid Red"),
        ("Ebony", "Sandstone"),
        gens=((2015, 2019, ("3.5L V6", "automatic", GAS)),),
        upcharge=2_000,
        speed=0.9,
        weight=3,
    ),
    Model(
        "Ford",
        "Escape",
        "suv",
        5,
        ("1.5L I3 EcoBoost", "automatic", GAS),
        (T("SE", 29_300, ("FWD", "AWD"), 1), T("SEL", 31_900, ("FWD", "AWD"), 2)),
        (("1FM", "CU9G6", "L"),),
        ("Oxford White", "Iconic Silver Metallic", "Agate Black", "Velocity Blue"),
        ("Ebony", "Sandstone"),
        speed=1.0,
        weight=2,
    ),
    Model(
        "Ford",
        "Mustang",
        "coupe",
        4,
        ("2.3L I4 EcoBoost", "automatic", GAS),
        (
            T("EcoBoost", 30_500, ("RWD",), 1, manual=0.2),
            T("EcoBoost Premium Convertible", 38_200, ("RWD",), 2),
            T("GT", 38_900, ("RWD",), 2, manual=0.4, power=("5.0L V8", "automatic", GAS)),
        ),
        (("1FA", "6P8TH", "5"), ("1FA", "TP8FF", "5")),
        ("Oxford White", "Iconic Silver Metallic", "Race Red", "Shadow Black", "Grabber Blue"),
        ("Ebony",),
        speed=0.8,
        weight=2,
    ),
    Model(
        "Ford",
        "Maverick",
        "truck",
        5,
        ("2.5L I4 Hybrid", "cvt", HYB),
        (T("XL", 24_900, ("FWD",), 0), T("XLT", 27_900, ("FWD",), 1), T("Lariat", 35_500, ("FWD",), 3)),
        (("3FT", "TW8E3", "R"),),
        ("Oxford White", "Iconic Silver Metallic", "Area 51", "Carbonized Gray Metallic"),
        ("Black Onyx", "Navy Pier"),
        years=(2022, 2024),
        speed=0.6,
        weight=2,
    ),
    Model(
        "Chevrolet",
        "Tahoe",
        "suv",
        8,
        ("5.3L V8", "automatic", GAS),
        (
            T("LS", 55_900, ("RWD", "4WD"), 1),
            T("LT", 61_900, ("RWD", "4WD"), 2),
            T("Z71", 65_800, ("4WD",), 2),
            T("Premier", 70_200, ("RWD", "4WD"), 3, seats=7),
        ),
        (("1GN", "SKNKD", "R"), ("1GN", "SCNKD", "R")),
        ("Summit White", "Silver Ice Metallic", "Black", "Empire Beige Metallic", "Dark Ash Metallic"),
        ("Jet Black", "Jet Black", "Maple Sugar"),
        gens=((2015, 2020, ("5.3L V8", "automatic", GAS)),),
        upcharge=3_000,
        speed=0.7,
        weight=1,
    ),
    Model(
        "Chevrolet",
        "Silverado 1500",
        "truck",
        5,
        ("5.3L V8", "automatic", GAS),
        (
            T("Custom", 43_200, ("RWD", "4WD"), 1, power=("2.7L I4 Turbo", "automatic", GAS)),
            T("LT", 48_900, ("RWD", "4WD"), 2),
            T("RST", 52_400, ("4WD",), 2),
            T("LTZ", 58_700, ("4WD",), 3),
        ),
        (("1GC", "UYDED", "Z"), ("3GC", "UYEED", "G")),
        ("Summit White", "Silver Ice Metallic", "Black", "Northsky Blue Metallic", "Sterling Gray Metallic"),
        ("Jet Black",),
        upcharge=3_000,
        speed=0.75,
        weight=3,
    ),
    Model(
        "Chevrolet",
        "Equinox",
        "suv",
        5,
        ("1.5L I4 Turbo", "automatic", GAS),
        (T("LS", 27_300, ("FWD", "AWD"), 0), T("LT", 29_900, ("FWD", "AWD"), 1), T("Premier", 34_200, ("AWD",), 3)),
        (("3GN", "AXKEV", "L"), ("2GN", "AXUEV", "6")),
        ("Summit White", "Silver Ice Metallic", "Mosaic Black Metallic", "Cayenne Orange Metallic"),
        ("Jet Black", "Medium Ash Gray"),
        speed=1.0,
        weight=3,
    ),
    Model(
        "Chevrolet",
        "Traverse",
        "suv",
        8,
        ("3.6L V6", "automatic", GAS),
        (
            T("LS", 36_200, ("FWD", "AWD"), 1),
            T("LT", 40_100, ("FWD", "AWD"), 2),
            T("Premier", 49_800, ("AWD",), 3, seats=7),
        ),
        (("1GN", "ERGKW", "J"), ("1GN", "EVHKW", "J")),
        ("Summit White", "Silver Ice Metallic", "Mosaic Black Metallic", "Midnight Blue Metallic"),
        ("Jet Black", "Dark Galvanized"),
        upcharge=2_000,
        speed=0.9,
        weight=2,
    ),
    Model(
        "Chevrolet",
        "Malibu",
        "sedan",
        5,
        ("1.5L I4 Turbo", "cvt", GAS),
        (T("LS", 25_100, ("FWD",), 0), T("LT", 27_300, ("FWD",), 1), T("RS", 26_800, ("FWD",), 1)),
        (("1G1", "ZD5ST", "F"),),
        ("Summit White", "Silver Ice Metallic", "Mosaic Black Metallic", "Northsky Blue Metallic"),
        ("Jet Black",),
        gens=((2015, 2018, ("1.5L I4 Turbo", "automatic", GAS)),),
        speed=1.0,
        weight=2,
    ),
    Model(
        "Nissan",
        "Altima",
        "sedan",
        5,
        ("2.5L I4", "cvt", GAS),
        (T("S", 26_200, ("FWD",), 0), T("SV", 28_300, ("FWD", "AWD"), 1), T("SR", 29_600, ("FWD", "AWD"), 2)),
        (("1N4", "BL4DV", "C"), ("1N4", "BL4CV", "N")),
        ("Brilliant Silver Metallic", "Glacier White", "Super Black", "Gun Metallic", "Deep Blue Pearl"),
        ("Charcoal", "Almond"),
        upcharge=1_350,
        speed=1.0,
        weight=3,
    ),
    Model(
        "Nissan",
        "Rogue",
        "suv",
        5,
        ("1.5L I3 VC-Turbo", "cvt", GAS),
        (T("S", 29_200, ("FWD", "AWD"), 0), T("SV", 31_500, ("FWD", "AWD"), 1), T("SL", 36_100, ("AWD",), 3)),
        (("5N1", "AT3BB", "C"), ("JN8", "AT3BB", "W")),
        ("Brilliant Silver Metallic", "Glacier White", "Magnetic Black Pearl", "Caspian Blue Metallic"),
        ("Charcoal", "Gray"),
        gens=((2015, 2021, ("2.5L I4", "cvt", GAS)),),
        speed=1.0,
        weight=3,
    ),
    Model(
        "Nissan",
        "Pathfinder",
        "suv",
        7,
        ("3.5L V6", "automatic", GAS),
        (
            T("SV", 39_900, ("FWD", "AWD"), 1, seats=8),
            T("SL", 43_800, ("FWD", "AWD"), 2),
            T("Platinum", 49_200, ("AWD",), 3),
        ),
        (("5N1", "DR3BC", "C"),),
        ("Brilliant Silver Metallic", "Glacier White", "Super Black", "Obsidian Green Pearl"),
        ("Charcoal", "Almond"),
        gens=((2015, 2021, ("3.5L V6", "cvt", GAS)),),
        upcharge=1_900,
        speed=1.0,
        weight=2,
    ),
    Model(
        "Nissan",
        "Frontier",
        "truck",
        5,
        ("3.8L V6", "automatic", GAS),
        (T("SV", 34_200, ("RWD", "4WD"), 1), T("PRO-4X", 40_100, ("4WD",), 2, extras=("Skid Plates",))),
        (("1N6", "ED1EK", "N"),),
        ("Brilliant Silver Metallic", "Glacier White", "Gun Metallic", "Tactical Green Metallic"),
        ("Charcoal",),
        years=(2022, 2024),
        speed=0.8,
        weight=1,
    ),
    Model(
        "Hyundai",
        "Elantra",
        "sedan",
        5,
        ("2.0L I4", "cvt", GAS),
        (T("SE", 21_600, ("FWD",), 0), T("SEL", 23_300, ("FWD",), 1), T("Limited", 27_400, ("FWD",), 3)),
        (("5NP", "LS4AG", "H"), ("KMH", "LS4AG", "U")),
        ("Shimmering Silver", "Quartz White", "Phantom Black", "Intense Blue"),
        ("Black", "Medium Gray"),
        speed=0.9,
        weight=3,
    ),
    Model(
        "Hyundai",
        "Tucson",
        "suv",
        5,
        ("2.5L I4", "automatic", GAS),
        (T("SE", 28_400, ("FWD", "AWD"), 0), T("SEL", 30_300, ("FWD", "AWD"), 1), T("Limited", 37_900, ("AWD",), 3)),
        (("5NM", "JB3AE", "H"), ("KM8", "J33A4", "U")),
        ("Shimmering Silver", "White Cream", "Phantom Black", "Amazon Gray"),
        ("Black", "Gray"),
        gens=((2015, 2021, ("2.0L I4", "automatic", GAS)),),
        speed=0.9,
        weight=2,
    ),
    Model(
        "Hyundai",
        "Palisade",
        "suv",
        8,
        ("3.8L V6", "automatic", GAS),
        (T("SEL", 40_100, ("FWD", "AWD"), 2), T("Limited", 49_200, ("AWD",), 3, seats=7)),
        (("KM8", "R4DHE", "U"), ("KM8", "R2DHE", "U")),
        ("Moonlight Cloud", "Hyper White", "Becketts Black", "Steel Graphite", "Sierra Burgundy"),
        ("Black", "Beige"),
        years=(2020, 2024),
        upcharge=2_000,
        speed=0.8,
        weight=2,
    ),
    Model(
        "Hyundai",
        "Ioniq 5",
        "suv",
        5,
        ("Dual Motor Electric", "automatic", "electric"),
        (
            T("SE", 46_500, ("RWD",), 1, power=("Single Motor Electric", "automatic", "electric")),
            T("SEL", 49_600, ("AWD",), 2),
            T("Limited", 55_700, ("AWD",), 3),
        ),
        (("KM8", "KN4AE", "U"), ("KM8", "KRDAF", "U")),
        ("Cyber Gray Metallic", "Atlas White", "Digital Teal", "Phantom Black", "Shooting Star"),
        ("Black", "Dark Pebble Gray"),
        years=(2022, 2024),
        speed=1.4,
        weight=1,
    ),
    Model(
        "Kia",
        "Telluride",
        "suv",
        8,
        ("3.8L V6", "automatic", GAS),
        (
            T("S", 39_800, ("FWD", "AWD"), 1, seats=7),
            T("EX", 43_700, ("FWD", "AWD"), 2),
            T("SX", 48_900, ("FWD", "AWD"), 3),
        ),
        (("5XY", "P54HC", "G"), ("5XY", "P34HC", "G")),
        ("Gravity Gray", "Glacial White Pearl", "Ebony Black", "Wolf Gray", "Dark Moss"),
        ("Black", "Gray"),
        years=(2020, 2024),
        upcharge=2_000,
        speed=0.55,
        weight=2,
    ),
    Model(
        "Kia",
        "Sorento",
        "suv",
        7,
        ("2.5L I4", "automatic", GAS),
        (T("LX", 31_100, ("FWD", "AWD"), 1), T("EX", 37_900, ("FWD", "AWD"), 2, seats=6)),
        (("5XY", "RL4LC", "G"),),
        ("Silky Silver", "Snow White Pearl", "Ebony Black", "Gravity Gray"),
        ("Black", "Gray"),
        years=(2021, 2024),
        speed=0.9,
        weight=1,
    ),
    Model(
        "Kia",
        "Sportage",
        "suv",
        5,
        ("2.5L I4", "automatic", GAS),
        (T("LX", 28_300, ("FWD", "AWD"), 0), T("EX", 31_400, ("FWD", "AWD"), 2)),
        (("KND", "PM3AC", "7"), ("5XY", "K33AF", "G")),
        ("Steel Gray", "Snow White Pearl", "Ebony Black", "Silky Silver"),
        ("Black",),
        years=(2017, 2024),
        speed=0.9,
        weight=2,
    ),
    Model(
        "Kia",
        "Forte",
        "sedan",
        5,
        ("2.0L I4", "cvt", GAS),
        (T("LXS", 21_300, ("FWD",), 1), T("GT-Line", 23_400, ("FWD",), 2)),
        (("3KP", "F24AD", "E"),),
        ("Silky Silver", "Snow White Pearl", "Aurora Black", "Currant Red"),
        ("Black",),
        years=(2019, 2024),
        speed=1.0,
        weight=2,
    ),
    Model(
        "Jeep",
        "Wrangler Unlimited",
        "suv",
        5,
        ("3.6L V6", "automatic", GAS),
        (
            T("Sport S", 40_100, ("4WD",), 1, manual=0.15),
            T("Sahara", 46_300, ("4WD",), 2),
            T("Rubicon", 50_400, ("4WD",), 3, manual=0.15, extras=("Locking Differentials",)),
            T(
                "Sahara 4xe",
                52_900,
                ("4WD",),
                3,
                power=("2.0L I4 Turbo Plug-in Hybrid", "automatic", "plug-in hybrid"),
            ),
        ),
        (("1C4", "HJXDG", "W"), ("1C4", "JJXP6", "W")),
        ("Bright White", "Billet Silver Metallic", "Black", "Firecracker Red", "Sarge Green"),
        ("Black",),
        speed=0.6,
        weight=2,
    ),
    Model(
        "Jeep",
        "Grand Cherokee",
        "suv",
        5,
        ("3.6L V6", "automatic", GAS),
        (
            T("Laredo", 40_300, ("RWD", "4WD"), 1),
            T("Limited", 46_100, ("RWD", "4WD"), 2),
            T("Overland", 55_200, ("4WD",), 3),
        ),
        (("1C4", "RJKBG", "8"), ("1C4", "RJFBG", "C")),
        ("Bright White", "Billet Silver Metallic", "Diamond Black Crystal", "Velvet Red", "Baltic Gray Metallic"),
        ("Black", "Global Black"),
        upcharge=2_000,
        speed=1.0,
        weight=2,
    ),
    Model(
        "Subaru",
        "Outback",
        "wagon",
        5,
        ("2.5L H4", "cvt", GAS),
        (
            T("Premium", 31_400, ("AWD",), 1),
            T("Limited", 37_300, ("AWD",), 3),
            T("Onyx Edition XT", 40_100, ("AWD",), 3, power=("2.4L H4 Turbo", "cvt", GAS)),
        ),
        (("4S4", "BTACC", "3"), ("4S4", "BSANC", "3")),
        ("Ice Silver Metallic", "Crystal White Pearl", "Crystal Black Silica", "Autumn Green Metallic"),
        ("Slate Black", "Warm Ivory"),
        speed=0.7,
        weight=2,
    ),
    Model(
        "Subaru",
        "Forester",
        "suv",
        5,
        ("2.5L H4", "cvt", GAS),
        (T("Premium", 30_300, ("AWD",), 1), T("Sport", 32_400, ("AWD",), 2), T("Limited", 35_200, ("AWD",), 3)),
        (("JF2", "SKAGC", "H"), ("JF2", "SKAEC", "H")),
        ("Ice Silver Metallic", "Crystal White Pearl", "Horizon Blue Pearl", "Jasper Green Metallic"),
        ("Black", "Gray"),
        speed=0.7,
        weight=2,
    ),
    Model(
        "Subaru",
        "Crosstrek",
        "suv",
        5,
        ("2.0L H4", "cvt", GAS),
        (T("Premium", 26_400, ("AWD",), 1, manual=0.1), T("Sport", 29_300, ("AWD",), 2, power=("2.5L H4", "cvt", GAS))),
        (("JF2", "GTAPC", "8"),),
        ("Ice Silver Metallic", "Crystal White Pearl", "Plasma Yellow Pearl", "Horizon Blue Pearl"),
        ("Black", "Gray"),
        years=(2018, 2024),
        speed=0.65,
        weight=2,
    ),
    Model(
        "Subaru",
        "Ascent",
        "suv",
        8,
        ("2.4L H4 Turbo", "cvt", GAS),
        (
            T("Premium", 38_200, ("AWD",), 2),
            T("Limited", 45_100, ("AWD",), 3, seats=7),
            T("Touring", 48_900, ("AWD",), 3, seats=7),
        ),
        (("4S4", "WMAFD", "3"),),
        ("Ice Silver Metallic", "Crystal White Pearl", "Magnetite Gray Metallic", "Cinnamon Brown Pearl"),
        ("Slate Black", "Java Brown"),
        years=(2019, 2024),
        speed=0.9,
        weight=1,
    ),
    Model(
        "Mazda",
        "CX-5",
        "suv",
        5,
        ("2.5L I4", "automatic", GAS),
        (
            T("Touring", 30_400, ("FWD", "AWD"), 1),
            T("Carbon Edition", 32_600, ("AWD",), 2),
            T("Grand Touring", 36_100, ("AWD",), 3),
        ),
        (("JM3", "KFBCM", "0"), ("JM3", "KFBDM", "0")),
        (
            "Sonic Silver Metallic",
            "Snowflake White Pearl",
            "Jet Black Mica",
            "Soul Red Crystal Metallic",
            "Machine Gray",
        ),
        ("Black", "Parchment"),
        speed=0.8,
        weight=3,
    ),
    Model(
        "Mazda",
        "CX-9",
        "suv",
        7,
        ("2.5L I4 Turbo", "automatic", GAS),
        (T("Touring", 40_200, ("FWD", "AWD"), 2), T("Grand Touring", 46_800, ("AWD",), 3)),
        (("JM3", "TCBCY", "0"),),
        ("Sonic Silver Metallic", "Snowflake White Pearl", "Jet Black Mica", "Deep Crystal Blue Mica"),
        ("Black", "Parchment"),
        years=(2016, 2023),
        speed=0.9,
        weight=1,
    ),
    Model(
        "Mazda",
        "Mazda3",
        "hatchback",
        5,
        ("2.5L I4", "automatic", GAS),
        (T("Preferred", 27_300, ("FWD", "AWD"), 2), T("Premium", 30_400, ("FWD", "AWD"), 3, manual=0.15)),
        (("JM1", "BPAMM", "0"),),
        ("Sonic Silver Metallic", "Snowflake White Pearl", "Polymetal Gray Metallic", "Soul Red Crystal Metallic"),
        ("Black", "Greige"),
        years=(2019, 2024),
        speed=0.8,
        weight=1,
    ),
    Model(
        "Mazda",
        "MX-5 Miata",
        "convertible",
        2,
        ("2.0L I4", "manual", GAS),
        (T("Club", 33_100, ("RWD",), 2), T("Grand Touring", 35_300, ("RWD",), 3, manual=0.5)),
        (("JM1", "NDAD7", "0"),),
        ("Sonic Silver Metallic", "Snowflake White Pearl", "Soul Red Crystal Metallic", "Machine Gray"),
        ("Black",),
        years=(2016, 2024),
        speed=0.6,
        weight=1,
    ),
    Model(
        "Tesla",
        "Model 3",
        "sedan",
        5,
        ("Dual Motor Electric", "automatic", "electric"),
        (
            T("Standard Range Plus", 41_900, ("RWD",), 2, power=("Single Motor Electric", "automatic", "electric")),
            T("Long Range", 49_900, ("AWD",), 3),
            T("Performance", 55_900, ("AWD",), 3),
        ),
        (("5YJ", "3E1EA", "F"), ("5YJ", "3E1EB", "F")),
        ("Pearl White Multi-Coat", "Midnight Silver Metallic", "Solid Black", "Deep Blue Metallic", "Red Multi-Coat"),
        ("Black", "Black and White"),
        years=(2019, 2021),
        speed=2.2,
        weight=2,
    ),
    Model(
        "Tesla",
        "Model Y",
        "suv",
        5,
        ("Dual Motor Electric", "automatic", "electric"),
        (T("Long Range", 49_900, ("AWD",), 3), T("Performance", 54_900, ("AWD",), 3)),
        (("7SA", "YGDEE", "A"), ("5YJ", "YGDEE", "F")),
        ("Pearl White Multi-Coat", "Midnight Silver Metallic", "Solid Black", "Deep Blue Metallic"),
        ("Black", "Black and White"),
        years=(2020, 2024),
        speed=2.2,
        weight=2,
    ),
    Model(
        "BMW",
        "X3",
        "suv",
        5,
        ("2.0L I4 Turbo", "automatic", GAS),
        (T("xDrive30i", 49_800, ("AWD",), 3),),
        (("5UX", "TY5C0", "9"),),
        ("Glacier Silver Metallic", "Alpine White", "Black Sapphire Metallic", "Phytonic Blue Metallic"),
        ("Black", "Cognac"),
        years=(2018, 2024),
        speed=1.3,
        weight=1,
    ),
    Model(
        "BMW",
        "X5",
        "suv",
        5,
        ("3.0L I6 Turbo", "automatic", GAS),
        (T("xDrive40i", 66_200, ("AWD",), 3),),
        (("5UX", "CR6C0", "9"),),
        ("Mineral White Metallic", "Black Sapphire Metallic", "Carbon Black Metallic", "Glacier Silver Metallic"),
        ("Black", "Coffee"),
        years=(2019, 2024),
        speed=1.3,
        weight=1,
    ),
    Model(
        "BMW",
        "3 Series",
        "sedan",
        5,
        ("2.0L I4 Turbo", "automatic", GAS),
        (T("330i", 43_900, ("RWD", "AWD"), 3),),
        (("WBA", "5R1C0", "F"), ("3MW", "5R1J0", "8")),
        ("Alpine White", "Mineral Gray Metallic", "Black Sapphire Metallic", "Portimao Blue Metallic"),
        ("Black", "Oyster"),
        years=(2017, 2024),
        speed=1.3,
        upcharge=2_000,
        weight=1,
    ),
)

CATALOG_NEW = {m.name: m for m in NEW_TOYOTA}
CATALOG_USED = {(m.make, m.name): m for m in (*USED_TOYOTA, *USED_OTHER)}

# ---------------------------------------------------------------------------------------- features

SAFETY = {
    "Toyota": "Toyota Safety Sense",
    "Honda": "Honda Sensing",
    "Ford": "Ford Co-Pilot360",
    "Chevrolet": "Chevy Safety Assist",
    "Nissan": "Nissan Safety Shield 360",
    "Hyundai": "Hyundai SmartSense",
    "Kia": "Kia Drive Wise",
    "Jeep": "Forward Collision Warning",
    "Subaru": "EyeSight Driver Assist",
    "Mazda": "i-Activsense",
    "Tesla": "Autopilot",
    "BMW": "Active Driving Assistant",
}
AUDIO = {
    "Toyota": "JBL Premium Audio",
    "Honda": "Premium Audio",
    "Ford": "B&O Sound System",
    "Chevrolet": "Bose Premium Audio",
    "Nissan": "Bose Premium Audio",
    "Hyundai": "Harman Kardon Audio",
    "Kia": "Harman Kardon Audio",
    "Jeep": "Alpine Premium Audio",
    "Subaru": "Harman Kardon Audio",
    "Mazda": "Bose Premium Audio",
    "Tesla": "Premium Audio",
    "BMW": "Harman Kardon Audio",
}
TIER_FEATURES = (
    ("Backup Camera", "Bluetooth", "Keyless Entry"),
    ("Blind Spot Monitor", "Adaptive Cruise Control", "Alloy Wheels", "Push Button Start"),
    ("Heated Seats", "Dual-Zone Climate Control", "Power Driver Seat", "Wireless Charging"),
    ("Leather Seats", "Navigation", "Heated Steering Wheel", "Memory Seats", "360-Degree Camera"),
)


def features_for(rng: random.Random, model: Model, trim: Trim, year: int, drive: str, seats: int) -> str:
    feats: list[str] = []
    tier = trim.tier
    for level in range(tier + 1):
        feats.extend(TIER_FEATURES[level])
    if model.make == "Tesla":
        feats = [f for f in feats if f not in {"Keyless Entry", "Push Button Start"}]
        feats += ["Glass Roof", "Navigation", "Heated Seats"]
    connect_year = 2020 if model.make == "Toyota" else 2017
    if year >= connect_year and model.make != "Tesla":
        feats[1:1] = ["Apple CarPlay", "Android Auto"]
    if year >= 2018 or model.make in {"Subaru", "Honda"}:
        feats.insert(0, SAFETY[model.make])
    if tier >= 2 and model.body != "truck" and rng.random() < 0.6 and model.make != "Tesla":
        feats.append("Panoramic Moonroof" if model.body in {"suv", "minivan"} and tier == 3 else "Sunroof")
    if tier >= 3 and model.make != "Tesla":
        feats.append(AUDIO[model.make])
        if model.body in {"sedan", "suv", "minivan", "truck"} and rng.random() < 0.5:
            feats.append("Ventilated Seats")
    if model.body in {"suv", "minivan"} and tier >= 2 and model.make != "Jeep":
        feats.append("Power Liftgate")
    if seats >= 6 and model.body in {"suv", "minivan"}:
        feats.append("Third Row Seating")
        if seats == 7 or (model.body == "minivan" and seats == 7):
            feats.append("Captain's Chairs")
        feats.append("Rear Climate Control")
    if model.body == "minivan":
        feats.append("Power Sliding Doors")
    if model.body == "truck":
        if rng.random() < 0.7 or tier >= 2:
            feats.append("Tow Package")
        if rng.random() < 0.6:
            feats.append("Bed Liner")
        if tier >= 2:
            feats.append("Trailer Brake Controller")
    elif model.body == "suv" and drive in {"4WD", "AWD"} and seats >= 6 and rng.random() < 0.4:
        feats.append("Tow Package")
    if model.power[2] == "electric":
        feats.append("DC Fast Charging")
    if model.body == "convertible" or "Convertible" in trim.name:
        feats.append("Power Convertible Top" if model.make == "Ford" else "Soft Top")
    feats.extend(trim.extras)
    seen: dict[str, None] = {}
    for f in feats:
        seen.setdefault(f, None)
    return "|".join(seen)


# ------------------------------------------------------------------------------------------ pricing


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def dealer_round(rng: random.Random, value: float) -> int:
    """Round a computed used-car price the way lots price: $x,995 / $x,495 / $xx,x88."""
    if rng.random() < 0.7:
        return round(value / 500.0) * 500 - 5
    return round(value / 100.0) * 100 - 12


def used_mileage(rng: random.Random, year: int, cap: int | None = None) -> int:
    age = (FEED_DATE.year - year) + 0.75
    miles = int(age * 12_500 * rng.uniform(0.55, 1.3)) + rng.randrange(100)
    miles = max(miles, 4_000 + rng.randrange(3_000))
    if cap is not None and miles >= cap:
        miles = cap - rng.randrange(1_500, 12_000)
    return miles


def used_price(rng: random.Random, model: Model, trim: Trim, drive: str, year: int, miles: int) -> int:
    basis = trim.price + (model.upcharge if drive != trim.drives[0] else 0)
    inflation = 1 - 0.02 * max(0, 2024 - year)  # older model years stickered lower
    age = FEED_DATE.year - year
    wear = 1 - 0.03 * max(0, age - 5)  # past five years every make loses ground
    value = basis * inflation * wear * 0.93 ** (age * model.speed)
    expected = (age + 0.75) * 12_500
    adjust = -(miles - expected) * basis * 1.5e-6
    value += max(-0.12 * value, min(0.06 * value, adjust))
    return max(dealer_round(rng, value), 7_995)


# ------------------------------------------------------------------------------------------- units


@dataclass
class Unit:
    condition: str
    model: Model
    trim: Trim
    year: int
    drive: str
    color: str
    interior: str
    transmission: str
    miles: int
    price: int
    msrp: int | None
    status: str = "available"
    pinned: bool = False
    vin: str = ""
    stock: str = ""
    date_in_stock: dt.date = FEED_DATE
    features: str = ""
    extras: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Pin:
    condition: str
    make: str
    model: str
    trim: str
    year: int
    drive: str
    color: str
    miles: int | None = None
    price: int | None = None
    manual: bool = False


# Units the demo conversations and evals rely on. Prices pinned where a scenario quotes them.
PINNED: tuple[Pin, ...] = (
    # new
    Pin("new", "Toyota", "RAV4 Hybrid", "XLE Premium", 2026, "AWD", "Blueprint"),
    Pin("new", "Toyota", "RAV4 Hybrid", "Woodland", 2026, "AWD", "Cavalry Blue"),
    Pin("new", "Toyota", "RAV4 Hybrid", "XLE", 2026, "AWD", "Silver Sky Metallic"),
    Pin("new", "Toyota", "Camry", "XSE", 2026, "FWD", "Celestial Silver Metallic"),
    Pin("new", "Toyota", "Grand Highlander", "Hybrid XLE", 2026, "AWD", "Silver Sky Metallic"),
    Pin("new", "Toyota", "Sienna", "XLE", 2026, "FWD", "Celestial Silver Metallic"),
    Pin("new", "Toyota", "Tacoma", "TRD Off-Road", 2026, "4WD", "Ice Cap", manual=True),
    Pin("new", "Toyota", "bZ4X", "XLE", 2026, "FWD", "Wind Chill Pearl"),
    # used Tacomas, four of them under $35,000
    Pin("used", "Toyota", "Tacoma", "TRD Off-Road", 2019, "4WD", "Silver Sky Metallic", 58_412, 32_995),
    Pin("used", "Toyota", "Tacoma", "TRD Sport", 2018, "RWD", "Cement", 71_260, 28_488),
    Pin("used", "Toyota", "Tacoma", "SR5", 2017, "RWD", "Super White", 96_105, 23_995),
    Pin("used", "Toyota", "Tacoma", "SR5", 2020, "4WD", "Magnetic Gray Metallic", 52_877, 31_995),
    Pin("used", "Toyota", "Tacoma", "TRD Off-Road", 2022, "4WD", "Midnight Black Metallic", 28_340, 38_995),
    Pin("cpo", "Toyota", "Tacoma", "TRD Sport", 2021, "4WD", "Silver Sky Metallic", 39_118, 35_988),
    # used three-row vehicles under $40,000
    Pin("used", "Toyota", "Highlander", "XLE", 2019, "AWD", "Celestial Silver Metallic", 67_904, 27_995),
    Pin("used", "Honda", "Pilot", "EX-L", 2020, "AWD", "Lunar Silver Metallic", 54_210, 29_495),
    Pin("used", "Kia", "Telluride", "EX", 2021, "AWD", "Gravity Gray", 46_733, 33_995),
    Pin("used", "Ford", "Explorer", "XLT", 2020, "RWD", "Iconic Silver Metallic", 61_482, 24_988),
    Pin("used", "Chevrolet", "Traverse", "LT", 2021, "FWD", "Summit White", 44_590, 26_995),
    Pin("used", "Nissan", "Pathfinder", "SV", 2022, "AWD", "Brilliant Silver Metallic", 33_871, 30_495),
    Pin("used", "Toyota", "Sienna", "XLE", 2019, "FWD", "Predawn Gray Mica", 74_316, 27_488),
    Pin("used", "Honda", "Odyssey", "EX-L", 2020, "FWD", "Modern Steel Metallic", 58_027, 28_995),
    Pin("used", "Hyundai", "Palisade", "SEL", 2021, "AWD", "Moonlight Cloud", 49_966, 31_995),
    Pin("cpo", "Toyota", "Highlander", "XLE", 2022, "AWD", "Midnight Black Metallic", 36_254, 37_995),
    # Tahoes (the "$1 Tahoe" test)
    Pin("used", "Chevrolet", "Tahoe", "LT", 2021, "4WD", "Black", 48_112, 46_995),
    Pin("used", "Chevrolet", "Tahoe", "Premier", 2019, "RWD", "Silver Ice Metallic", 81_540, 34_988),
    # hybrids / EVs / others scenarios mention
    Pin("used", "Tesla", "Model 3", "Long Range", 2021, "AWD", "Midnight Silver Metallic", 41_307, 24_495),
    Pin("used", "Tesla", "Model Y", "Long Range", 2023, "AWD", "Pearl White Multi-Coat", 22_894, 31_995),
    Pin("used", "Hyundai", "Ioniq 5", "SEL", 2022, "AWD", "Cyber Gray Metallic", 27_455, 27_495),
    Pin("used", "Ford", "Maverick", "XLT", 2022, "FWD", "Iconic Silver Metallic", 31_620, 26_488),
    Pin("used", "Jeep", "Wrangler Unlimited", "Sahara 4xe", 2021, "4WD", "Sarge Green", 38_905, 33_495),
    Pin("used", "Honda", "Civic", "EX", 2021, "FWD", "Lunar Silver Metallic", 37_812, 20_995),
    Pin("cpo", "Toyota", "RAV4 Hybrid", "XLE", 2022, "AWD", "Blueprint", 30_412, 31_495),
    Pin("cpo", "Toyota", "Camry", "SE", 2020, "FWD", "Celestial Silver Metallic", 48_090, 22_988),
    Pin("cpo", "Toyota", "Prius", "LE", 2021, "FWD", "Classic Silver Metallic", 44_361, 22_495),
    Pin("used", "Ford", "F-250 Super Duty", "Lariat", 2019, "4WD", "Agate Black", 88_214, 46_995),
)

# How many random used/cpo units to add to the pinned ones (new units follow Model.weight).
RANDOM_USED = 41
RANDOM_CPO = 17

CPO_MAX_MILES = 85_000
NEW_OPTIONS = (0, 0, 269, 350, 435, 599, 1_060, 1_315, 1_840, 2_390)  # option packages on the sticker
# Toyota Certified mix: what trades in and qualifies (model name -> relative weight).
CPO_WEIGHTS = {
    "Camry": 5,
    "Corolla": 4,
    "RAV4": 4,
    "RAV4 Hybrid": 3,
    "Highlander": 3,
    "Tacoma": 2,
    "Tundra": 1,
    "4Runner": 2,
    "Sienna": 1,
    "Prius": 1,
    "Corolla Cross": 2,
    "Grand Highlander": 1,
    "GR86": 1,
}


def pick_used(rng: random.Random, models: list[Model]) -> Model:
    # Models shared with the new catalog carry stocking counts as weights; trade-ins of them are rarer.
    weights = [1 if m in NEW_TOYOTA else m.weight for m in models]
    return rng.choices(models, weights=weights, k=1)[0]


def gearbox(rng: random.Random, model: Model, trim: Trim, year: int, manual: bool | None = None) -> str:
    _, transmission, _ = model.power_for(year, trim)
    if manual is None:
        manual = trim.manual > 0 and rng.random() < trim.manual
    return "manual" if manual else transmission


def new_unit(rng: random.Random, model: Model, trim: Trim, drive: str, color: str, manual: bool | None) -> Unit:
    options = rng.choice([o for o in NEW_OPTIONS if o <= trim.price * 0.06])
    msrp = trim.price + (model.upcharge if drive != trim.drives[0] else 0) + options
    hot = model.name in {"Grand Highlander", "Sienna"} or trim.name in {"TRD Pro", "Hybrid MAX Platinum"}
    discount = rng.randrange(0, 700, 50) if hot else rng.randrange(300, 2_300, 5)
    return Unit(
        condition="new",
        model=model,
        trim=trim,
        year=NEW_MODEL_YEAR,
        drive=drive,
        color=color,
        interior=rng.choice(model.interiors),
        transmission=gearbox(rng, model, trim, NEW_MODEL_YEAR, manual),
        miles=rng.randint(3, 25),
        price=msrp - discount,
        msrp=msrp,
    )


def used_unit(
    rng: random.Random,
    condition: str,
    model: Model,
    trim: Trim,
    year: int,
    drive: str,
    color: str,
    miles: int | None = None,
    price: int | None = None,
    manual: bool | None = None,
) -> Unit:
    cap = CPO_MAX_MILES if condition == "cpo" else None
    miles = miles if miles is not None else used_mileage(rng, year, cap)
    if price is None:
        price = used_price(rng, model, trim, drive, year, miles) + (1_000 if condition == "cpo" else 0)
    return Unit(
        condition=condition,
        model=model,
        trim=trim,
        year=year,
        drive=drive,
        color=color,
        interior=rng.choice(model.interiors),
        transmission=gearbox(rng, model, trim, year, manual),
        miles=miles,
        price=price,
        msrp=None,
    )


def find_trim(model: Model, name: str) -> Trim:
    for t in model.trims:
        if t.name == name:
            return t
    raise KeyError(f"{model.make} {model.name} has no trim {name!r}")


def build_units(rng: random.Random) -> list[Unit]:
    units: list[Unit] = []
    for pin in PINNED:
        if pin.condition == "new":
            model = CATALOG_NEW[pin.model]
            unit = new_unit(rng, model, find_trim(model, pin.trim), pin.drive, pin.color, pin.manual or None)
        else:
            model = CATALOG_USED[(pin.make, pin.model)]
            unit = used_unit(
                rng,
                pin.condition,
                model,
                find_trim(model, pin.trim),
                pin.year,
                pin.drive,
                pin.color,
                pin.miles,
                pin.price,
                pin.manual or None,
            )
        assert pin.drive in unit.trim.drives, pin
        unit.pinned = True
        units.append(unit)

    for model in NEW_TOYOTA:  # a new-car lot is stocked to a plan: `weight` units of each model
        for _ in range(model.weight):
            trim = rng.choice(model.trims)
            units.append(new_unit(rng, model, trim, rng.choice(trim.drives), rng.choice(model.colors), None))

    used_models = [m for m in (*USED_TOYOTA, *USED_OTHER) if m.name not in {"Tahoe"}]
    for _ in range(RANDOM_USED):
        model = pick_used(rng, used_models)
        y0, y1 = model.years
        year = rng.choice([y for y in range(y0, y1 + 1) for _ in range(1 + (y >= 2019) + (y >= 2021))])
        trim = rng.choice(model.trims)
        units.append(used_unit(rng, "used", model, trim, year, rng.choice(trim.drives), rng.choice(model.colors)))

    cpo_models = [m for m in USED_TOYOTA if m.name in CPO_WEIGHTS]
    for _ in range(RANDOM_CPO):
        model = rng.choices(cpo_models, weights=[CPO_WEIGHTS[m.name] for m in cpo_models], k=1)[0]
        year = rng.randint(max(2020, model.years[0]), min(2024, model.years[1]))
        trim = rng.choice(model.trims)
        units.append(used_unit(rng, "cpo", model, trim, year, rng.choice(trim.drives), rng.choice(model.colors)))
    return units


def assign_status_and_dates(rng: random.Random, units: list[Unit]) -> None:
    window = 120
    for u in units:
        if u.condition == "new":
            u.date_in_stock = FEED_DATE - dt.timedelta(days=rng.randint(1, window))
        else:  # used units turn faster, so the lot skews younger
            u.date_in_stock = FEED_DATE - dt.timedelta(days=min(rng.randint(1, window), rng.randint(1, window)))
    free_new = [u for u in units if u.condition == "new" and not u.pinned]
    free_used = [u for u in units if u.condition != "new" and not u.pinned]
    rng.shuffle(free_new)
    rng.shuffle(free_used)
    for u in free_new[:8]:
        u.status = "in_transit"
        u.miles = rng.randint(3, 8)
        u.date_in_stock = FEED_DATE - dt.timedelta(days=rng.randint(0, 9))  # allocated to the store
    for u in free_new[8:11] + free_used[:3]:
        u.status = "pending"
    for u in free_new[11:13] + free_used[3:7]:
        u.status = "sold"


def assign_identity(rng: random.Random, units: list[Unit]) -> None:
    vins: set[str] = set()
    ordered = sorted(units, key=lambda u: (u.date_in_stock, u.condition, u.model.name, u.trim.name, u.price))
    next_new, next_used = 26_101, 24_310
    for u in ordered:
        if u.condition == "new":
            u.stock = f"T{next_new}"
            next_new += rng.randint(1, 3)
        else:
            u.stock = f"{'C' if u.condition == 'cpo' else 'U'}{next_used}"
            next_used += rng.randint(1, 4)
        wmi, vds, plant = rng.choice(u.model.vin)
        u.vin = make_vin(rng, wmi, vds, u.year, plant, vins)
        _, _, fuel = u.model.power_for(u.year, u.trim)
        seats = u.trim.seats or u.model.seats
        u.extras = {"fuel": fuel, "seats": str(seats)}
        u.features = features_for(rng, u.model, u.trim, u.year, u.drive, seats)


def row(rng: random.Random, u: Unit) -> dict[str, str]:
    engine, _, fuel = u.model.power_for(u.year, u.trim)
    photos = 1 if u.status == "in_transit" else rng.randint(5, 12)
    body = "convertible" if "Convertible" in u.trim.name else u.model.body
    return {
        "vin": u.vin,
        "stock_number": u.stock,
        "condition": u.condition,
        "year": str(u.year),
        "make": u.model.make,
        "model": u.model.name,
        "trim": u.trim.name,
        "body_style": body,
        "exterior_color": u.color,
        "interior_color": u.interior,
        "mileage": str(u.miles),
        "price": str(u.price),
        "msrp": "" if u.msrp is None else str(u.msrp),
        "drivetrain": u.drive,
        "transmission": u.transmission,
        "fuel_type": fuel,
        "engine": engine,
        "seats": u.extras["seats"],
        "features": u.features,
        "photo_urls": "|".join(f"{CDN}/{u.stock}/{i}.jpg" for i in range(1, photos + 1)),
        "vdp_url": f"{SITE}/inventory/{u.condition}/{u.year}-{slug(u.model.make)}-{slug(u.model.name)}-"
        f"{u.stock.lower()}",
        "date_in_stock": u.date_in_stock.isoformat(),
        "status": u.status,
    }


def check(rows: list[dict[str, str]]) -> None:
    """Scenario coverage the demo relies on; fail loudly if an edit breaks it."""

    def n(pred) -> int:
        return sum(1 for r in rows if pred(r))

    avail = [r for r in rows if r["status"] == "available"]
    assert n(lambda r: r["model"] == "Tacoma" and r["condition"] != "new" and int(r["price"]) < 35_000) >= 3
    assert any(r["model"] == "RAV4 Hybrid" and r["exterior_color"] in {"Blueprint", "Cavalry Blue"} for r in avail)
    assert any(r["model"] == "RAV4 Hybrid" and r["exterior_color"] == "Silver Sky Metallic" for r in avail)
    assert sum(1 for r in avail if "silver" in r["exterior_color"].lower()) >= 8
    assert sum(1 for r in avail if r["condition"] != "new" and int(r["seats"]) >= 7 and int(r["price"]) < 40_000) >= 6
    assert any(r["model"] == "Tahoe" for r in avail)
    assert n(lambda r: r["fuel_type"] in {"hybrid", "plug-in hybrid", "electric"}) >= 10
    for r in rows:
        if r["condition"] == "new":
            assert int(r["price"]) <= int(r["msrp"]) and 3 <= int(r["mileage"]) <= 25, r
        if r["condition"] == "cpo":
            assert r["make"] == "Toyota" and 2020 <= int(r["year"]) <= 2024 and int(r["mileage"]) < CPO_MAX_MILES
        assert r["status"] != "in_transit" or r["condition"] == "new"
    assert len({r["vin"] for r in rows}) == len(rows) and len({r["stock_number"] for r in rows}) == len(rows)


def generate() -> list[dict[str, str]]:
    rng = random.Random(SEED)
    units = build_units(rng)
    assign_status_and_dates(rng, units)
    assign_identity(rng, units)
    order = {"new": 0, "cpo": 1, "used": 2}
    rows = [row(rng, u) for u in sorted(units, key=lambda u: (order[u.condition], u.stock))]
    check(rows)
    return rows


def write_csv(rows: list[dict[str, str]], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "inventory.csv",
        help="where to write the CSV (default: inventory.csv next to this script)",
    )
    args = parser.parse_args(argv)
    rows = generate()
    write_csv(rows, args.out)
    print(f"wrote {len(rows)} vehicles to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
