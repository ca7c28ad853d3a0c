"""Availability: the slot grid from the dealer's hours and rules, and which slots have places left.

Slots are built as local wall-clock times in the dealer's timezone (so 10:00 stays 10:00 across a
DST change) and keyed in UTC. `_validate_slot` says why an asked-for time can't be booked and
offers the nearest openings.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from tools.booking.keys import _usage_key
from tools.booking.model import UTC, Slot, SlotUnavailable
from tools.context import ToolDeps, ToolError
from tools.dates import clock_label, day_label
from tools.dealer import AppointmentRules, DealerConfig


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


async def _used(deps: ToolDeps, department: str, slots: Sequence[Slot]) -> list[int]:
    out: list[int] = []
    for i in range(0, len(slots), 500):
        chunk = slots[i : i + 500]
        values = await deps.redis.mget([_usage_key(deps, department, s.starts_at) for s in chunk])
        out.extend(int(v or 0) for v in values)
    return out


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
