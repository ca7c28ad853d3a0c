"""Normalising the ways a customer identifies themself: phone (E.164), email, web visitor id."""

from __future__ import annotations

import functools
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_VISITOR_RE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


class InvalidIdentity(ValueError):
    """An identifier that can't name anyone (a malformed phone, email or visitor id)."""


@functools.lru_cache(maxsize=4096)  # every turn of a texting or calling customer parses their number
def normalize_phone(raw: str, region: str = "US") -> str:
    """E.164, e.g. '(813) 555-0142' -> '+18135550142'. Raises InvalidIdentity."""
    try:
        num = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(num):
        raise InvalidIdentity(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """Lower-cased, syntax-checked email (no DNS lookup). Raises InvalidIdentity."""
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidIdentity(f"not an email address: {raw!r}") from exc
    return info.normalized.lower()


def normalize_visitor(raw: str) -> str:
    value = raw.strip()
    if not _VISITOR_RE.match(value):
        raise InvalidIdentity("a visitor id is 6-64 characters of letters, digits, '-' or '_'")
    return value


NORMALIZERS = {"phone": normalize_phone, "email": normalize_email, "visitor": normalize_visitor}


def normalize(kind: str, raw: str) -> str:
    try:
        return NORMALIZERS[kind](raw)
    except KeyError:
        raise InvalidIdentity(f"unknown identity kind {kind!r}") from None
