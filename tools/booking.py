"""Appointments: real availability from the dealer's hours and rules, and bookings that can't oversell.

Slots are built as local wall-clock times in the dealer's timezone (so 10:00 stays 10:00 across a DST
change) and keyed in UTC. Taking capacity, writing the appointment and indexing it by day is one Lua
script over keys that all carry the dealer hash tag, so it is atomic on one server and legal on a
Cluster; two customers racing for the last place cannot both get it. The per-customer index lives on
the customer's own hash slot and is written afterwards: it is only an index.

Redis layout (besides memory/keys.py):
- `keys.appointment(id)`: the appointment JSON (times in UTC);
- `keys.appointments_by_day(YYYY-MM-DD)`: zset id -> start epoch, by local day (all statuses);
- `keys.slot_usage(dept, start UTC "YYYY-MM-DDTHH:MMZ")`: bookings held in a slot, expires after it;
- `dealer_key("appt-spans", customer)`: hash id -> "start end dept kind" of the customer's active
  appointments, so the script can refuse overlapping bookings and spot retries atomically;
- `keys.idempotency("book", customer:key)`: appointment id for a caller's idempotency key.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from pydantic import BaseModel, Field, field_validator

from tools.context import ToolDeps, ToolError, deps_from_config
from tools.dates import clock_label, day_label, dealer_hours, parse_when
from tools.dealer import AppointmentRules, DealerConfig

Status = Literal["booked", "cancelled", "completed", "no_show"]
UTC = dt.UTC
IDEMPOTENCY_TTL = 30 * 24 * 3600
USAGE_GRACE = 24 * 3600  # keep a slot's counter a day past its end, then let Redis drop it
MAX_RETRIES = 5  # compare-and-set retries when someone else changed the appointment meanwhile
_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")


# --- models -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A bookable start time with places left. Times are aware, in the dealer's timezone."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    department: str
    remaining: int

    @property
    def iso(self) -> str:
        """The value tools show and accept (local time with offset)."""
        return self.starts_at.isoformat()

    def label(self, tz: ZoneInfo | None = None) -> str:
        """ "Thu Nov 26, 10:00 AM" in `tz` (default: the slot's own zone)."""
        local = self.starts_at.astimezone(tz) if tz else self.starts_at
        return f"{day_label(local.date())}, {clock_label(local)}"


class HistoryEntry(BaseModel):
    at: dt.datetime
    action: Literal["rescheduled", "cancelled", "completed", "no_show"]
    previous_starts_at: dt.datetime | None = None
    reason: str | None = None
    by: str | None = None  # channel that made the change (chat, sms, staff …)


class Appointment(BaseModel):
    """One appointment as stored. Times are UTC; `to_api` renders them in the dealer's timezone."""

    id: str
    dealer: str
    customer_id: str
    department: str
    kind: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    vin: str | None = None
    status: Status = "booked"
    created_at: dt.datetime
    updated_at: dt.datetime
    notes: str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    timezone: str = "UTC"
    idempotency_key: str | None = None

    @field_validator("starts_at", "ends_at", "created_at", "updated_at")
    @classmethod
    def _utc(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("appointment times must carry a UTC offset")
        return v.astimezone(UTC)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def active(self) -> bool:
        return self.status == "booked"

    def local_start(self) -> dt.datetime:
        return self.starts_at.astimezone(self.tz)

    def label(self) -> str:
        local = self.local_start()
        return f"{day_label(local.date())}, {clock_label(local)}"

    def to_api(self) -> dict[str, Any]:
        """The Staff API shape (DESIGN.md), ISO 8601 with the dealer's offset."""
        tz = self.tz
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "department": self.department,
            "kind": self.kind,
            "starts_at": self.starts_at.astimezone(tz).isoformat(),
            "ends_at": self.ends_at.astimezone(tz).isoformat(),
            "vin": self.vin,
            "status": self.status,
            "notes": self.notes,
            "created_at": self.created_at.astimezone(tz).isoformat(),
            "updated_at": self.updated_at.astimezone(tz).isoformat(),
            "history": [
                {
                    "at": h.at.astimezone(tz).isoformat(),
                    "action": h.action,
                    "previous_starts_at": h.previous_starts_at.astimezone(tz).isoformat()
                    if h.previous_starts_at
                    else None,
                    "reason": h.reason,
                }
                for h in self.history
            ],
        }


class SlotUnavailable(ToolError):
    """The asked-for time can't be booked; `alternatives` are real open slots nearby."""

    def __init__(self, message: str, alternatives: Sequence[Slot], reason: str) -> None:
        self.alternatives = list(alternatives)
        self.reason = reason  # full | closed | too_soon | too_far | off_grid | past
        if self.alternatives:
            message += " Nearest openings: " + "; ".join(f"{s.label()} [{s.iso}]" for s in self.alternatives)
        else:
            message += " There are no openings nearby."
        super().__init__(message)


# --- rules and the slot grid --------------------------------------------------------------------------


def _rules(dealer: DealerConfig, department: str) -> AppointmentRules:
    try:
        rules = dealer.department(department).appointments
    except KeyError:
        raise ToolError(
            f"{dealer.name} has no {department!r} department; one of: {', '.join(dealer.departments)}"
        ) from None
    if rules is None:
        raise ToolError(f"the {department} department does not take appointments")
    return rules


def _check_kind(rules: AppointmentRules, department: str, kind: str | None) -> str | None:
    """The canonical spelling of `kind`, when the department lists kinds."""
    if kind is None or not kind.strip():
        return None
    wanted = kind.strip()
    if not rules.kinds:
        return wanted
    for k in rules.kinds:
        if k.lower() == wanted.lower() or k.lower().replace("_", " ") == wanted.lower().replace("_", " "):
            return k
    raise ToolError(f"{department} appointments are for one of: {', '.join(rules.kinds)} (not {kind!r})")


def _localize(naive: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """`naive` wall-clock time in `tz`, or None when it does not exist (spring-forward gap)."""
    aware = naive.replace(tzinfo=tz)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return aware


def _day_grid(dealer: DealerConfig, department: str, rules: AppointmentRules, day: dt.date) -> list[Slot]:
    """Every slot of one local day that fits entirely inside an opening range (capacity not applied)."""
    if dealer.holiday_on(day, department):
        return []
    step = dt.timedelta(minutes=rules.slot_minutes)
    tz = dealer.tz
    out = []
    for open_t, close_t in dealer.department(department).open_hours(day).ranges:
        t, close = dt.datetime.combine(day, open_t), dt.datetime.combine(day, close_t)
        while t + step <= close:
            start, end = _localize(t, tz), _localize(t + step, tz)
            if start is not None and end is not None:
                out.append(Slot(start, end, department, rules.capacity_per_slot))
            t += step
    return out


def _usage_key(deps: ToolDeps, department: str, start: dt.datetime) -> str:
    return deps.keys.slot_usage(department, start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"))


def _spans_key(deps: ToolDeps, customer_id: str) -> str:
    return deps.keys.dealer_key("appt-spans", customer_id)


def _day_key(deps: ToolDeps, start: dt.datetime) -> str:
    return deps.keys.appointments_by_day(start.astimezone(deps.dealer.tz).date().isoformat())


async def _used(deps: ToolDeps, department: str, slots: Sequence[Slot]) -> list[int]:
    out: list[int] = []
    for i in range(0, len(slots), 500):
        chunk = slots[i : i + 500]
        values = await deps.redis.mget([_usage_key(deps, department, s.starts_at) for s in chunk])
        out.extend(int(v or 0) for v in values)
    return out


# --- availability -------------------------------------------------------------------------------------


async def available_slots(
    deps: ToolDeps,
    department: str,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = 6,
    kind: str | None = None,
    spread: bool | None = None,
    daily: tuple[dt.time, dt.time] | None = None,
    per_day: int = 2,
    record: bool = True,
) -> list[Slot]:
    """Open slots starting in [start, end), within lead time and horizon, with capacity left.

    `spread` (default: when the window covers more than one day) offers `per_day` slots a day spaced
    through the day, across days, instead of the first `limit` consecutive ones. `daily` keeps only
    slots whose local start time is in [from, to) ("next week, mornings"). Offered slots are recorded
    in `deps.facts.slots` so the reply guard knows they are real.
    """
    rules = _rules(deps.dealer, department)
    _check_kind(rules, department, kind)
    tz = deps.dealer.tz
    now = _now(deps)
    earliest = now + dt.timedelta(minutes=rules.min_lead_minutes)
    latest = now + dt.timedelta(days=rules.horizon_days)
    lo = max((start or now).astimezone(UTC), earliest)
    hi = latest + dt.timedelta(seconds=1)  # a slot may start right at the horizon
    if end is not None:
        hi = min(hi, end.astimezone(UTC))
    if lo >= hi or limit <= 0:
        return []
    candidates: list[Slot] = []
    day, last = lo.astimezone(tz).date(), hi.astimezone(tz).date()
    while day <= last:
        for s in _day_grid(deps.dealer, department, rules, day):
            if lo <= s.starts_at < hi and (daily is None or daily[0] <= s.starts_at.time() < daily[1]):
                candidates.append(s)
        day += dt.timedelta(days=1)
    used = await _used(deps, department, candidates)
    free = [
        Slot(s.starts_at, s.ends_at, department, rules.capacity_per_slot - n)
        for s, n in zip(candidates, used, strict=True)
        if n < rules.capacity_per_slot
    ]
    if spread is None:
        spread = len({s.starts_at.date() for s in free}) > 1
    picked = _spread(free, limit, per_day) if spread else free[:limit]
    if record:
        deps.facts.slots.update(s.iso for s in picked)
    return picked


def _spaced_order(n: int) -> list[int]:
    """Indices 0..n-1 in an order that spreads picks through a day: first, middle, quarters, …"""
    order: list[int] = []
    seen: set[int] = set()
    denominator = 1
    while len(order) < n and denominator <= 2 * n:
        first, step = (0, 1) if denominator == 1 else (1, 2)
        for numerator in range(first, denominator, step):
            i = numerator * n // denominator
            if i not in seen:
                seen.add(i)
                order.append(i)
        denominator *= 2
    return order + [i for i in range(n) if i not in seen]


def _spread(free: Sequence[Slot], limit: int, per_day: int) -> list[Slot]:
    by_day: dict[dt.date, list[Slot]] = defaultdict(list)
    for s in free:
        by_day[s.starts_at.date()].append(s)
    queues = [[slots[i] for i in _spaced_order(len(slots))] for _, slots in sorted(by_day.items())]
    picked: list[Slot] = []
    quota = max(1, per_day)
    while len(picked) < limit and any(queues):
        for q in queues:  # earliest days first, `quota` per day, then another round
            take = q[:quota]
            del q[:quota]
            picked.extend(take[: limit - len(picked)])
            if len(picked) >= limit:
                break
        quota = 1
    return sorted(picked, key=lambda s: s.starts_at)


async def nearest_slots(
    deps: ToolDeps, department: str, around: dt.datetime, *, limit: int = 3, days: int = 3
) -> list[Slot]:
    """The open slots closest in time to `around` (within a few days), else the earliest ones."""
    around = around.astimezone(UTC)
    window = await available_slots(
        deps,
        department,
        start=around - dt.timedelta(days=days),
        end=around + dt.timedelta(days=days),
        limit=10_000,
        spread=False,
        record=False,
    )
    if not window:
        window = await available_slots(deps, department, limit=limit, spread=False, record=False)
    best = sorted(
        sorted(window, key=lambda s: abs((s.starts_at - around).total_seconds()))[:limit], key=lambda s: s.starts_at
    )
    deps.facts.slots.update(s.iso for s in best)
    return best


async def _validate_slot(deps: ToolDeps, department: str, rules: AppointmentRules, starts_at: dt.datetime) -> Slot:
    """The grid slot starting at `starts_at`, or SlotUnavailable saying why not (with alternatives)."""
    dealer, tz, now = deps.dealer, deps.dealer.tz, _now(deps)
    local = starts_at.astimezone(tz)
    label = f"{day_label(local.date())}, {clock_label(local)}"

    async def refuse(message: str, reason: str) -> SlotUnavailable:
        return SlotUnavailable(message, await nearest_slots(deps, department, starts_at), reason)

    if starts_at <= now:
        raise await refuse(f"{label} has already passed.", "past")
    if starts_at < now + dt.timedelta(minutes=rules.min_lead_minutes):
        raise await refuse(
            f"{label} is too soon: {department} appointments need at least {_duration(rules.min_lead_minutes)} notice.",
            "too_soon",
        )
    if starts_at > now + dt.timedelta(days=rules.horizon_days):
        raise await refuse(
            f"{label} is too far out: {department} appointments can be booked up to {rules.horizon_days} days ahead.",
            "too_far",
        )
    if holiday := dealer.holiday_on(local.date(), department):
        raise await refuse(
            f"The {department} department is closed on {day_label(local.date())} ({holiday.name}).", "closed"
        )
    grid = _day_grid(dealer, department, rules, local.date())
    for s in grid:
        if s.starts_at == starts_at:
            return s
    if not dealer.is_open(department, starts_at):
        raise await refuse(f"The {department} department is closed at {label}.", "closed")
    raise await refuse(f"{label} is not an appointment start time ({rules.slot_minutes}-minute slots).", "off_grid")


def _now(deps: ToolDeps) -> dt.datetime:
    """The turn's clock in UTC: arithmetic on zone-aware local times is wall-clock (wrong across DST)."""
    return deps.now().astimezone(UTC)


def _duration(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minutes"


# --- atomic scripts ------------------------------------------------------------------------------------

# Shared: refuse an overlap with the customer's other active appointments; drop spans that are over.
_OVERLAP_LUA = """
local function overlap(spans_key, start, finish, now, self_id, same_span)
  local spans = redis.call('HGETALL', spans_key)
  for i = 1, #spans, 2 do
    local s, e = string.match(spans[i + 1], '^(%S+) (%S+)')
    s, e = tonumber(s), tonumber(e)
    if e <= now then
      redis.call('HDEL', spans_key, spans[i])
    elseif spans[i] ~= self_id and s < finish and start < e then
      if same_span ~= '' and spans[i + 1] == same_span then return {'dup', spans[i]} end
      return {'overlap', spans[i]}
    end
  end
  return nil
end
"""

# KEYS: usage, appointment, day index, customer spans, idempotency
# ARGV: capacity, json, id, start, end, span, usage ttl, idempotency ttl (0 = none), now
_BOOK_LUA = (
    _OVERLAP_LUA
    + """
if ARGV[8] ~= '0' then
  local prior = redis.call('GET', KEYS[5])
  if prior then return {'dup', prior} end
end
local clash = overlap(KEYS[4], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[9]), '', ARGV[6])
if clash then return clash end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return {'full', tostring(used)} end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[6])
if ARGV[8] ~= '0' then redis.call('SET', KEYS[5], ARGV[3], 'EX', ARGV[8]) end
return {'ok', ARGV[3]}
"""
)

# KEYS: appointment, old usage, new usage, old day index, new day index, customer spans
# ARGV: expected json, new json, id, capacity, new start, new end, new span, new usage ttl, now
_RESCHEDULE_LUA = (
    _OVERLAP_LUA
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'changed', ''} end
local clash = overlap(KEYS[6], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[9]), ARGV[3], '')
if clash then return clash end
if KEYS[2] ~= KEYS[3] then
  local used = tonumber(redis.call('GET', KEYS[3]) or '0')
  if used >= tonumber(ARGV[4]) then return {'full', tostring(used)} end
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[8])
  if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[3])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[3])
