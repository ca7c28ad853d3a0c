"""The consent ledger: every consent change of a customer, append-only, with its evidence.

Why a ledger and not a flag: the law asks us to prove who consented or revoked, how, and when
(COMPLIANCE.md "Evidence"). So each change is one Redis stream entry (XADD, never XDEL/XTRIM, and no
method here edits or removes one); the current state is *derived* by replaying the entries. A
customer deleted under CCPA keeps the stream as a do-not-contact record. Merged customers union their
ledgers: pass every id of the journey (`CustomerStore.sources`) and the entries are merged in time.

Derivation — how an entry maps onto the (channel, purpose) cells, and who wins:

* Entries replay in order of `at` (the time the customer acted), then stream order; at an equal
  `at` an opt-out sorts after an opt-in, so the stricter one wins. Per cell the latest entry wins.
* **Opt-out** covers
  - `scope="all"`, or any opt-out while the revoke-all switch is on: every channel and purpose
    (FCC revoke-all, postponed to 2027-01-31; the caller decides the switch, see tools/consent/);
  - `scope="channel"`: both purposes of its channel (a STOP keyword is channel-wide);
  - `scope=None` (the default): on sms and voice both purposes (a revocation of texts or calls
    stops all of them, CTIA: nothing after STOP until START); on email the purpose given, because
    CAN-SPAM unsubscribes cover commercial mail and not the customer's own transactional mail;
  - `scope="purpose"`: the purpose given ("stop sending me promotions").
  An opt-out of `transactional` always covers `marketing` of that channel too.
* **Opt-in** covers the purpose given, and a marketing opt-in covers transactional on its channel
  too; `scope="channel"` both purposes; `scope="all"` every cell. A START keyword is recorded as a
  transactional opt-in: it reopens the conversation, but marketing needs fresh (written) consent.
* No entry: `unknown`. The gate reads `unknown` as "replies to the customer's own inbound message
  are allowed, proactive messages are not" (marketing is never presumed).
* `written` marks prior express written consent (signed/agreed disclosure; evidence must hold the
  form text and URL). States such as OK/FL/MD require it for automated marketing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator
from redis.asyncio import Redis

from memory.keys import Keys

Channel = Literal["sms", "voice", "email"]
Purpose = Literal["marketing", "transactional"]
Action = Literal["opt_in", "opt_out"]
Source = Literal["keyword", "natural_language", "web_form", "staff", "carrier_error", "lead_form", "import", "system"]
Scope = Literal["purpose", "channel", "all"]
Status = Literal["opted_in", "opted_out", "unknown"]

CHANNELS: tuple[Channel, ...] = get_args(Channel)
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)
Cell = tuple[Channel, Purpose]


class ConsentEntry(BaseModel):
    """One consent change. `id` and `customer_id` are filled in when read back from the ledger."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    purpose: Purpose
    action: Action
    source: Source
    evidence: dict[str, Any]  # raw message text / form text + URL / staff id / carrier error code
    actor: str  # customer | agent | staff:<id> | system | twilio
    at: dt.datetime
    scope: Scope | None = None
    written: bool = False
    id: str | None = None
    customer_id: str | None = None

    @field_validator("at")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None or v.utcoffset() is None:
            raise ValueError("consent time must carry a UTC offset")
        return v

    @field_validator("evidence")
    @classmethod
    def _json(cls, v: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(v)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"evidence must be JSON: {exc}") from None
        return v

    def to_fields(self) -> dict[str, str]:
        fields = {
            "channel": self.channel,
            "purpose": self.purpose,
            "action": self.action,
            "source": self.source,
            "evidence": json.dumps(self.evidence, ensure_ascii=False, sort_keys=True),
            "actor": self.actor,
            "at": self.at.isoformat(),
            "written": "1" if self.written else "0",
        }
        if self.scope:
            fields["scope"] = self.scope
        return fields

    @classmethod
    def from_fields(cls, customer_id: str, entry_id: str, fields: dict[str, str]) -> ConsentEntry:
        data: dict[str, Any] = {k: v for k, v in fields.items() if k not in {"evidence", "written", "scope"}}
        data.update(
            evidence=json.loads(fields.get("evidence") or "{}"),
            written=fields.get("written") == "1",
            scope=fields.get("scope") or None,
            id=entry_id,
            customer_id=customer_id,
        )
        return cls.model_validate(data)

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _stream_order(entry_id: str | None) -> tuple[int, int]:
    if not entry_id:
        return (0, 0)
    ms, _, seq = entry_id.partition("-")
    return (int(ms), int(seq or 0))


def _replay_key(e: ConsentEntry) -> tuple[dt.datetime, int, tuple[int, int], str]:
    return (e.at, 1 if e.action == "opt_out" else 0, _stream_order(e.id), e.customer_id or "")


