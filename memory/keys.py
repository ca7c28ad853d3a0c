"""The Redis key layout, one place for every key DealerOS writes.

Keys are namespaced by dealer. Every key of one customer carries the hash tag `{<dealer>:<customer>}`
so a Redis Cluster keeps a customer on one slot (multi-key transactions per customer stay legal);
dealer-wide keys carry `{<dealer>}`.
"""

from __future__ import annotations

PREFIX = "dos"


class Keys:
    """Key builder for one dealer."""

    __slots__ = ("_d", "dealer")

    def __init__(self, dealer: str) -> None:
        if not dealer or any(c in dealer for c in "{}: "):
            raise ValueError(f"invalid dealer id: {dealer!r}")
        self.dealer = dealer
        self._d = f"{PREFIX}:{{{dealer}}}"

    # --- per customer: one hash tag per customer -----------------------------------------
    def cust(self, customer_id: str, part: str) -> str:
        return f"{PREFIX}:{{{self.dealer}:{customer_id}}}:{part}"

    def profile(self, cid: str) -> str:  # JSON string
        return self.cust(cid, "profile")

    def timeline(self, cid: str) -> str:  # zset event id -> epoch ms
        return self.cust(cid, "timeline")

    def timeline_events(self, cid: str) -> str:  # hash event id -> JSON
        return self.cust(cid, "events")

    def consent(self, cid: str) -> str:  # stream, append-only ledger
        return self.cust(cid, "consent")

    def lock(self, cid: str) -> str:
        return self.cust(cid, "lock")

    def customer_appointments(self, cid: str) -> str:  # set of appointment ids
        return self.cust(cid, "appts")

    def outbound_log(self, cid: str) -> str:  # zset of proactive sends (for per-24h caps)
        return self.cust(cid, "outlog")

    def memory_vectors(self, cid: str) -> str:  # hash memory id -> at (u32) + fp16 vector (recall index)
        return self.cust(cid, "memvec")

    def memory_matrix(self, cid: str) -> str:  # list: the hash's ids and vectors packed (derived, expires)
        return self.cust(cid, "memmat")

    # --- dealer-wide ---------------------------------------------------------------------
    def dealer_key(self, *parts: str) -> str:
        return ":".join((self._d, *parts))

    def identity_index(self, kind: str) -> str:  # hash: normalised phone/email/visitor -> customer id
        return self.dealer_key("idx", kind)

    def customers(self) -> str:  # zset customer id -> created ms
        return self.dealer_key("customers")

    def memory_index_ready(self) -> str:  # set once the recall index holds every memory
        return self.dealer_key("memvec", "ready")

    def recall_query(self, digest: str) -> str:  # float32 vector of a text a turn will recall against soon
        return self.dealer_key("memq", digest)

    def merges(self) -> str:  # hash merge id -> JSON
        return self.dealer_key("merges")

    def idempotency(self, scope: str, delivery_id: str) -> str:
        return self.dealer_key("idem", scope, delivery_id)

    def vehicle(self, vin: str) -> str:
        return self.dealer_key("inv", "v", vin)

    def vehicles(self) -> str:  # set of VINs in the current feed
        return self.dealer_key("inv", "vins")

    def stock_index(self) -> str:  # hash stock number -> VIN
        return self.dealer_key("inv", "stock")

    def inventory_events(self) -> str:  # stream of arrivals / price changes / units gone
        return self.dealer_key("inv", "events")

    def appointment(self, appt_id: str) -> str:
        return self.dealer_key("appt", appt_id)

    def appointments_by_day(self, day: str) -> str:  # zset appt id -> start epoch, day = YYYY-MM-DD
        return self.dealer_key("appts", day)

    def slot_usage(self, department: str, slot_iso: str) -> str:  # int: bookings in this slot
        return self.dealer_key("slot", department, slot_iso)

    def handoff(self, handoff_id: str) -> str:
        return self.dealer_key("handoff", handoff_id)

    def handoffs(self, status: str) -> str:  # zset handoff id -> opened ms
        return self.dealer_key("handoffs", status)

    def checkpoint_prefix(self) -> str:
        return self.dealer_key("ckpt")

    def scan_pattern(self) -> str:
        """Matches every key of this dealer — dealer-wide (`{d}`) and per customer (`{d:c…}`) — and
        no other dealer's, even one whose id starts with this one's."""
        return f"{PREFIX}:{{{self.dealer}[}}:]*"
