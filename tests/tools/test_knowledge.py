"""Dealer knowledge: markdown chunking, index sync, semantic lookup, and hours from the config."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from memory.embeddings import Embedder, get_embedder
from memory.keys import Keys
from memory.vectors import VectorStore, open_vector_store
from tools.context import ToolDeps, ToolError
from tools.dealer import DealerConfig, load_dealer_config
from tools.knowledge import (
    chunk_markdown,
    department_hours_text,
    index_knowledge,
    knowledge_index,
    lookup_dealer_info,
    open_now,
    search_knowledge,
)

DEMO_KNOWLEDGE = Path(__file__).resolve().parents[2] / "examples" / "demo" / "knowledge"

DOCS = {
    "hours-and-location.md": """# Hours and location

Sunset Motors is at 100 Ocean Ave, Santa Monica.

## Showroom hours

The showroom is open Monday to Friday 9 AM to 8 PM and Saturday 9 AM to 6 PM. Closed Sundays.

## Directions

From the 10 freeway take the Lincoln Blvd exit and turn left on Ocean Ave. Free customer parking.
""",
    "trade-in.md": """# Trading in your vehicle

## How appraisals work

We accept trade-ins of any make. A used-car manager inspects the vehicle and test drives it; the
appraisal takes about 30 minutes and the offer is good for 7 days.

## What to bring

Bring the title or your loan payoff information, the registration, all keys and remotes.
""",
    "financing.md": """# Financing

## Credit applications

You can apply for financing online. Our finance manager works with several lenders; rates depend
on the lender's credit decision.
""",
    "service-menu.md": """# Service menu

## Oil change

Synthetic oil change with tire rotation: $89.95.

## Brakes

