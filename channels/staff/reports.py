"""Reports for managers: where customers come from and what they turn into.

`leads_by_source`: customers per first-touch source (lead provider, UTM source/medium, click id or the
channel they first wrote on), with the appointments (not cancelled) and handoffs of those customers.
Merged records count once, under the surviving record's source.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

from memory.customers import Customer
from memory.keys import Keys

BATCH = 500
CHANNEL_LABELS = {"web_chat": "Web chat", "chat": "Web chat", "sms": "SMS", "voice": "Phone", "lead": "Lead form"}


def source_label(source: dict[str, Any] | None) -> str:
    """One readable label for a first-touch source record."""
    if not source:
        return "Unknown"
    if source.get("provider"):
        return str(source["provider"])
    if source.get("utm_source"):
        medium = source.get("utm_medium")
        return f"{source['utm_source']} / {medium}" if medium else str(source["utm_source"])
    if source.get("gclid"):
        return "Google Ads"
    if source.get("fbclid"):
        return "Facebook Ads"
    if source.get("msclkid"):
        return "Microsoft Ads"
    channel = str(source.get("channel") or "")
    return CHANNEL_LABELS.get(channel, channel.replace("_", " ").title() or "Unknown")


async def _all_customers(redis: Any, keys: Keys) -> dict[str, Customer]:
    out: dict[str, Customer] = {}
    offset = 0
    while True:
        ids = await redis.zrange(keys.customers(), offset, offset + BATCH - 1)
        if not ids:
            return out
        offset += len(ids)
        for cid, raw in zip(ids, await redis.mget([keys.profile(i) for i in ids]), strict=True):
            if raw is not None:
                out[cid] = Customer.model_validate_json(raw)


def _primary(cid: str, book: dict[str, Customer]) -> str:
    seen = {cid}
    c = book.get(cid)
    while c is not None and c.merged_into and c.merged_into not in seen:
        seen.add(c.merged_into)
        cid = c.merged_into
        c = book.get(cid)
    return cid


async def leads_by_source(
    redis: Any, keys: Keys, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> dict[str, Any]:
    book = await _all_customers(redis, keys)
    label_of: dict[str, str] = {}
    rows: dict[str, dict[str, int]] = defaultdict(lambda: {"customers": 0, "appointments": 0, "handoffs": 0})
    for cid, c in book.items():
        if c.merged_into:
            continue
        if (since and c.created_at < since) or (until and c.created_at >= until):
            continue
        label_of[cid] = source_label(c.source)
        rows[label_of[cid]]["customers"] += 1

    by_primary: dict[str, list[str]] = defaultdict(list)
    for cid in book:
        by_primary[_primary(cid, book)].append(cid)
    for primary, members in by_primary.items():
        if primary not in label_of:
            continue
        appt_ids: set[str] = set()
        for cid in members:
            appt_ids |= set(await redis.smembers(keys.customer_appointments(cid)))
        if appt_ids:
            raws = await redis.mget([keys.appointment(a) for a in sorted(appt_ids)])
            booked = sum(1 for r in raws if r and json.loads(r).get("status") != "cancelled")
            rows[label_of[primary]]["appointments"] += booked

    for status in ("open", "claimed", "closed"):
        hids = await redis.zrange(keys.handoffs(status), 0, -1)
        for i in range(0, len(hids), BATCH):
            chunk = hids[i : i + BATCH]
            for raw in await redis.mget([keys.handoff(h) for h in chunk]):
                if raw is None:
                    continue
                primary = _primary(json.loads(raw)["customer_id"], book)
                if primary in label_of:
                    rows[label_of[primary]]["handoffs"] += 1

    items: list[dict[str, Any]] = [{"source": k, **v} for k, v in rows.items()]
    items.sort(key=lambda r: (-int(r["customers"]), str(r["source"])))
    totals = {k: sum(r[k] for r in items) for k in ("customers", "appointments", "handoffs")}
    return {"items": items, "next_cursor": None, "totals": totals}


def bar_chart(items: list[dict[str, Any]], series: tuple[str, ...] = ("customers", "appointments", "handoffs")) -> dict:
    """Geometry for an inline SVG grouped horizontal bar chart (the template draws it)."""
    label_w, bar_h, gap, group_gap, width = 170, 14, 3, 16, 640
    peak = max([r[s] for r in items for s in series] + [1])
    rows = []
    y = 28
    for r in items:
        bars = []
        for j, s in enumerate(series):
            w = round((width - label_w - 60) * r[s] / peak, 1)
            bars.append(
                {
                    "series": s,
                    "x": label_w,
                    "y": y + j * (bar_h + gap),
                    "w": max(w, 1.5),
                    "h": bar_h,
                    "value": r[s],
                    "tx": label_w + max(w, 1.5) + 6,
                    "ty": y + j * (bar_h + gap) + bar_h - 3,
                }
            )
        group_h = len(series) * (bar_h + gap)
        rows.append({"label": r["source"], "ly": y + group_h / 2 + 4, "bars": bars})
        y += group_h + group_gap
    return {"width": width, "height": max(y, 60), "rows": rows, "series": series, "label_w": label_w}
