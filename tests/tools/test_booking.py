"""Booking against a real Redis: availability rules, atomic capacity, idempotency, ownership, tools.

The clock is fixed at Tue 2026-11-17 18:30 America/New_York unless a test moves it. Sales: 30-min
slots, 2 per slot, 60 min lead, 21 days ahead, Mon–Fri 09–20, Sat 09–19, Sun 11–17. Service: 30-min
slots, 3 per slot, 120 min lead, 30 days, Mon–Fri 07–18, Sat 08–16, Sun closed. Thanksgiving closed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from memory.customers import CustomerStore
from memory.keys import Keys
from memory.redis import RedisHandle
from tools import booking
from tools.booking import (
    BOOKING_TOOLS,
    SlotUnavailable,
    available_slots,
    book,
    book_appointment,
    cancel,
    cancel_appointment,
    find_appointment_slots,
    list_for_customer,
    list_for_day,
    list_my_appointments,
    reschedule,
    reschedule_appointment,
)
from tools.context import ToolDeps, ToolError, TurnFacts
from tools.dealer import DealerConfig

NY = ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 11, 17, 18, 30, tzinfo=NY)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def make_dealer(dealer_id: str, **service_rules: Any) -> DealerConfig:
    return DealerConfig.model_validate(
        {
            "id": dealer_id,
            "name": "Demo Motors",
            "timezone": "America/New_York",
            "address": {"street": "1 Main St", "city": "Newark", "state": "NJ", "zip": "07102"},
            "phone": "+15555550100",
            "website": "https://demo.example",
            "state": "NJ",
            "departments": {
                "sales": {
                    "hours": {**dict.fromkeys(WEEKDAYS, "09:00-20:00"), "sat": "09:00-19:00", "sun": "11:00-17:00"},
                    "appointments": {
                        "slot_minutes": 30,
                        "capacity_per_slot": 2,
                        "min_lead_minutes": 60,
                        "horizon_days": 21,
                    },
                },
                "service": {
                    "hours": {**dict.fromkeys(WEEKDAYS, "07:00-18:00"), "sat": "08:00-16:00", "sun": "closed"},
                    "appointments": {
                        "slot_minutes": 30,
                        "capacity_per_slot": 3,
                        "min_lead_minutes": 120,
                        "horizon_days": 30,
                        "kinds": ["oil change", "tire rotation", "diagnosis"],
                        **service_rules,
                    },
                },
                "parts": {"hours": dict.fromkeys(WEEKDAYS, "08:00-17:00")},
            },
            "holidays": [{"date": "2026-11-26", "name": "Thanksgiving"}],
        }
    )


class Clock:
    """A settable fixed clock (no sleeps)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def dealer(dealer_id: str) -> DealerConfig:
    return make_dealer(dealer_id)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def deps_for(redis: Any, keys: Keys, dealer: DealerConfig, clock: Clock):
    def make(customer_id: str | None = "c1", channel: str = "chat", client: Any = None) -> ToolDeps:
        return ToolDeps(
            dealer=dealer, redis=client or redis, keys=keys, customer_id=customer_id, channel=channel, clock=clock
        )

    return make


@pytest.fixture
def deps(deps_for) -> ToolDeps:
    return deps_for("c1")


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"2026-{text}").replace(tzinfo=NY)


def config(deps: ToolDeps) -> dict[str, Any]:
    return {"configurable": {"deps": deps}}


