"""Writing appointments: book, reschedule, cancel and mark, each one atomic script (no overselling).

The per-customer index lives on the customer's own hash slot and is written after the script: it is
only an index. Every write is idempotent, so a retried call is harmless.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Literal
from zoneinfo import ZoneInfo

from memory.customers import CustomerStore
from tools.booking.keys import _day_key, _spans_key, _usage_key
from tools.booking.model import UTC, Appointment, HistoryEntry, SlotUnavailable
from tools.booking.queries import _is_staff, _load, _load_own
from tools.booking.scripts import _BOOK_LUA, _CLOSE_LUA, _RESCHEDULE_LUA, _epoch, _run, _span, _text, _usage_ttl
from tools.booking.slots import _check_kind, _now, _rules, _validate_slot, nearest_slots
from tools.context import ToolDeps, ToolError

IDEMPOTENCY_TTL = 30 * 24 * 3600
MAX_RETRIES = 5  # compare-and-set retries when someone else changed the appointment meanwhile
_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")


def _parse_start(value: dt.datetime | str, tz: ZoneInfo) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ToolError(
                f"{value!r} is not an ISO 8601 time; use a starts_at value from find_appointment_slots"
            ) from None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def _clean_vin(vin: str | None) -> str | None:
    if vin is None or not vin.strip():
        return None
    v = re.sub(r"[\s-]", "", vin).upper()
    if not _VIN.fullmatch(v):
        raise ToolError(f"{vin!r} is not a 17-character VIN; leave vin empty if the customer doesn't have it")
    return v


async def book(
    deps: ToolDeps,
    *,
    department: str,
    kind: str,
    starts_at: dt.datetime | str,
    vin: str | None = None,
    notes: str | None = None,
    idempotency_key: str | None = None,
) -> Appointment:
    """Book the conversation's customer into a slot, or return the booking this request already made.

    A retry is recognised by `idempotency_key`, or without one by the same customer, department, kind
    and start among their active appointments. Raises SlotUnavailable (full, closed, too soon, too far,
    not a slot) with nearby alternatives, or ToolError when the customer already has an appointment
    at that time.
    """
    cid = deps.require_customer()
    rules = _rules(deps.dealer, department)
    canonical_kind = _check_kind(rules, department, kind)
    if canonical_kind is None:
        raise ToolError(
            f"say what the {department} appointment is for"
            + (f" (one of: {', '.join(rules.kinds)})" if rules.kinds else " (e.g. test drive, oil change)")
        )
    start = _parse_start(starts_at, deps.dealer.tz)
    clean_vin = _clean_vin(vin)
    if existing := await _already_booked(deps, cid, department, canonical_kind, start, idempotency_key):
        return _remember(deps, existing)
    slot = await _validate_slot(deps, department, rules, start)
    now = _now(deps)
    appt = Appointment(
        id=f"apt_{secrets.token_hex(6)}",
        dealer=deps.keys.dealer,
        customer_id=cid,
        department=department,
        kind=canonical_kind,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        vin=clean_vin,
        created_at=now,
        updated_at=now,
        notes=notes.strip()[:1000] if notes and notes.strip() else None,
        timezone=deps.dealer.timezone,
        idempotency_key=idempotency_key,
    )
    idem_key = deps.keys.idempotency("book", f"{cid}:{idempotency_key or '-'}")
    status, value = await _run(
        deps,
        _BOOK_LUA,
        [
            _usage_key(deps, department, slot.starts_at),
            deps.keys.appointment(appt.id),
            _day_key(deps, slot.starts_at),
            _spans_key(deps, cid),
            idem_key,
        ],
        [
            rules.capacity_per_slot,
            appt.model_dump_json(),
            appt.id,
            _epoch(appt.starts_at),
            _epoch(appt.ends_at),
            _span(appt),
            _usage_ttl(slot, now),
            IDEMPOTENCY_TTL if idempotency_key else 0,
            _epoch(now),
        ],
    )
    status, value = _text(status), _text(value)
    if status == "ok":
        await deps.redis.sadd(deps.keys.customer_appointments(cid), appt.id)
        await _advance_stage(deps, cid, department)
        return _remember(deps, appt)
    if status == "dup":
        found = await _load(deps, value)
        if found is None:  # vanished between the script and now; treat as a conflict
            raise ToolError("that booking changed while it was being made; please try again")
        return _remember(deps, found[0])
    if status == "overlap":
        other = await _load(deps, value)
        when = f" ({other[0].label()}, {other[0].department} {other[0].kind}, id {value})" if other else ""
        raise ToolError(f"the customer already has an appointment at that time{when}; reschedule or cancel it first")
    raise SlotUnavailable(
        f"{slot.label()} is fully booked for {department}.", await nearest_slots(deps, department, start), "full"
    )


# A booked sales visit moves a lead that had not got that far to the appointment stage; a first
# contact that books service is a service customer. Later stages (visited, negotiating, sold) stay.
_STAGE_ON_BOOKING = {
    "sales": ({"new", "engaged", "qualified", "lost", "service"}, "appointment"),
    "service": ({"new"}, "service"),
}


async def _advance_stage(deps: ToolDeps, cid: str, department: str) -> None:
    rule = _STAGE_ON_BOOKING.get(department)
    if rule is None:
        return
    store = CustomerStore(deps.redis, deps.keys, deps.clock)
    customer = await store.primary_of(cid) if await store.find(cid) else None
    if customer is not None and customer.stage in rule[0]:
        await store.update(customer.id, stage=rule[1])


async def _already_booked(
    deps: ToolDeps, cid: str, department: str, kind: str, start: dt.datetime, idempotency_key: str | None
) -> Appointment | None:
    """A retry of this booking, found before validation (a retry must not fail on a since-passed lead time).

    The script checks the same things atomically; this early look only spares the validation.
    """
    if idempotency_key:
        prior = await deps.redis.get(deps.keys.idempotency("book", f"{cid}:{idempotency_key}"))
        if prior and (found := await _load(deps, _text(prior))):
            return found[0]
    for appt_id, span in (await deps.redis.hgetall(_spans_key(deps, cid))).items():
        s, _, dept, k = _text(span).split(" ", 3)
        if int(s) == _epoch(start) and dept == department and k == kind:
            found = await _load(deps, _text(appt_id))
            if found and found[0].active:
                return found[0]
    return None


def _remember(deps: ToolDeps, appt: Appointment) -> Appointment:
    deps.facts.appointments.add(appt.id)
    deps.facts.slots.add(appt.local_start().isoformat())
    return appt


async def reschedule(deps: ToolDeps, appointment_id: str, new_starts_at: dt.datetime | str) -> Appointment:
    """Move a booked appointment: take the new slot and release the old one in one step.

    Moving to the time it already has returns it unchanged (so a retried call is harmless).
    """
    for _ in range(MAX_RETRIES):
        appt, raw = await _load_own(deps, appointment_id)
        if not appt.active:
            raise ToolError(f"appointment {appt.id} is {appt.status.replace('_', ' ')}; book a new one instead")
        start = _parse_start(new_starts_at, deps.dealer.tz)
        if start == appt.starts_at:
            return _remember(deps, appt)
        if appt.starts_at <= _now(deps) and not _is_staff(deps):
            raise ToolError(f"appointment {appt.id} has already started or passed; book a new one instead")
        rules = _rules(deps.dealer, appt.department)
        slot = await _validate_slot(deps, appt.department, rules, start)
        now = _now(deps)
        moved = appt.model_copy(
            update={
                "starts_at": slot.starts_at.astimezone(UTC),
                "ends_at": slot.ends_at.astimezone(UTC),
                "updated_at": now.astimezone(UTC),
                "history": [
                    *appt.history,
                    HistoryEntry(at=now, action="rescheduled", previous_starts_at=appt.starts_at, by=deps.channel),
                ],
            }
        )
        status, value = await _run(
            deps,
            _RESCHEDULE_LUA,
            [
                deps.keys.appointment(appt.id),
                _usage_key(deps, appt.department, appt.starts_at),
                _usage_key(deps, appt.department, slot.starts_at),
                _day_key(deps, appt.starts_at),
                _day_key(deps, slot.starts_at),
                _spans_key(deps, appt.customer_id),
            ],
            [
                raw,
                moved.model_dump_json(),
                appt.id,
                rules.capacity_per_slot,
                _epoch(moved.starts_at),
                _epoch(moved.ends_at),
                _span(moved),
                _usage_ttl(slot, now),
                _epoch(now),
            ],
        )
        status, value = _text(status), _text(value)
        if status == "ok":
            return _remember(deps, moved)
        if status == "overlap":
            raise ToolError(f"the customer already has another appointment at that time (id {value})")
        if status == "full":
            raise SlotUnavailable(
                f"{slot.label()} is fully booked for {appt.department}.",
                await nearest_slots(deps, appt.department, start),
                "full",
            )
        # "changed": someone else updated it meanwhile; read again
    raise ToolError("the appointment is being changed elsewhere right now; please try again")


async def cancel(deps: ToolDeps, appointment_id: str, reason: str | None = None) -> Appointment:
    """Cancel a booked appointment and give its place back. Cancelling it again returns it unchanged."""
    return await _close(deps, appointment_id, "cancelled", reason)


async def mark(
    deps: ToolDeps, appointment_id: str, status: Literal["completed", "no_show"], note: str | None = None
) -> Appointment:
    """Staff/back office: record that a booked appointment happened or was missed (capacity is kept)."""
    if not _is_staff(deps):
        raise ToolError("only staff can mark appointments completed or no-show")
    return await _close(deps, appointment_id, status, note)


async def _close(
    deps: ToolDeps, appointment_id: str, status: Literal["cancelled", "completed", "no_show"], reason: str | None
) -> Appointment:
    for _ in range(MAX_RETRIES):
        appt, raw = await _load_own(deps, appointment_id)
        if appt.status == status:
            return appt
        if not appt.active:
            raise ToolError(f"appointment {appt.id} is already {appt.status.replace('_', ' ')}")
        now = _now(deps)
        if status == "cancelled" and appt.starts_at <= now and not _is_staff(deps):
            raise ToolError(f"appointment {appt.id} has already started or passed; staff can update it")
        closed = appt.model_copy(
            update={
                "status": status,
                "updated_at": now.astimezone(UTC),
                "history": [
                    *appt.history,
                    HistoryEntry(
                        at=now,
                        action=status,
                        reason=reason.strip()[:500] if reason and reason.strip() else None,
                        by=deps.channel,
                    ),
                ],
            }
        )
        result = await _run(
            deps,
            _CLOSE_LUA,
            [
                deps.keys.appointment(appt.id),
                _usage_key(deps, appt.department, appt.starts_at),
                _spans_key(deps, appt.customer_id),
            ],
            [raw, closed.model_dump_json(), appt.id, "1" if status == "cancelled" else "0"],
        )
        if _text(result) == "ok":
            deps.facts.appointments.add(appt.id)
            return closed
    raise ToolError("the appointment is being changed elsewhere right now; please try again")
