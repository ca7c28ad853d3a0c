"""Where booking data lives in Redis (besides memory/keys.py).

- `keys.appointment(id)`: the appointment JSON (times in UTC);
- `keys.appointments_by_day(YYYY-MM-DD)`: zset id -> start epoch, by local day (all statuses);
- `keys.slot_usage(dept, start UTC "YYYY-MM-DDTHH:MMZ")`: bookings held in a slot, expires after it;
- `dealer_key("appt-spans", customer)`: hash id -> "start end dept kind" of the customer's active
  appointments, so the script can refuse overlapping bookings and spot retries atomically;
- `keys.idempotency("book", customer:key)`: appointment id for a caller's idempotency key.
"""

from __future__ import annotations

import datetime as dt

from tools.booking.model import UTC
from tools.context import ToolDeps


def _usage_key(deps: ToolDeps, department: str, start: dt.datetime) -> str:
    return deps.keys.slot_usage(department, start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"))


def _spans_key(deps: ToolDeps, customer_id: str) -> str:
    return deps.keys.dealer_key("appt-spans", customer_id)


def _day_key(deps: ToolDeps, start: dt.datetime) -> str:
    return deps.keys.appointments_by_day(start.astimezone(deps.dealer.tz).date().isoformat())
