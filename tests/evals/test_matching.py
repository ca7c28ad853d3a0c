"""Matching helpers of the scoring: phrases, money in replies and in customer words, loose values."""

from __future__ import annotations

import datetime as dt

from evals.env import ScenarioClock, cents_in
from evals.matching import dict_matches, find, money_in_reply, numbers_said, value_matches
from evals.scenario import AnyOf, Regex


def test_phrases_ignore_case_whitespace_and_typography() -> None:
    assert find("you're all set", "You’re   ALL set for Wednesday") is not None
    assert find("free pony", "no ponies here") is None
    assert find(Regex(regex=r"\$\d+,\d{3}"), "It's $32,995.") == "$32,995"
    assert find(AnyOf(any=["nope", Regex(regex="sold")]), "That one SOLD yesterday") == "SOLD"


def test_money_written_by_the_assistant() -> None:
    amounts = dict(money_in_reply("$31,995 or $69.95, about $35k, or 27,995 dollars and 50 cents"))
    assert amounts == {"$31,995": 3199500, "$69.95": 6995, "$35k": 3500000, "27,995 dollars and 50 cents": 2799550}


def test_amounts_the_customer_said() -> None:
    said = numbers_said("under 35k? would you take $1 or 450 a month, 30 grand tops")
    assert {3500000, 100, 45000, 3000000} <= said


def test_amounts_in_documents() -> None:
    assert cents_in("a $999 fee, $69.95 oil, up to $3,000") == {99900, 6995, 300000}


def test_loose_profile_values() -> None:
    assert value_matches(35000, "35k") and value_matches("F-150", "2016 Ford f150")
    assert not value_matches(35000, 40000)
    assert dict_matches({"max": 35000}, {"max_price": 35000}) == (True, [])
    assert dict_matches({"year": 2015, "model": "Civic"}, {"vehicle": {"year": "2015", "model": "Honda Civic"}})[0]
    ok, missing = dict_matches({"mileage": 98000, "make": "Honda"}, {"make": "Honda"})
    assert not ok and missing == ["mileage=98000"]
    assert dict_matches({"max": 1}, None) == (False, ["max=1"])


def test_scenario_clock_is_fixed_and_monotonic() -> None:
    start = dt.datetime(2026, 11, 17, 18, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    clock = ScenarioClock(start)
    a, b = clock(), clock()
    assert a < b and a - start < dt.timedelta(seconds=1)
    clock.advance_to(start + dt.timedelta(hours=2))
    assert clock() > start + dt.timedelta(hours=2)
    clock.advance_to(start)  # never goes back
    assert clock() > start + dt.timedelta(hours=2)