Front brake pads replaced: $249 per axle.
""",
}


def _config(knowledge_dir: Path | None = None) -> DealerConfig:
    return DealerConfig.model_validate(
        {
            "id": "sunset",
            "name": "Sunset Motors",
            "timezone": "America/Los_Angeles",
            "address": {"street": "100 Ocean Ave", "city": "Santa Monica", "state": "CA", "zip": "90401"},
            "phone": "+13105550100",
            "website": "https://sunset.example",
            "state": "CA",
            "knowledge_dir": str(knowledge_dir) if knowledge_dir else None,
            "departments": {
                "sales": {
                    "label": "Sales",
                    "hours": {d: "09:00-20:00" for d in ("mon", "tue", "wed", "thu", "fri")}
                    | {"sat": "09:00-18:00", "sun": "closed"},
                },
                "service": {
                    "label": "Service",
                    "hours": {d: "07:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}
                    | {"sat": "08:00-12:00,13:00-16:00"},
                },
            },
            "holidays": [
                {"date": "2026-07-04", "name": "Independence Day", "closed": "all"},
                {"date": "2026-09-07", "name": "Labor Day", "closed": ["service"]},
            ],
        }
    )


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return get_embedder()  # loaded once per process


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def store(tmp_path: Path, embedder: Embedder) -> VectorStore:
    return open_vector_store(None, tmp_path / "data", embedder)


@pytest.fixture
async def deps(docs: Path, store: VectorStore, redis: Any, keys: Keys) -> ToolDeps:
    cfg = _config(docs)
    await index_knowledge(store, cfg)
    fixed = dt.datetime(2026, 3, 14, 17, 0, tzinfo=dt.UTC)  # Sat 10 AM in Santa Monica
    return ToolDeps(dealer=cfg, redis=redis, keys=keys, clock=lambda: fixed, services={"vectors": store})


# --- chunking and indexing ---------------------------------------------------------------------


def test_chunks_keep_title_and_heading() -> None:
    chunks = chunk_markdown(DOCS["trade-in.md"], "trade-in.md")
    assert [c.heading for c in chunks] == ["How appraisals work", "What to bring"]
    assert chunks[1].text.startswith("Trading in your vehicle — What to bring\n\n")
    assert chunk_markdown(DOCS["trade-in.md"], "trade-in.md")[1].id == chunks[1].id  # stable
    intro = chunk_markdown(DOCS["hours-and-location.md"], "hours-and-location.md")[0]
    assert intro.heading == "Hours and location" and "100 Ocean Ave" in intro.text
    fenced = chunk_markdown("# T\n\n## A\n\n```\n# not a heading\n```\n", "x.md")
    assert len(fenced) == 1 and "# not a heading" in fenced[0].text
    long = chunk_markdown("# T\n\n## Big\n\n" + "\n\n".join(["word " * 100] * 8), "big.md")
    assert len(long) > 1 and len({c.id for c in long}) == len(long)


async def test_reindex_is_a_sync(docs: Path, store: VectorStore) -> None:
    cfg = _config(docs)
    index = knowledge_index(store, cfg.id)
    total = await index_knowledge(store, cfg)
    assert total == await index.count() == 8
    assert await index_knowledge(store, cfg) == total  # unchanged: same ids, nothing added

    (docs / "trade-in.md").unlink()
    (docs / "service-menu.md").write_text("# Service menu\n\n## Oil change\n\nOil change: $99.95.\n")
    assert await index_knowledge(store, cfg) == total - 3
    assert await index.count() == total - 3
    assert not await index.get(where={"source": "trade-in.md"})
    menu = await index.get(where={"source": "service-menu.md"}, texts=True)
    assert len(menu) == 1 and "$99.95" in menu[0].text


async def test_missing_folder_empties_the_index(docs: Path, store: VectorStore, tmp_path: Path) -> None:
    await index_knowledge(store, _config(docs))
    assert await index_knowledge(store, _config(tmp_path / "nope")) == 0
    assert await knowledge_index(store, "sunset").count() == 0


# --- search ------------------------------------------------------------------------------------


async def test_questions_find_the_right_documents(deps: ToolDeps) -> None:
    hours = await search_knowledge(deps, "when are you open on saturday")
    assert hours[0].heading == "Showroom hours"
    trade = await search_knowledge(deps, "do you take trade ins")
    assert trade[0].source == "trade-in.md"
    oil = await search_knowledge(deps, "how much for an oil change")
    assert oil[0].heading == "Oil change" and "$89.95" in oil[0].text
    assert [p.heading for p in oil] == ["Oil change"]  # the brakes price is noise next to it
    assert hours[0].text in deps.facts.knowledge and oil[0].text in deps.facts.knowledge
    where = await search_knowledge(deps, "where are you located")
    assert where[0].heading == "Hours and location" and "100 Ocean Ave" in where[0].text
    assert await search_knowledge(deps, "what is the airspeed velocity of an unladen swallow") == []


async def test_lookup_tool_formats_passages_and_refuses_to_guess(deps: ToolDeps) -> None:
    config = {"configurable": {"deps": deps}}
    out = await lookup_dealer_info.ainvoke({"question": "what do I need to bring for my trade-in"}, config=config)
    assert "[trade-in.md › What to bring]" in out and "title" in out
    assert "Hours from the dealership's system" not in out

    hours = await lookup_dealer_info.ainvoke({"question": "are you open today?"}, config=config)
    # the config is the source of truth for hours, and "now" is Saturday 10 AM local
    assert "Sales: Mon–Fri 9 AM–8 PM; Sat 9 AM–6 PM; Sun closed" in hours
    assert "Now: open until 6 PM" in hours

    nothing = await lookup_dealer_info.ainvoke({"question": "airspeed velocity of an unladen swallow"}, config=config)
    assert "Do not guess" in nothing  # the ToolError became the tool message
    assert lookup_dealer_info.metadata == {"access": "read"}
    with pytest.raises(ToolError):
        await search_knowledge(ToolDeps(dealer=deps.dealer, redis=deps.redis, keys=deps.keys), "hours")


@pytest.mark.skipif(not DEMO_KNOWLEDGE.is_dir(), reason="demo knowledge documents not written yet")
async def test_demo_dealership_documents(store: VectorStore, demo_config_path: Path, redis: Any, keys: Keys) -> None:
    cfg = load_dealer_config(demo_config_path)
    assert await index_knowledge(store, cfg) > 0
    deps = ToolDeps(dealer=cfg, redis=redis, keys=keys, services={"vectors": store})
    hours = await search_knowledge(deps, "when are you open on saturday")
    assert hours and hours[0].source == "hours-and-location.md" and "hours" in hours[0].heading.lower()
    trade = await search_knowledge(deps, "do you take trade ins")
    assert trade and trade[0].source == "trade-in.md"


# --- hours from the config ---------------------------------------------------------------------


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_department_hours_text() -> None:
    cfg = _config()
    assert department_hours_text(cfg, "sales") == (
        "Sales: Mon–Fri 9 AM–8 PM; Sat 9 AM–6 PM; Sun closed (local time, America/Los_Angeles)"
    )
    service = department_hours_text(cfg, "service", today=dt.date(2026, 9, 1))
    assert "Sat 8 AM–12 PM, 1 PM–4 PM; Sun closed" in service
    assert service.endswith("Closed Mon Sep 7 (Labor Day)")
    assert "Labor Day" not in department_hours_text(cfg, "sales", today=dt.date(2026, 9, 1))
    with pytest.raises(ToolError, match="known: sales, service"):
        department_hours_text(cfg, "parts")


@pytest.mark.parametrize(
    ("department", "at", "expected"),
    [
        ("sales", _utc(2026, 7, 3, 23, 30), (True, "open until 8 PM")),  # Fri 4:30 PM PDT
        # Saturday 03:30 UTC is still Friday 8:30 PM in Santa Monica
        ("sales", _utc(2026, 3, 14, 3, 30), (False, "closed, opens tomorrow at 9 AM")),
        ("sales", _utc(2026, 3, 16, 15, 0), (False, "closed, opens today at 9 AM")),  # Mon 8 AM PDT
        ("service", _utc(2026, 3, 14, 19, 30), (False, "closed, opens today at 1 PM")),  # Sat lunch
        ("service", _utc(2026, 3, 14, 20, 0), (True, "open until 4 PM")),
        ("sales", _utc(2026, 7, 4, 18, 0), (False, "closed today for Independence Day, opens Monday at 9 AM")),
        ("sales", _utc(2026, 1, 10, 17, 0), (True, "open until 6 PM")),  # Sat 9 AM PST (winter offset)
    ],
)
def test_open_now_in_the_dealer_timezone(department: str, at: dt.datetime, expected: tuple[bool, str]) -> None:
    assert open_now(_config(), department, at) == expected


def test_open_now_needs_an_aware_time() -> None:
    with pytest.raises(ValueError):
        open_now(_config(), "sales", dt.datetime(2026, 3, 14, 12, 0))