def cells_covered(entry: ConsentEntry, *, revoke_all: bool = False) -> list[Cell]:
    """The (channel, purpose) cells one entry decides — the precedence rules of the module doc."""
    c, p = entry.channel, entry.purpose
    everything = [(ch, pu) for ch in CHANNELS for pu in PURPOSES]
    if entry.scope == "all" or (revoke_all and entry.action == "opt_out"):
        return everything
    if entry.scope == "channel":
        return [(c, pu) for pu in PURPOSES]
    if entry.action == "opt_out":
        if entry.scope is None and c in ("sms", "voice"):
            return [(c, pu) for pu in PURPOSES]
        return [(c, "transactional"), (c, "marketing")] if p == "transactional" else [(c, p)]
    return [(c, "marketing"), (c, "transactional")] if p == "marketing" else [(c, p)]


class ConsentItem(BaseModel):
    """The derived state of one (channel, purpose) and the entry that decided it."""

    status: Status = "unknown"
    written: bool = False
    at: dt.datetime | None = None
    source: Source | None = None
    actor: str | None = None
    evidence: dict[str, Any] | None = None
    entry_id: str | None = None
    customer_id: str | None = None


class ConsentState(BaseModel):
    """Current consent per channel and purpose, derived from the ledger; never stored."""

    cells: dict[str, ConsentItem] = Field(default_factory=dict)  # "sms.marketing" -> item
    revoke_all: bool = False

    def item(self, channel: Channel, purpose: Purpose) -> ConsentItem:
        return self.cells.get(f"{channel}.{purpose}") or ConsentItem()

    def status(self, channel: Channel, purpose: Purpose) -> Status:
        return self.item(channel, purpose).status

    def blocked(self, channel: Channel, purpose: Purpose) -> bool:
        """True when nothing of this purpose may go out on this channel (an opt-out holds)."""
        if self.status(channel, "transactional") == "opted_out":
            return True
        return self.status(channel, purpose) == "opted_out"

    def latest_opt_out(self, channel: Channel) -> ConsentItem | None:
        """The most recent opt-out in force on a channel (what a confirmation text confirms)."""
        outs = [self.item(channel, p) for p in PURPOSES if self.status(channel, p) == "opted_out"]
        return max(outs, key=lambda i: i.at or dt.datetime.min.replace(tzinfo=dt.UTC), default=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON for the API: `{"sms": {"marketing": "opted_in", ...}, ..., "details": {...}}`."""
        out: dict[str, Any] = {ch: {p: self.status(ch, p) for p in PURPOSES} for ch in CHANNELS}
        out["details"] = {
            ch: {
                p: (self.item(ch, p).model_dump(mode="json") if self.status(ch, p) != "unknown" else None)
                for p in PURPOSES
            }
            for ch in CHANNELS
        }
        out["revoke_all"] = self.revoke_all
        return out


def derive_state(entries: Iterable[ConsentEntry], *, revoke_all: bool = False) -> ConsentState:
    """Replay entries (any order; they are sorted here) into the current state."""
    state = ConsentState(revoke_all=revoke_all)
    for e in sorted(entries, key=_replay_key):
        item = ConsentItem(
            status="opted_in" if e.action == "opt_in" else "opted_out",
            written=e.written and e.action == "opt_in",
            at=e.at,
            source=e.source,
            actor=e.actor,
            evidence=e.evidence,
            entry_id=e.id,
            customer_id=e.customer_id,
        )
        for ch, pu in cells_covered(e, revoke_all=revoke_all):
            state.cells[f"{ch}.{pu}"] = item
    return state


class ConsentLedger:
    """Append and read a customer's consent stream. There is deliberately no update or delete."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def append(self, customer_id: str, entry: ConsentEntry) -> str:
        """Add one entry; returns its stream id. The stream is never trimmed."""
        if not customer_id:
            raise ValueError("a consent entry needs a customer")
        fields: dict[Any, Any] = entry.to_fields()
        return str(await self.redis.xadd(self.keys.consent(customer_id), fields))

    async def entries(self, customer_ids: Sequence[str]) -> list[ConsentEntry]:
        """Every entry of these customers (a merged journey), in replay order."""
        pipe = self.redis.pipeline(transaction=False)
        ids = self.entries_on(pipe, customer_ids)
        return self.parse_entries(ids, await pipe.execute()) if ids else []

    def entries_on(self, pipe: Any, customer_ids: Sequence[str]) -> list[str]:
        """Queue the reads of `entries` on `pipe` (one command per distinct record); returns the
        records read, in order, for `parse_entries`."""
        ids = list(dict.fromkeys(i for i in customer_ids if i))
        for cid in ids:
            pipe.xrange(self.keys.consent(cid))
        return ids

    @staticmethod
    def parse_entries(ids: Sequence[str], results: Sequence[Any]) -> list[ConsentEntry]:
        """`entries_on`'s replies, given the records it returned."""
        out = [
            ConsentEntry.from_fields(cid, entry_id, fields)
            for cid, rows in zip(ids, results, strict=True)
            for entry_id, fields in rows
        ]
        return sorted(out, key=_replay_key)

    async def state(self, customer_ids: Sequence[str], *, revoke_all: bool = False) -> ConsentState:
        """The current consent of these customers; `revoke_all` is the FCC switch (off until 2027)."""
        return derive_state(await self.entries(customer_ids), revoke_all=revoke_all)
