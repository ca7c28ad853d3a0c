"""The staff audit log: every read of customer data and every action, append-only.

One Redis stream per dealer (`dos:{d}:staff:audit`), XADD only — nothing here trims or deletes it.
An entry says who (`staff:<id>`, role, and whether the bootstrap admin token was used), what
(`action`, e.g. `customer.read`, `handoff.claim`), which customer, when, and the request path.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from channels.staff.auth import Principal
from memory.keys import Keys

MAX_SCAN = 5000  # entries examined per filtered page


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def audit_key(keys: Keys) -> str:
    return keys.dealer_key("staff", "audit")


class AuditLog:
    def __init__(self, redis: Any, keys: Keys, *, clock: Any = _utcnow) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock

    async def record(
        self,
        who: Principal | None,
        action: str,
        *,
        path: str,
        method: str = "GET",
        customer_id: str | None = None,
        customer_ids: list[str] | None = None,
        detail: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> str:
        fields = {
            "at": self.clock().isoformat(),
            "actor": actor or (who.actor if who else "anonymous"),
            "role": who.role if who else "",
            "via": who.via if who else "",
            "action": action,
            "customer_id": customer_id or "",
            "customer_ids": ",".join((customer_ids or [])[:200]),
            "path": path[:500],
            "method": method,
            "detail": json.dumps(detail or {}, default=str, ensure_ascii=False)[:4000],
        }
        return str(await self.redis.xadd(audit_key(self.keys), fields))

    async def read(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        customer_id: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first. `cursor` is the id of the last entry of the previous page."""
        out: list[dict[str, Any]] = []
        hi = f"({cursor}" if cursor else "+"
        scanned = 0
        last_id: str | None = None
        while len(out) < limit and scanned < MAX_SCAN:
            rows = await self.redis.xrevrange(audit_key(self.keys), max=hi, min="-", count=200)
            if not rows:
                last_id = None
                break
            for entry_id, fields in rows:
                scanned += 1
                last_id = entry_id
                if actor and fields.get("actor") not in (actor, f"staff:{actor}"):
                    continue
                if action and not fields.get("action", "").startswith(action):
                    continue
                if customer_id and customer_id not in (
                    fields.get("customer_id"),
                    *fields.get("customer_ids", "").split(","),
                ):
                    continue
                out.append(_entry(entry_id, fields))
                if len(out) >= limit:
                    break
            hi = f"({last_id}"
            if len(rows) < 200 and len(out) < limit:
                last_id = None
                break
        return out, last_id


def _entry(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    return {
        "id": entry_id,
        "at": fields.get("at"),
        "actor": fields.get("actor"),
        "role": fields.get("role"),
        "via": fields.get("via"),
        "action": fields.get("action"),
        "customer_id": fields.get("customer_id") or None,
        "customer_ids": [c for c in fields.get("customer_ids", "").split(",") if c],
        "path": fields.get("path"),
        "method": fields.get("method"),
        "detail": json.loads(fields.get("detail") or "{}"),
    }