async def usage(deps: ToolDeps, department: str, start: dt.datetime) -> int:
    key = deps.keys.slot_usage(department, start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ"))
    return int(await deps.redis.get(key) or 0)


# --- availability ------------------------------------------------------------------------------------


async def test_slots_respect_lead_time_hours_and_grid(deps: ToolDeps) -> None:
    slots = await available_slots(deps, "sales", limit=50, spread=False)
    # 18:30 now + 60 min lead: 19:30 is the last slot that fits before 20:00 closing
    assert [s.starts_at for s in slots[:2]] == [local("11-17 19:30"), local("11-18 09:00")]
    for s in slots:
        local_start = s.starts_at.astimezone(NY)
        assert local_start.minute in (0, 30) and s.ends_at - s.starts_at == dt.timedelta(minutes=30)
        assert deps.dealer.is_open("sales", s.starts_at)
        assert deps.dealer.is_open("sales", s.ends_at - dt.timedelta(minutes=1))  # fits inside the hours
        assert s.remaining == 2
    service = await available_slots(deps, "service", limit=3, spread=False)
    assert service[0].starts_at == local("11-18 07:00")  # closed now; opens 07:00 tomorrow


async def test_slots_skip_holidays_closed_days_and_the_horizon(deps: ToolDeps) -> None:
    slots = await available_slots(deps, "service", limit=10_000, spread=False)
    days = {s.starts_at.astimezone(NY).date() for s in slots}
    assert dt.date(2026, 11, 26) not in days  # Thanksgiving
    assert all(d.weekday() != 6 for d in days)  # service is closed on Sundays
    assert max(s.starts_at for s in slots) <= NOW + dt.timedelta(days=30)
    assert min(s.starts_at for s in slots) >= NOW + dt.timedelta(minutes=120)
    sat = [s for s in slots if s.starts_at.astimezone(NY).date() == dt.date(2026, 11, 21)]
    assert sat[0].starts_at == local("11-21 08:00") and sat[-1].starts_at == local("11-21 15:30")
    assert await available_slots(deps, "sales", start=local("11-26 00:00"), end=local("11-27 00:00")) == []


async def test_slots_leave_out_full_ones_and_show_what_remains(deps_for) -> None:
    start = local("11-19 10:00")
    await book(deps_for("a"), department="sales", kind="test drive", starts_at=start)
    slots = await available_slots(deps_for("x"), "sales", start=start, end=start + dt.timedelta(hours=1))
    assert [(s.starts_at, s.remaining) for s in slots] == [(start, 1), (local("11-19 10:30"), 2)]
    await book(deps_for("b"), department="sales", kind="test drive", starts_at=start)
    slots = await available_slots(deps_for("x"), "sales", start=start, end=start + dt.timedelta(hours=1))
    assert [s.starts_at for s in slots] == [local("11-19 10:30")]


async def test_wide_windows_are_spread_across_days(deps: ToolDeps) -> None:
    slots = await available_slots(deps, "sales", start=local("11-18 00:00"), end=local("11-23 00:00"), limit=6)
    days = [s.starts_at.astimezone(NY).date() for s in slots]
    assert len(slots) == 6 and len(set(days)) == 3  # two a day, three days
    assert all(days.count(d) == 2 for d in set(days))
    wed = [s.starts_at for s in slots if s.starts_at.date() == dt.date(2026, 11, 18)]
    assert wed[1] - wed[0] >= dt.timedelta(hours=4)  # spaced through the day, not back to back
    unspread = await available_slots(deps, "sales", start=local("11-18 00:00"), end=local("11-23 00:00"), spread=False)
    assert [s.starts_at for s in unspread][-1] == local("11-18 11:30")


async def test_daily_filter_keeps_a_time_of_day(deps: ToolDeps) -> None:
    slots = await available_slots(
        deps, "sales", start=local("11-23 00:00"), end=local("11-30 00:00"), daily=(dt.time(9), dt.time(12)), limit=20
    )
    assert slots and all(9 <= s.starts_at.astimezone(NY).hour < 12 for s in slots)
    assert dt.date(2026, 11, 26) not in {s.starts_at.date() for s in slots}


async def test_slots_are_dst_correct(deps_for, clock: Clock) -> None:
    clock.now = dt.datetime(2026, 10, 30, 12, 0, tzinfo=NY)  # Friday before the change, EDT
    deps = deps_for("c1")
    slots = await available_slots(
        deps, "sales", start=local("10-31 00:00"), end=local("11-03 00:00"), limit=500, spread=False
    )
    by_day: dict[dt.date, list[dt.datetime]] = {}
    for s in slots:
        by_day.setdefault(s.starts_at.astimezone(NY).date(), []).append(s.starts_at)
    sat, sun, mon = (by_day[dt.date(2026, m, d)] for m, d in ((10, 31), (11, 1), (11, 2)))
    # wall clock stays on the store's hours on both sides of the change ...
    assert (sat[0].astimezone(NY).hour, sun[0].astimezone(NY).hour, mon[0].astimezone(NY).hour) == (9, 11, 9)
    assert len(sun) == 12 and sun[-1].astimezone(NY).time() == dt.time(16, 30)
    # ... while the UTC instants move by an hour
    assert sat[0].astimezone(dt.UTC).hour == 13 and sun[0].astimezone(dt.UTC).hour == 16
    assert mon[0].astimezone(dt.UTC).hour == 14
    appt = await book(deps, department="sales", kind="test drive", starts_at="2026-11-01T11:00:00-05:00")
    assert appt.to_api()["starts_at"] == "2026-11-01T11:00:00-05:00"
    assert appt.starts_at == dt.datetime(2026, 11, 1, 16, 0, tzinfo=dt.UTC)
    assert [a.id for a in await list_for_day(deps_for(None, "staff"), dt.date(2026, 11, 1))] == [appt.id]


async def test_offered_slots_are_recorded_as_facts(deps: ToolDeps) -> None:
    slots = await available_slots(deps, "sales", limit=3)
    assert {s.iso for s in slots} <= deps.facts.slots and len(deps.facts.slots) == 3


async def test_departments_without_appointments_and_unknown_kinds(deps: ToolDeps) -> None:
    with pytest.raises(ToolError, match="does not take appointments"):
        await available_slots(deps, "parts")
    with pytest.raises(ToolError, match="no 'bodyshop' department"):
        await available_slots(deps, "bodyshop")
    with pytest.raises(ToolError, match="oil change, tire rotation, diagnosis"):
        await book(deps, department="service", kind="car wash", starts_at=local("11-19 10:00"))


# --- booking rules -------------------------------------------------------------------------------------


async def test_book_stores_the_design_shape(deps: ToolDeps, keys: Keys) -> None:
    appt = await book(
        deps,
        department="service",
        kind="Oil Change",
        starts_at="2026-11-19T10:00:00-05:00",
        vin="1hgcm82633a004352",
        notes="squeaky brakes",
    )
    api = appt.to_api()
    assert {k: api[k] for k in ("customer_id", "department", "kind", "starts_at", "ends_at", "vin", "status")} == {
        "customer_id": "c1",
        "department": "service",
        "kind": "oil change",
        "starts_at": "2026-11-19T10:00:00-05:00",
        "ends_at": "2026-11-19T10:30:00-05:00",
        "vin": "1HGCM82633A004352",
        "status": "booked",
    }
    assert api["id"] == appt.id and api["created_at"] == "2026-11-17T18:30:00-05:00"
    assert await booking.get(deps, appt.id) == appt
    assert await deps.redis.sismember(keys.customer_appointments("c1"), appt.id)
    assert await usage(deps, "service", appt.starts_at) == 1
    assert appt.id in deps.facts.appointments and "2026-11-19T10:00:00-05:00" in deps.facts.slots
    ttl = await deps.redis.ttl(keys.slot_usage("service", "2026-11-19T15:00Z"))
    assert ttl > 0  # slot counters don't pile up forever


@pytest.mark.parametrize(
    ("start", "reason", "message"),
    [
        ("11-17 19:00", "too_soon", "too soon"),  # 30 min away, 2 h lead for service
        ("11-17 17:00", "past", "already passed"),
        ("12-18 10:00", "too_far", "up to 30 days ahead"),
        ("11-26 10:00", "closed", "Thanksgiving"),
        ("11-22 10:00", "closed", "closed"),  # Sunday
        ("11-19 06:30", "closed", "closed"),  # before opening
        ("11-19 17:45", "off_grid", "not an appointment start time"),
        ("11-19 10:15", "off_grid", "not an appointment start time"),
    ],
)
async def test_book_refuses_bad_times_with_alternatives(deps: ToolDeps, start: str, reason: str, message: str) -> None:
    with pytest.raises(SlotUnavailable, match=message) as err:
        await book(deps, department="service", kind="oil change", starts_at=local(start))
    assert err.value.reason == reason
    assert err.value.alternatives, "a recoverable error offers real alternatives"
    assert "Nearest openings" in str(err.value)
    for alt in err.value.alternatives:
        assert alt.iso in deps.facts.slots
    assert await list_for_customer(deps) == []


async def test_slot_that_ends_after_closing_is_not_bookable(deps: ToolDeps) -> None:
    with pytest.raises(SlotUnavailable):
        await book(deps, department="service", kind="oil change", starts_at=local("11-19 18:00"))
    appt = await book(deps, department="service", kind="oil change", starts_at=local("11-19 17:30"))
    assert appt.ends_at == local("11-19 18:00")


async def test_bad_inputs_are_clear_tool_errors(deps: ToolDeps) -> None:
    with pytest.raises(ToolError, match="not an ISO 8601 time"):
        await book(deps, department="sales", kind="test drive", starts_at="thursday at 10")
    with pytest.raises(ToolError, match="17-character VIN"):
        await book(deps, department="sales", kind="test drive", starts_at=local("11-19 10:00"), vin="ABC")
    with pytest.raises(ToolError, match="say what"):
        await book(deps, department="sales", kind=" ", starts_at=local("11-19 10:00"))
    with pytest.raises(ToolError, match="no customer"):
        await book(
            ToolDeps(deps.dealer, deps.redis, deps.keys), department="sales", kind="x", starts_at=local("11-19 10:00")
        )


async def test_full_slot_error_lists_nearest_alternatives(deps_for) -> None:
    start = local("11-19 10:00")
    for cid in ("a", "b"):
        await book(deps_for(cid), department="sales", kind="test drive", starts_at=start)
    late = deps_for("c")
    with pytest.raises(SlotUnavailable, match="fully booked") as err:
        await book(late, department="sales", kind="test drive", starts_at=start)
    alts = [s.starts_at for s in err.value.alternatives]
    assert err.value.reason == "full" and len(alts) == 3
    assert start not in alts and set(alts) == {local("11-19 09:00"), local("11-19 09:30"), local("11-19 10:30")}


async def test_round_trip_book_reschedule_cancel_releases_capacity(deps: ToolDeps, keys: Keys) -> None:
    first, second = local("11-19 10:00"), local("11-20 15:30")
    appt = await book(deps, department="sales", kind="test drive", starts_at=first)
    moved = await reschedule(deps, appt.id, second.isoformat())
    assert moved.id == appt.id and moved.status == "booked"
    assert moved.starts_at == second and moved.ends_at == second + dt.timedelta(minutes=30)
    assert [h.previous_starts_at for h in moved.history] == [first]
    assert (await usage(deps, "sales", first), await usage(deps, "sales", second)) == (0, 1)
    assert await deps.redis.zscore(keys.appointments_by_day("2026-11-19"), appt.id) is None
    assert await deps.redis.zscore(keys.appointments_by_day("2026-11-20"), appt.id) is not None
    assert await reschedule(deps, appt.id, second) == moved  # a retry changes nothing
    cancelled = await cancel(deps, appt.id, reason="bought elsewhere")
    assert cancelled.status == "cancelled" and cancelled.history[-1].reason == "bought elsewhere"
    assert await usage(deps, "sales", second) == 0
    assert await cancel(deps, appt.id) == cancelled  # idempotent
    assert (await booking.get(deps, appt.id)) == cancelled
    assert await list_for_customer(deps) == []
    assert [a.id for a in await list_for_customer(deps, include_past=True)] == [appt.id]
    with pytest.raises(ToolError, match="cancelled"):
        await reschedule(deps, appt.id, first)
    # the cancelled slot is free again for someone else, and for the same customer
    again = await book(deps, department="sales", kind="test drive", starts_at=second)
    assert again.id != appt.id and await usage(deps, "sales", second) == 1


async def test_reschedule_into_a_full_slot_keeps_the_old_one(deps_for) -> None:
    full = local("11-19 11:00")
    for cid in ("a", "b"):
        await book(deps_for(cid), department="sales", kind="test drive", starts_at=full)
    mine = deps_for("c")
    appt = await book(mine, department="sales", kind="test drive", starts_at=local("11-19 12:00"))
    with pytest.raises(SlotUnavailable, match="fully booked"):
        await reschedule(mine, appt.id, full)
    assert (await booking.get(mine, appt.id)).starts_at == local("11-19 12:00")  # type: ignore[union-attr]
    assert await usage(mine, "sales", appt.starts_at) == 1 and await usage(mine, "sales", full) == 2


async def test_idempotency_key_gives_one_appointment_one_place(deps: ToolDeps) -> None:
    kwargs = {
        "department": "service",
        "kind": "oil change",
        "starts_at": local("11-19 09:00"),
        "idempotency_key": "msg-42",
    }
    first = await book(deps, **kwargs)
    second = await book(deps, **kwargs)
    concurrent = await asyncio.gather(*(book(deps, **kwargs) for _ in range(5)))
    assert {a.id for a in (first, second, *concurrent)} == {first.id}
    assert await usage(deps, "service", first.starts_at) == 1
    assert len(await list_for_customer(deps)) == 1


async def test_same_request_without_a_key_returns_the_existing_booking(deps: ToolDeps) -> None:
    start = local("11-19 09:00")
    first = await book(deps, department="service", kind="oil change", starts_at=start)
    again = await book(deps, department="service", kind="Oil change", starts_at=start.astimezone(dt.UTC))
    assert again.id == first.id and await usage(deps, "service", start) == 1


async def test_one_customer_cannot_hold_two_appointments_at_once(deps: ToolDeps) -> None:
    await book(deps, department="service", kind="oil change", starts_at=local("11-19 09:00"))
    with pytest.raises(ToolError, match="already has an appointment at that time"):
        await book(deps, department="sales", kind="test drive", starts_at=local("11-19 09:00"))
    with pytest.raises(ToolError, match="already has an appointment"):
        await book(deps, department="service", kind="tire rotation", starts_at=local("11-19 09:00"))
    other = await book(deps, department="sales", kind="test drive", starts_at=local("11-19 09:30"))
    assert other.status == "booked"


async def test_two_customers_racing_for_the_last_place(redis_handle: RedisHandle, deps_for) -> None:
    start = local("11-19 14:00")
    await book(deps_for("early"), department="sales", kind="test drive", starts_at=start)  # 1 of 2 left
    a, b = deps_for("a", client=redis_handle.client()), deps_for("b", client=redis_handle.client())
    results = await asyncio.gather(
        book(a, department="sales", kind="test drive", starts_at=start),
        book(b, department="sales", kind="test drive", starts_at=start),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, booking.Appointment)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], SlotUnavailable) and lost[0].reason == "full" and lost[0].alternatives
    assert all(s.starts_at != start for s in lost[0].alternatives)
    assert await usage(a, "sales", start) == 2


