"""Finding customers by name, phone, email or VIN.

Exact phone and email go through the identity index (one HGET). Names, partial numbers and VINs are
matched by scanning live profiles newest first in batches (a VIN is found on interests, the trade-in
and the customer's appointments). A page stops after `max_scan` profiles and hands back a cursor, so
one request stays bounded however large the dealership's book is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from memory.customers import Customer, CustomerStore
from memory.identity import InvalidIdentity, normalize_email, normalize_phone
from memory.keys import Keys

VIN_RE = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
PARTIAL_VIN_RE = re.compile(r"^(?=.*\d)[A-HJ-NPR-Z0-9]{6,16}$")
BATCH = 200


@dataclass
class SearchPage:
    items: list[Customer]
    next_cursor: str | None


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


class CustomerSearch:
    def __init__(self, redis: Any, keys: Keys, customers: CustomerStore, *, max_scan: int = 5000) -> None:
        self.redis = redis
        self.keys = keys
        self.customers = customers
        self.max_scan = max_scan

    async def search(
        self,
        *,
        phone: str | None = None,
        email: str | None = None,
        vin: str | None = None,
        q: str | None = None,
        cursor: str | None = None,
        limit: int = 25,
    ) -> SearchPage:
        if phone:
            return await self._exact_or_scan("phone", phone, cursor, limit)
        if email:
            return await self._exact_or_scan("email", email, cursor, limit)
        if vin:
            return await self._scan(self._vin_matcher(vin), cursor, limit)
        q = (q or "").strip()
        if not q:
            return await self._scan(lambda c: True, cursor, limit)
        if "@" in q:
            return await self._exact_or_scan("email", q, cursor, limit)
        compact = re.sub(r"[\s-]", "", q).upper()
        if VIN_RE.match(compact) or (PARTIAL_VIN_RE.match(compact) and not compact.isdigit()):
            return await self._scan(self._vin_matcher(compact), cursor, limit)
        if len(_digits(q)) >= 4 and not re.search(r"[A-Za-z]", q):
            return await self._exact_or_scan("phone", q, cursor, limit)
        return await self._scan(self._name_matcher(q), cursor, limit)

    async def _exact_or_scan(self, kind: str, value: str, cursor: str | None, limit: int) -> SearchPage:
        try:
            normal = normalize_phone(value) if kind == "phone" else normalize_email(value)
        except InvalidIdentity:
            normal = None
        if normal and not cursor:
            found = await self.customers.lookup(kind, normal)  # type: ignore[arg-type]
            if found is not None:
                return SearchPage([found], None)
        if kind == "phone":
            digits = _digits(value)
            if len(digits) < 4:
                return SearchPage([], None)
            return await self._scan(lambda c: any(digits in _digits(p) for p in c.phones), cursor, limit)
        needle = value.strip().lower()
        return await self._scan(lambda c: any(needle in e for e in c.emails), cursor, limit)

    def _name_matcher(self, q: str) -> Any:
        words = [w for w in re.split(r"\s+", q.lower()) if w]

        def match(c: Customer) -> bool:
            name = (c.name or "").lower()
            return bool(name) and all(w in name for w in words)

        return match

    def _vin_matcher(self, vin: str) -> Any:
        needle = re.sub(r"[\s-]", "", vin).upper()

        async def match(c: Customer) -> bool:
            vins = [i.vin for i in c.interests if i.vin]
            if c.trade_in and c.trade_in.get("vin"):
                vins.append(str(c.trade_in["vin"]))
            if any(needle in v.upper() for v in vins):
                return True
            appt_ids = list(await self.redis.smembers(self.keys.customer_appointments(c.id)))
            if not appt_ids:
                return False
            raws = await self.redis.mget([self.keys.appointment(a) for a in appt_ids])
            return any(r and needle in (json.loads(r).get("vin") or "").upper() for r in raws)

        return match

    async def _scan(self, match: Any, cursor: str | None, limit: int) -> SearchPage:
        offset = int(cursor) if cursor and cursor.isdigit() else 0
        start, scanned = offset, 0
        items: list[Customer] = []
        total = await self.redis.zcard(self.keys.customers())
        while offset < total and scanned < self.max_scan and len(items) < limit:
            ids = await self.customers.list_ids(offset=offset, limit=BATCH)
            if not ids:
                break
            raws = await self.redis.mget([self.keys.profile(i) for i in ids])
            for raw in raws:
                offset += 1
                scanned += 1
                if raw is None:
                    continue
                c = Customer.model_validate_json(raw)
                if c.merged_into:
                    continue
                ok = match(c)
                if hasattr(ok, "__await__"):
                    ok = await ok
                if ok:
                    items.append(c)
                    if len(items) >= limit:
                        break
        more = offset < total and offset > start
        return SearchPage(items, str(offset) if more else None)
