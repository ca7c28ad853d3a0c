"""Customer wording ("tmrw after 3", "12/3 at 4:30", "this weekend") → a time window at the dealership.

Customers rarely name an exact instant; they name a day, a part of a day, or a bound. We turn that into
a window in the dealer's timezone that the booking tools search for real slots, and an exact time only
when the customer gave one. `dateparser` handles little of this well (see NOTES.md), so the common
shapes are parsed here and dateparser is only the fallback for long-tail dates ("a week from friday").

Conventions (the agent confirms the resolved date with the customer, so they only need to be sensible):
- a bare weekday ("thursday", "on thu") is its next occurrence after today; "this thursday" may be today;
- "next thursday" is the Thursday of next calendar week (weeks run Monday–Sunday): said on Tuesday
  Nov 17 it is Nov 26, said on Friday Nov 20 it is also Nov 26; "next weekend" likewise is the weekend of
  next week;
- a bare hour ("at 4:30") takes am/pm from the business hours (the reading when the store is open),
  then from habit (7–11 am, 1–6 pm); a time or day-part that has already passed today rolls to tomorrow;
- morning runs from opening to noon, afternoon 12–17, evening 17–close, "around 2" is 13:30–14:30.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tools.dealer import DealerConfig

HoursFn = Callable[[dt.date], Sequence[tuple[dt.time, dt.time]]]
"""Opening ranges of one local day (empty when closed, holidays included)."""

DEFAULT_OPEN = 8 * 60  # minutes after midnight, used when no opening hours are known
DEFAULT_CLOSE = 21 * 60
DAY_END = 24 * 60


@dataclass(frozen=True)
class When:
    """A window to look for slots in. `start`/`end` are aware datetimes in the dealer's timezone.

    `daily` narrows a multi-day window to a time of day ("next week, mornings"); `earliest` says the
    customer wants the first opening ("asap"), so results should not be spread across days.
    """

    start: dt.datetime
    end: dt.datetime
    exact: bool
    description: str
    daily: tuple[dt.time, dt.time] | None = None
    earliest: bool = False


def dealer_hours(dealer: DealerConfig, department: str) -> HoursFn:
    """The `hours` argument of `parse_when` for one department (holidays count as closed)."""
    dept = dealer.department(department)

    def hours(day: dt.date) -> Sequence[tuple[dt.time, dt.time]]:
        if dealer.holiday_on(day, department):
            return ()
        return dept.open_hours(day).ranges

    return hours


# --- normalisation -----------------------------------------------------------------------------

_SLANG: dict[str, str] = {
    "tomorrow": r"tmrw|tmrow|tmr|tmw|tmro|tmorrow|tomorow|tommorow|tommorrow|tomorrw|tomoro|tomorro|"
    r"2moro|2morrow|2morow|2mrw|2mro",
    "tonight": r"tonite|2nite|tonigh",
    "today": r"2day|tday|todya",
    "monday": r"mon|mondy|monady",
    "tuesday": r"tues|tue|tuesdy|teusday|tusday",
    "wednesday": r"weds|wed|wednes|wensday|wendsday|wednsday|wedensday|wednesay",
    "thursday": r"thurs|thur|thu|thrs|thursdy|thrusday|thurday|thursady",
    "friday": r"fri|fridy|firday|friady",
    "saturday": r"sat|satur|saterday|satuday|saturdy",
    "sunday": r"sun|sundy|sundya",
    "next": r"nxt|nex",
    "weekend": r"wknd|wkend|wk end|week end|weeknd",
    "week": r"wk",
    "afternoon": r"arvo|aft|afternon|aftn|afternooon|afternoons",
    "morning": r"mornin|mornng|morn|morming|mornings|moring",
    "evening": r"eve|evenin|evng|evenings|evning",
    "noon": r"midday|mid day|12 noon|lunchtime noon",
    "hours": r"hrs|hr|hour",
    "minutes": r"mins|min|minute",
    "before": r"b4|bfore|until|till|til|no later than|earlier than",
    "after": r"aftr|afer|later than|anytime after|any time after",
    "between": r"btwn|betwen",
    "around": r"abt|bout|approx|approximately|roughly|about|round|close to",
    "asap": r"a\.s\.a\.p|as soon as possible|soonest|earliest|first available|next available|"
    r"first opening|next opening|earliest available|right away|right now|whenever|any ?time|"
    r"no preference",
}
_SLANG_RE = re.compile(
    r"\b(" + "|".join(f"(?P<{k}>{v})" for k, v in _SLANG.items()) + r")\b",
)
_WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "couple": 2,
    "a couple": 2,
    "a couple of": 2,
    "couple of": 2,
    "few": 3,
    "a few": 3,
}


def normalise(text: str) -> str:
    """Lower-case, expand slang and typos, and glue "10 a.m." into "10am"."""
    s = text.lower().strip()
    s = re.sub(r"[\u2010-\u2015]", "-", s)
    s = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", s)
    s = re.sub(r"o'?clock", " ", s)
    s = s.replace("@", " at ").replace("’", "'")
    s = re.sub(r"(\d)\.(\d\d)\b", r"\1:\2", s)  # 10.30 -> 10:30
    s = re.sub(r"'s\b", "", s)
    s = re.sub(r"[,;!?()\"]|\.(?!\d)", " ", s)
    s = re.sub(r"\s+", " ", s)
    s = _SLANG_RE.sub(lambda m: m.lastgroup or m.group(0), s)
    s = re.sub(r"\bafter lunch\b", "after 1pm", s)
    s = re.sub(r"\bbefore lunch\b", "before noon", s)
    s = re.sub(r"\b(\d{1,2}(?::\d\d)?)\s?(am|pm|a|p)\b", lambda m: f"{m.group(1)}{m.group(2)[0]}m", s)
    s = re.sub(r"(?<![\d:])\bam\b", "morning", s)
    s = re.sub(r"(?<![\d:])\bpm\b", "afternoon", s)
    return re.sub(r"\s+", " ", s).strip()


# --- the pieces of a phrase ---------------------------------------------------------------------

_TIME = r"(?:\d{1,2}(?::\d\d)?(?:am|pm)?|noon)"
_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
_MONTH += r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WORDNUM = r"\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|(?:a )?couple(?: of)?|(?:a )?few"


@dataclass
class _Clock:
    """A time of day as the customer said it, before am/pm is settled."""

    hour: int
    minute: int
    meridiem: str | None  # "am" | "pm" | None

    @classmethod
    def parse(cls, token: str) -> _Clock | None:
        if token == "noon":
            return cls(12, 0, "pm")
        m = re.fullmatch(r"(\d{1,2})(?::(\d\d))?(am|pm)?", token)
        if not m:
            return None
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        if hour > 23 or minute > 59 or (m.group(3) and not 1 <= hour <= 12):
            return None
        return cls(hour, minute, m.group(3))


@dataclass
class _Parts:
    """What was found in the phrase; resolved into a When afterwards."""

    days: tuple[dt.date, dt.date] | None = None  # inclusive local dates
    explicit_day: bool = False  # the customer named the day, so don't roll it forward
    at: _Clock | None = None  # an exact time
    part: str | None = None  # morning / afternoon / evening / lunch / first / early morning ...
    after: _Clock | None = None
    before: _Clock | None = None
    around: _Clock | None = None
    exact_instant: dt.datetime | None = None  # "in 2 hours" (aware)
    earliest: bool = False
    found: bool = False


class _Scanner:
    """Consumes recognised pieces from the normalised text so that they are not read twice."""

    def __init__(self, text: str) -> None:
        self.text = f" {text} "

    def take(self, pattern: str) -> re.Match[str] | None:
        m = re.search(pattern, self.text)
        if m:
            self.text = self.text[: m.start()] + " " + self.text[m.end() :]
        return m


def _add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    return day.replace(year=day.year + y, month=m + 1, day=1)


def _future_date(today: dt.date, month: int, day: int, year: int | None) -> dt.date | None:
    """A month/day without a year is the next one that is not in the past."""
    try:
        if year is not None:
            return dt.date(year + 2000 if year < 100 else year, month, day)
        candidate = dt.date(today.year, month, day)
        return candidate if candidate >= today else dt.date(today.year + 1, month, day)
    except ValueError:
        return None


def _scan_days(sc: _Scanner, p: _Parts, today: dt.date) -> None:
    week_start = today - dt.timedelta(days=today.weekday())

    def single(day: dt.date) -> None:
        p.days, p.explicit_day, p.found = (day, day), True, True

    if m := sc.take(rf"\bin (?P<n>{_WORDNUM}) (?P<u>days?|weeks?)\b|\b(?P<n2>{_WORDNUM}) (?P<u2>days?|weeks?) from now\b"):
        n = _number(m.group("n") or m.group("n2"))
        unit = m.group("u") or m.group("u2")
        single(today + dt.timedelta(days=n * (7 if unit.startswith("week") else 1)))
    if m := sc.take(r"\b(?:the )?day after tomorrow\b"):
        single(today + dt.timedelta(days=2))
    if p.days is None and (m := sc.take(r"\b(?P<mo>1[0-2]|0?[1-9])/(?P<d>3[01]|[12]\d|0?[1-9])(?:/(?P<y>\d{4}|\d\d))?\b")):
        y = m.group("y")
        if d := _future_date(today, int(m.group("mo")), int(m.group("d")), int(y) if y else None):
            single(d)
    if p.days is None and (
        m := sc.take(rf"\b{_MONTH} (?:the )?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?: (?P<y>\d{{4}}))?\b")
        or sc.take(rf"\b(?:the )?(?P<d>\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{_MONTH}(?: (?P<y>\d{{4}}))?\b")
    ):
        y = m.group("y")
        if d := _future_date(today, _MONTHS[m.group("mon")[:3]], int(m.group("d")), int(y) if y else None):
            single(d)
    if p.days is None and (m := sc.take(r"\b(?P<d>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)\b")):
        dom = int(m.group("d"))
        for months in range(3):  # "the 31st" may skip a short month
            first = _add_months(today, months)
            try:
                candidate = first.replace(day=dom)
            except ValueError:
                continue
            if candidate >= today:
                single(candidate)
                break
    if p.days is None and (m := sc.take(r"\b(?P<mod>this |next |the |coming |this coming |upcoming )?weekend\b")):
        sat = week_start + dt.timedelta(days=5)
        if (m.group("mod") or "").strip() == "next":
            sat += dt.timedelta(days=7)
        p.days, p.explicit_day, p.found = (max(sat, today), sat + dt.timedelta(days=1)), True, True
    if p.days is None and (m := sc.take(r"\bend of (?:the |this )?week\b")):
        thu = week_start + dt.timedelta(days=3)
        p.days, p.explicit_day, p.found = (max(thu, today), week_start + dt.timedelta(days=5)), True, True
    if p.days is None and (
        m := sc.take(r"\b(?:(?P<mod>this|next|the following|the week after next)|(?:later|sometime|any ?time) this) week\b")
        or sc.take(r"\bweek after next\b")
    ):
        mod = m.groupdict().get("mod")
        if mod == "next":
            offset = 7
        elif mod in ("the following", "the week after next") or m.group(0).startswith("week after"):
            offset = 14
        else:
            offset = 0
        monday = week_start + dt.timedelta(days=offset)
        p.days, p.explicit_day, p.found = (max(monday, today), monday + dt.timedelta(days=6)), True, True
    if p.days is None and (
        m := sc.take(rf"\b(?:(?P<mod>this coming|this|next|coming|upcoming|on) )?(?P<wd>{'|'.join(_WEEKDAYS)})s?\b")
    ):
        wd = _WEEKDAYS.index(m.group("wd"))
        mod = m.group("mod")
        if mod == "next":
            day = week_start + dt.timedelta(days=7 + wd)
        else:
            ahead = (wd - today.weekday()) % 7
            if ahead == 0 and mod not in ("this",):
                ahead = 7
            day = today + dt.timedelta(days=ahead)
        single(day)
    if m := sc.take(r"\btonight\b"):
        if p.days is None:
            single(today)
            p.explicit_day = False  # "tonight" when the evening is over rolls to tomorrow evening
        p.part = p.part or "evening"
    if p.days is None and sc.take(r"\btoday\b"):
        single(today)
    if p.days is None and sc.take(r"\btomorrow\b"):
        single(today + dt.timedelta(days=1))


def _number(word: str) -> int:
    word = word.strip()
    return int(word) if word.isdigit() else _WORD_NUMBERS.get(word, 1)


def _scan_times(sc: _Scanner, p: _Parts) -> None:
    if m := sc.take(rf"\b(?:between|from) (?P<a>{_TIME}) ?(?:and|to|-|before) ?(?P<b>{_TIME})\b") or sc.take(
        rf"\b(?P<a>{_TIME}) ?(?:-|to) ?(?P<b>{_TIME})\b"
    ):
        p.after, p.before = _Clock.parse(m.group("a")), _Clock.parse(m.group("b"))
        p.found = True
    if m := sc.take(rf"\b(?:after|from|past) (?P<a>{_TIME})\b"):
        p.after, p.found = _Clock.parse(m.group("a")), True
    if m := sc.take(rf"\b(?:before|by) (?P<b>{_TIME})\b"):
        p.before, p.found = _Clock.parse(m.group("b")), True
    if m := sc.take(rf"\b(?:at )?around (?:at )?(?P<a>{_TIME})\b") or sc.take(rf"\b(?P<a>{_TIME}) ?-?ish\b"):
        p.around, p.found = _Clock.parse(m.group("a")), True
    if m := sc.take(r"\bfirst thing\b"):
        p.part, p.found = "first", True
    if m := sc.take(r"\b(?:(?P<mod>early|late|mid) ?-?)?(?P<part>morning|afternoon|evening|night|lunch ?time|lunch)\b"):
        part = m.group("part").replace(" ", "")
        part = {"night": "evening", "lunchtime": "lunch"}.get(part, part)
        if p.part != "first":
            p.part = f"{m.group('mod')} {part}" if m.group("mod") else part
        p.found = True
    if m := sc.take(rf"\bat (?P<t>{_TIME})\b") or sc.take(r"\b(?P<t>\d{1,2}(?::\d\d)?(?:am|pm)|\d{1,2}:\d\d|noon)\b"):
        p.at, p.found = _Clock.parse(m.group("t")), True
    elif p.days is not None and (m := sc.take(r"(?<![\d/:])\b(?P<t>[1-9]|1[0-2])\b(?![\d/:])")):
        p.at, p.found = _Clock.parse(m.group("t")), True  # "tomorrow 10"


def _scan_relative(sc: _Scanner, p: _Parts, now: dt.datetime) -> None:
    if m := sc.take(rf"\bin (?:(?P<half>half an hour|a half hour|half hour)|(?P<n>{_WORDNUM}) (?P<u>hours|minutes))\b"):
        minutes = 30 if m.group("half") else _number(m.group("n")) * (60 if m.group("u") == "hours" else 1)
        p.exact_instant, p.found = now + dt.timedelta(minutes=minutes), True
    if sc.take(r"\basap\b"):
        p.earliest, p.found = True, True


# --- resolution -----------------------------------------------------------------------------------


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _ranges(hours: HoursFn | None, day: dt.date) -> list[tuple[int, int]]:
    if hours is None:
        return []
    return [(_minutes(s), _minutes(e) if e != dt.time(0) else DAY_END) for s, e in hours(day)]


def _open_at(hours: HoursFn | None, days: Sequence[dt.date], minute: int) -> bool:
    return any(s <= minute < e for d in days for s, e in _ranges(hours, d))


def _resolve_clock(
    c: _Clock, days: Sequence[dt.date], hours: HoursFn | None, hint: str | None, *, before: bool = False
) -> int:
    """Minutes after midnight; a bare hour takes the reading when the store is open."""
    h = c.hour % 12 if c.meridiem else c.hour
    if c.meridiem == "pm" or (c.meridiem is None and hint == "pm" and 1 <= c.hour <= 11):
        h += 12
    if c.meridiem or hint or c.hour >= 12 or c.hour == 0:
        return h * 60 + c.minute
    am, pm = h * 60 + c.minute, (h + 12) * 60 + c.minute
    probe = 1 if before else 0
    open_am, open_pm = _open_at(hours, days, am - probe), _open_at(hours, days, pm - probe)
    if open_am != open_pm:
        return am if open_am else pm
    return am if 7 <= c.hour <= 11 else pm


def _day_bounds(hours: HoursFn | None, days: Sequence[dt.date]) -> tuple[int, int]:
    spans = [r for d in days for r in _ranges(hours, d)]
    if hours is None:
        return DEFAULT_OPEN, DEFAULT_CLOSE
    if not spans:
        return 0, DAY_END
    return min(s for s, _ in spans), max(e for _, e in spans)


def _part_window(part: str, opens: int, closes: int) -> tuple[int, int]:
    mod, _, name = part.rpartition(" ")
    base = {
        "morning": (min(opens, 12 * 60) if opens < 12 * 60 else 8 * 60, 12 * 60),
        "afternoon": (12 * 60, 17 * 60),
        "evening": (17 * 60, max(closes, 17 * 60 + 60) if closes > 17 * 60 else DEFAULT_CLOSE),
        "lunch": (11 * 60 + 30, 13 * 60 + 30),
        "first": (opens, opens + 60),
    }[name]
    a, b = base
    if mod == "early":
        b = a + (b - a) // 2 if name != "morning" else 10 * 60
    elif mod == "late":
        a = b - (b - a) // 2 if name != "morning" else 10 * 60
    elif mod == "mid":
        a, b = a + (b - a) // 4, b - (b - a) // 4
    return a, b


def _hint(part: str | None) -> str | None:
    if part is None:
        return None
    return "am" if part.endswith(("morning", "first")) else "pm" if not part.endswith("lunch") else None


def _window(p: _Parts, days: Sequence[dt.date], hours: HoursFn | None, slot: int) -> tuple[int, int, bool]:
    """(start, end, exact) in minutes after midnight, before it is placed on a date."""
    opens, closes = _day_bounds(hours, days)
    hint = _hint(p.part)
    if p.at is not None:
        t = _resolve_clock(p.at, days, hours, hint)
        return t, t + slot, True
    a, b = (opens, closes) if hours is not None else (0, DAY_END)
    if p.part:
        a, b = _part_window(p.part, opens, closes)
    if p.around is not None:
        t = _resolve_clock(p.around, days, hours, hint)
        return t - 30, t + 30, False
    if p.before is not None:
        b_new = _resolve_clock(p.before, days, hours, hint, before=True)
        a = min(a, b_new - slot) if p.after is None and not p.part else a
        b = b_new
    if p.after is not None:
        a_clock = p.after
        if a_clock.meridiem is None and p.before is not None and p.before.meridiem is not None:
            same = _Clock(a_clock.hour, a_clock.minute, p.before.meridiem)
            if _resolve_clock(same, days, hours, None) < b:
                a_clock = same
        a = _resolve_clock(a_clock, days, hours, hint)
        if p.before is None and not p.part:
            b = max(closes if hours is not None else DAY_END, a + slot)
        elif a >= b:
            b = max(closes, a + slot)
    if hours is not None and p.after is None and p.before is None and not p.part:
        a, b = opens, closes
    return a, b, False


def _clip(a: int, b: int, hours: HoursFn | None, day: dt.date) -> tuple[int, int]:
    """Narrow a one-day window to opening hours, unless that leaves nothing (then keep what was asked)."""
    spans = _ranges(hours, day)
    if not spans:
        return a, b
    lo, hi = max(a, min(s for s, _ in spans)), min(b, max(e for _, e in spans))
    return (lo, hi) if lo < hi else (a, b)


def _at(day: dt.date, minute: int, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz) + dt.timedelta(minutes=minute) if minute < 0 else (
        dt.datetime.combine(day + dt.timedelta(days=minute // DAY_END), dt.time(0))
        + dt.timedelta(minutes=minute % DAY_END)
    ).replace(tzinfo=tz)


def _clock_label(d: dt.datetime) -> str:
    hour = d.hour % 12 or 12
    return f"{hour}:{d.minute:02d} {'AM' if d.hour < 12 else 'PM'}"


def _day_label(d: dt.date) -> str:
    return f"{d:%a %b} {d.day}"


def _describe(start: dt.datetime, end: dt.datetime, exact: bool, daily: tuple[dt.time, dt.time] | None) -> str:
    if exact:
        return f"{_day_label(start.date())}, {_clock_label(start)}"
    last = (end - dt.timedelta(microseconds=1)).date()
    if last == start.date():
        return f"{_day_label(start.date())}, {_clock_label(start)}–{_clock_label(end)}"
    text = f"{_day_label(start.date())} – {_day_label(last)}"
    if daily:
        a = dt.datetime.combine(start.date(), daily[0])
        b = dt.datetime.combine(start.date(), daily[1])
        text += f", {_clock_label(a)}–{_clock_label(b)} each day"
    return text


def parse_when(
    text: str,
    now: dt.datetime,
    tz: ZoneInfo,
    *,
    hours: HoursFn | None = None,
    slot_minutes: int = 30,
    horizon_days: int = 14,
) -> When | None:
    """Read the customer's wording as a window at the dealership, relative to `now` (aware).

    `hours` (see `dealer_hours`) settles am/pm for bare hours and clips day windows to opening hours.
    Returns None when the text names no time at all. An exact time is a window of one slot.
    """
    local_now = now.astimezone(tz)
    today = local_now.date()
    now_min = local_now.hour * 60 + local_now.minute
    s = normalise(text)
    if not s:
        return None
    sc = _Scanner(s)
    p = _Parts()
    _scan_relative(sc, p, now)
    _scan_days(sc, p, today)
    _scan_times(sc, p)
    if not p.found:
        return _fallback(s, local_now, tz, slot_minutes)

    if p.exact_instant is not None:
        start = p.exact_instant.astimezone(tz)
        end = start + dt.timedelta(minutes=60)
        return When(start, end, False, f"around {_describe(start, end, True, None)}", earliest=p.earliest)

    if p.days is None and p.at is None and p.part is None and not (p.after or p.before or p.around):
        # "asap" alone: from now to the horizon
        end = (local_now + dt.timedelta(days=horizon_days)).astimezone(tz)
        return When(local_now, end, False, "the earliest opening", earliest=True)

    if p.days is not None and p.days[0] != p.days[1]:
        return _multi_day(p, local_now, tz, hours, slot_minutes)

    candidates = [p.days[0]] if p.days else [today, today + dt.timedelta(days=1)]
    a, b, exact = _window(p, candidates if p.at is not None or p.days else candidates[:2], hours, slot_minutes)
    day = candidates[0]
    if not exact:
        a, b = _clip(a, b, hours, day)
        if p.days is None or not p.explicit_day:
            if day == today and b <= now_min:
                day = today + dt.timedelta(days=1)
                a, b, _ = _window(p, [day], hours, slot_minutes)
                a, b = _clip(a, b, hours, day)
    elif p.days is None and a <= now_min:
        day = today + dt.timedelta(days=1)
    start, end = _at(day, a, tz), _at(day, b, tz)
    if not exact and start < local_now < end:
        start = local_now
    elif not exact and end <= local_now and day == today:
        start = end = local_now  # an explicit "today" that is over: an empty window, so callers offer the nearest
    return When(start, end, exact, _describe(start, end, exact, None), earliest=p.earliest)


def _multi_day(p: _Parts, local_now: dt.datetime, tz: ZoneInfo, hours: HoursFn | None, slot: int) -> When:
    assert p.days is not None
    first, last = p.days
    span = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    start = max(_at(first, 0, tz), local_now)
    end = _at(last + dt.timedelta(days=1), 0, tz)
    daily: tuple[dt.time, dt.time] | None = None
    if p.at or p.part or p.after or p.before or p.around:
        a, b, _ = _window(p, span, hours, slot)
        a, b = max(a, 0), min(b, DAY_END - 1)
        daily = (dt.time(a // 60, a % 60), dt.time(b // 60, b % 60))
    return When(start, end, False, _describe(start, end, False, daily), daily=daily, earliest=p.earliest)


def _fallback(s: str, local_now: dt.datetime, tz: ZoneInfo, slot: int) -> When | None:
    """Long-tail dates via dateparser (English only: other languages make a miss take seconds)."""
    if not re.search(r"\d|" + _MONTH.replace("(?P<mon>", "(?:"), s):
        return None
    import dateparser

    base = local_now.replace(tzinfo=None)
    parsed = dateparser.parse(
        s,
        languages=["en"],
        settings={"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "RETURN_AS_TIMEZONE_AWARE": False},
    )
    if parsed is None or not (base - dt.timedelta(days=1) <= parsed <= base + dt.timedelta(days=400)):
        return None
    if re.search(r"\d(?::\d\d)?(?:am|pm)|\d:\d\d|noon", s):
        start = parsed.replace(tzinfo=tz)
        end = start + dt.timedelta(minutes=slot)
        return When(start, end, True, _describe(start, end, True, None))
    start = max(_at(parsed.date(), 0, tz), local_now)
    end = _at(parsed.date() + dt.timedelta(days=1), 0, tz)
    return When(start, end, False, _describe(start, end, False, None))
