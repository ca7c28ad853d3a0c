"""Customer wording → windows at the dealership, against a fixed Tuesday-evening clock.

`now` is Tue 2026-11-17 18:30 America/New_York. Sales is open Mon–Fri 09–20, Sat 09–19, Sun 11–17;
service Mon–Fri 07–18, Sat 08–16, closed Sunday; Thanksgiving (Thu Nov 26) is closed.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tools import dates
from tools.dates import dealer_hours, normalise, parse_when
from tools.dealer import DealerConfig

NY = ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 11, 17, 18, 30, tzinfo=NY)

DEALER = DealerConfig.model_validate(
    {
        "id": "demo",
        "name": "Demo Motors",
        "timezone": "America/New_York",
        "address": {"street": "1 Main St", "city": "Newark", "state": "NJ", "zip": "07102"},
        "phone": "+15555550100",
        "website": "https://demo.example",
        "state": "NJ",
        "departments": {
            "sales": {
                "hours": {
                    **{d: "09:00-20:00" for d in ("mon", "tue", "wed", "thu", "fri")},
                    "sat": "09:00-19:00",
                    "sun": "11:00-17:00",
                },
                "appointments": {"slot_minutes": 30, "capacity_per_slot": 2, "min_lead_minutes": 60},
            },
            "service": {
                "hours": {
                    **{d: "07:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")},
                    "sat": "08:00-16:00",
                    "sun": "closed",
                },
                "appointments": {"slot_minutes": 30, "capacity_per_slot": 3, "min_lead_minutes": 120},
            },
        },
        "holidays": [{"date": "2026-11-26", "name": "Thanksgiving"}],
    }
)
SALES = dealer_hours(DEALER, "sales")
SERVICE = dealer_hours(DEALER, "service")


def at(text: str) -> dt.datetime:
    """'11-18 10:00' (2026) or '2027-01-05 09:00' as a New York time."""
    if text.count("-") == 1:
        text = f"2026-{text}"
    return dt.datetime.fromisoformat(text).replace(tzinfo=NY)


# (wording, start, end, exact) with sales hours
SALES_TABLE = [
    # what NOTES.md says dateparser gets right
    ("tomorrow at 10am", "11-18 10:00", "11-18 10:30", True),
    ("thursday morning", "11-19 09:00", "11-19 12:00", False),
    ("sat 2pm", "11-21 14:00", "11-21 14:30", True),
    ("friday at noon", "11-20 12:00", "11-20 12:30", True),
    ("next monday at 3pm", "11-23 15:00", "11-23 15:30", True),
    # ... and what it gets wrong
    ("tomorrow at 10", "11-18 10:00", "11-18 10:30", True),
    ("12/3 at 4:30", "12-03 16:30", "12-03 17:00", True),
    ("tmrw", "11-18 09:00", "11-18 20:00", False),
    ("next monday after 3", "11-23 15:00", "11-23 20:00", False),
    ("this weekend", "11-21 00:00", "11-23 00:00", False),
    # slang and typos
    ("tmr morning", "11-18 09:00", "11-18 12:00", False),
    ("tomorow afternoon", "11-18 12:00", "11-18 17:00", False),
    ("2moro at 11", "11-18 11:00", "11-18 11:30", True),
    ("thurs at 2", "11-19 14:00", "11-19 14:30", True),
    ("thrusday at 11:30", "11-19 11:30", "11-19 12:00", True),
    ("wensday at 3", "11-18 15:00", "11-18 15:30", True),
    ("weds evening", "11-18 17:00", "11-18 20:00", False),
    ("satuday morning", "11-21 09:00", "11-21 12:00", False),
    ("nxt week", "11-23 00:00", "11-30 00:00", False),
    ("wknd", "11-21 00:00", "11-23 00:00", False),
    ("this arvo", "11-18 12:00", "11-18 17:00", False),  # this afternoon is over: tomorrow's
    ("tmrw am", "11-18 09:00", "11-18 12:00", False),
    ("10 a.m. tmrw", "11-18 10:00", "11-18 10:30", True),
    ("Tmrw @ 4:30 pm", "11-18 16:30", "11-18 17:00", True),
    ("tomorrow 10", "11-18 10:00", "11-18 10:30", True),
    # today / tonight and times that have passed
    ("tonight", "11-17 18:30", "11-17 20:00", False),
    ("today", "11-17 18:30", "11-17 20:00", False),
    ("tonight at 7", "11-17 19:00", "11-17 19:30", True),
    ("today at 10am", "11-17 10:00", "11-17 10:30", True),  # named day stays; it has no slots
    ("10am", "11-18 10:00", "11-18 10:30", True),
    ("at 4:30", "11-18 16:30", "11-18 17:00", True),  # store open 16:30, not 04:30
    ("tomorrow at 7", "11-18 19:00", "11-18 19:30", True),  # sales closed at 7 am
    ("after 7", "11-17 19:00", "11-17 20:00", False),
    ("after 3", "11-18 15:00", "11-18 20:00", False),  # 3 pm passed: tomorrow
    # bounds and day parts
    ("around 2", "11-18 13:30", "11-18 14:30", False),
    ("tomorrow around 3ish", "11-18 14:30", "11-18 15:30", False),
    ("before noon", "11-18 09:00", "11-18 12:00", False),
    ("by 5 tomorrow", "11-18 09:00", "11-18 17:00", False),
    ("between 2 and 4", "11-18 14:00", "11-18 16:00", False),
    ("2-4pm", "11-18 14:00", "11-18 16:00", False),
    ("friday between 10 and 2", "11-20 10:00", "11-20 14:00", False),
    ("tomorrow night", "11-18 17:00", "11-18 20:00", False),
    ("early morning tmrw", "11-18 09:00", "11-18 10:00", False),
    ("late afternoon friday", "11-20 14:30", "11-20 17:00", False),
    ("lunchtime tomorrow", "11-18 11:30", "11-18 13:30", False),
    ("first thing tomorrow", "11-18 09:00", "11-18 10:00", False),
    ("sunday morning", "11-22 11:00", "11-22 12:00", False),
    # weekdays ("next" = next calendar week)
    ("thursday", "11-19 09:00", "11-19 20:00", False),
    ("this thursday", "11-19 09:00", "11-19 20:00", False),
    ("tuesday", "11-24 09:00", "11-24 20:00", False),  # a bare weekday is never today
    ("next thursday", "11-26 08:00", "11-26 21:00", False),  # Thanksgiving: closed, window kept
    ("next saturday", "11-28 09:00", "11-28 19:00", False),
    ("next weekend", "11-28 00:00", "11-30 00:00", False),
    ("saturday 9:30", "11-21 09:30", "11-21 10:00", True),
    # dates and relative days
    ("dec 3", "12-03 09:00", "12-03 20:00", False),
    ("december 3rd at 2", "12-03 14:00", "12-03 14:30", True),
    ("11/20 at 9", "11-20 09:00", "11-20 09:30", True),
    ("1/5", "2027-01-05 09:00", "2027-01-05 20:00", False),  # past this year: next year
    ("the 28th", "11-28 09:00", "11-28 19:00", False),
    ("in 3 days", "11-20 09:00", "11-20 20:00", False),
    ("3 weeks from now", "12-08 09:00", "12-08 20:00", False),
    ("a week from friday", "11-27 09:00", "11-27 20:00", False),
    ("the day after tomorrow at 3", "11-19 15:00", "11-19 15:30", True),
    ("in 2 hours", "11-17 20:30", "11-17 21:30", False),
    ("in an hour", "11-17 19:30", "11-17 20:30", False),
    ("week after next", "11-30 00:00", "12-07 00:00", False),
    ("the following week", "11-30 00:00", "12-07 00:00", False),
]


@pytest.mark.parametrize(("text", "start", "end", "exact"), SALES_TABLE, ids=[r[0] for r in SALES_TABLE])
def test_sales_wording(text: str, start: str, end: str, exact: bool) -> None:
    w = parse_when(text, NOW, NY, hours=SALES)
    assert w is not None, text
    assert (w.start, w.end, w.exact) == (at(start), at(end), exact), w.description
    assert w.start.tzinfo is not None and w.end >= w.start


SERVICE_TABLE = [
    ("at 4:30", "11-18 16:30", "11-18 17:00", True),
    ("tomorrow at 7", "11-18 07:00", "11-18 07:30", True),  # service opens at 7 am
    ("after 7", "11-18 07:00", "11-18 18:00", False),
    ("tomorrow morning", "11-18 07:00", "11-18 12:00", False),  # morning starts at opening
    ("tonight", "11-18 17:00", "11-18 18:00", False),  # closed already tonight: tomorrow evening
    ("sunday", "11-22 08:00", "11-22 21:00", False),  # closed: the window is kept, no slots in it
]


@pytest.mark.parametrize(("text", "start", "end", "exact"), SERVICE_TABLE, ids=[r[0] for r in SERVICE_TABLE])
def test_service_wording(text: str, start: str, end: str, exact: bool) -> None:
    w = parse_when(text, NOW, NY, hours=SERVICE)
    assert w is not None
    assert (w.start, w.end, w.exact) == (at(start), at(end), exact), w.description


def test_multi_day_windows_carry_a_time_of_day() -> None:
    w = parse_when("next week mornings", NOW, NY, hours=SALES)
    assert w and (w.start, w.end) == (at("11-23 00:00"), at("11-30 00:00"))
    assert w.daily == (dt.time(9), dt.time(12))
    w = parse_when("this weekend afternoon", NOW, NY, hours=SALES)
    assert w and w.daily == (dt.time(12), dt.time(17)) and w.start == at("11-21 00:00")
    w = parse_when("anytime after 3 next week", NOW, NY, hours=SALES)
    assert w and w.daily == (dt.time(15), dt.time(20)) and w.start == at("11-23 00:00")
    assert "each day" in w.description


def test_asap_means_from_now_and_earliest_first() -> None:
    for text in ("asap", "ASAP!", "earliest you have", "first available", "whenever"):
        w = parse_when(text, NOW, NY, hours=SALES, horizon_days=21)
        assert w is not None and w.earliest, text
        assert (w.start, w.end) == (NOW, NOW + dt.timedelta(days=21))
    w = parse_when("first available tomorrow", NOW, NY, hours=SALES)
    assert w and w.earliest and w.start == at("11-18 09:00")


def test_no_time_in_the_text() -> None:
    for text in ("", "   ", "blah blah", "sure that works", "what colours does it come in?", "qwerty 1234567"):
        assert parse_when(text, NOW, NY, hours=SALES) is None, text


def test_without_hours_uses_plain_defaults() -> None:
    w = parse_when("tomorrow morning", NOW, NY)
    assert w and (w.start, w.end) == (at("11-18 08:00"), at("11-18 12:00"))
    w = parse_when("at 4:30", NOW, NY)  # habit: 1-6 are pm
    assert w and w.start == at("11-18 16:30")
    w = parse_when("at 8", NOW, NY)  # habit: 7-11 are am
    assert w and w.start == at("11-18 08:00")


def test_exact_window_is_one_slot() -> None:
    w = parse_when("tomorrow at 10am", NOW, NY, hours=SALES, slot_minutes=45)
    assert w and w.end - w.start == dt.timedelta(minutes=45)


def test_description_is_readable() -> None:
    w = parse_when("thursday morning", NOW, NY, hours=SALES)
    assert w and w.description == "Thu Nov 19, 9:00 AM–12:00 PM"
    w = parse_when("12/3 at 4:30", NOW, NY, hours=SALES)
    assert w and w.description == "Thu Dec 3, 4:30 PM"


def test_now_in_another_zone_is_read_in_the_dealer_zone() -> None:
    utc_now = NOW.astimezone(dt.UTC)  # 23:30 UTC, still Tuesday evening in New York
    w = parse_when("tomorrow at 10", utc_now, NY, hours=SALES)
    assert w and w.start == at("11-18 10:00")


def test_normalise_expands_slang() -> None:
    assert normalise("Tmrw @ 4.30 P.M.") == "tomorrow at 4:30pm"
    assert normalise("nxt wknd this arvo") == "next weekend this afternoon"


def test_fallback_uses_dateparser_in_english_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without languages=['en'] a miss can take seconds (NOTES.md); the fallback must always pass it."""
    import dateparser

    calls: list[dict] = []
    real = dateparser.parse

    def spy(text: str, **kwargs: object) -> dt.datetime | None:
        calls.append(kwargs)
        return real(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dateparser, "parse", spy)
    w = parse_when("december 3rd 2026", NOW, NY, hours=SALES)
    assert w is not None and w.start.date() == dt.date(2026, 12, 3)
    parse_when("qwerty 12345", NOW, NY, hours=SALES)
    assert calls and all(c["languages"] == ["en"] for c in calls)
    settings = calls[0]["settings"]
    assert settings["PREFER_DATES_FROM"] == "future" and settings["RETURN_AS_TIMEZONE_AWARE"] is False
    assert settings["RELATIVE_BASE"] == NOW.replace(tzinfo=None)
    assert dates.parse_when("no digits here", NOW, NY) is None
    dates.warm_up()  # the composition root may load dateparser's data before the first turn


