"""Reading appointments: one by id, a customer's, or the dealership's day (staff only).

A customer only ever sees their own appointments; someone else's looks like no appointment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from tools.booking.keys import _spans_key
from tools.booking.model import Appointment
from tools.booking.scripts import _text
from tools.booking.slots import _now
from tools.context import ToolDeps, ToolError


def _is_staff(deps: ToolDeps) -> bool:
    return deps.channel == "staff"


async def _load(deps: ToolDeps, appointment_id: str) -> tuple[Appointment, str] | None:
    raw = await deps.redis.get(deps.keys.appointment(appointment_id))
    if raw is None:
        return None
    raw = _text(raw)
    return Appointment.model_validate_json(raw), raw


async def _load_own(deps: ToolDeps, appointment_id: str) -> tuple[Appointment, str]:
    """The appointment when this conversation may act on it; someone else's looks like no appointment."""
    found = await _load(deps, appointment_id.strip())
    if found is None or not (_is_staff(deps) or found[0].customer_id == deps.customer_id):
        raise ToolError(f"no appointment {appointment_id!r} found for this customer; list_my_appointments shows theirs")
    return found


async def get(deps: ToolDeps, appointment_id: str) -> Appointment | None:
    """One appointment, or None when it doesn't exist or belongs to another customer (staff see all)."""
    found = await _load(deps, appointment_id)
    if found is None or not (_is_staff(deps) or found[0].customer_id == deps.customer_id):
        return None
    return found[0]


async def _many(deps: ToolDeps, ids: Iterable[str]) -> list[Appointment]:
    ids = list(ids)
    if not ids:
        return []
    raws = await deps.redis.mget([deps.keys.appointment(i) for i in ids])
    return [Appointment.model_validate_json(_text(r)) for r in raws if r is not None]


async def list_for_customer(
    deps: ToolDeps, customer_id: str | None = None, include_past: bool = False
) -> list[Appointment]:
    """A customer's appointments by start time: upcoming booked ones, or every one with `include_past`.

    Customers may only list their own; staff may list anyone's.
    """
    cid = customer_id or deps.require_customer()
    if cid != deps.customer_id and not _is_staff(deps):
        raise ToolError("appointments of another customer are not available here")
    ids = {_text(i) for i in await deps.redis.smembers(deps.keys.customer_appointments(cid))}
    ids |= {_text(i) for i in await deps.redis.hkeys(_spans_key(deps, cid))}  # in case the index write was lost
    appts = [a for a in await _many(deps, sorted(ids)) if a.customer_id == cid]
    if not include_past:
        now = _now(deps)
        appts = [a for a in appts if a.active and a.ends_at > now]
    return sorted(appts, key=lambda a: a.starts_at)


async def list_for_day(
    deps: ToolDeps, day: dt.date, department: str | None = None, *, include_cancelled: bool = False
) -> list[Appointment]:
    """The dealership's appointments on one local day, by start time (staff and back-office use only)."""
    if deps.customer_id is not None and not _is_staff(deps):
        raise ToolError("the day's appointment list is for staff only")
    ids = [_text(i) for i in await deps.redis.zrange(deps.keys.appointments_by_day(day.isoformat()), 0, -1)]
    appts = await _many(deps, ids)
    return sorted(
        (
            a
            for a in appts
            if (department is None or a.department == department)
            and (include_cancelled or a.status != "cancelled")
            and a.starts_at.astimezone(deps.dealer.tz).date() == day
        ),
        key=lambda a: a.starts_at,
    )
