"""The booking LangChain tools: find slots (READ), book, reschedule, cancel (WRITE), list (READ)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from tools.booking.model import Appointment, Slot
from tools.booking.queries import get, list_for_customer
from tools.booking.slots import _check_kind, _rules, available_slots, nearest_slots
from tools.booking.store import _remember, book, cancel, reschedule
from tools.context import ToolDeps, deps_from_config
from tools.dates import dealer_hours, parse_when


def _slot_lines(slots: Sequence[Slot]) -> str:
    return "\n".join(f"- {s.label()} [starts_at={s.iso}]" for s in slots)


def _appt_line(a: Appointment) -> str:
    vin = f", VIN {a.vin}" if a.vin else ""
    return f"{a.id}: {a.department} {a.kind} on {a.label()} [starts_at={a.local_start().isoformat()}]{vin}, {a.status}"


async def find_slots_text(
    deps: ToolDeps, department: str, when: str | None = None, kind: str | None = None, limit: int = 6
) -> str:
    """What `find_appointment_slots` says: real openings for the customer's wording, or the nearest."""
    rules = _rules(deps.dealer, department)
    _check_kind(rules, department, kind)
    tz = deps.dealer.tz
    window = None
    if when and when.strip():
        window = parse_when(
            when,
            deps.now(),
            tz,
            hours=dealer_hours(deps.dealer, department),
            slot_minutes=rules.slot_minutes,
            horizon_days=rules.horizon_days,
        )
    header = f"{department.capitalize()} openings"
    if window is None:
        slots = await available_slots(deps, department, limit=limit, kind=kind)
        lead = f"Couldn't read a day or time in {when!r}; " if when and when.strip() else ""
        if not slots:
            return f"{lead}No {department} openings in the next {rules.horizon_days} days."
        return f"{lead}{header}, soonest first (times are {deps.dealer.timezone}):\n{_slot_lines(slots)}"
    slots = await available_slots(
        deps,
        department,
        start=window.start,
        end=window.end,
        daily=window.daily,
        limit=limit,
        kind=kind,
        spread=False if window.earliest else None,
    )
    if slots:
        return f"{header} for {window.description} (times are {deps.dealer.timezone}):\n{_slot_lines(slots)}"
    near = await nearest_slots(deps, department, window.start, limit=min(limit, 4))
    if not near:
        return f"No {department} openings for {window.description}, and none nearby."
    return (
        f"No {department} openings for {window.description}. Nearest openings "
        f"(times are {deps.dealer.timezone}):\n{_slot_lines(near)}"
    )


@tool(parse_docstring=True)
async def find_appointment_slots(
    department: Literal["sales", "service"],
    config: RunnableConfig,
    when: str | None = None,
    kind: str | None = None,
) -> str:
    """Find real open appointment times (READ). Only ever offer times this returns.

    Each slot shows its local time and the exact starts_at value to pass to book_appointment. When
    nothing is open at the asked time, the nearest openings are listed instead; say so plainly.

    Args:
        department: "sales" (test drives, buying visits) or "service" (maintenance, repairs).
        when: The customer's own words for when they can come, as they said it, e.g. "tomorrow
            morning", "next Monday after 3", "this weekend", "asap". Empty for the soonest openings.
        kind: What the visit is for, e.g. "test drive" or "oil change", when known.
    """
    return await find_slots_text(deps_from_config(config), department, when, kind)


@tool(parse_docstring=True)
async def book_appointment(
    department: Literal["sales", "service"],
    kind: str,
    starts_at: str,
    config: RunnableConfig,
    vin: str | None = None,
    notes: str | None = None,
) -> str:
    """Book the customer into an open slot (WRITE, idempotent: repeating it won't double-book).

    Confirm the day and time with the customer first.

    Args:
        department: "sales" or "service".
        kind: What the visit is for, e.g. "test drive", "oil change".
        starts_at: The exact starts_at value of a slot find_appointment_slots returned.
        vin: The 17-character VIN of the car to test drive or to service, when known.
        notes: Anything the team should know, e.g. "brakes squeak", "wants to compare two trims".
    """
    deps = deps_from_config(config)
    appt = await book(deps, department=department, kind=kind, starts_at=starts_at, vin=vin, notes=notes)
    return f"Booked. {_appt_line(appt)}"


@tool(parse_docstring=True)
async def reschedule_appointment(appointment_id: str, new_starts_at: str, config: RunnableConfig) -> str:
    """Move one of the customer's appointments to another open slot (WRITE, idempotent).

    The old time is released only once the new one is secured. Confirm with the customer first.

    Args:
        appointment_id: The id from list_my_appointments or the booking, e.g. "apt_1a2b3c4d5e6f".
        new_starts_at: The exact starts_at value of a slot find_appointment_slots returned.
    """
    deps = deps_from_config(config)
    before = await get(deps, appointment_id.strip())
    appt = await reschedule(deps, appointment_id, new_starts_at)
    was = f" (was {before.label()})" if before and before.starts_at != appt.starts_at else ""
    return f"Rescheduled{was}. {_appt_line(appt)}"


@tool(parse_docstring=True)
async def cancel_appointment(appointment_id: str, config: RunnableConfig, reason: str | None = None) -> str:
    """Cancel one of the customer's appointments (WRITE, idempotent). Confirm with the customer first.

    Args:
        appointment_id: The id from list_my_appointments or the booking.
        reason: Why, in a few words, if the customer said.
    """
    appt = await cancel(deps_from_config(config), appointment_id, reason)
    return f"Cancelled. {_appt_line(appt)}"


@tool
async def list_my_appointments(config: RunnableConfig) -> str:
    """The customer's upcoming appointments with their ids and times (READ)."""
    deps = deps_from_config(config)
    appts = await list_for_customer(deps)
    if not appts:
        return "The customer has no upcoming appointments."
    for a in appts:
        _remember(deps, a)
    return f"Upcoming appointments (times are {deps.dealer.timezone}):\n" + "\n".join(
        f"- {_appt_line(a)}" for a in appts
    )


for _t, _access in (
    (find_appointment_slots, "read"),
    (book_appointment, "write"),
    (reschedule_appointment, "write"),
    (cancel_appointment, "write"),
    (list_my_appointments, "read"),
):
    _t.handle_tool_error = True  # a ToolError becomes the tool message the model recovers from
    _t.metadata = {"access": _access}
    _t.tags = [_access]

BOOKING_TOOLS = [
    find_appointment_slots,
    book_appointment,
    reschedule_appointment,
    cancel_appointment,
    list_my_appointments,
]