async def test_twenty_bookers_for_three_places(redis_handle: RedisHandle, deps_for) -> None:
    start = local("11-20 09:00")
    racers = [deps_for(f"cust{i}", client=redis_handle.client()) for i in range(20)]
    results = await asyncio.gather(
        *(book(d, department="service", kind="oil change", starts_at=start) for d in racers), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, booking.Appointment)]
    assert len(won) == 3 and len({a.customer_id for a in won}) == 3
    assert all(isinstance(r, SlotUnavailable) for r in results if r not in won)
    assert await usage(racers[0], "service", start) == 3
    staff = deps_for(None, "staff")
    assert len(await list_for_day(staff, dt.date(2026, 11, 20), "service")) == 3


async def test_customers_act_only_on_their_own_appointments(deps_for) -> None:
    alice, mallory = deps_for("alice"), deps_for("mallory")
    appt = await book(alice, department="sales", kind="test drive", starts_at=local("11-19 10:00"))
    with pytest.raises(ToolError, match="no appointment"):
        await cancel(mallory, appt.id)
    with pytest.raises(ToolError, match="no appointment"):
        await reschedule(mallory, appt.id, local("11-19 11:00"))
    assert await booking.get(mallory, appt.id) is None
    with pytest.raises(ToolError, match="another customer"):
        await list_for_customer(mallory, "alice")
    with pytest.raises(ToolError, match="staff only"):
        await list_for_day(mallory, dt.date(2026, 11, 19))
    assert (await booking.get(alice, appt.id)).status == "booked"  # type: ignore[union-attr]
    staff = deps_for(None, "staff")
    assert [a.id for a in await list_for_customer(staff, "alice")] == [appt.id]
    moved = await reschedule(staff, appt.id, local("11-19 11:00"))
    assert moved.history[-1].by == "staff"
    assert (await cancel(staff, appt.id)).status == "cancelled"


