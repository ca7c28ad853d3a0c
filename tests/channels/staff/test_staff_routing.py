"""Routing by team and shift, least-loaded first — the pure function with fixed times on the demo
staff roster, and through the API (each new handoff goes to the least-loaded person on shift)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from channels.staff import route
from channels.staff.routing import on_shift, suggest
from tools.dealer import StaffMember
from tools.handoff import Handoff

NY = ZoneInfo("America/New_York")
TUE_10 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=NY)


def handoff(team: str = "sales") -> Handoff:
    return Handoff(id="h1", customer_id="c1", reason="customer_request", channel="sms", team=team, opened_at=TUE_10)


def test_sales_goes_to_the_least_loaded_agent_on_shift_in_bdc_or_sales(dealer):
    # Tue 10:00 on shift: maria (sales mgr), carlos (sales), tasha (bdc mgr), lucia (bdc), dana (bdc admin)
    assert route(handoff(), dealer, TUE_10) == "carlos-mendoza"  # agents first, then config order
    assert route(handoff(), dealer, TUE_10, load={"carlos-mendoza": 1}) == "lucia-herrera"
    assert route(handoff(), dealer, TUE_10, last_routed={"carlos-mendoza": 5.0}) == "lucia-herrera"
    busy = {"carlos-mendoza": 2, "lucia-herrera": 2}
    assert route(handoff(), dealer, TUE_10, load=busy) == "maria-delgado"  # least-loaded beats the role
    late = dt.datetime(2026, 11, 24, 19, 0, tzinfo=NY)  # Tue 7 PM: only priya (sales) and kevin (bdc), 12-20
    assert route(handoff(), dealer, late) == "priya-raman"
    assert route(handoff(), dealer, late, load={"priya-raman": 1}) == "kevin-tran"


def test_service_goes_to_service_then_bdc_and_nobody_on_shift_means_the_team(dealer):
    assert route(handoff("service"), dealer, TUE_10) == "angela-brooks"
    assert route(handoff("service"), dealer, TUE_10, load={"angela-brooks": 3}) == "robert-okafor"
    sunday = dt.datetime(2026, 11, 29, 12, 0, tzinfo=NY)  # no service staff on Sundays: the BDC takes it
    assert route(handoff("service"), dealer, sunday) == "lucia-herrera"
    night = dt.datetime(2026, 11, 24, 23, 0, tzinfo=NY)
    assert route(handoff(), dealer, night) == "sales"
    s = suggest(handoff(), dealer, night)
    assert s.assignee is None and "nobody" in s.reason
    finance = suggest(handoff("finance"), dealer, TUE_10)  # no finance team in the demo: sales/bdc cover
    assert finance.assignee == "carlos-mendoza" and finance.team == "finance"


def test_shifts_can_run_past_midnight_and_routing_tiers_can_be_configured(dealer):
    owl = StaffMember(id="night-owl", name="Night Owl", team="bdc", shifts={"mon": "22:00-06:00"})
    assert on_shift(owl, dt.datetime(2026, 11, 23, 23, 0, tzinfo=NY), dealer)  # Monday night
    assert on_shift(owl, dt.datetime(2026, 11, 24, 3, 0, tzinfo=NY), dealer)  # Tuesday early morning
    assert not on_shift(owl, dt.datetime(2026, 11, 24, 7, 0, tzinfo=NY), dealer)
    custom = dealer.model_copy(update={"staff": [*dealer.staff, owl]})
    custom.__pydantic_extra__ = {**(dealer.model_extra or {}), "routing": {"sales": [["sales"], ["bdc"]]}}
    assert route(handoff(), custom, dt.datetime(2026, 11, 24, 3, 0, tzinfo=NY)) == "night-owl"
    assert route(handoff(), custom, TUE_10, load={"carlos-mendoza": 9}) == "maria-delgado"  # sales tier first


async def test_new_handoffs_get_a_suggested_assignee_and_spread_by_load(client, login, open_handoff, clock_box):
    clock_box["now"] = TUE_10
    kevin = await login("kevin-tran")
    first = await open_handoff("+18135550121")
    second = await open_handoff("+18135550122")
    items = {h["id"]: h for h in (await client.get("/api/handoffs", headers=kevin)).json()["items"]}
    a, b = items[first.handoff_id], items[second.handoff_id]
    assert a["suggested_assignee"] == "carlos-mendoza" and "on shift" in a["route"]["reason"]
    assert b["suggested_assignee"] == "lucia-herrera"  # carlos now has one
    again = (await client.get("/api/handoffs", headers=kevin)).json()["items"]
    assert {h["id"]: h["suggested_assignee"] for h in again} == {a["id"]: "carlos-mendoza", b["id"]: "lucia-herrera"}
