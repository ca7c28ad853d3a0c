"""Where the recipient is: every time zone they may be in and every state whose rules apply.

Read from the phone number (all zones of its area code), the customer's address state and known
zone; when nothing is known, the dealer's own zone and state. The gate applies the strictest
reading.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as pn_timezone

from tools.consent.rules import ConsentRules
from tools.dealer import DealerConfig


@dataclasses.dataclass(frozen=True)
class Recipient:
    """Every zone the recipient may be in and every state whose rules apply (the strict reading)."""

    zones: tuple[str, ...]
    states: tuple[str, ...]  # codes from the rules table only
    basis: str  # phone | address | dealer


@lru_cache(maxsize=1024)
def _npa_zones(npa: str) -> frozenset[str]:
    """Every zone phonenumbers knows for any exchange of a NANP area code (850 -> CT and ET)."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    prefix = "1" + npa
    return frozenset(z for key, zones in TIMEZONE_DATA.items() if key.startswith(prefix) for z in zones)


@lru_cache(maxsize=1)
def _nanp_wide() -> frozenset[str]:
    """What phonenumbers answers for a NANP number it cannot place (toll-free, non-geographic)."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    return frozenset(TIMEZONE_DATA.get("1", ()))


def _phone_geography(to_phone: str | None) -> tuple[set[str], str | None]:
    """(zones, NANP area code) for a phone; no zones when the number says nothing about place."""
    if not to_phone:
        return set(), None
    try:
        num = phonenumbers.parse(to_phone, "US")
    except phonenumbers.NumberParseException:
        return set(), None
    if not phonenumbers.is_valid_number(num):
        return set(), None
    zones = set(pn_timezone.time_zones_for_number(num)) - {"Etc/Unknown"}
    if num.country_code != 1:
        return (zones if len(zones) <= 4 else set()), None
    npa = str(num.national_number)[:3]
    if not zones or zones >= _nanp_wide():
        return set(), npa
    return zones | _npa_zones(npa), npa


def locate_recipient(
    rules: ConsentRules,
    dealer: DealerConfig,
    *,
    to_phone: str | None,
    recipient_state: str | None = None,
    recipient_timezone: str | None = None,
) -> Recipient:
    """Zones from the phone (every zone of its area code), the customer's known zone, and the
    address state's zones when the phone doesn't already place them there; states from the area
    code table and the address. Nothing known: the dealer's own zone and state."""
    zones, npa = _phone_geography(to_phone)
    states: list[str] = []
    phone_state = rules.area_code_states.get(npa) if npa else None
    if phone_state:
        states.append(phone_state)
    address_state = (recipient_state or "").upper() or None
    if address_state and address_state not in states:
        states.append(address_state)
        rule = rules.states.get(address_state)
        if rule:
            zones |= set(rule.timezones)
    if recipient_timezone:
        try:
            ZoneInfo(recipient_timezone)
            zones.add(recipient_timezone)
        except (KeyError, ValueError):
            pass
    basis = "phone" if to_phone and zones else ("address" if zones else "dealer")
    if not zones:
        zones = {dealer.timezone}
    if not states and basis == "dealer":
        states.append(dealer.state.upper())
    return Recipient(zones=tuple(sorted(zones)), states=tuple(s for s in states if s in rules.states), basis=basis)
