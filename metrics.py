"""Prometheus metrics of one DealerOS process, served at `GET /metrics`.

Labels are small closed sets (channels, brains, outcomes, reasons) — never customer data, phone
numbers or ids. Each process exposes its own figures; Prometheus sums over processes. Counters and
histograms live in prometheus_client's default registry, so a process has one set however many
apps or agents it builds (tests build many).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

TURNS = Counter(
    "dealeros_turns",
    "Customer turns handled, by channel, brain and outcome (replied, silent, suppressed, duplicate, error).",
    ["channel", "brain", "outcome"],
)
TURN_SECONDS = Histogram(
    "dealeros_turn_seconds",
    "Wall time of a turn from identity resolution to its reply (model time included).",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RECALL = Counter(
    "dealeros_memory_recall",
    "Cross-channel memory recall per turn: fresh (this turn's), previous (the customer's last "
    "recall, when this one missed the channel's budget) or none.",
    ["channel", "outcome"],
)
RECALL_QUERY_VECTORS = Counter(
    "dealeros_memory_query_vectors",
    "Where memory recall (through the recall index) got its query's vector: cache (embedded by this "
    "process moments before: while an SMS burst waited, or as the turn began, alongside identity and "
    "the lock), prepared (embedded ahead by another process, read from Redis) or embedded (the model "
    "ran during the recall itself).",
    ["source"],
)
LLM_FALLBACKS = Counter(
    "dealeros_llm_fallbacks",
    "Turns the offline brain answered because the LLM path failed, by failure kind.",
    ["kind"],
)
HANDOFFS = Counter("dealeros_handoffs_opened", "Handoffs to staff opened by the agent, by reason.", ["reason"])
CONSENT_DECISIONS = Counter(
    "dealeros_consent_decisions",
    "Outbound messages checked by the consent gate, by channel, purpose and decision (ok or the reason "
    "it was refused).",
    ["channel", "purpose", "decision"],
)
SMS_WEBHOOKS = Counter(
    "dealeros_sms_webhooks",
    "Twilio Messaging webhooks accepted, by outcome (processing here, queued for a worker, part of a "
    "burst already being collected, duplicate MessageSid).",
    ["outcome"],
)
SMS_SWEPT = Counter(
    "dealeros_sms_swept_numbers",
    "Numbers the worker loop's sweep took over (a processor finished or died).",
)


def exposition() -> tuple[bytes, str]:
    """The text exposition format and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