async def test_staff_marks_no_show_and_customers_cannot(deps_for, clock: Clock) -> None:
    mine = deps_for("c1")
    appt = await book(mine, department="sales", kind="test drive", starts_at=local("11-19 10:00"))
    with pytest.raises(ToolError, match="only staff"):
        await booking.mark(mine, appt.id, "no_show")
    clock.now = local("11-19 11:00")
    with pytest.raises(ToolError, match="already started or passed"):
        await cancel(mine, appt.id)
    marked = await booking.mark(deps_for(None, "staff"), appt.id, "no_show")
    assert marked.status == "no_show" and marked.to_api()["status"] == "no_show"
    assert await list_for_customer(mine) == []


async def test_list_for_day_filters_and_orders(deps_for) -> None:
    a = await book(deps_for("a"), department="sales", kind="test drive", starts_at=local("11-19 15:00"))
    b = await book(deps_for("b"), department="service", kind="oil change", starts_at=local("11-19 08:00"))
    c = await book(deps_for("c"), department="sales", kind="test drive", starts_at=local("11-19 09:00"))
    await cancel(deps_for("c"), c.id)
    staff = deps_for(None, "staff")
    assert [x.id for x in await list_for_day(staff, dt.date(2026, 11, 19))] == [b.id, a.id]
    assert [x.id for x in await list_for_day(staff, dt.date(2026, 11, 19), "sales")] == [a.id]
    everything = await list_for_day(staff, dt.date(2026, 11, 19), include_cancelled=True)
    assert [x.id for x in everything] == [b.id, c.id, a.id]


