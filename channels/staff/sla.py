"""Handoff SLAs: when a person is due to answer, honest wording of it, and escalation when late.

The deadline matches what the customer was told (the offline brain's `sla_sentence`): opened while
the department is open -> `handoff.sla_minutes` after opening; opened after hours -> the next
opening + `handoff.after_hours_sla_minutes`. An unclaimed handoff past its deadline is escalated:
priority up one step, `escalated_at` set, the change published on the dealer's event channel and an
internal timeline event written. It escalates again each further SLA period until it is urgent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from memory.timeline import Timeline, TimelineEvent
from tools.dates import clock_label
from tools.dealer import DealerConfig
from tools.handoff import Handoff, HandoffStore

log = logging.getLogger(__name__)

BUMP = {"low": "normal", "normal": "high", "high": "urgent", "urgent": "urgent"}
SEARCH_DAYS = 15


def department_for(dealer: DealerConfig, team: str) -> str:
    """Whose opening hours govern a handoff of this team."""
    if team in dealer.departments:
        return team
    return "sales" if "sales" in dealer.departments else next(iter(dealer.departments))


def next_opening(dealer: DealerConfig, department: str, at: dt.datetime) -> dt.datetime | None:
    local = at.astimezone(dealer.tz)
    for offset in range(SEARCH_DAYS):
        day = local.date() + dt.timedelta(days=offset)
        if dealer.holiday_on(day, department):
            continue
        for start, _ in dealer.department(department).open_hours(day).ranges:
            when = dt.datetime.combine(day, start, tzinfo=dealer.tz)
            if when > local:
                return when
    return None


def reply_due(dealer: DealerConfig, department: str, opened_at: dt.datetime) -> dt.datetime:
    """When a person is due to have answered a handoff opened at `opened_at`."""
    if dealer.is_open(department, opened_at):
        return opened_at + dt.timedelta(minutes=dealer.handoff.sla_minutes)
    opens = next_opening(dealer, department, opened_at)
    base = opens if opens is not None else opened_at
    return base + dt.timedelta(minutes=dealer.handoff.after_hours_sla_minutes)


def due_at(handoff: Handoff, dealer: DealerConfig) -> dt.datetime:
    """This handoff's current deadline (after an escalation: one more SLA period from it)."""
    dept = department_for(dealer, handoff.team)
    if handoff.escalated_at is None:
        return reply_due(dealer, dept, handoff.opened_at)
    return reply_due(dealer, dept, handoff.escalated_at)


def _day_word(day: dt.date, today: dt.date) -> str:
    if day == today:
        return "today"
    if day == today + dt.timedelta(days=1):
        return "tomorrow"
    return f"on {day:%A}" if (day - today).days < 7 else f"on {day:%A, %B} {day.day}"


def reply_eta_sentence(dealer: DealerConfig, department: str, now: dt.datetime) -> str:
    """What to tell a customer about when a person will answer, from the department's real hours."""
    dept = department_for(dealer, department)
    if dealer.is_open(dept, now):
        return f"A member of our team will reply within about {dealer.handoff.sla_minutes} minutes."
    opens = next_opening(dealer, dept, now)
    if opens is None:
        return "Our team is away right now; a member of the team will reply as soon as we reopen."
    due = opens + dt.timedelta(minutes=dealer.handoff.after_hours_sla_minutes)
    today = now.astimezone(dealer.tz).date()
    return (
        f"We're closed right now; we open {_day_word(opens.date(), today)} at {clock_label(opens)}, "
        f"and a member of our team will reply by {clock_label(due)} {_day_word(due.date(), today)}."
    )


async def escalate_overdue(store: HandoffStore, dealer: DealerConfig, now: dt.datetime) -> list[Handoff]:
    """One pass: escalate every unclaimed handoff past its deadline. Returns the escalated ones."""
    from channels.staff.handoffs import StaffHandoffs  # the compare-and-set writer

    writer = StaffHandoffs(store)
    timeline = Timeline(store.redis, store.keys)
    escalated: list[Handoff] = []
    for h in await store.list("open", limit=1000):
        if h.priority == "urgent" and h.escalated_at is not None:
            continue
        if now < due_at(h, dealer):
            continue
        updated = await writer.escalate(h.id, now=now, due=lambda cur: due_at(cur, dealer))
        if updated is None:
            continue
        escalated.append(updated)
        late = int((now - h.opened_at).total_seconds() // 60)
        await timeline.append(
            updated.customer_id,
            TimelineEvent(
                at=now,
                channel="staff",
                direction="internal",
                kind="handoff",
                text=f"Handoff escalated to {updated.priority}: unclaimed for {late} min, past its SLA",
                actor="system",
                meta={"handoff_id": updated.id, "priority": updated.priority, "event": "escalated"},
            ),
        )
    return escalated


async def sla_loop(
    store: HandoffStore,
    dealer: DealerConfig,
    *,
    clock: Callable[[], dt.datetime],
    interval_s: float = 30.0,
    stop: asyncio.Event | None = None,
) -> None:
    """Run `escalate_overdue` every `interval_s` until `stop` is set (or the task is cancelled).
    Safe with several processes: each escalation is a compare-and-set on the handoff."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            done = await escalate_overdue(store, dealer, clock())
            if done:
                log.info("escalated %d overdue handoff(s)", len(done))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("SLA escalation pass failed; retrying next interval")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


__all__ = [
    "department_for",
    "due_at",
    "escalate_overdue",
    "next_opening",
    "reply_due",
    "reply_eta_sentence",
    "sla_loop",
]
