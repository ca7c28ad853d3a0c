"""Inventory: the vehicles a dealer has, how customers' words match them, and the tools that show them.

The agent may only mention a vehicle or a price that came out of here (every vehicle returned is
recorded in `deps.facts`). The feed importer (`integrations/inventory_csv.py`) is the writer; this
package reads through an in-process snapshot that is reloaded only when the inventory version key
changes, so a turn doesn't re-read thousands of JSON blobs.

The package, one module per concern (import from `tools.inventory`; the modules are its layout):

* `model` — `Vehicle` and money formatting;
* `events` — the inventory event stream (arrivals, price changes, sales);
* `store` — `InventoryStore` and the per-version snapshot cache;
* `matching` — tolerant matching: aliases, color/body/drive/fuel families, normalisation;
* `criteria` — the structured search constraints;
* `ranking` — result ordering and semantic relevance;
* `alternatives` — closest alternatives when nothing offerable matches;
* `search` — `search_inventory`, `vehicle_details` and their text;
* `vocabulary` — what is in stock, for entity extraction;
* `tools` — the LangChain tools.
"""

from tools.inventory.alternatives import PRICE_SLACK
from tools.inventory.criteria import CONDITION_QUERY, Criteria, Sort
from tools.inventory.events import (
    EVENTS_MAXLEN,
    EventType,
    InventoryEvent,
    money_str,
    read_inventory_events,
    status_event_type,
)
from tools.inventory.matching import (
    BODY_FAMILIES,
    BODY_PHRASES,
    COLOR_FAMILIES,
    COLOR_SYNONYMS,
    FEATURE_SYNONYMS,
    MAKE_ALIASES,
    body_family,
    body_matches,
    color_families,
    color_family_of_query,
    color_matches,
    drive_family,
    drivetrain_matches,
    feature_matches,
    fuel_family,
    fuel_matches,
    make_matches,
    model_matches,
    normalize,
    singulars,
    trim_matches,
    words,
)
from tools.inventory.model import (
    COMMON_FEATURES,
    CONDITIONS,
    FEED_FIELDS,
    STATUSES,
    Condition,
    Money,
    Status,
    Vehicle,
    format_money,
)
from tools.inventory.ranking import HINT_WEIGHT, SEMANTIC_CANDIDATES
from tools.inventory.search import SearchResult, details_text, search_inventory, tool_line, vehicle_details
from tools.inventory.store import InventoryStore, clear_inventory_cache, inventory_collection_name
from tools.inventory.tools import INVENTORY_TOOLS, get_vehicle_details_tool, search_inventory_tool
from tools.inventory.vocabulary import Vocabulary, build_vocabulary, inventory_vocabulary

__all__ = [
    "BODY_FAMILIES",
    "BODY_PHRASES",
    "COLOR_FAMILIES",
    "COLOR_SYNONYMS",
    "COMMON_FEATURES",
    "CONDITIONS",
    "CONDITION_QUERY",
    "EVENTS_MAXLEN",
    "FEATURE_SYNONYMS",
    "FEED_FIELDS",
    "HINT_WEIGHT",
    "INVENTORY_TOOLS",
    "MAKE_ALIASES",
    "PRICE_SLACK",
    "SEMANTIC_CANDIDATES",
    "STATUSES",
    "Condition",
    "Criteria",
    "EventType",
    "InventoryEvent",
    "InventoryStore",
    "Money",
    "SearchResult",
    "Sort",
    "Status",
    "Vehicle",
    "Vocabulary",
    "body_family",
    "body_matches",
    "build_vocabulary",
    "clear_inventory_cache",
    "color_families",
    "color_family_of_query",
    "color_matches",
    "details_text",
    "drive_family",
    "drivetrain_matches",
    "feature_matches",
    "format_money",
    "fuel_family",
    "fuel_matches",
    "get_vehicle_details_tool",
    "inventory_collection_name",
    "inventory_vocabulary",
    "make_matches",
    "model_matches",
    "money_str",
    "normalize",
    "read_inventory_events",
    "search_inventory",
    "search_inventory_tool",
    "singulars",
    "status_event_type",
    "tool_line",
    "trim_matches",
    "vehicle_details",
    "words",
]