# --- LangChain tools ----------------------------------------------------------------------------------

ISO = re.compile(r"starts_at=(\S+?)\]")


def test_tools_are_registered_typed_and_hide_identity() -> None:
    names = [t.name for t in BOOKING_TOOLS]
    assert names == [
        "find_appointment_slots",
        "book_appointment",
        "reschedule_appointment",
        "cancel_appointment",
        "list_my_appointments",
    ]
    for t in BOOKING_TOOLS:
        schema = t.tool_call_schema.model_json_schema()
        props = set(schema.get("properties", {}))
        assert not props & {"config", "customer_id", "dealer", "deps"}
        assert t.metadata and t.metadata["access"] in ("read", "write") and t.handle_tool_error
    assert find_appointment_slots.metadata == {"access": "read"}
    assert book_appointment.metadata == {"access": "write"}


async def test_find_tool_offers_only_real_open_slots(deps_for) -> None:
    taken = local("11-19 09:00")
    for cid in ("a", "b"):
        await book(deps_for(cid), department="sales", kind="test drive", starts_at=taken)
    deps = deps_for("c1")
    text = await find_appointment_slots.ainvoke({"department": "sales", "when": "thurs morning"}, config(deps))
    offered = [dt.datetime.fromisoformat(v) for v in ISO.findall(text)]
    assert offered and "Thu Nov 19" in text and taken not in offered
    open_now = {s.starts_at for s in await available_slots(deps_for("z"), "sales", limit=10_000, spread=False)}
    for start in offered:
        assert start in open_now and 9 <= start.hour < 12
    assert {o.isoformat() for o in offered} <= deps.facts.slots
    assert "Thu Nov 19, 9:30 AM" in text  # labels are local time


