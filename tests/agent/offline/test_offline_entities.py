"""Entities in customers' own words: money, years, miles, seats, vehicles (typos, plurals), people,
trade-ins, service needs and references to what was shown. The vocabulary is the demo inventory's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.offline.entities import extract, extract_name, has_time
from agent.offline.vocab import Matcher, matcher_for
from integrations.inventory_csv import parse_inventory_csv
from tools.inventory import build_vocabulary

FEED = Path(__file__).resolve().parents[3] / "examples" / "demo" / "inventory.csv"
SERVICE_KINDS = ["oil_change", "tire_rotation", "brake_inspection", "state_inspection", "recall", "diagnostic",
                 "maintenance", "battery", "alignment"]  # fmt: skip


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return matcher_for(build_vocabulary(parse_inventory_csv(FEED).vehicles))


def crit(matcher: Matcher, text: str) -> dict[str, Any]:
    return extract(text, matcher, service_kinds=SERVICE_KINDS).criteria


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("any used tacomas under 35k?", {"price_max": 35000}),
        ("something with 3 rows for under 40", {"price_max": 40000}),
        ("budget is $40,000", {"price_max": 40000}),
        ("$28,500 max", {"price_max": 28500}),
        ("30-35k", {"price_min": 30000, "price_max": 35000}),
        ("between 25000 and 30000", {"price_min": 25000, "price_max": 30000}),
        ("around 30 grand", {"price_min": 27000, "price_max": 33000}),
        ("about 25k", {"price_min": 22500, "price_max": 27500}),
        ("no more than 20k", {"price_max": 20000}),
        ("less then 18k pls", {"price_max": 18000}),
        ("over 50k is fine", {"price_min": 50000}),
        ("25k or less", {"price_max": 25000}),
    ],
)
def test_budgets(matcher: Matcher, text: str, expected: dict[str, int]) -> None:
    got = crit(matcher, text)
    assert {k: got.get(k) for k in expected} == expected


@pytest.mark.parametrize(
    ("text", "monthly"),
    [("less than 400 a month", 400), ("$350/mo", 350), ("payments under 500", 500), ("450 per month tops", 450)],
)
def test_monthly_budget_is_not_a_price_cap(matcher: Matcher, text: str, monthly: int) -> None:
    e = extract(text, matcher)
    assert e.monthly_budget == monthly
    assert "price_max" not in e.criteria


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019 or newer", {"year_min": 2019}),
        ("2018+", {"year_min": 2018}),
        ("newer than 2017", {"year_min": 2018}),
        ("2019-2021 4runner", {"year_min": 2019, "year_max": 2021}),
        ("a 2021 camry", {"year_min": 2021, "year_max": 2021}),
        ("'18 or newer", {"year_min": 2018}),
        ("older than 2015", {"year_max": 2014}),
        ("under 50k miles", {"mileage_max": 50000}),
        ("less than 30,000 miles", {"mileage_max": 30000}),
        ("3 rows", {"seats_min": 7}),
        ("need a third row", {"seats_min": 7}),
        ("7 seater", {"seats_min": 7}),
        ("seats 8", {"seats_min": 8}),
        ("family of 6", {"seats_min": 6}),
        ("used", {"condition": "used"}),
        ("pre-owned", {"condition": "used"}),
        ("certified", {"condition": "cpo"}),
        ("brand new highlander", {"condition": "new"}),
        ("awd please", {"drivetrain": "AWD"}),
        ("4x4 truck", {"drivetrain": "4WD"}),
        ("hybrid", {"fuel_type": "hybrid"}),
        ("electric cars?", {"fuel_type": "electric"}),
        ("EVs", {"fuel_type": "electric"}),
        ("plug-in", {"fuel_type": "plug-in hybrid"}),
        ("got any trucks", {"body_style": "pickup"}),
        ("pickups", {"body_style": "pickup"}),
        ("suv", {"body_style": "suv"}),
        ("minivan", {"body_style": "minivan"}),
        ("in blue", {"color": "blue"}),
        ("grey one", {"color": "gray"}),
        ("with carplay and a sunroof", {"features": ["apple carplay", "sunroof"]}),
    ],
)
def test_search_attributes(matcher: Matcher, text: str, expected: dict[str, Any]) -> None:
    got = crit(matcher, text)
    assert {k: got.get(k) for k in expected} == expected


@pytest.mark.parametrize(
    ("text", "model"),
    [
        ("any used tacomas", "Tacoma"),
        ("do you have the RAV4 hybrid in blue", "RAV4 Hybrid"),
        ("rav 4", "RAV4"),
        ("camery", "Camry"),
        ("highlandr", "Highlander"),
        ("corola", "Corolla"),
        ("tundras?", "Tundra"),
        ("forerunner", "4Runner"),
        ("4 runner", "4Runner"),
        ("siennas", "Sienna"),
        ("the grand highlander", "Grand Highlander"),
        ("whats the cheapest camry", "Camry"),
    ],
)
def test_models_with_typos_and_plurals(matcher: Matcher, text: str, model: str) -> None:
    got = crit(matcher, text)
    assert got.get("model") == model
    assert got.get("make") == "Toyota"


@pytest.mark.parametrize("text", ["can I carry a bike", "how much is an oil change", "what time do you close"])
def test_ordinary_words_are_not_vehicles(matcher: Matcher, text: str) -> None:
    assert "model" not in crit(matcher, text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("I'm Jo", "Jo"),
        ("this is Maria Lopez", "Maria Lopez"),
        ("my name is kevin", "Kevin"),
        ("Name's Dana", "Dana"),
        ("hi, it's Priya", "Priya"),
        ("im looking for a truck", None),
        ("this is ridiculous", None),
        ("I'm interested in the camry", None),
        ("i'm good thanks", None),
    ],
)
def test_names(text: str, name: str | None) -> None:
    assert extract_name(text) == name


def test_bare_name_only_when_asked() -> None:
    assert extract_name("maria lopez") is None
    assert extract_name("maria lopez", expecting=True) == "Maria Lopez"
    assert extract_name("cancel my appointment", expecting=True) is None


@pytest.mark.parametrize(
    ("text", "phone", "email"),
    [
        ("call me at 813-555-0199", "+18135550199", None),
        ("(813) 555 0123", "+18135550123", None),
        ("jo@example.com", None, "jo@example.com"),
        ("this is Maria Lopez, 813.555.0188 maria.lopez@example.com", "+18135550188", "maria.lopez@example.com"),
    ],
)
def test_contacts(matcher: Matcher, text: str, phone: str | None, email: str | None) -> None:
    e = extract(text, matcher)
    assert (e.phone, e.email) == (phone, email)


@pytest.mark.parametrize(
    ("text", "trade"),
    [
        ("trading in my 2015 civic with 90k miles",
         {"year": 2015, "make": "Honda", "model": "Civic", "mileage": 90000}),
        ("what's my 2016 accord worth", {"year": 2016, "make": "Honda", "model": "Accord"}),
        ("I owe 12k on it", {"payoff": 12000}),
        ("trade in a 2014 camry, still owe about 5k", {"year": 2014, "model": "Camry", "payoff": 5000}),
        ("I want to trade my 2012 f150", {"year": 2012, "make": "Ford", "model": "F-150"}),
    ],
)  # fmt: skip
def test_trade_ins(matcher: Matcher, text: str, trade: dict[str, Any]) -> None:
    e = extract(text, matcher)
    assert {k: e.trade_in.get(k) for k in trade} == trade
    assert "mileage_max" not in e.criteria and "price_max" not in e.criteria  # the trade's figures aren't a search


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("I need an oil change", "oil_change"),
        ("brakes squeaking", "brake_inspection"),
        ("check engine light is on", "diagnostic"),
        ("rotate my tires", "tire_rotation"),
        ("car pulls to the left", "alignment"),
        ("it won't start, maybe the battery", "battery"),
        ("there's a recall on my rav4", "recall"),
        ("time for my 30k service", "maintenance"),
        ("AC is blowing warm", "diagnostic"),
    ],
)
def test_service_kinds(matcher: Matcher, text: str, kind: str) -> None:
    assert extract(text, matcher, service_kinds=SERVICE_KINDS).service_kind == kind


@pytest.mark.parametrize(
    ("text", "ordinal", "superlative", "color"),
    [
        ("the 2nd one", 2, None, None),
        ("is the second one still available", 2, None, None),
        ("#3", 3, None, None),
        ("the last one", -1, None, None),
        ("2", 2, None, None),
        ("the silver one", None, None, "silver"),
        ("the cheaper one", None, "cheapest", None),
        ("the one with lower miles", None, "lowest_miles", None),
        ("the newer one", None, "newest", None),
    ],
)
def test_references(matcher: Matcher, text: str, ordinal: int | None, superlative: str | None,
                    color: str | None) -> None:  # fmt: skip
    e = extract(text, matcher)
    assert (e.ordinal, e.superlative, e.criteria.get("color")) == (ordinal, superlative, color)


def test_third_row_is_not_an_ordinal(matcher: Matcher) -> None:
    e = extract("something with a third row", matcher)
    assert e.ordinal is None and e.criteria["seats_min"] == 7


@pytest.mark.parametrize(
    ("text", "offer"),
    [("sell me the tahoe for $1", 1), ("would you take 25k for the camry", 25000), ("I'll pay $500 for it", 500),
     ("sell it to me for a dollar", 1)],
)  # fmt: skip
def test_offers_are_not_budgets(matcher: Matcher, text: str, offer: int) -> None:
    e = extract(text, matcher)
    assert e.offer == offer and "price_max" not in e.criteria


@pytest.mark.parametrize(
    ("text", "expected"),
    [("tomorrow at 10", True), ("thursday morning", True), ("next monday after 3", True), ("sat 2pm", True),
     ("10:30 works", True), ("the 2nd one", False), ("3 rows for under 40", False), ("2016 accord", False),
     ("I sat down", False)],
)  # fmt: skip
def test_time_words(text: str, expected: bool) -> None:
    assert has_time(text) is expected


@pytest.mark.parametrize(
    ("text", "trade", "criteria"),
    [
        ("i have a 2016 f150 to trade and my budget is around 40k", {"year": 2016, "model": "F-150"},
         {"price_max": 40000}),
        ("what would u give me for my 2015 honda civic with 98k miles?", {"year": 2015, "model": "Civic",
         "mileage": 98000}, {}),
        ("trading in my 2019 camry with 40k miles for a tacoma under 35k", {"year": 2019, "model": "Camry",
         "mileage": 40000}, {"price_max": 35000}),
    ],
)  # fmt: skip
def test_what_follows_the_trade_is_still_read(matcher: Matcher, text: str, trade: dict, criteria: dict) -> None:
    e = extract(text, matcher)
    assert {k: e.trade_in.get(k) for k in trade} == trade
    assert {k: e.criteria.get(k) for k in criteria} == criteria