redis.call('HSET', KEYS[6], ARGV[3], ARGV[7])
return {'ok', ''}
"""
)

# KEYS: appointment, usage, customer spans.  ARGV: expected json, new json, id, release capacity (1/0)
_CLOSE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'changed' end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[4] == '1' and tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
redis.call('HDEL', KEYS[3], ARGV[3])
return 'ok'
"""


async def _run(deps: ToolDeps, script: str, keys: list[str], args: list[Any]) -> Any:
    """EVALSHA with redis-py's fallback to EVAL, so the script body is not sent on every call."""
    return await deps.redis.register_script(script)(keys=keys, args=args)


def _usage_ttl(slot: Slot, now: dt.datetime) -> int:
    """Seconds a slot counter must live: relative to the turn's clock, like every rule here."""
    return max(60, int((slot.ends_at - now).total_seconds()) + USAGE_GRACE)


def _epoch(d: dt.datetime) -> int:
    return int(d.timestamp())


def _span(a: Appointment) -> str:
    return f"{_epoch(a.starts_at)} {_epoch(a.ends_at)} {a.department} {a.kind}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- reading ------------------------------------------------------------------------------------------


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


# --- writing ------------------------------------------------------------------------------------------


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


# --- LangChain tools ---------------------------------------------------------------------------------


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

__all__ = [
    "BOOKING_TOOLS",
    "Appointment",
    "HistoryEntry",
    "Slot",
    "SlotUnavailable",
    "available_slots",
    "book",
    "cancel",
    "find_slots_text",
    "get",
    "list_for_customer",
    "list_for_day",
    "mark",
    "nearest_slots",
    "reschedule",
]
