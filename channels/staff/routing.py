"""Who should take a handoff: by team and by who is on shift now, least-loaded first.

Teams are tried in tiers (`DEFAULT_POOLS`, overridable with a `routing:` mapping in the dealer
config, e.g. `routing: {sales: [[bdc, sales]], service: [[service], [bdc]]}`). Within the first tier
that has someone on shift, the pick is the member with the fewest active handoffs (claimed by them or
suggested to them); ties go to agents before managers, then to whoever was routed to least recently,
then config order — so an idle team shares work evenly without being a blind round robin. With nobody
on shift, the handoff waits for the team (the result is the team name).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tools.dealer import WEEKDAYS, DealerConfig, StaffMember
from tools.handoff import Handoff

# handoff team -> tiers of staff teams, tried in order
DEFAULT_POOLS: dict[str, list[list[str]]] = {
    "sales": [["bdc", "sales"]],
    "service": [["service"], ["bdc"]],
    "finance": [["finance"], ["sales", "bdc"]],
}
ROLE_PREFERENCE = {"agent": 0, "manager": 1, "admin": 2}


def _ranges(spec: str | None) -> list[tuple[dt.time, dt.time]]:
    """'09:00-17:00' or '09:00-12:00, 13:00-18:00'; an end before its start runs past midnight."""
    if spec is None or not str(spec).strip() or str(spec).strip().lower() in {"off", "closed", "none"}:
        return []
    out = []
    for part in str(spec).split(","):
        start, _, end = part.strip().partition("-")
        out.append((dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())))
    return out


def on_shift(member: StaffMember, at: dt.datetime, dealer: DealerConfig) -> bool:
    """Is `member` working at `at` (their shifts are in the dealer's local time)?"""
    local = at.astimezone(dealer.tz)
    t, day = local.time(), local.date()
    for start, end in _ranges(member.shifts.get(WEEKDAYS[day.weekday()])):
        if start < end and start <= t < end:
            return True
        if end <= start and t >= start:  # overnight shift, evening part
            return True
    yesterday = WEEKDAYS[(day - dt.timedelta(days=1)).weekday()]
    return any(end <= start and t < end for start, end in _ranges(member.shifts.get(yesterday)))


def pools(dealer: DealerConfig, team: str) -> list[list[str]]:
    custom = (dealer.model_extra or {}).get("routing") or {}
    tiers = custom.get(team) or DEFAULT_POOLS.get(team) or [[team]]
    return [[t] if isinstance(t, str) else list(t) for t in tiers]


@dataclass(frozen=True)
class Suggestion:
    assignee: str | None  # a staff id, or None when nobody of the team is on shift
    team: str
    reason: str
    candidates: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        return self.assignee or self.team

    def to_api(self) -> dict[str, Any]:
        return {
            "assignee": self.assignee,
            "team": self.team,
            "reason": self.reason,
            "candidates": list(self.candidates),
        }


def suggest(
    handoff: Handoff,
    dealer: DealerConfig,
    now: dt.datetime,
    *,
    load: Mapping[str, int] | None = None,
    last_routed: Mapping[str, float] | None = None,
    staff: Sequence[StaffMember] | None = None,
) -> Suggestion:
    load = load or {}
    last_routed = last_routed or {}
    members = list(dealer.staff if staff is None else staff)
    order = {m.id: i for i, m in enumerate(members)}
    for tier in pools(dealer, handoff.team):
        working = [m for m in members if m.team in tier and on_shift(m, now, dealer)]
        if not working:
            continue
        working.sort(
            key=lambda m: (
                load.get(m.id, 0),
                ROLE_PREFERENCE.get(m.role, 3),
                last_routed.get(m.id, 0.0),
                order[m.id],
            )
        )
        best = working[0]
        why = f"on shift in {best.team}, {load.get(best.id, 0)} active handoff(s)"
        return Suggestion(best.id, handoff.team, why, tuple(m.id for m in working))
    return Suggestion(None, handoff.team, f"nobody of the {handoff.team} team is on shift")


def route(
    handoff: Handoff,
    dealer: DealerConfig,
    now: dt.datetime,
    *,
    load: Mapping[str, int] | None = None,
    last_routed: Mapping[str, float] | None = None,
) -> str:
    """The staff id to offer this handoff to, or the team name when nobody of it is on shift."""
    return suggest(handoff, dealer, now, load=load, last_routed=last_routed).target
