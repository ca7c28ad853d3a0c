"""Text and value matching for expectations: phrases, regexes, money, loosely typed profile fields.

Phrases are case-insensitive and tolerant of whitespace, curly quotes and dashes, because a reply's
wording is free; what must (not) be said is the point, not its typography.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from evals.scenario import AnyOf, Match, Regex

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    return " ".join(text.split())


def describe(m: Match) -> str:
    if isinstance(m, Regex):
        return f"/{m.regex}/"
    if isinstance(m, AnyOf):
        return "any of (" + ", ".join(describe(x) for x in m.any) + ")"
    return repr(m)


def find(m: Match, text: str) -> str | None:
    """The snippet of `text` that `m` matches, or None."""
    if isinstance(m, Regex):
        found = re.search(m.regex, text, re.IGNORECASE | re.DOTALL)
        return found.group(0) if found else None
    if isinstance(m, AnyOf):
        for option in m.any:
            hit = find(option, text)
            if hit is not None:
                return hit
        return None
    hay, needle = norm(text), norm(m)
    i = hay.find(needle)
    return None if i < 0 else hay[max(0, i - 20) : i + len(needle) + 20]


# --- money --------------------------------------------------------------------------------------

_DOLLARS = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?:\s?(k|K)\b)?")
_SPOKEN = re.compile(r"\b(\d{1,3}(?:,\d{3})+|\d+) dollars(?: and (\d{1,2}) cents)?", re.I)
_CUSTOMER_NUMBER = re.compile(r"\$?\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\s?(k\b|grand\b|thousand\b)?", re.I)


def _cents(whole: str, frac: str | None, mult: str | None) -> int:
    value = int(whole.replace(",", "")) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
    return value * 1000 if mult else value


def money_in_reply(text: str) -> list[tuple[str, int]]:
    """Dollar amounts an assistant wrote ("$31,995", "$69.95", "$35k", "31,995 dollars"), in cents."""
    out = [(m.group(0).strip(), _cents(m.group(1), m.group(2), m.group(3))) for m in _DOLLARS.finditer(text)]
    out += [(m.group(0), _cents(m.group(1), m.group(2), None)) for m in _SPOKEN.finditer(text)]
    return out


def numbers_said(text: str) -> set[int]:
    """Every amount a customer typed, in cents, however they wrote it ("35k", "$1", "450 a month")."""
    return {_cents(m.group(1), m.group(2), m.group(3)) for m in _CUSTOMER_NUMBER.finditer(text)}


def dollars(cents: int) -> str:
    return f"${cents // 100:,}" + (f".{cents % 100:02d}" if cents % 100 else "")


# --- loose values ------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^\$?\s*(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(k|grand|thousand)?\b", re.I)


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _NUMBER.match(value.strip())
        if m:
            n = float(m.group(1).replace(",", ""))
            return n * 1000 if m.group(2) else n
    return None


def _flatten(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _flatten(v)
    elif isinstance(value, list | tuple | set):
        for v in value:
            yield from _flatten(v)
    else:
        yield value


def value_matches(expected: Any, actual: Any) -> bool:
    """Numbers equal (1% slack, "35k" == 35000); strings: the expected text inside the actual one."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and dict_matches(expected, actual)[0]
    e_num, a_num = as_number(expected), as_number(actual)
    if e_num is not None and a_num is not None:
        return abs(e_num - a_num) <= max(0.01 * abs(e_num), 0.5)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected == actual
    if expected is None or actual is None:
        return expected is actual
    return _squash(str(expected)) in _squash(str(actual))


def _squash(text: str) -> str:
    """Letters and digits only: "F-150" == "f150", "CR-V" == "crv"."""
    return re.sub(r"[^a-z0-9]", "", norm(text))


def dict_matches(expected: dict[str, Any], actual: dict[str, Any] | None) -> tuple[bool, list[str]]:
    """Each expected value must be under its key, or — brains name keys differently — anywhere in
    `actual`. Returns (ok, what is missing)."""
    if not actual:
        return False, [f"{k}={v!r}" for k, v in expected.items()]
    missing = []
    values = list(_flatten(actual))
    for key, want in expected.items():
        if key in actual and value_matches(want, actual[key]):
            continue
        if not isinstance(want, dict) and any(value_matches(want, v) for v in values):
            continue
        missing.append(f"{key}={want!r}")
    return not missing, missing
