"""Customer wording ("tmrw after 3", "12/3 at 4:30", "this weekend") → a time window at the dealership.

Customers rarely name an exact instant; they name a day, a part of a day, or a bound. We turn that into
a window in the dealer's timezone that the booking tools search for real slots, and an exact time only
when the customer gave one. `dateparser` handles little of this well (see NOTES.md), so the common
shapes are parsed here and dateparser is only the fallback for long-tail dates ("december 3rd 2027").

Conventions (the agent confirms the resolved date with the customer, so they only need to be sensible):
- a bare weekday ("thursday", "on thu") is its next occurrence after today; "this thursday" may be today;
- "next thursday" is the Thursday of next calendar week (weeks run Monday–Sunday): said on Tuesday
  Nov 17 it means Nov 26, said on Friday Nov 20 also Nov 26; "next weekend" is the weekend of next week;
- a bare hour ("at 4:30") takes am/pm from the business hours (the reading when the store is open),
  then from habit (7–11 am, 1–6 pm); a time or day part that has already passed rolls to tomorrow
  unless the customer named the day ("today at 10am" stays today and simply has no slots);
- morning runs from opening (08:00 when hours are unknown) to noon, afternoon 12–17, evening 17–close,
  lunch 11:30–13:30, "around 2" is 13:30–14:30, "after 3" is 15:00–close, "before noon" opening–12:00.
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

DEFAULT_OPEN = 8 * 60  # minutes after midnight, when no opening hours are known
DEFAULT_CLOSE = 21 * 60
NOON = 12 * 60
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
    preferred: dt.datetime | None = None  # "around 5": the time named, when the window is around it


def dealer_hours(dealer: DealerConfig, department: str) -> HoursFn:
    """The `hours` argument of `parse_when` for one department (holidays count as closed)."""
    dept = dealer.department(department)

    def hours(day: dt.date) -> Sequence[tuple[dt.time, dt.time]]:
        if dealer.holiday_on(day, department):
            return ()
        return dept.open_hours(day).ranges

    return hours


# --- normalisation ---------------------------------------------------------------------------------

_SLANG: dict[str, str] = {  # canonical word -> what customers type; order matters for shared prefixes
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
    "noon": r"midday|mid day|12 noon",
    "hours": r"hrs|hr|hour",
    "minutes": r"mins|min|minute",
    "before": r"b4|bfore|until|till|til|no later than|earlier than",
    "after": r"aftr|afer|later than|anytime after|any time after",
    "between": r"btwn|betwen",
    "around": r"abt|bout|approx|approximately|roughly|about|round|close to",
    "asap": r"a s a p|as soon as possible|soonest|earliest|first available|next available|"
    r"first opening|next opening|earliest available|right away|right now|whenever|any ?time|"
    r"no preference",
}
_SLANG_RE = re.compile(r"\b(?:" + "|".join(f"(?P<{k}>{v})" for k, v in _SLANG.items()) + r")\b")


def normalise(text: str) -> str:
    """Lower-case, expand slang and typos, and glue "10 a.m." into "10am"."""
    s = text.lower().strip()
    s = re.sub(r"[\u2010-\u2015]", "-", s)
    s = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", s)
    s = re.sub(r"o'?clock", " ", s)
    s = s.replace("@", " at ").replace("\u2019", "'")
    s = re.sub(r"(\d)\.(\d\d)\b", r"\1:\2", s)  # 10.30 -> 10:30
    s = re.sub(r"'s\b", "", s)
    s = re.sub(r"[,;!?()\"']|\.(?!\d)", " ", s)
    s = re.sub(r"\s+", " ", s)
    s = _SLANG_RE.sub(lambda m: m.lastgroup or m.group(0), s)
    s = re.sub(r"\bafter lunch\b", "after 1pm", s)
    s = re.sub(r"\bbefore lunch\b", "before noon", s)
    s = re.sub(r"\b(\d{1,2}(?::\d\d)?) ?(am|pm|a|p)\b", lambda m: f"{m.group(1)}{m.group(2)[0]}m", s)
    s = re.sub(r"(?<![\d:])\bam\b", "morning", s)  # "tmrw am"
    s = re.sub(r"(?<![\d:])\bpm\b", "afternoon", s)
    return re.sub(r"\s+", " ", s).strip()


# --- the pieces of a phrase --------------------------------------------------------------------------

_TIME = r"(?:\d{1,2}(?::\d\d)?(?:am|pm)?|noon)"
_MONTH_NAMES = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_MONTH = rf"(?P<mon>{_MONTH_NAMES})"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_COUNT = r"\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|(?:a )?couple(?: of)?|(?:a )?few"
_COUNT_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_COUNT_WORDS |= {"seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12}


def _count(word: str) -> int:
    word = word.strip()
    if word.isdigit():
        return int(word)
    if "couple" in word:
        return 2
    if "few" in word:
        return 3
    return _COUNT_WORDS.get(word, 1)


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
    explicit_day: bool = False  # the customer named the day, so it does not roll forward
    at: _Clock | None = None  # an exact time
    part: str | None = None  # "morning", "late afternoon", "evening", "lunch", "first" (thing) …
    after: _Clock | None = None
    before: _Clock | None = None
    around: _Clock | None = None
    instant: dt.datetime | None = None  # "in 2 hours" (aware)
    earliest: bool = False

    @property
    def has_time(self) -> bool:
        return bool(self.at or self.part or self.after or self.before or self.around)

    @property
    def found(self) -> bool:
        return bool(self.days or self.has_time or self.instant or self.earliest)


class _Scanner:
    """Consumes recognised pieces of the normalised text so that nothing is read twice."""

    def __init__(self, text: str) -> None:
        self.text = f" {text} "

    def take(self, *patterns: str) -> re.Match[str] | None:
        for pattern in patterns:
            m = re.search(pattern, self.text)
            if m:
                self.text = self.text[: m.start()] + " " + self.text[m.end() :]
                return m
        return None


def _future_date(today: dt.date, month: int, day: int, year: str | None) -> dt.date | None:
    """A month/day without a year is the next one that is not in the past."""
    try:
        if year:
            y = int(year)
            return dt.date(y + 2000 if y < 100 else y, month, day)
        candidate = dt.date(today.year, month, day)
        return candidate if candidate >= today else dt.date(today.year + 1, month, day)
    except ValueError:
        return None


def _day_of_month(today: dt.date, dom: int) -> dt.date | None:
    """ "The 28th": this month if still ahead, else the next month that has that day."""
    year, month = today.year, today.month
    for _ in range(3):
        try:
            candidate = dt.date(year, month, dom)
        except ValueError:
            candidate = None
        if candidate and candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _scan_days(sc: _Scanner, p: _Parts, today: dt.date) -> None:
    monday = today - dt.timedelta(days=today.weekday())

    def days(first: dt.date, last: dt.date | None = None) -> None:
        if p.days is None:
            p.days, p.explicit_day = (first, last or first), True

    if m := sc.take(
        rf"\bin (?P<n>{_COUNT}) (?P<u>days?|weeks?)\b", rf"\b(?P<n>{_COUNT}) (?P<u>days?|weeks?) from now\b"
    ):
        days(today + dt.timedelta(days=_count(m["n"]) * (7 if m["u"].startswith("week") else 1)))
    shift = 0  # "a week from friday": resolve friday, then move it
    if m := sc.take(rf"\b(?P<n>{_COUNT}) (?P<u>days?|weeks?) (?:from|after) (?=\w)"):
        shift = _count(m["n"]) * (7 if m["u"].startswith("week") else 1)
    if sc.take(r"\b(?:the )?day after tomorrow\b"):
        days(today + dt.timedelta(days=2))
    if m := sc.take(r"\b(?P<mo>1[0-2]|0?[1-9])/(?P<d>3[01]|[12]\d|0?[1-9])(?:/(?P<y>\d{4}|\d\d))?\b"):
        if d := _future_date(today, int(m["mo"]), int(m["d"]), m["y"]):
            days(d)
    if m := sc.take(
        rf"\b{_MONTH}\.? (?:the )?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?: (?P<y>\d{{4}}))?\b",
        rf"\b(?:the )?(?P<d>\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{_MONTH}(?: (?P<y>\d{{4}}))?\b",
    ):
        if d := _future_date(today, _MONTHS.index(m["mon"][:3]) + 1, int(m["d"]), m["y"]):
            days(d)
    if m := sc.take(r"\b(?P<d>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)\b"):
        if d := _day_of_month(today, int(m["d"])):
            days(d)
    if m := sc.take(r"\b(?:(?P<mod>this|next|the|coming|this coming|upcoming) )?weekend\b"):
        sat = monday + dt.timedelta(days=5 + (7 if m["mod"] == "next" else 0))
        days(max(sat, today), sat + dt.timedelta(days=1))
    if sc.take(r"\bend of (?:the |this )?week\b"):
        days(max(monday + dt.timedelta(days=3), today), monday + dt.timedelta(days=5))
    if m := sc.take(r"\b(?P<mod>this|next|the following) week\b", r"\bweek after (?P<mod>next)\b"):
        offset = {"this": 0, "next": 7}.get(m["mod"], 14) if not m[0].startswith("week after") else 14
        start = monday + dt.timedelta(days=offset)
        days(max(start, today), start + dt.timedelta(days=6))
    if m := sc.take(rf"\b(?:(?P<mod>this coming|this|next|coming|upcoming|on) )?(?P<wd>{'|'.join(_WEEKDAYS)})s?\b"):
        wd = _WEEKDAYS.index(m["wd"])
        if m["mod"] == "next":
            days(monday + dt.timedelta(days=7 + wd))
        else:
            ahead = (wd - today.weekday()) % 7
            days(today + dt.timedelta(days=ahead or (0 if m["mod"] == "this" else 7)))
    if sc.take(r"\btonight\b"):
        if p.days is None:
            days(today)
            p.explicit_day = False  # "tonight" once the evening is over rolls to tomorrow evening
        p.part = "evening"
    if sc.take(r"\btoday\b"):
        days(today)
    if sc.take(r"\btomorrow\b"):
        days(today + dt.timedelta(days=1))
    if shift and p.days:
        p.days = (p.days[0] + dt.timedelta(days=shift), p.days[1] + dt.timedelta(days=shift))


def _scan_times(sc: _Scanner, p: _Parts) -> None:
    if m := sc.take(
        rf"\b(?:between|from) (?P<a>{_TIME}) ?(?:and|to|-|before) ?(?P<b>{_TIME})\b",
        rf"\b(?P<a>{_TIME}) ?(?:-|to) ?(?P<b>{_TIME})\b",
    ):
        p.after, p.before = _Clock.parse(m["a"]), _Clock.parse(m["b"])
    if m := sc.take(rf"\b(?:after|from|past) (?P<a>{_TIME})\b"):
        p.after = _Clock.parse(m["a"])
    if m := sc.take(rf"\b(?:before|by) (?P<b>{_TIME})\b"):
        p.before = _Clock.parse(m["b"])
    if m := sc.take(rf"\b(?:at )?around (?:at )?(?P<a>{_TIME})\b", rf"\b(?P<a>{_TIME}) ?-?ish\b"):
        p.around = _Clock.parse(m["a"])
    if sc.take(r"\bfirst thing\b"):
        p.part = "first"
    if m := sc.take(r"\b(?:(?P<mod>early|late|mid) ?-?)?(?P<part>morning|afternoon|evening|night|lunch ?time|lunch)\b"):
        part = {"night": "evening", "lunchtime": "lunch", "lunch time": "lunch"}.get(m["part"], m["part"])
        if p.part != "first":
            p.part = f"{m['mod']} {part}" if m["mod"] else part
    if m := sc.take(rf"\bat (?P<t>{_TIME})\b", r"\b(?P<t>\d{1,2}(?::\d\d)?(?:am|pm)|\d{1,2}:\d\d|noon)\b"):
        p.at = _Clock.parse(m["t"])
    elif p.days is not None or re.fullmatch(r"\s*\d{1,2}\s*", sc.text):
        if m := sc.take(r"(?<![\d/:])\b(?P<t>1[0-2]|[1-9]|1[3-9]|2[0-3])\b(?![\d/:])"):
            p.at = _Clock.parse(m["t"])  # "tomorrow 10", or just "10"


def _scan_relative(sc: _Scanner, p: _Parts, now: dt.datetime) -> None:
    if m := sc.take(
        rf"\bin (?:(?P<half>half an hours|a half hours|half hours)|(?P<n>{_COUNT}) (?P<u>hours|minutes))\b"
    ):
        minutes = 30 if m["half"] else _count(m["n"]) * (60 if m["u"] == "hours" else 1)
        p.instant = now.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)  # elapsed time, not wall clock
    if sc.take(r"\basap\b"):
        p.earliest = True


# --- resolution ---------------------------------------------------------------------------------------


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _ranges(hours: HoursFn | None, day: dt.date) -> list[tuple[int, int]]:
    if hours is None:
        return []
    return [(_minutes(s), _minutes(e) or DAY_END) for s, e in hours(day)]


def _open_at(hours: HoursFn | None, days: Sequence[dt.date], minute: int) -> bool:
    return any(s <= minute < e for d in days for s, e in _ranges(hours, d))


def _resolve_clock(
    c: _Clock, days: Sequence[dt.date], hours: HoursFn | None, hint: str | None, *, before: bool = False
) -> int:
    """Minutes after midnight; a bare hour takes the reading in which the store is open."""
    if c.meridiem:
        return (c.hour % 12 + (12 if c.meridiem == "pm" else 0)) * 60 + c.minute
    if c.hour >= 12 or c.hour == 0 or hint == "am":
        return c.hour * 60 + c.minute
    if hint == "pm":
        return (c.hour + 12) * 60 + c.minute
    am, pm = c.hour * 60 + c.minute, (c.hour + 12) * 60 + c.minute
    probe = 1 if before else 0  # "before 6": is the store open just before 6?
    open_am, open_pm = _open_at(hours, days, am - probe), _open_at(hours, days, pm - probe)
    if open_am != open_pm:
        return am if open_am else pm
    return am if 7 <= c.hour <= 11 else pm


def _day_bounds(hours: HoursFn | None, days: Sequence[dt.date]) -> tuple[int, int]:
    spans = [r for d in days for r in _ranges(hours, d)]
    if not spans:
        return DEFAULT_OPEN, DEFAULT_CLOSE
    return min(s for s, _ in spans), max(e for _, e in spans)


def _part_window(part: str, opens: int, closes: int) -> tuple[int, int]:
    mod, _, name = part.rpartition(" ")
    a, b = {
        "morning": (opens if opens < NOON else DEFAULT_OPEN, NOON),
        "afternoon": (NOON, 17 * 60),
        "evening": (17 * 60, closes if closes > 17 * 60 else DEFAULT_CLOSE),
        "lunch": (11 * 60 + 30, 13 * 60 + 30),
        "first": (opens, opens + 60),
    }[name]
    if mod == "early":
        b = 10 * 60 if name == "morning" else a + (b - a) // 2
    elif mod == "late":
        a = 10 * 60 if name == "morning" else b - (b - a) // 2
    elif mod == "mid":
        a, b = a + (b - a) // 4, b - (b - a) // 4
    return a, b


def _hint(part: str | None) -> str | None:
    if part is None or part == "lunch":
        return None
    return "am" if part.endswith(("morning", "first")) else "pm"


def _window(p: _Parts, days: Sequence[dt.date], hours: HoursFn | None, slot: int) -> tuple[int, int, bool]:
    """(start, end, exact) in minutes after midnight, before the window is placed on a date."""
    opens, closes = _day_bounds(hours, days)
    hint = _hint(p.part)
    if p.at is not None:
        t = _resolve_clock(p.at, days, hours, hint)
        return t, t + slot, True
    if p.around is not None:
        t = _resolve_clock(p.around, days, hours, hint)
        return t - 30, t + 30, False
    a, b = _part_window(p.part, opens, closes) if p.part else (opens, closes)
    if p.before is not None:
        b = _resolve_clock(p.before, days, hours, hint, before=True)
        if a >= b:
            a = 0
    if p.after is not None:
        clock = p.after
        if clock.meridiem is None and p.before is not None and p.before.meridiem is not None:
            same = _Clock(clock.hour, clock.minute, p.before.meridiem)  # "2-4pm"
            if _resolve_clock(same, days, hours, None) < b:
                clock = same
        a = _resolve_clock(clock, days, hours, hint)
        if a >= b:
            b = max(closes, a + slot)
    return a, b, False


def _clip(a: int, b: int, hours: HoursFn | None, day: dt.date) -> tuple[int, int]:
    """Narrow a one-day window to opening hours, unless that leaves nothing (then keep what was asked)."""
    spans = _ranges(hours, day)
    if not spans:
        return a, b
    lo, hi = max(a, min(s for s, _ in spans)), min(b, max(e for _, e in spans))
    return (lo, hi) if lo < hi else (a, b)


def _at(day: dt.date, minute: int, tz: ZoneInfo) -> dt.datetime:
    """Wall-clock arithmetic first, then the zone: 10:00 is 10:00 on either side of a DST change."""
    return (dt.datetime.combine(day, dt.time(0)) + dt.timedelta(minutes=minute)).replace(tzinfo=tz)


def clock_label(d: dt.datetime) -> str:
    """ "10:00 AM" (no leading zero, no platform-specific strftime flags)."""
    return f"{d.hour % 12 or 12}:{d.minute:02d} {'AM' if d.hour < 12 else 'PM'}"


def day_label(d: dt.date) -> str:
    """ "Thu Nov 26"."""
    return f"{d:%a %b} {d.day}"


def _describe(start: dt.datetime, end: dt.datetime, exact: bool, daily: tuple[dt.time, dt.time] | None) -> str:
    if exact:
        return f"{day_label(start.date())}, {clock_label(start)}"
    last = (end - dt.timedelta(microseconds=1)).date()
    if last <= start.date():
        return f"{day_label(start.date())}, {clock_label(start)}–{clock_label(end)}"
    text = f"{day_label(start.date())} – {day_label(last)}"
    if daily:
        a, b = (dt.datetime.combine(start.date(), t) for t in daily)
        text += f", {clock_label(a)}–{clock_label(b)} each day"
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
    An exact time is a window of one slot. Returns None when the text names no time at all.
    """
    local_now = now.astimezone(tz)
    today = local_now.date()
    sc = _Scanner(normalise(text))
    p = _Parts()
    _scan_relative(sc, p, now)
    _scan_days(sc, p, today)
    _scan_times(sc, p)
    if not p.found:
        return _fallback(sc.text.strip(), local_now, tz, slot_minutes)
    if p.instant is not None:
        start = p.instant.astimezone(tz)
        return When(start, start + dt.timedelta(hours=1), False, f"around {_describe(start, start, True, None)}")
    if p.days is None and not p.has_time:  # "asap" alone
        end = local_now + dt.timedelta(days=horizon_days)
        return When(local_now, end, False, "the earliest opening", earliest=True)
    if p.days is not None and p.days[0] != p.days[1]:
        return _multi_day(p, local_now, tz, hours, slot_minutes)

    tomorrow = today + dt.timedelta(days=1)
    day = p.days[0] if p.days else today
    a, b, exact = _window(p, [day] if p.days else [today, tomorrow], hours, slot_minutes)
    if not exact:
        a, b = _clip(a, b, hours, day)
    # Past already (or "after 3" said at 6:30 pm): the customer means the next one.
    bound = a if exact or p.after is not None else b
    if not p.explicit_day and day == today and _at(day, bound, tz) <= local_now:
        day = tomorrow
        if not exact:
            a, b, _ = _window(p, [day], hours, slot_minutes)
            a, b = _clip(a, b, hours, day)
    start, end = _at(day, a, tz), _at(day, b, tz)
    preferred = None
    if p.around is not None and not exact:
        preferred = _at(day, _resolve_clock(p.around, [day], hours, _hint(p.part)), tz)
    if not exact:
        start = min(max(start, local_now), max(end, local_now))
        end = max(end, start)  # an explicit "today" that is over is an empty window: callers offer the nearest
    return When(start, end, exact, _describe(start, end, exact, None), earliest=p.earliest, preferred=preferred)


