"""SLA escalation with a fixed clock: business hours vs after hours, repeated escalation up to urgent,
claimed handoffs left alone, the event published, the timeline note, and the honest reply-time text.

Demo dealership (America/New_York): sales Mon–Fri 9–20, service Mon–Fri 7–18, Sun closed;
SLA 5 min when open, next opening + 60 min after hours. 2026-11-24 is a Tuesday.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from zoneinfo import ZoneInfo

from channels.staff import escalate_overdue, reply_eta_sentence, sla_loop
from channels.staff.handoffs import StaffHandoffs
from tools.handoff import HandoffStore, events_channel

NY = ZoneInfo("America/New_York")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=NY)


async def open_at(store: HandoffStore, when: dt.datetime, cid: str = "c1", team: str = "sales", priority="normal"):
    h, _ = await store.open(
        cid, reason="customer_request", priority=priority, channel="sms", summary="s", at=when, team=team
    )
    return h


async def test_business_hours_escalate_after_the_sla_and_again_until_urgent(redis, keys, dealer, timeline):
    store = HandoffStore(redis, keys)
    h = await open_at(store, at(24, 10, 0))
    pubsub = redis.pubsub()
    await pubsub.subscribe(events_channel(keys))

    assert await escalate_overdue(store, dealer, at(24, 10, 4)) == []
    done = await escalate_overdue(store, dealer, at(24, 10, 6))
    assert [(x.id, x.priority) for x in done] == [(h.id, "high")]
    stored = await store.get(h.id)
    assert stored.priority == "high" and stored.escalated_at == at(24, 10, 6) and stored.status == "open"
    assert stored.history[-1]["event"] == "escalated"

    async with asyncio.timeout(5):
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if msg and json.loads(msg["data"]).get("event") == "escalated":
                break
    assert json.loads(msg["data"])["handoff"]["priority"] == "high"
    note = [e for e in await timeline.read(["c1"]) if e.kind == "handoff" and e.meta.get("event") == "escalated"]
    assert len(note) == 1 and note[0].direction == "internal" and "unclaimed for 6 min" in note[0].text

    assert await escalate_overdue(store, dealer, at(24, 10, 9)) == []  # next SLA period not over yet
    assert [x.priority for x in await escalate_overdue(store, dealer, at(24, 10, 12))] == ["urgent"]
    assert await escalate_overdue(store, dealer, at(24, 11, 30)) == []  # urgent is the top
    await pubsub.aclose()


async def test_after_hours_the_clock_starts_at_the_next_opening(redis, keys, dealer):
    store = HandoffStore(redis, keys)
    h = await open_at(store, at(24, 21, 30))  # Tuesday 9:30 PM: sales closed
    assert await escalate_overdue(store, dealer, at(24, 23, 0)) == []
    assert await escalate_overdue(store, dealer, at(25, 9, 59)) == []  # opens 9:00 + 60 min
    done = await escalate_overdue(store, dealer, at(25, 10, 1))
    assert [x.id for x in done] == [h.id]

    service = await open_at(store, at(29, 12, 0), cid="c2", team="service")  # Sunday: service closed all day
    early = await escalate_overdue(store, dealer, at(30, 7, 59))  # Monday 7:00 + 60
    assert service.id not in [x.id for x in early]
    assert service.id in [x.id for x in await escalate_overdue(store, dealer, at(30, 8, 1))]


async def test_a_claimed_handoff_never_escalates(redis, keys, dealer):
    store = HandoffStore(redis, keys)
    h = await open_at(store, at(24, 10, 0))
    await StaffHandoffs(store).claim(h.id, "kevin-tran", at=at(24, 10, 2), by="staff:kevin-tran")
    assert await escalate_overdue(store, dealer, at(24, 12, 0)) == []
    assert (await store.get(h.id)).priority == "normal"


async def test_two_processes_escalating_at_once_bump_only_once(redis, keys, dealer):
    store = HandoffStore(redis, keys)
    h = await open_at(store, at(24, 10, 0))
    a, b = await asyncio.gather(
        escalate_overdue(store, dealer, at(24, 10, 6)), escalate_overdue(store, dealer, at(24, 10, 6))
    )
    assert len(a) + len(b) == 1 and (await store.get(h.id)).priority == "high"


async def test_the_loop_escalates_on_its_own_and_stops(redis, keys, dealer):
    store = HandoffStore(redis, keys)
    h = await open_at(store, at(24, 10, 0))
    stop = asyncio.Event()
    pubsub = redis.pubsub()
    await pubsub.subscribe(events_channel(keys))
    task = asyncio.create_task(sla_loop(store, dealer, clock=lambda: at(24, 10, 30), interval_s=0.02, stop=stop))
    async with asyncio.timeout(5):  # wait for the loop's own escalation event
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if msg and json.loads(msg["data"]).get("event") == "escalated":
                break
    assert (await store.get(h.id)).priority == "high"
    stop.set()
    await asyncio.wait_for(task, 5)
    await pubsub.aclose()


def test_the_customer_is_told_honestly_when_a_person_will_reply(dealer):
    assert reply_eta_sentence(dealer, "sales", at(24, 10, 0)) == (
        "A member of our team will reply within about 5 minutes."
    )
    assert reply_eta_sentence(dealer, "sales", at(24, 21, 30)) == (
        "We're closed right now; we open tomorrow at 9:00 AM, and a member of our team will reply by 10:00 AM tomorrow."
    )
    text = reply_eta_sentence(dealer, "service", at(28, 17, 0))  # Saturday after 4 PM; Sunday closed
    assert "open on Monday at 7:00 AM" in text and "8:00 AM on Monday" in text
    assert "Thanksgiving" not in text
    holiday = reply_eta_sentence(dealer, "sales", at(25, 21, 0))  # eve of Thanksgiving (closed all day)
    assert "on Friday at 9:00 AM" in holiday