# --- DST: 2026-11-01 02:00 EDT -> 01:00 EST in New York ------------------------------------------------

SAT_EVENING = dt.datetime(2026, 10, 31, 20, 0, tzinfo=NY)  # EDT, UTC-4


def test_dst_tomorrow_is_in_standard_time() -> None:
    w = parse_when("tomorrow at 10", SAT_EVENING, NY, hours=SALES)
    assert w and w.start == dt.datetime(2026, 11, 1, 15, 0, tzinfo=dt.UTC)  # 10:00 EST
    assert w.start.utcoffset() == dt.timedelta(hours=-5)
    assert SAT_EVENING.utcoffset() == dt.timedelta(hours=-4)
    w = parse_when("tomorrow", SAT_EVENING, NY, hours=SALES)
    assert w and (w.start.hour, w.end.hour) == (11, 17) and w.start.utcoffset() == dt.timedelta(hours=-5)


def test_dst_weekend_window_spans_the_long_day() -> None:
    w = parse_when("this weekend", SAT_EVENING, NY, hours=SALES)
    assert w and w.start == SAT_EVENING
    assert w.end == dt.datetime(2026, 11, 2, 0, 0, tzinfo=NY)
    elapsed = w.end.astimezone(dt.UTC) - w.start.astimezone(dt.UTC)
    assert elapsed == dt.timedelta(hours=4 + 25)  # Sunday Nov 1 has 25 hours