def _multi_day(p: _Parts, local_now: dt.datetime, tz: ZoneInfo, hours: HoursFn | None, slot: int) -> When:
    assert p.days is not None
    first, last = p.days
    span = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    start = max(_at(first, 0, tz), local_now)
    end = _at(last + dt.timedelta(days=1), 0, tz)
    daily = None
    if p.has_time:
        a, b, _ = _window(p, span, hours, slot)
        a, b = max(a, 0), min(b, DAY_END - 1)
        daily = (dt.time(a // 60, a % 60), dt.time(b // 60, b % 60))
    return When(start, end, False, _describe(start, end, False, daily), daily=daily, earliest=p.earliest)


def _fallback(s: str, local_now: dt.datetime, tz: ZoneInfo, slot: int) -> When | None:
    """Long-tail dates via dateparser, English only (other languages can make a miss take seconds)."""
    if not re.search(rf"\d|\b(?:{_MONTH_NAMES})\b", s):
        return None
    import dateparser  # type: ignore[import-untyped]  # imported on first use: most phrases never need it

    base = local_now.replace(tzinfo=None)
    parsed = dateparser.parse(
        s,
        languages=["en"],
        settings={"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "RETURN_AS_TIMEZONE_AWARE": False},
    )
    if parsed is None or not base - dt.timedelta(days=1) <= parsed <= base + dt.timedelta(days=400):
        return None
    if re.search(r"\d(?:am|pm)\b|\d:\d\d", s):
        start = parsed.replace(tzinfo=tz)
        return When(start, start + dt.timedelta(minutes=slot), True, _describe(start, start, True, None))
    start = max(_at(parsed.date(), 0, tz), local_now)
    end = _at(parsed.date() + dt.timedelta(days=1), 0, tz)
    return When(start, end, False, _describe(start, end, False, None))


def warm_up() -> None:
    """Load dateparser's English data now (~0.2 s once per process) instead of in a customer's turn."""
    _fallback("december 3 2030", dt.datetime.now(dt.UTC), ZoneInfo("UTC"), 30)
