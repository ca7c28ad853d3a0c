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
    window: list[dict[str, str]]  # [{"role": customer|assistant|staff, "text": ..., "channel": ...}]
    summary: str
    dialogue: dict[str, Any]
    turns: int
    # this turn (replaced every turn)
    text: str
    outcome: dict[str, Any]


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
    output: BrainOutput | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # guard verdicts, suppression reason, handoff id


def roll_window(window: list[dict[str, str]], summary: str, new: list[dict[str, str]]) -> tuple[list, str]:
    """Append `new` turns; turns that fall out of the window are folded into the summary."""
    window = [*window, *new]
    if len(window) <= WINDOW_TURNS:
        return window, summary
    dropped, window = window[:-WINDOW_TURNS], window[-WINDOW_TURNS:]
    lines = [f"{t['role']} ({t.get('channel', '?')}): {t['text'][:160]}" for t in dropped]
    summary = "\n".join([summary, *lines]).strip() if summary else "\n".join(lines)
    if len(summary) > SUMMARY_MAX_CHARS:  # keep the most recent part; profile facts live on the record
        summary = "…" + summary[-(SUMMARY_MAX_CHARS - 1) :]
    return window, summary