def test_dst_relative_hours_are_real_hours() -> None:
    just_after_midnight = dt.datetime(2026, 11, 1, 0, 30, tzinfo=NY)  # EDT
    w = parse_when("in 2 hours", just_after_midnight, NY)
    assert w is not None
    assert w.start.astimezone(dt.UTC) - just_after_midnight.astimezone(dt.UTC) == dt.timedelta(hours=2)
    assert w.start.astimezone(dt.UTC) == dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC)  # 01:30 EST


def test_dst_next_week_from_before_the_change() -> None:
    thursday = dt.datetime(2026, 10, 29, 12, 0, tzinfo=NY)
    w = parse_when("next monday at 9:30", thursday, NY, hours=SALES)
    assert w and w.start == dt.datetime(2026, 11, 2, 14, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "preferred"),
    [("around 2", "11-18 14:00"), ("tomorrow around 3ish", "11-18 15:00"), ("fri abt 10", "11-20 10:00")],
)
def test_around_a_time_keeps_the_time_named(text: str, preferred: str) -> None:
    when = parse_when(text, NOW, NY, hours=dealer_hours(DEALER, "sales"))
    assert when is not None and not when.exact
    assert when.preferred is not None and when.preferred.strftime("%m-%d %H:%M") == preferred
    assert when.start < when.preferred < when.end


def test_windows_without_a_named_time_have_no_preferred_one() -> None:
    for text in ("tomorrow afternoon", "after 3", "thursday", "tomorrow at 4"):
        when = parse_when(text, NOW, NY, hours=dealer_hours(DEALER, "sales"))
        assert when is not None and when.preferred is None, text