async def test_find_tool_handles_closed_days_unreadable_wording_and_asap(deps: ToolDeps) -> None:
    cfg = config(deps)
    text = await find_appointment_slots.ainvoke({"department": "service", "when": "sunday morning"}, cfg)
    assert text.startswith("No service openings") and "Nearest openings" in text
    assert all(dt.datetime.fromisoformat(v).weekday() != 6 for v in ISO.findall(text))
    text = await find_appointment_slots.ainvoke({"department": "sales", "when": "whenever the blue one is in"}, cfg)
    first = dt.datetime.fromisoformat(ISO.findall(text)[0])
    assert first == local("11-17 19:30")  # soonest first
    text = await find_appointment_slots.ainvoke({"department": "sales", "when": "purple monkey"}, cfg)
    assert text.startswith("Couldn't read a day or time") and ISO.findall(text)
    text = await find_appointment_slots.ainvoke({"department": "sales", "when": "tomorrow at 10"}, cfg)
    assert ISO.findall(text) == ["2026-11-18T10:00:00-05:00"]
    text = await find_appointment_slots.ainvoke({"department": "service", "kind": "car wash"}, cfg)
    assert "oil change" in text  # a ToolError comes back as text the model can act on


async def test_tools_round_trip(deps: ToolDeps) -> None:
    cfg = config(deps)
    text = await find_appointment_slots.ainvoke(
        {"department": "service", "when": "friday after 2", "kind": "oil change"}, cfg
    )
    iso = ISO.findall(text)[0]
    booked = await book_appointment.ainvoke({"department": "service", "kind": "oil change", "starts_at": iso}, cfg)
    assert booked.startswith("Booked.") and iso in booked
    appt_id = re.search(r"(apt_\w+)", booked)[1]  # type: ignore[index]
    assert (
        await book_appointment.ainvoke({"department": "service", "kind": "oil change", "starts_at": iso}, cfg) == booked
    )
    assert await usage(deps, "service", dt.datetime.fromisoformat(iso)) == 1
    listed = await list_my_appointments.ainvoke({}, cfg)
    assert appt_id in listed and iso in listed
    moved = await reschedule_appointment.ainvoke(
        {"appointment_id": appt_id, "new_starts_at": "2026-11-20T15:30:00-05:00"}, cfg
    )
    assert moved.startswith("Rescheduled (was Fri Nov 20") and "3:30 PM" in moved
    refused = await book_appointment.ainvoke(
        {"department": "sales", "kind": "test drive", "starts_at": "2026-11-26T10:00:00-05:00"}, cfg
    )
    assert "Thanksgiving" in refused and "Nearest openings" in refused
    cancelled = await cancel_appointment.ainvoke({"appointment_id": appt_id}, cfg)
    assert cancelled.startswith("Cancelled.") and "cancelled" in cancelled
    assert await list_my_appointments.ainvoke({}, cfg) == "The customer has no upcoming appointments."


