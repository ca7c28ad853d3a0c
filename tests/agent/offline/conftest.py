"""Fixtures for the offline brain: Redis (embedded or REDIS_URL), the demo dealership with its inventory
imported, the knowledge documents indexed once per session in Chroma, and a fixed clock. The harness
(`Chat`, reply checks) is in offline_harness.py."""

from __future__ import annotations

import sys
from pathlib import Path

# This folder mirrors agent/offline; with pytest's default "prepend" import mode, tests/ lands on
# sys.path and tests/agent/offline would shadow the real `agent.offline` package. Put the project
# first, and drop a namespace package that may already stand in for it.
ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
for _name in ("agent.offline", "agent"):
    if _name in sys.modules and getattr(sys.modules[_name], "__file__", None) is None:
        del sys.modules[_name]

import asyncio  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from offline_harness import DEMO_DIR, KB_DEALER, LATENCIES, NOW, Runtime, SharedKnowledge  # noqa: E402

from agent.offline import OfflineBrain  # noqa: E402
from agent.offline.nlu import example_index  # noqa: E402
from integrations.inventory_csv import import_inventory  # noqa: E402
from memory.customers import CustomerStore  # noqa: E402
from memory.embeddings import get_embedder  # noqa: E402
from memory.keys import Keys  # noqa: E402
from memory.vectors import VectorStore, open_vector_store  # noqa: E402
from tools.dealer import load_dealer_config  # noqa: E402
from tools.inventory import inventory_vocabulary  # noqa: E402
from tools.knowledge import index_knowledge  # noqa: E402


@pytest.fixture(scope="session")
def embedder() -> Any:
    emb = get_embedder()
    example_index(emb)  # examples embedded once per process
    OfflineBrain().warm_up()  # templates parsed, model warmed
    return emb


@pytest.fixture(scope="session")
def knowledge_store(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[VectorStore]:
    store = open_vector_store(None, tmp_path_factory.mktemp("chroma"), embedder)
    cfg = load_dealer_config(DEMO_DIR / "dealer.yaml").model_copy(update={"id": KB_DEALER})
    asyncio.run(index_knowledge(store, cfg))
    yield store
    store.close()


@pytest.fixture
async def runtime(redis: Any, keys: Keys, dealer_id: str, knowledge_store: VectorStore) -> Runtime:
    report = await import_inventory(redis, keys, DEMO_DIR / "inventory.csv", now=NOW)
    assert not report.bad_rows
    dealer = load_dealer_config(DEMO_DIR / "dealer.yaml").model_copy(update={"id": dealer_id})
    rt = Runtime(
        dealer=dealer,
        redis=redis,
        keys=keys,
        customers=CustomerStore(redis, keys, clock=lambda: NOW),
        services={"vectors": SharedKnowledge(knowledge_store, dealer_id)},
    )
    await inventory_vocabulary(rt.deps(None, "chat"))  # a server has this cached per inventory version
    return rt


@pytest.fixture(scope="session", autouse=True)
def latency_report() -> Iterator[None]:
    yield
    if len(LATENCIES) >= 20:
        ordered = sorted(LATENCIES)
        p95 = ordered[int(len(ordered) * 0.95) - 1]
        print(
            f"\noffline brain: {len(ordered)} turns, p50 {statistics.median(ordered):.1f} ms, "
            f"p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms"
        )
