"""The dealership's own knowledge: its markdown documents, searchable by meaning, plus exact hours.

Documents (hours and directions, financing, trade-ins, service menu, policies) live as markdown in
`DealerConfig.knowledge_dir`. They are chunked by heading, each chunk carrying its document title and
section heading so it reads on its own; chunk ids hash file + heading, so re-indexing is a sync
(changed chunks re-embedded, removed ones deleted). Opening hours never come from documents: the
dealer config is the source of truth, and `department_hours_text` / `open_now` read it directly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from memory.vectors import VectorIndex, VectorStore
from tools.context import ToolDeps, ToolError, deps_from_config
from tools.dealer import WEEKDAYS, DealerConfig, Department, OpenHours

log = logging.getLogger(__name__)

# MiniLM scores short questions low: the right section of a real question scores ~0.25-0.7 cosine,
# off-topic questions stay under ~0.12, so below MIN_SCORE a passage is not about the question.
# Ranking adds LEXICAL_WEIGHT x (share of the question's words found in the passage): on the demo
# documents "when are you open on saturday" otherwise ranks "Holiday closures" above the hours.
# Passages more than RELATIVE_WINDOW below the best one are noise next to the real answer.
MIN_SCORE = 0.2
LEXICAL_WEIGHT = 0.3
RELATIVE_WINDOW = 0.15
MAX_CHUNK_CHARS = 1200  # MiniLM reads ~256 tokens; longer sections are split by paragraph
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HOURS_INTENT = re.compile(r"\b(hours?|open(ing|s)?|clos(e|es|ed|ing)|when\s+can\s+i\s+come)\b", re.I)
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an the and or of to in on at for with by from is are was were be been am do does did you your we our us "
    "i me my it its this that these those what when where which who how can could would should will may might "
    "must have has had there here any some about as if so not no yes please".split()
)
_DAY_NAMES = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))


@dataclass
class Passage:
    """A retrieved piece of a dealer document."""

    source: str  # file, relative to the knowledge folder
    heading: str
    text: str
    score: float


@dataclass
class Chunk:
    id: str
    source: str
    title: str
    heading: str
    text: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


# --- chunking --------------------------------------------------------------------------------


def _split_long(body: str) -> list[str]:
    if len(body) <= MAX_CHUNK_CHARS:
        return [body]
    parts: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n", body):
        while len(para) > MAX_CHUNK_CHARS:  # one huge paragraph: cut at a sentence if we can
            cut = para.rfind(". ", 0, MAX_CHUNK_CHARS) + 1 or MAX_CHUNK_CHARS
            parts.append(para[:cut].strip())
            para = para[cut:].strip()
        if current and len(current) + len(para) + 2 > MAX_CHUNK_CHARS:
            parts.append(current)
            current = para
        else:
            current = f"{current}\n\n{para}" if current else para
    if current:
        parts.append(current)
    return [p for p in parts if p.strip()]


def chunk_markdown(text: str, source: str) -> list[Chunk]:
    """Split one document at its headings; each chunk = title + heading trail + section body."""
    title = ""
    trail: list[tuple[int, str]] = []  # (level, heading) of the open sections below the title
    sections: list[tuple[str, list[str]]] = []
    body: list[str] = []
    in_fence = False

    def close() -> None:
        heading = " › ".join(h for _, h in trail)
        sections.append((heading, body.copy()))
        body.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line)
        if not m:
            body.append(line)
            continue
        level, heading = len(m.group(1)), m.group(2).strip()
        close()
        if level == 1 and not title:
            title = heading
            trail.clear()
            continue
        while trail and trail[-1][0] >= level:
            trail.pop()
        trail.append((level, heading))
    close()

    title = title or Path(source).stem.replace("-", " ").replace("_", " ").strip().capitalize()
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for heading, lines in sections:
        content = "\n".join(lines).strip()
        if not content:
            continue
        occurrence = seen[heading] = seen.get(heading, -1) + 1
        for part, piece in enumerate(_split_long(content)):
            header = title if not heading else f"{title} — {heading}"
            key = f"{source}\x00{heading}\x00{occurrence}\x00{part}"
            chunks.append(
                Chunk(
                    id="kb-" + hashlib.sha256(key.encode()).hexdigest()[:24],
                    source=source,
                    title=title,
                    heading=heading or title,
                    text=f"{header}\n\n{piece}",
                )
            )
    return chunks


def load_chunks(folder: Path) -> list[Chunk]:
    chunks: list[Chunk] = []
    for path in sorted(folder.rglob("*.md")):
        source = path.relative_to(folder).as_posix()
        chunks.extend(chunk_markdown(path.read_text(encoding="utf-8"), source))
    return chunks


# --- index and search ------------------------------------------------------------------------


def _terms(text: str) -> set[str]:
    words = (w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOPWORDS)
    return {w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words}


def knowledge_index(store: VectorStore, dealer_id: str) -> VectorIndex:
    return store.collection(f"kb_{dealer_id}")


async def index_knowledge(store: VectorStore, dealer: DealerConfig) -> int:
    """Sync the dealer's documents into the vector store; returns how many chunks are indexed.

    Unchanged chunks are not re-embedded; chunks of deleted documents or sections are removed.
    """
    folder = dealer.path(dealer.knowledge_dir)
    if folder is None or not folder.is_dir():
        if folder is not None:
            log.warning("knowledge folder %s does not exist; the knowledge index will be empty", folder)
        chunks: list[Chunk] = []
    else:
        chunks = load_chunks(folder)
    index = knowledge_index(store, dealer.id)
    existing = {h.id: h.metadata.get("content_hash") for h in await index.get()}
    changed = [c for c in chunks if existing.get(c.id) != c.content_hash]
    if changed:
        await index.upsert(
            [c.id for c in changed],
            [c.text for c in changed],
            [
                {
                    "source": c.source,
                    "title": c.title,
                    "heading": c.heading,
                    "content_hash": c.content_hash,
                    "dealer_id": dealer.id,
                }
                for c in changed
            ],
        )
    gone = sorted(set(existing) - {c.id for c in chunks})
    if gone:
        await index.delete(ids=gone)
    log.info("knowledge index %s: %d chunks (%d updated, %d removed)", dealer.id, len(chunks), len(changed), len(gone))
    return len(chunks)


async def search_knowledge(deps: ToolDeps, question: str, k: int = 3, *, min_score: float = MIN_SCORE) -> list[Passage]:
    """The dealer's passages most relevant to `question`, best first. `score` is the ranking relevance
    (cosine similarity plus the shared-words bonus); a passage needs cosine ≥ `min_score` and a score
    close to the best one. Texts go to `deps.facts.knowledge` so the outbound guard lets them be quoted."""
    store = deps.services.get("vectors")
    if store is None:
        raise ToolError("the dealership's information is not available right now")
    k = max(1, min(k, 10))
    hits = await knowledge_index(store, deps.dealer.id).query(question, k=min(4 * k, 40))
    asked = _terms(question)
    ranked = sorted(
        (
            (h.score + LEXICAL_WEIGHT * len(asked & _terms(h.text)) / max(1, len(asked)), h)
            for h in hits
            if h.score >= min_score
        ),
        key=lambda pair: -pair[0],
    )
    passages = [
        Passage(
            source=str(h.metadata.get("source", "")),
            heading=str(h.metadata.get("heading", "")),
            text=h.text,
            score=round(score, 3),
        )
        for score, h in ranked[:k]
        if score >= ranked[0][0] - RELATIVE_WINDOW
    ]
    deps.facts.knowledge.extend(p.text for p in passages)
    return passages


# --- hours: always from the config -------------------------------------------------------------


def _fmt_time(t: dt.time) -> str:
    hour = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{hour} {suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d} {suffix}"


def _fmt_ranges(hours: OpenHours) -> str:
    if not hours.ranges:
        return "closed"
    return ", ".join(f"{_fmt_time(s)}–{_fmt_time(e)}" for s, e in hours.ranges)


def _department(dealer: DealerConfig, department: str) -> Department:
    try:
        return dealer.department(department)
    except KeyError:
        known = ", ".join(dealer.departments)
        raise ToolError(f"{dealer.name} has no {department!r} department; known: {known}") from None


def department_hours_text(dealer: DealerConfig, department: str, *, today: dt.date | None = None) -> str:
    """Weekly hours of one department, e.g. "Sales: Mon–Fri 9 AM–8 PM; Sat 9 AM–7 PM; Sun closed".
    With `today`, holiday closures in the next two weeks are appended."""
    dept = _department(dealer, department)
    groups: list[tuple[list[str], str]] = []
    for day in WEEKDAYS:
        spec = _fmt_ranges(OpenHours.parse(dept.hours.get(day)))
        if groups and groups[-1][1] == spec:
            groups[-1][0].append(day)
        else:
            groups.append(([day], spec))
    parts = []
    for days, spec in groups:
        label = _DAY_NAMES[days[0]] if len(days) == 1 else f"{_DAY_NAMES[days[0]]}–{_DAY_NAMES[days[-1]]}"
        parts.append(f"{label} {spec}")
    text = f"{dept.label or department.title()}: {'; '.join(parts)} (local time, {dealer.timezone})"
    if today is not None:
        closures = [
            f"{h.date:%a %b} {h.date.day} ({h.name})"
            for h in sorted(dealer.holidays, key=lambda h: h.date)
            if today <= h.date <= today + dt.timedelta(days=14) and h.closes(department)
        ]
        if closures:
            text += f". Closed {', '.join(closures)}"
    return text


def open_now(dealer: DealerConfig, department: str, at: dt.datetime) -> tuple[bool, str]:
    """Whether the department is open at `at` (aware) in the dealer's timezone, phrased for a
    customer: "open until 8 PM", "closed, opens tomorrow at 9 AM"."""
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    dept = _department(dealer, department)
    local = at.astimezone(dealer.tz)
    now_t = local.time()
    holiday = dealer.holiday_on(local.date(), department)
    if holiday is None:
        for start, end in dept.open_hours(local.date()).ranges:
            if start <= now_t < end:
                return True, f"open until {_fmt_time(end)}"
    closed = f"closed today for {holiday.name}" if holiday else "closed"
    for offset in range(15):
        day = local.date() + dt.timedelta(days=offset)
        if dealer.holiday_on(day, department):
            continue
        for start, _ in dept.open_hours(day).ranges:
            if offset == 0 and start <= now_t:
                continue
            if offset == 0:
                when = "today"
            elif offset == 1:
                when = "tomorrow"
            elif offset < 7:
                when = f"{day:%A}"
            else:
                when = f"{day:%A, %B} {day.day}"
            return False, f"{closed}, opens {when} at {_fmt_time(start)}"
    return False, closed


def hours_summary(dealer: DealerConfig, at: dt.datetime) -> str:
    """Every department's hours and whether it is open at `at` — the authoritative answer."""
    lines = []
    for name in dealer.departments:
        _, status = open_now(dealer, name, at)
        lines.append(f"{department_hours_text(dealer, name, today=at.astimezone(dealer.tz).date())}. Now: {status}.")
    return "\n".join(lines)


