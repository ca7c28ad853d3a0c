"""The graph's checkpointed state and its per-turn runtime context.

Long customer threads are the normal case, so the state is deliberately small: a window of recent
turns, a rolling summary and the offline brain's slots. The full history lives in the timeline.
Everything per-turn and heavy (stores, the customer record, retrieved memories) travels in the
runtime context, which is never checkpointed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from agent.types import Brain, BrainOutput, Emit, InboundMessage
from memory.customers import Customer
from tools.context import ToolDeps

WINDOW_TURNS = 12  # recent messages kept verbatim in the state
SUMMARY_MAX_CHARS = 1200


class AgentState(TypedDict, total=False):
    summary: str  # rolling summary of the journey older than the window
    summarized_until: int  # epoch ms of the newest event folded into the summary
    dialogue: dict[str, Any]  # the offline brain's slots
    turns: int
    text: str  # this turn's (guarded) customer text; cleared at the end of the turn


@dataclass
class TurnContext:
    """LangGraph runtime context (`context_schema`): identity and services for one turn."""

    message: InboundMessage
    customer: Customer
    sources: list[str]  # the customer's record ids (merged records included)
    deps: ToolDeps
    brain: Brain
    services: Any  # agent.turn.Services
    emit: Emit | None = None
    memories: list[str] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)  # recent turns, oldest first
    output: BrainOutput | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # guard verdicts, suppression reason, handoff id
    # What the turn read in one round trip before the graph ran ("window", "handoffs", "consent",
    # "checkpoint_id"); a node whose key is missing reads for itself.
    prefetched: dict[str, Any] = field(default_factory=dict)
    # A Redis pipeline the turn's last writes (its outbound events and checkpoint) are queued on; the
    # caller runs it with its own (claim completion, unlock). None: write at once.
    writes: Any = None


def role_of(actor: str, direction: str) -> str:
    if actor.startswith("staff"):
        return "staff"
    return "customer" if direction == "inbound" else "assistant"


def fold_summary(summary: str, dropped: list[dict[str, str]]) -> str:
    """Fold turns that left the window into the rolling summary (extractive: the brains and staff
    see the customer's own words; profile facts live on the customer record)."""
    lines = [f"{t['role']} ({t.get('channel', '?')}): {t['text'][:160]}" for t in dropped]
    if not lines:
        return summary
    summary = "\n".join([summary, *lines]).strip() if summary else "\n".join(lines)
    if len(summary) > SUMMARY_MAX_CHARS:  # keep the most recent part
        summary = "…" + summary[-(SUMMARY_MAX_CHARS - 1) :]
    return summary
