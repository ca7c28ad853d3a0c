"""Appointments: real availability from the dealer's hours and rules, and bookings that can't oversell.

Slots are built as local wall-clock times in the dealer's timezone (so 10:00 stays 10:00 across a DST
change) and keyed in UTC. Taking capacity, writing the appointment and indexing it by day is one Lua
script over keys that all carry the dealer hash tag, so it is atomic on one server and legal on a
Cluster; two customers racing for the last place cannot both get it. The per-customer index lives on
the customer's own hash slot and is written afterwards: it is only an index.

The package, one module per concern (import from `tools.booking`; the modules are its layout):

* `model` — `Slot`, `Appointment`, `HistoryEntry`, `SlotUnavailable`;
* `keys` — the Redis layout of booking data;
* `slots` — the slot grid and availability;
* `scripts` — the atomic Lua scripts;
* `queries` — reading appointments;
* `store` — book, reschedule, cancel, mark;
* `tools` — the LangChain tools.
"""

from tools.booking.model import UTC, Appointment, HistoryEntry, Slot, SlotUnavailable, Status
from tools.booking.queries import get, list_for_customer, list_for_day
from tools.booking.scripts import USAGE_GRACE
from tools.booking.slots import available_slots, nearest_slots
from tools.booking.store import IDEMPOTENCY_TTL, MAX_RETRIES, book, cancel, mark, reschedule
from tools.booking.tools import (
    BOOKING_TOOLS,
    book_appointment,
    cancel_appointment,
    find_appointment_slots,
    find_slots_text,
    list_my_appointments,
    reschedule_appointment,
)

__all__ = [
    "BOOKING_TOOLS",
    "IDEMPOTENCY_TTL",
    "MAX_RETRIES",
    "USAGE_GRACE",
    "UTC",
    "Appointment",
    "HistoryEntry",
    "Slot",
    "SlotUnavailable",
    "Status",
    "available_slots",
    "book",
    "book_appointment",
    "cancel",
    "cancel_appointment",
    "find_appointment_slots",
    "find_slots_text",
    "get",
    "list_for_customer",
    "list_for_day",
    "list_my_appointments",
    "mark",
    "nearest_slots",
    "reschedule",
    "reschedule_appointment",
]