# --- LangChain tool --------------------------------------------------------------------------


@tool
async def lookup_dealer_info(question: str, config: RunnableConfig) -> str:
    """Look up this dealership's own information (READ): opening hours and holidays, address,
    location and directions, phone numbers, financing and credit, trade-ins and appraisals,
    service menu and prices, warranties, and store policies (deposits, returns, documents to bring).
    Ask in plain words, e.g. "are you open sunday", "how does trade-in appraisal work".
    Answer only from what this returns; if it has no answer, say you'll check with the team."""
    deps = deps_from_config(config)
    sections: list[str] = []
    if _HOURS_INTENT.search(question):
        hours = hours_summary(deps.dealer, deps.now())
        deps.facts.knowledge.append(hours)
        sections.append(f"[Hours from the dealership's system — authoritative]\n{hours}")
    passages = await search_knowledge(deps, question, k=3)
    for p in passages:
        sections.append(f"[{p.source} › {p.heading}] (relevance {p.score:.2f})\n{p.text[:1500]}")
    if not sections:
        raise ToolError(
            "Nothing in the dealership's information answers that. Do not guess: tell the customer "
            "you'll check with the team, or offer to connect them with staff."
        )
    return "\n\n".join(sections)


lookup_dealer_info.handle_tool_error = True  # a ToolError becomes the tool message
lookup_dealer_info.metadata = {"access": "read"}
lookup_dealer_info.tags = ["read"]

KNOWLEDGE_TOOLS = [lookup_dealer_info]