async def test_tools_refuse_someone_elses_appointment(deps_for) -> None:
    appt = await book(deps_for("alice"), department="sales", kind="test drive", starts_at=local("11-19 10:00"))
    text = await cancel_appointment.ainvoke({"appointment_id": appt.id}, config(deps_for("mallory")))
    assert "no appointment" in text and "alice" not in text
    assert (await booking.get(deps_for("alice"), appt.id)).status == "booked"  # type: ignore[union-attr]


async def test_tool_outside_a_turn_is_a_tool_error() -> None:
    text = await list_my_appointments.ainvoke({}, {"configurable": {}})
    assert "outside a DealerOS turn" in text


def test_slot_label_and_facts_type() -> None:
    slot = booking.Slot(local("11-26 10:00"), local("11-26 10:30"), "sales", 1)
    assert slot.label(NY) == "Thu Nov 26, 10:00 AM"
    assert slot.label(ZoneInfo("America/Los_Angeles")) == "Thu Nov 26, 7:00 AM"
    assert isinstance(TurnFacts().slots, set)


async def test_script_keys_share_the_dealer_hash_slot(deps: ToolDeps, keys: Keys) -> None:
    """Everything the Lua scripts touch must live on one Cluster slot; only the customer index may not."""
    from redis.crc import key_slot

    appt = await book(deps, department="sales", kind="test drive", starts_at=local("11-19 10:00"), idempotency_key="k1")
    await reschedule(deps, appt.id, local("11-19 11:00"))
    dealer_slot = key_slot(keys.dealer_key("x").encode())
    found = [k async for k in deps.redis.scan_iter(match=keys.scan_pattern())]
    assert keys.customer_appointments("c1") in found
    script_keys = [k for k in found if k != keys.customer_appointments("c1")]
    assert len(script_keys) >= 5 and {key_slot(k.encode()) for k in script_keys} == {dealer_slot}


async def test_concurrent_cancel_and_reschedule_leave_counts_consistent(redis_handle: RedisHandle, deps_for) -> None:
    first, second = local("11-19 10:00"), local("11-19 16:00")
    appt = await book(deps_for("c1"), department="sales", kind="test drive", starts_at=first)
    a, b = deps_for("c1", client=redis_handle.client()), deps_for("c1", client=redis_handle.client())
    results = await asyncio.gather(cancel(a, appt.id), reschedule(b, appt.id, second), return_exceptions=True)
    final = await booking.get(a, appt.id)
    assert final is not None and final.status == "cancelled"
    assert (await usage(a, "sales", first), await usage(a, "sales", second)) == (0, 0)
    assert all(not isinstance(r, BaseException) or isinstance(r, ToolError) for r in results)


async def test_a_booked_visit_moves_the_lead_stage_forward_only(deps_for, redis: Any, keys: Keys) -> None:
    store = CustomerStore(redis, keys)
    lead = await store.create(name="Lead")
    buyer = await store.create(name="Buyer", stage="negotiating")
    walk_in = await store.create(name="Oil change")
    await book(deps_for(lead.id), department="sales", kind="test drive", starts_at=local("11-18 10:00"))
    await book(deps_for(buyer.id), department="sales", kind="test drive", starts_at=local("11-18 10:00"))
    await book(deps_for(walk_in.id), department="service", kind="oil change", starts_at=local("11-18 08:00"))
    assert (await store.get(lead.id)).stage == "appointment"
    assert (await store.get(buyer.id)).stage == "negotiating"  # further along already: left alone
    assert (await store.get(walk_in.id)).stage == "service"
