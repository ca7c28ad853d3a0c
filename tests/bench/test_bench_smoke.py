"""Smoke test of the benchmarks: `python -m bench --tiny` runs all five with tiny sizes and writes
well-formed output. No timing is asserted here — performance is measured in bench/, against a
baseline in the same run, never in unit tests.

The CLI runs in a subprocess (about two minutes: it starts three server processes); it uses
`REDIS_URL` when set, else an embedded redis-server, like the rest of the suite.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.common import Stats, percentile
from bench.fakes import FixedLatencyChatModel

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(900)
ROW_FIELDS = {"figure", "value", "target", "baseline", "ratio", "met"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    cmd = [sys.executable, "-m", "bench", "--tiny", "--json", str(out),
           "--redis-url", os.environ.get("REDIS_URL") or "embedded"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=840)
    assert out.exists(), f"no JSON written\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    return proc, json.loads(out.read_text())


def bench(doc: dict[str, Any], number: int) -> dict[str, Any]:
    [result] = [b for b in doc["benchmarks"] if b["number"] == number]
    assert result["skipped"] is None, result["skipped"]
    return result


def stats_ok(s: dict[str, Any]) -> bool:
    return s["n"] > 0 and all(isinstance(s[k], int | float) and s[k] >= 0 for k in ("p50", "p95", "p99", "max"))


def test_the_cli_prints_the_summary_table_and_writes_json(tiny_run):
    proc, doc = tiny_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DealerOS benchmarks" in proc.stdout
    assert "figures written to" in proc.stdout
    assert {"at", "args", "environment", "note", "benchmarks"} <= set(doc)
    assert sorted(b["number"] for b in doc["benchmarks"]) == [1, 2, 3, 4, 5]
    for b in doc["benchmarks"]:
        assert b["name"] and b["rows"], b["number"]
        for row in b["rows"]:
            assert set(row) == ROW_FIELDS
            assert row["met"] in (True, False, None)
            assert row["figure"] and row["value"]


def test_turn_overhead_measures_dealeros_and_the_langgraph_baseline(tiny_run):
    d = bench(tiny_run[1], 1)["details"]
    assert d["lengths"], d
    for row in d["lengths"].values():
        assert stats_ok(row["dealeros"]) and stats_ok(row["baseline"])
        for config in ("dealeros_with_memory", "dealeros_with_memory_sms", "dealeros_with_memory_instant"):
            assert stats_ok(row[config]) and row[config]["n"] == d["sizes"]["memory_turns"], config
        assert (
            row["dealeros_checkpoint_bytes"] > 0 and row["dealeros_customer_bytes"] >= row["dealeros_checkpoint_bytes"]
        )
    assert d["back_to_back"]["history"] == max(int(h) for h in d["lengths"])
    assert stats_ok(d["back_to_back"]["stats"])
    assert stats_ok(d["embedding_alone"]) and d["embedding_alone"]["n"] == d["sizes"]["memory_turns"]
    # every timed turn with the zero-latency embedding model got its text's vector from it, at once
    turns = d["sizes"]["memory_turns"] * len(d["lengths"])
    assert d["instant_model"] == {"served_ready": turns, "sent_to_model": 0}
    # ... and every memory turn got its own recall, its query vector made where the row says
    recalls = d["recalls"]
    for config in ("dealeros_with_memory", "dealeros_with_memory_instant"):
        assert recalls[config] == {"outcome:chat:fresh": turns, "vector:cache": turns}, config  # embedded ahead
    assert recalls["dealeros_with_memory_sms"] == {"outcome:sms:fresh": turns, "vector:prepared": turns}
    scaling, sizes = d["recall_vs_dealer_size"], d["sizes"]
    queries = 2 * sizes["recall_queries"] * len(sizes["dealer_memories"])  # each way, each size
    assert scaling["instant_model"]["served_ready"] == queries and scaling["sizes"]
    storage = d["baseline_storage"]
    assert storage["bytes_at_target"] > 0 and storage["points"]
    for report in d["breakdown"].values():
        assert report["stages"] and report["redis_round_trips_per_turn"] > 0


def test_sms_load_audits_every_text(tiny_run):
    d = bench(tiny_run[1], 2)["details"]
    phase = d["phases"]["conversations"]
    assert stats_ok(phase["dealeros"]["ack"]) and stats_ok(phase["echo"]["ack"])
    audit = phase["dealeros"]["audit"]
    assert audit["texts"] > 0 and audit["turns"] > 0 and audit["replies"] > 0


def test_voice_measures_first_tokens_and_the_models_own_ttft(tiny_run):
    d = bench(tiny_run[1], 3)["details"]
    assert d["levels"] and d["lockstep"]  # callers at their own pace, and all together
    for row in [*d["levels"].values(), *d["lockstep"].values()]:
        assert stats_ok(row["direct"]["first_token"]) and stats_ok(row["tool"]["first_token"])
        assert row["example_reply"]
    assert stats_ok(d["baseline_model_ttft"])


def test_offline_brain_against_an_echo_brain(tiny_run):
    d = bench(tiny_run[1], 4)["details"]
    assert stats_ok(d["offline"]) and stats_ok(d["echo"])
    assert d["answered_by"].get("offline")
    assert d["breakdown"]["stages"]


def test_scale_out_splits_the_load_over_two_api_processes_and_a_worker(tiny_run):
    d = bench(tiny_run[1], 5)["details"]
    assert d["split"]["audit"]["customers_on_both"] > 0
    assert set(d["split"]["servers"]) == {"api-a", "api-b", "worker"}
    assert d["split"]["audit"]["turns"] > 0 and not d["split"]["audit"]["problems"]


# --- the helpers, on their own (fast) --------------------------------------------------------------
def test_percentiles_interpolate_between_ranks():
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4, 5], 100) == 5
    assert math.isnan(percentile([], 50))
    s = Stats.of([0.001, 0.002, 0.003])
    assert (s.n, s.p50, s.max) == (3, 2.0, 3.0)


async def test_the_fake_model_calls_its_tool_once_then_answers():
    from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage

    model = FixedLatencyChatModel(tool_name="get_vehicle_details", tool_args={"vin_or_stock": "T1"})
    assert model.bind_tools([]) is model
    chunks = [c async for c in model.astream([HumanMessage("is T1 there?")])]
    call = chunks[0].tool_call_chunks[0]
    assert call["name"] == "get_vehicle_details" and json.loads(call["args"]) == {"vin_or_stock": "T1"}
    answer = [c async for c in model.astream([HumanMessage("x"), ToolMessage("ok", tool_call_id=call["id"])])]
    assert all(isinstance(c, AIMessageChunk) and not c.tool_call_chunks for c in answer)
    assert "".join(c.text for c in answer) == model.answer
